"""Leader retrieval (Flink's ``LeaderRetrievalService``): TaskManagers, JobManagers and
clients learn the address and session id of a component's leader, and hear when it changes.

A driver (standalone: a fixed address; ZooKeeper: a watch on the component's
``connection_info`` node) reports each change; the service passes only real changes on to
its listener (``None`` while no leader is known).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Protocol

from strom.ha.leader_election import STANDALONE_SESSION_ID, LeaderInformation

__all__ = ["DefaultLeaderRetrievalService", "LeaderRetrievalDriver", "LeaderRetrievalListener",
           "LeaderRetrievalService", "StandaloneLeaderRetrieval"]

log = logging.getLogger(__name__)

Executor = Callable[[Callable[[], None]], None]


class LeaderRetrievalListener(Protocol):
    """Who is told the leader of a component (a TaskExecutor, a client)."""

    def notify_leader_address(self, info: LeaderInformation | None) -> None:
        """The leader is now ``info`` (``None``: no leader known at the moment)."""

    def handle_error(self, error: BaseException) -> None:
        """Retrieval failed beyond repair."""


class LeaderRetrievalDriver(Protocol):
    """Watches where a component's leader is published. Created by the service's
    ``driver_factory(events)``; it reports every (possibly repeated) value through
    ``events.notify_leader_address`` and failures through ``events.handle_error``, from any
    thread (also from inside its constructor)."""

    def close(self) -> None: ...


class LeaderRetrievalService(Protocol):
    """``start(listener)`` once; the listener is called on the service's executor."""

    def start(self, listener: LeaderRetrievalListener) -> None: ...

    def stop(self) -> None: ...


class DefaultLeaderRetrievalService:
    """A :class:`LeaderRetrievalService` over any driver: ``driver_factory(events)`` is
    called on ``start`` with the service's driver-facing events (a
    :class:`LeaderRetrievalListener`); the service passes on only real changes (another
    session id or address, or a leader appearing or vanishing), in order, through
    ``executor`` (``None``: on the driver's thread). Nothing is passed on after ``stop``.

    Example::

        service = DefaultLeaderRetrievalService(
            lambda events: ZooKeeperRetrievalDriver(client, path, events),
            loop.call_soon_threadsafe)
        service.start(task_executor)   # task_executor.notify_leader_address(info) on changes
    """

    def __init__(self, driver_factory: Callable[[LeaderRetrievalListener], LeaderRetrievalDriver],
                 executor: Executor | None = None) -> None:
        self._driver_factory = driver_factory
        self._executor = executor
        self._lock = threading.RLock()
        self._listener: LeaderRetrievalListener | None = None
        self._driver: LeaderRetrievalDriver | None = None
        self._last: LeaderInformation | None = None
        self._stopped = False

    def start(self, listener: LeaderRetrievalListener) -> None:
        """Start watching; ``listener`` hears the leader (and every change of it)."""
        with self._lock:
            if self._listener is not None or self._stopped:
                raise RuntimeError(
                    "This leader retrieval service was already started"
                    f"{' and stopped' if self._stopped else ''}; start it once, or create "
                    "another one.")
            self._listener = listener
            self._driver = self._driver_factory(_RetrievalEvents(self))

    def stop(self) -> None:
        """Stop watching: close the driver; queued notifications are dropped. Idempotent."""
        with self._lock:
            self._stopped = True
            driver, self._driver = self._driver, None
        if driver is not None:
            driver.close()

    @property
    def leader(self) -> LeaderInformation | None:
        """The last leader the driver reported (``None``: none known)."""
        with self._lock:
            return self._last

    def _on_leader(self, info: LeaderInformation | None) -> None:
        with self._lock:
            if self._stopped or info == self._last:
                return
            log.debug("leader changed from %s to %s", self._last, info)
            self._last = info
            self._submit(lambda listener: listener.notify_leader_address(info))

    def _on_error(self, error: BaseException) -> None:
        with self._lock:
            if self._stopped:
                return
            self._submit(lambda listener: listener.handle_error(error))

    def _submit(self, fn: Callable[[LeaderRetrievalListener], None]) -> None:
        listener = self._listener
        assert listener is not None

        def deliver() -> None:
            with self._lock:
                if self._stopped:
                    return
            fn(listener)

        if self._executor is None:
            deliver()
        else:
            self._executor(deliver)


class _RetrievalEvents:
    """What a retrieval driver reports to its service (a :class:`LeaderRetrievalListener`)."""

    def __init__(self, service: DefaultLeaderRetrievalService) -> None:
        self._service = service

    def notify_leader_address(self, info: LeaderInformation | None) -> None:
        self._service._on_leader(info)

    def handle_error(self, error: BaseException) -> None:
        self._service._on_error(error)


class _FixedLeaderDriver:
    """Reports one leader at once and never changes it."""

    def __init__(self, events: LeaderRetrievalListener, info: LeaderInformation) -> None:
        events.notify_leader_address(info)

    def close(self) -> None:
        pass


class StandaloneLeaderRetrieval:
    """A fixed leader: ``address`` under :data:`STANDALONE_SESSION_ID`, told once on start
    (through ``executor``, or at once on the caller's thread when it is ``None``)."""

    def __init__(self, address: str,
                 executor: Executor | None = None) -> None:
        self.address = address
        info = LeaderInformation(STANDALONE_SESSION_ID, address)
        self._service = DefaultLeaderRetrievalService(
            lambda events: _FixedLeaderDriver(events, info), executor)

    def start(self, listener: LeaderRetrievalListener) -> None:
        """Tell ``listener`` the fixed leader."""
        self._service.start(listener)

    def stop(self) -> None:
        """Nothing more is told (a notification still queued is dropped)."""
        self._service.stop()

    def __repr__(self) -> str:
        return f"StandaloneLeaderRetrieval({self.address!r})"
