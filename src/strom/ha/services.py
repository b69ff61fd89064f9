"""``HighAvailabilityServices``: the one object a JobManager, TaskManager or client asks for
leader election, leader retrieval and the recovery stores; made by
:func:`create_ha_services` from ``high-availability.type``:

* ``NONE`` (standalone): the JobManager always leads with
  :data:`~strom.ha.leader_election.STANDALONE_SESSION_ID`; retrieval returns the fixed
  addresses of ``jobmanager.rpc.address``/``port`` and ``rest.address``/``port``; the
  stores live in memory (a restarted JobManager starts empty).
* ``ZOOKEEPER``: :mod:`strom.ha.zookeeper`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from strom.common.configuration import Configuration
from strom.ha.leader_election import DefaultLeaderElectionService
from strom.ha.leader_retrieval import LeaderRetrievalService
from strom.ha.stores import CheckpointRecoveryFactory, JobGraphStore, JobResultStore

__all__ = ["HighAvailabilityServices", "create_ha_services", "ha_enabled"]

Executor = Callable[[Callable[[], None]], None]


class HighAvailabilityServices(Protocol):
    #: "NONE" or "ZOOKEEPER"
    kind: str

    def leader_election_service(self, executor: Executor) -> DefaultLeaderElectionService:
        """The process's election service (one per JobManager process)."""

    def leader_retrieval(self, component_id: str,
                         executor: Executor | None = None) -> LeaderRetrievalService:
        """Retrieval of ``component_id``'s leader (DISPATCHER, RESOURCE_MANAGER,
        REST_SERVER); the listener runs on ``executor`` (default: the driver's thread)."""

    def job_graph_store(self) -> JobGraphStore: ...

    def job_result_store(self) -> JobResultStore: ...

    def checkpoint_recovery_factory(self) -> CheckpointRecoveryFactory: ...

    def close(self) -> None: ...


def ha_enabled(configuration: Configuration) -> bool:
    """Whether ``high-availability.type`` asks for ZOOKEEPER (raises on an unknown type)."""
    raise NotImplementedError


def create_ha_services(configuration: Configuration) -> HighAvailabilityServices:
    """The services for ``configuration``; raises ``ValueError`` naming the key when a
    ZOOKEEPER setup lacks ``high-availability.zookeeper.quorum`` or
    ``high-availability.storageDir``."""
    raise NotImplementedError
