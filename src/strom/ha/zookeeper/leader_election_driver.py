"""Leader election through ZooKeeper (Flink's ``ZooKeeperLeaderElectionDriver`` with
Curator's ``LeaderLatch``).

Each contending JobManager process creates an ephemeral sequential node
``{cluster}/leader/latch/latch-<seq>``; the owner of the lowest sequence leads. The others
watch only their predecessor, so a leader's end wakes one process, not all. A leader
publishes each component's :class:`~strom.ha.leader_election.LeaderInformation` in the
ephemeral node ``{cluster}/leader/{component}/connection_info`` — in one transaction with a
check that its latch node still exists, so a deposed leader cannot overwrite its successor's
address — and watches it: when someone else changes or deletes it, the service hears
``on_leader_information_change`` and publishes again.

Connection states: ``SUSPENDED`` (the connection dropped) revokes leadership at once unless
``high-availability.zookeeper.client.tolerate-suspended-connections``; ``LOST`` (the session
expired, its ephemeral nodes are gone) always does. On reconnecting the driver deletes its
old latch node, if it still exists, and joins the election again (with tolerated suspension
a leader whose session survived keeps leading).

kazoo's threads only queue events; every ZooKeeper call runs on the driver's own thread.
"""

from __future__ import annotations

import logging
import posixpath
import threading
from typing import Any

import msgspec
from kazoo.exceptions import KazooException, NodeExistsError, NoNodeError
from kazoo.protocol.states import WatchedEvent

from strom.ha.leader_election import LeaderElectionEvents, LeaderInformation
from strom.ha.zookeeper._worker import DriverWorker
from strom.ha.zookeeper.client import CONNECTED, LOST, SUSPENDED, ZooKeeperClient

__all__ = ["ZooKeeperLeaderElectionDriver", "latch_sequence"]

log = logging.getLogger(__name__)

#: pause before retrying a step that failed while the connection was up
RETRY_S = 0.2

_JOIN = ("join",)
_CHECK = ("check",)
_CLOSE = ("close",)


def latch_sequence(name: str) -> int:
    """The sequence number ZooKeeper appended to a latch node's name.

    >>> latch_sequence("latch-0000000012")
    12
    """
    return int(name.rsplit("-", 1)[-1])


class ZooKeeperLeaderElectionDriver:
    """See the module docstring. ``client`` must be started; ``events`` hears grants,
    revocations and foreign changes of published information (on the driver's thread:
    the service's ``on_*`` methods do no I/O). The driver joins the election at once."""

    def __init__(self, client: ZooKeeperClient, events: LeaderElectionEvents,
                 tolerate_suspended: bool | None = None) -> None:
        self._client = client
        self._events = events
        self._tolerate_suspended = (client.tolerate_suspended if tolerate_suspended is None
                                    else tolerate_suspended)
        self._latch: str | None = None
        self._leading = False
        self._closed = False
        self._session: int | None = None
        #: the connection was suspended or lost since the driver last joined
        self._interrupted = False
        #: guards ``_leading`` between the driver's thread (grants) and kazoo's connection
        #: thread (revocations on SUSPENDED and LOST, at once); the service is called with it
        #: held, and never calls back into anything that takes it
        self._lock = threading.Lock()
        #: component id -> the information this driver last wrote there
        self._published: dict[str, LeaderInformation] = {}
        #: publications asked for while disconnected (written on reconnecting, if leading)
        self._unpublished: dict[str, LeaderInformation] = {}
        self._worker = DriverWorker("strom-zk-leader-election", self._handle, self._crashed)
        self._worker.start()
        client.add_state_listener(self._on_state)
        self._worker.put(_JOIN)

    # ------------------------------------------------------------------ LeaderElectionDriver
    def has_leadership(self) -> bool:
        return self._leading

    def leader_latch_path(self) -> str | None:
        """The latch node this driver leads with, None while it does not lead. A write that
        needs leadership checks in its transaction that this node still exists."""
        latch = self._latch
        return latch if self._leading else None

    def publish_leader_information(self, component_id: str, info: LeaderInformation) -> None:
        self._worker.put(("publish", component_id, info))

    def delete_leader_information(self, component_id: str) -> None:
        self._worker.put(("delete", component_id))

    def sync(self, timeout_s: float = 10.0) -> bool:
        """Wait until the driver has handled what happened before this call (connection
        state changes, watches, publications); False on timeout. For tests."""
        return self._worker.sync(timeout_s)

    def close(self) -> None:
        """Leave the election: revoke leadership (a service that closed the driver ignores
        that) and delete this driver's latch and published nodes."""
        if self._closed:
            return
        self._closed = True
        self._client.remove_state_listener(self._on_state)
        self._worker.stop(_CLOSE)

    # ------------------------------------------------------------------ kazoo threads
    def _on_state(self, state: str) -> None:
        # revoke here, at once: the driver's thread may wait in a ZooKeeper call that only
        # returns when the connection is back
        if state == LOST:
            self._revoke("the ZooKeeper session expired")
        elif state == SUSPENDED and not self._tolerate_suspended:
            self._revoke("the connection to ZooKeeper is suspended")
        self._worker.put(("state", state))

    def _on_latch_watch(self, _event: WatchedEvent) -> None:
        self._worker.put(_CHECK)

    def _info_watch(self, component_id: str) -> Any:
        def watch(_event: WatchedEvent) -> None:
            self._worker.put(("info", component_id))
        return watch

    # ------------------------------------------------------------------ driver thread
    def _handle(self, event: tuple[Any, ...]) -> None:
        kind = event[0]
        if kind == "close":
            self._leave()
            return
        if self._closed:
            return
        if kind != "state" and not self._client.connected:
            # a ZooKeeper call would wait for the connection; reconnecting redoes the work
            if kind == "publish":
                self._unpublished[event[1]] = event[2]
            return
        try:
            if kind == "state":
                self._handle_state(event[1])
            elif kind == "join":
                self._join()
            elif kind == "check":
                self._check()
            elif kind == "publish":
                self._publish(event[1], event[2])
            elif kind == "delete":
                self._delete(event[1])
            elif kind == "info":
                self._check_info(event[1])
        except KazooException as error:
            # connection loss or an expired session: the state change that follows rejoins
            log.debug("ZooKeeper leader election step %s failed: %r", kind, error)
            if self._client.connected:
                self._worker.retry_later(_JOIN if self._latch is None else event, RETRY_S)

    def _handle_state(self, state: str) -> None:
        log.info("ZooKeeper connection of the leader election: %s", state)
        if state in (SUSPENDED, LOST):
            self._interrupted = True
            if state == LOST:
                self._latch = None  # gone with the session
            return
        if state != CONNECTED or not self._client.connected:
            return
        interrupted, self._interrupted = self._interrupted, False
        if not interrupted and self._latch is not None:
            self._check()  # connected before the driver listened: nothing was lost
        elif (self._leading and self._latch is not None
                and self._client.session_id == self._session):
            self._check()  # tolerated suspension, same session: still leading
            for component_id in list(self._published):
                self._check_info(component_id)
        else:
            self._join()
        unpublished, self._unpublished = self._unpublished, {}
        for component_id, info in unpublished.items():
            self._publish(component_id, info)

    def _join(self) -> None:
        """Delete the old latch node (if any) and create a new one."""
        if not self._client.connected:
            return
        kazoo = self._client.kazoo
        self._revoke("joining the election again")
        old, self._latch = self._latch, None
        if old is not None:
            try:
                kazoo.delete(old)
            except NoNodeError:
                pass
        self._session = self._client.session_id
        self._latch = kazoo.create(self._client.paths.latch_prefix, b"", ephemeral=True,
                                   sequence=True, makepath=True)
        log.info("Joined the leader election with %s", self._latch)
        self._check()

    def _check(self) -> None:
        """Lead when our latch is the lowest; otherwise watch the predecessor."""
        if self._latch is None or not self._client.connected:
            return
        kazoo = self._client.kazoo
        latch_dir = self._client.paths.latch_dir
        children = sorted(kazoo.get_children(latch_dir), key=latch_sequence)
        mine = posixpath.basename(self._latch)
        if mine not in children:
            log.warning("The latch node %s is gone; joining the election again", self._latch)
            self._join()
            return
        index = children.index(mine)
        if index == 0:
            # watch our own latch too: deleted behind our back, we must stop leading
            if kazoo.exists(self._latch, watch=self._on_latch_watch) is None:
                self._worker.put(_CHECK)
                return
            self._grant()
            return
        self._revoke(f"{children[0]} leads")
        predecessor = f"{latch_dir}/{children[index - 1]}"
        stat = kazoo.exists(predecessor, watch=self._on_latch_watch)
        if stat is None:
            self._worker.put(_CHECK)
        elif stat.ephemeralOwner == self._client.session_id:
            # a latch of our own session whose create answer was lost: it must not block us
            log.info("Deleting the orphaned latch node %s of this session", predecessor)
            try:
                kazoo.delete(predecessor)
            except NoNodeError:
                pass
            self._worker.put(_CHECK)

    def _grant(self) -> None:
        with self._lock:
            # not while disconnected: kazoo's thread may just have revoked
            if self._leading or not self._client.connected:
                return
            self._leading = True
            log.info("Leadership granted (latch %s)", self._latch)
            self._events.on_grant_leadership()

    def _revoke(self, reason: str) -> None:
        with self._lock:
            if not self._leading:
                return
            self._leading = False
            self._unpublished.clear()
            log.info("Leadership revoked: %s", reason)
            self._events.on_revoke_leadership()

    def _publish(self, component_id: str, info: LeaderInformation) -> None:
        if not self._leading or self._latch is None:
            log.debug("Not publishing %s for %s: not leading", info, component_id)
            return
        kazoo = self._client.kazoo
        path = self._client.paths.connection_info(component_id)
        kazoo.ensure_path(posixpath.dirname(path))
        stat = kazoo.exists(path)
        data = msgspec.json.encode(info)
        transaction = kazoo.transaction()
        transaction.check(self._latch, -1)
        if stat is not None and stat.ephemeralOwner == self._client.session_id:
            transaction.set_data(path, data)
        else:
            if stat is not None:
                transaction.delete(path)
            transaction.create(path, data, ephemeral=True)
        results = transaction.commit()
        failure = next((r for r in results if isinstance(r, Exception)), None)
        if failure is not None:
            if isinstance(results[0], NoNodeError):
                log.warning("Lost leadership while publishing %s (latch %s is gone)",
                            component_id, self._latch)
                self._worker.put(_CHECK)
            elif isinstance(failure, (NodeExistsError, NoNodeError)):
                self._worker.put(("publish", component_id, info))  # raced: try again
            else:
                raise failure
            return
        self._published[component_id] = info
        log.info("Published the leader of %s: %s", component_id, info)
        self._check_info(component_id)

    def _delete(self, component_id: str) -> None:
        self._published.pop(component_id, None)
        if not self._client.connected:
            return
        path = self._client.paths.connection_info(component_id)
        stat = self._client.kazoo.exists(path)
        if stat is not None and stat.ephemeralOwner == self._client.session_id:
            try:
                self._client.kazoo.delete(path)
            except NoNodeError:
                pass

    def _check_info(self, component_id: str) -> None:
        """Re-read a published node (and watch it again); report a change we did not make."""
        expected = self._published.get(component_id)
        if expected is None or not self._client.connected:
            return
        kazoo = self._client.kazoo
        path = self._client.paths.connection_info(component_id)
        watch = self._info_watch(component_id)
        try:
            data, _stat = kazoo.get(path, watch=watch)
            current: LeaderInformation | None = _decode(data)
        except NoNodeError:
            if kazoo.exists(path, watch=watch) is not None:
                self._worker.put(("info", component_id))
                return
            current = None
        if current != expected and self._leading:
            log.info("The published leader of %s changed behind our back: %s",
                     component_id, current)
            self._published.pop(component_id, None)
            self._events.on_leader_information_change(component_id, current)

    def _leave(self) -> None:
        self._revoke("the leader election driver closes")
        published, self._published = list(self._published), {}
        latch, self._latch = self._latch, None
        if not self._client.connected:
            return
        kazoo = self._client.kazoo
        try:
            for component_id in published:
                path = self._client.paths.connection_info(component_id)
                stat = kazoo.exists(path)
                if stat is not None and stat.ephemeralOwner == self._client.session_id:
                    kazoo.delete(path)
            if latch is not None:
                kazoo.delete(latch)
        except KazooException as error:
            log.info("Could not delete the leader election's nodes on close: %r", error)

    def _crashed(self, error: BaseException) -> None:
        self._events.on_error(error)


def _decode(data: bytes) -> LeaderInformation | None:
    try:
        return msgspec.json.decode(data, type=LeaderInformation)
    except msgspec.DecodeError:
        return None
