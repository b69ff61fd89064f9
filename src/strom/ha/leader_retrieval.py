"""Leader retrieval (Flink's ``LeaderRetrievalService``): TaskManagers, JobManagers and
clients learn the address and session id of a component's leader, and hear when it changes.

A driver (standalone: a fixed address; ZooKeeper: a watch on the component's
``connection_info`` node) reports each change; the service passes only real changes on to
its listener (``None`` while no leader is known).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from strom.ha.leader_election import LeaderInformation

__all__ = ["LeaderRetrievalDriver", "LeaderRetrievalListener", "LeaderRetrievalService",
           "StandaloneLeaderRetrieval"]


class LeaderRetrievalListener(Protocol):
    def notify_leader_address(self, info: LeaderInformation | None) -> None: ...

    def handle_error(self, error: BaseException) -> None: ...


class LeaderRetrievalDriver(Protocol):
    def close(self) -> None: ...


class LeaderRetrievalService(Protocol):
    """``start(listener)`` once; the listener is called on the service's executor."""

    def start(self, listener: LeaderRetrievalListener) -> None: ...

    def stop(self) -> None: ...


class StandaloneLeaderRetrieval:
    """A fixed leader: ``address`` under :data:`STANDALONE_SESSION_ID`, told once on start."""

    def __init__(self, address: str,
                 executor: Callable[[Callable[[], None]], None] | None = None) -> None:
        raise NotImplementedError

    def start(self, listener: LeaderRetrievalListener) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError
