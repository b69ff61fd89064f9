"""Leader retrieval through ZooKeeper (Flink's ``ZooKeeperLeaderRetrievalDriver``): a watch
on ``{cluster}/leader/{component}/connection_info``.

The driver reports what the node holds after every change: the leader's
:class:`~strom.ha.leader_election.LeaderInformation`, or ``None`` when the node is missing
or unreadable, and also ``None`` while the connection is ``SUSPENDED`` or the session
``LOST`` (the leader may have changed unseen); on reconnecting it reads the node again.
:class:`~strom.ha.leader_retrieval.DefaultLeaderRetrievalService` passes only real changes
on to its listener.
"""

from __future__ import annotations

import logging
from typing import Any

import msgspec
from kazoo.exceptions import KazooException, NoNodeError
from kazoo.protocol.states import WatchedEvent

from strom.ha.leader_election import LeaderInformation
from strom.ha.leader_retrieval import LeaderRetrievalListener
from strom.ha.zookeeper._worker import DriverWorker
from strom.ha.zookeeper.client import CONNECTED, ZooKeeperClient

__all__ = ["ZooKeeperLeaderRetrievalDriver"]

log = logging.getLogger(__name__)

RETRY_S = 0.2
_READ = ("read",)


class ZooKeeperLeaderRetrievalDriver:
    """Tells ``events.notify_leader_address(info_or_None)``, on its own thread, what
    ``component_id``'s published leader is after each change (see the module docstring),
    and ``events.handle_error`` when it fails beyond repair. Reads once at start."""

    def __init__(self, client: ZooKeeperClient, component_id: str,
                 events: LeaderRetrievalListener) -> None:
        self._client = client
        self._path = client.paths.connection_info(component_id)
        self._on_change = events.notify_leader_address
        self._closed = False
        self._worker = DriverWorker(f"strom-zk-leader-retrieval-{component_id}",
                                    self._handle, events.handle_error)
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
