"""Helpers of the ZooKeeper HA tests: a configuration for the test's ZooKeeper with short
timeouts, a recorder of leader election events, and forcing a session to expire."""

from __future__ import annotations

import threading
from pathlib import Path

from kazoo.client import KazooClient

from strom.common.configuration import Configuration
from strom.ha.leader_election import LeaderInformation
from strom.ha.zookeeper.client import ZooKeeperClient
from strom.testing.zookeeper import ZooKeeperServer

#: ZooKeeper session timeout of the tests (ZooKeeper's minimum there is 1 s)
SESSION_TIMEOUT = "2 s"
#: what a test waits for an election or a retrieval to settle
WAIT_S = 20.0


def ha_config(zookeeper: ZooKeeperServer | str, storage_dir: Path, **extra: str) -> Configuration:
    """HA through ``zookeeper`` (a server or a connect string) with short timeouts."""
    quorum = zookeeper if isinstance(zookeeper, str) else zookeeper.connect_string
    return Configuration.from_dict({
        "high-availability.type": "zookeeper",
        "high-availability.zookeeper.quorum": quorum,
        "high-availability.storageDir": str(storage_dir),
        "high-availability.zookeeper.client.session-timeout": SESSION_TIMEOUT,
        "high-availability.zookeeper.client.connection-timeout": "10 s",
        "high-availability.zookeeper.client.retry-wait": "200 ms",
        **extra,
    })


class RecordingEvents:
    """LeaderElectionEvents that record what a driver reports."""

    def __init__(self) -> None:
        self.leading = False
        self.grants = 0
        self.revokes = 0
        self.changes: list[tuple[str, LeaderInformation | None]] = []
        self.errors: list[BaseException] = []
        self._lock = threading.Lock()

    def on_grant_leadership(self) -> None:
        with self._lock:
            self.leading = True
            self.grants += 1

    def on_revoke_leadership(self) -> None:
        with self._lock:
            self.leading = False
            self.revokes += 1

    def on_leader_information_change(self, component_id: str,
                                     info: LeaderInformation | None) -> None:
        with self._lock:
            self.changes.append((component_id, info))

    def on_error(self, error: BaseException) -> None:
        self.errors.append(error)


class RecordingListener:
    """A LeaderRetrievalListener that keeps every address it is told."""

    def __init__(self) -> None:
        self.seen: list[LeaderInformation | None] = []
        self.errors: list[BaseException] = []

    @property
    def current(self) -> LeaderInformation | None:
        return self.seen[-1] if self.seen else None

    def notify_leader_address(self, info: LeaderInformation | None) -> None:
        self.seen.append(info)

    def handle_error(self, error: BaseException) -> None:
        self.errors.append(error)


def expire_session(client: ZooKeeperClient) -> int:
    """Make ZooKeeper expire ``client``'s session (a second client joins the session and
    closes it, as kazoo's own test harness does); returns the expired session's id."""
    session_id, password = client.kazoo.client_id
    intruder = KazooClient(hosts=client.quorum, client_id=(session_id, password),
                           timeout=client.session_timeout_ms / 1000.0)
    intruder.start(timeout=10)
    intruder.stop()
    intruder.close()
    return int(session_id)
