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

import importlib
from collections.abc import Callable
from typing import Protocol

from strom.common.config_options import (
    JOBMANAGER_RPC_ADDRESS,
    JOBMANAGER_RPC_PORT,
    REST_ADDRESS,
    REST_PORT,
)
from strom.common.config_options_ha import HA_STORAGE_DIR, HA_TYPE, HA_ZOOKEEPER_QUORUM
from strom.common.configuration import Configuration
from strom.common.security import rest_scheme
from strom.ha.leader_election import (
    DISPATCHER,
    RESOURCE_MANAGER,
    REST_SERVER,
    STANDALONE_SESSION_ID,
    DefaultLeaderElectionService,
    StandaloneLeaderElectionDriver,
)
from strom.ha.leader_retrieval import LeaderRetrievalService, StandaloneLeaderRetrieval
from strom.ha.memory import (
    MemoryCheckpointRecoveryFactory,
    MemoryJobGraphStore,
    MemoryJobResultStore,
)
from strom.ha.stores import CheckpointRecoveryFactory, JobGraphStore, JobResultStore

__all__ = ["HighAvailabilityServices", "StandaloneHaServices",
           "StandaloneLeaderElectionDriver", "create_ha_services", "ha_enabled",
           "standalone_leader_address"]

Executor = Callable[[Callable[[], None]], None]

#: the values of high-availability.type strom knows
HA_TYPES = ("NONE", "ZOOKEEPER")


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
    return _ha_type(configuration) == "ZOOKEEPER"


def _ha_type(configuration: Configuration) -> str:
    raw = configuration.get(HA_TYPE) or "NONE"
    kind = raw.strip().upper()
    if kind not in HA_TYPES:
        raise ValueError(
            f"Unknown {HA_TYPE.key}: {raw!r}. Use one of {', '.join(HA_TYPES)} (case does "
            "not matter); strom has no Kubernetes HA and no custom HA factories.")
    return kind


def create_ha_services(configuration: Configuration) -> HighAvailabilityServices:
    """The services for ``configuration``; raises ``ValueError`` naming the key when a
    ZOOKEEPER setup lacks ``high-availability.zookeeper.quorum`` or
    ``high-availability.storageDir``."""
    if _ha_type(configuration) == "NONE":
        return StandaloneHaServices(configuration)
    if not (configuration.get(HA_ZOOKEEPER_QUORUM) or "").strip():
        raise ValueError(
            f"{HA_TYPE.key} is ZOOKEEPER but {HA_ZOOKEEPER_QUORUM.key} is not set. Set it to "
            "the ZooKeeper servers, host:port[,host:port...] (e.g. localhost:2181).")
    if not (configuration.get(HA_STORAGE_DIR) or "").strip():
        raise ValueError(
            f"{HA_TYPE.key} is ZOOKEEPER but {HA_STORAGE_DIR.key} is not set. Set it to a "
            "directory every JobManager can reach (a path or file:// URL) where the leader "
            "keeps job graphs, checkpoint handles and job results.")
    # imported only when asked for: kazoo is needed with ZooKeeper only
    zookeeper = importlib.import_module("strom.ha.zookeeper")
    services: HighAvailabilityServices = zookeeper.ZooKeeperHaServices(configuration)
    return services


def standalone_leader_address(configuration: Configuration, component_id: str) -> str:
    """The fixed address of ``component_id``'s leader without HA:
    ``tcp://<jobmanager.rpc.address>:<jobmanager.rpc.port>/resourcemanager`` (or
    ``/dispatcher``), or the REST base URL ``http(s)://<rest.address>:<rest.port>``."""
    if component_id in (RESOURCE_MANAGER, DISPATCHER):
        host = configuration.get(JOBMANAGER_RPC_ADDRESS) or "localhost"
        port = configuration.get(JOBMANAGER_RPC_PORT)
        name = "resourcemanager" if component_id == RESOURCE_MANAGER else "dispatcher"
        return f"tcp://{host}:{port}/{name}"
    if component_id == REST_SERVER:
        host = configuration.get(REST_ADDRESS) or "localhost"
        rest_port = configuration.get(REST_PORT)
        return f"{rest_scheme(configuration)}://{host}:{rest_port}"
    raise ValueError(
        f"Unknown leader component {component_id!r}; use one of {DISPATCHER!r}, "
        f"{RESOURCE_MANAGER!r}, {REST_SERVER!r} (strom.ha.leader_election).")


class StandaloneHaServices:
    """The HA services of a cluster without HA (``high-availability.type: NONE``): the
    JobManager leads at once under :data:`STANDALONE_SESSION_ID`, retrieval returns the fixed
    addresses of the configuration (:func:`standalone_leader_address`), and the stores live
    in memory (the same instances for the life of this object)."""

    kind = "NONE"

    def __init__(self, configuration: Configuration) -> None:
        self.configuration = configuration
        self._job_graph_store = MemoryJobGraphStore()
        self._job_result_store = MemoryJobResultStore()
        self._checkpoint_recovery_factory = MemoryCheckpointRecoveryFactory()

    def leader_election_service(self, executor: Executor) -> DefaultLeaderElectionService:
        """A new election service whose driver leads at once, under
        :data:`STANDALONE_SESSION_ID`; contenders are called through ``executor``."""
        return DefaultLeaderElectionService(StandaloneLeaderElectionDriver, executor,
                                            new_session_id=lambda: STANDALONE_SESSION_ID)

    def leader_retrieval(self, component_id: str,
                         executor: Executor | None = None) -> LeaderRetrievalService:
        """The fixed leader of ``component_id`` (raises ``ValueError`` on an unknown id)."""
        return StandaloneLeaderRetrieval(
            standalone_leader_address(self.configuration, component_id), executor)

    def job_graph_store(self) -> JobGraphStore:
        return self._job_graph_store

    def job_result_store(self) -> JobResultStore:
        return self._job_result_store

    def checkpoint_recovery_factory(self) -> CheckpointRecoveryFactory:
        return self._checkpoint_recovery_factory

    def close(self) -> None:
        """Nothing to release (everything is in memory)."""

    def __repr__(self) -> str:
        return "StandaloneHaServices()"
