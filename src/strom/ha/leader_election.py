"""Leader election, structured as Flink's ``DefaultLeaderElectionService``.

One service per JobManager process. Each component that must lead (Dispatcher,
ResourceManager, REST endpoint; JobMasters share their process's leadership) registers as a
*contender* under a component id. A *driver* decides whether this process leads (standalone:
always; ZooKeeper: the owner of the first latch node). When the driver reports leadership,
the service issues a new *leader session id* and grants it to every contender. A contender
starts acting as leader, then *confirms* the session id together with its address; only a
confirmation of the current session id while the driver still leads is *published* (the
driver writes it where retrievers read it). When the driver reports the loss of leadership,
the service revokes it from every contender at once. The session id is the fencing token of
every RPC the leader sends or accepts.

Everything here is decision logic without I/O: the driver calls the service's
``on_*`` methods (from any thread), and the service calls the contenders through the
``executor`` it is given (the JobManager's RPC loop), in the order of the events.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import msgspec

__all__ = [
    "DISPATCHER",
    "REST_SERVER",
    "RESOURCE_MANAGER",
    "STANDALONE_SESSION_ID",
    "DefaultLeaderElectionService",
    "LeaderContender",
    "LeaderElection",
    "LeaderElectionDriver",
    "LeaderElectionEvents",
    "LeaderInformation",
]

#: the component ids under which leaders publish their addresses (Flink's names)
DISPATCHER = "dispatcher"
RESOURCE_MANAGER = "resource_manager"
REST_SERVER = "rest_server"

#: the fixed leader session id of a standalone cluster (Flink's DEFAULT_LEADER_ID, zeros)
STANDALONE_SESSION_ID = "0" * 32


class LeaderInformation(msgspec.Struct, frozen=True):
    """A published leader: its session id (32 hex characters, the fencing token) and the
    address others reach the component at (``tcp://host:port/name``, or the REST URL)."""

    session_id: str
    address: str


class LeaderContender(Protocol):
    """A component that acts only while it leads."""

    def grant_leadership(self, session_id: str) -> None:
        """Start leading under ``session_id``; confirm it (with the address) once ready."""

    def revoke_leadership(self) -> None:
        """Stop leading at once."""

    def handle_error(self, error: BaseException) -> None:
        """The election failed beyond repair (the JobManager process should stop)."""


class LeaderElectionDriver(Protocol):
    """What the service asks of the mechanism that elects (standalone or ZooKeeper)."""

    def has_leadership(self) -> bool: ...

    def publish_leader_information(self, component_id: str, info: LeaderInformation) -> None:
        """Write ``info`` where retrievers of ``component_id`` read it (only while leading)."""

    def delete_leader_information(self, component_id: str) -> None: ...

    def close(self) -> None: ...


class LeaderElectionEvents(Protocol):
    """What a driver reports to the service (any thread)."""

    def on_grant_leadership(self) -> None: ...

    def on_revoke_leadership(self) -> None: ...

    def on_leader_information_change(self, component_id: str,
                                     info: LeaderInformation | None) -> None:
        """The published information of ``component_id`` changed (or was deleted) behind
        the service's back: a leader publishes its confirmed information again."""

    def on_error(self, error: BaseException) -> None: ...


class LeaderElection(Protocol):
    """One contender's handle on the service (``create_leader_election(component_id)``)."""

    def start_leader_election(self, contender: LeaderContender) -> None: ...

    def confirm_leadership(self, session_id: str, address: str) -> None: ...

    def has_leadership(self, session_id: str) -> bool: ...

    def close(self) -> None: ...


class DefaultLeaderElectionService:
    """See the module docstring. ``driver_factory(events)`` creates the driver once the first
    contender registers; ``executor(fn)`` runs ``fn`` on the contenders' thread;
    ``new_session_id()`` makes session ids (random 32 hex characters by default)."""

    def __init__(self, driver_factory: Callable[[LeaderElectionEvents], LeaderElectionDriver],
                 executor: Callable[[Callable[[], None]], None],
                 new_session_id: Callable[[], str] | None = None) -> None:
        raise NotImplementedError

    def create_leader_election(self, component_id: str) -> LeaderElection:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError
