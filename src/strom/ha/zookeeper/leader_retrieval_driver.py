"""Leader retrieval through ZooKeeper (Flink's ``ZooKeeperLeaderRetrievalDriver``): a watch
on ``{cluster}/leader/{component}/connection_info``.

The driver reports what the node holds after every change: the leader's
:class:`~strom.ha.leader_election.LeaderInformation`, or ``None`` when the node is missing
or unreadable, and also ``None`` while the connection is ``SUSPENDED`` or the session
``LOST`` (the leader may have changed unseen); on reconnecting it reads the node again.
:class:`ZooKeeperLeaderRetrievalService` passes only real changes on to its listener.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import msgspec
from kazoo.exceptions import KazooException, NoNodeError
from kazoo.protocol.states import WatchedEvent

from strom.ha.leader_election import LeaderInformation
from strom.ha.leader_retrieval import LeaderRetrievalListener
from strom.ha.zookeeper._worker import DriverWorker
from strom.ha.zookeeper.client import CONNECTED, ZooKeeperClient

__all__ = ["ZooKeeperLeaderRetrievalDriver", "ZooKeeperLeaderRetrievalService"]

log = logging.getLogger(__name__)

RETRY_S = 0.2
_READ = ("read",)

Executor = Callable[[Callable[[], None]], None]


class ZooKeeperLeaderRetrievalDriver:
    """Calls ``on_change(info_or_None)`` on its own thread after each change of
    ``component_id``'s published leader (see the module docstring); ``on_error`` when the
    driver fails beyond repair. Reads once at start."""

    def __init__(self, client: ZooKeeperClient, component_id: str,
                 on_change: Callable[[LeaderInformation | None], None],
                 on_error: Callable[[BaseException], None]) -> None:
        self._client = client
        self._path = client.paths.connection_info(component_id)
        self._on_change = on_change
        self._closed = False
        self._worker = DriverWorker(f"strom-zk-leader-retrieval-{component_id}",
                                    self._handle, on_error)
        self._worker.start()
        client.add_state_listener(self._on_state)
        self._worker.put(_READ)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._client.remove_state_listener(self._on_state)
        self._worker.stop(("close",))

    # kazoo threads
    def _on_state(self, state: str) -> None:
        self._worker.put(("state", state))

    def _on_watch(self, _event: WatchedEvent) -> None:
        self._worker.put(_READ)

    # the driver's thread
    def _handle(self, event: tuple[Any, ...]) -> None:
        if self._closed or event[0] == "close":
            return
        if event[0] == "state" and event[1] != CONNECTED:
            self._on_change(None)
            return
        try:
            self._read()
        except KazooException as error:
            log.debug("Reading %s failed: %r", self._path, error)
            if self._client.connected:
                self._worker.retry_later(_READ, RETRY_S)
            else:
                self._on_change(None)

    def _read(self) -> None:
        if not self._client.connected:
            self._on_change(None)
            return
        kazoo = self._client.kazoo
        try:
            data, _stat = kazoo.get(self._path, watch=self._on_watch)
        except NoNodeError:
            if kazoo.exists(self._path, watch=self._on_watch) is not None:
                self._worker.put(_READ)  # created meanwhile
                return
            self._on_change(None)
            return
        try:
            info: LeaderInformation | None = msgspec.json.decode(data, type=LeaderInformation)
        except msgspec.DecodeError as error:
            log.warning("Ignoring the unreadable leader information in %s: %s", self._path,
                        error)
            info = None
        self._on_change(info)


class ZooKeeperLeaderRetrievalService:
    """A :class:`~strom.ha.leader_retrieval.LeaderRetrievalService` on a ZooKeeper driver:
    ``start(listener)`` watches; the listener hears each real change (``None`` while no
    leader is known), on ``executor`` when given, else on the driver's thread."""

    def __init__(self, client: ZooKeeperClient, component_id: str,
                 executor: Executor | None = None) -> None:
        self._client = client
        self.component_id = component_id
        self._executor = executor
        self._listener: LeaderRetrievalListener | None = None
        self._driver: ZooKeeperLeaderRetrievalDriver | None = None
        self._last: LeaderInformation | None = None
        self._lock = threading.Lock()

    def start(self, listener: LeaderRetrievalListener) -> None:
        with self._lock:
            if self._listener is not None:
                raise RuntimeError(
                    f"The leader retrieval of {self.component_id} was already started; "
                    "create a new one for another listener.")
            self._listener = listener
            self._driver = ZooKeeperLeaderRetrievalDriver(
                self._client, self.component_id, self._on_change, self._on_error)

    def stop(self) -> None:
        with self._lock:
            driver, self._driver = self._driver, None
            self._listener = None
        if driver is not None:
            driver.close()

    def _on_change(self, info: LeaderInformation | None) -> None:
        with self._lock:
            listener = self._listener
            if listener is None or info == self._last:
                return
            self._last = info
        self._run(lambda: listener.notify_leader_address(info))

    def _on_error(self, error: BaseException) -> None:
        listener = self._listener
        if listener is not None:
            self._run(lambda: listener.handle_error(error))

    def _run(self, call: Callable[[], None]) -> None:
        if self._executor is None:
            call()
        else:
            self._executor(call)
