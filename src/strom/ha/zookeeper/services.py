"""``HighAvailabilityServices`` with ZooKeeper (``high-availability.type: zookeeper``).

One :class:`ZooKeeperHaServices` per process holds one kazoo client, connected on first
use and stopped by :meth:`~ZooKeeperHaServices.close` (its session ends, so a leader's latch
and published addresses go at once). The JobManager's election runs on
:class:`~strom.ha.leader_election.DefaultLeaderElectionService` with a
:class:`~strom.ha.zookeeper.leader_election_driver.ZooKeeperLeaderElectionDriver`; the
completed checkpoint stores it hands out refuse ``add`` unless that driver leads.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from fsspec.core import split_protocol
from fsspec.registry import get_filesystem_class

from strom.common.config_options_ha import (
    HA_CLUSTER_ID,
    HA_STORAGE_DIR,
    JOB_RESULT_STORE_DELETE_ON_COMMIT,
    JOB_RESULT_STORE_STORAGE_PATH,
)
from strom.common.configuration import Configuration
from strom.ha.leader_election import (
    DefaultLeaderElectionService,
    LeaderElectionDriver,
    LeaderElectionEvents,
)
from strom.ha.leader_retrieval import DefaultLeaderRetrievalService
from strom.ha.zookeeper.client import ZooKeeperClient, normalize_path
from strom.ha.zookeeper.leader_election_driver import ZooKeeperLeaderElectionDriver
from strom.ha.zookeeper.leader_retrieval_driver import ZooKeeperLeaderRetrievalDriver
from strom.ha.zookeeper.stores import (
    FileSystemJobResultStore,
    HaStorage,
    ZooKeeperCheckpointRecoveryFactory,
    ZooKeeperJobGraphStore,
)

__all__ = ["ZooKeeperHaServices"]

Executor = Callable[[Callable[[], None]], None]


def _storage_dir(configuration: Configuration) -> str:
    storage_dir = configuration.get(HA_STORAGE_DIR)
    if not storage_dir or not str(storage_dir).strip():
        raise ValueError(
            f"high-availability.type ZOOKEEPER needs '{HA_STORAGE_DIR.key}' (a directory every "
            "JobManager reaches, where job graphs and checkpoint metadata are kept); it is "
            f"not set. Set it, e.g. -D{HA_STORAGE_DIR.key}=file:///shared/strom/ha.")
    storage_dir = str(storage_dir).strip()
    protocol, _path = split_protocol(storage_dir)
    if protocol is not None:
        try:
            get_filesystem_class(protocol)
        except (ValueError, ImportError) as error:
            raise ValueError(
                f"'{HA_STORAGE_DIR.key}' is {storage_dir!r}, whose scheme {protocol!r} no "
                f"installed file system handles ({error}). Use a path, a file:// URL or "
                "another fsspec URL whose file system is installed.") from None
    return storage_dir


class ZooKeeperHaServices:
    """See the module docstring. Raises ``ValueError`` naming the key when
    ``high-availability.zookeeper.quorum`` or ``high-availability.storageDir`` is missing
    or unusable; nothing connects before the first service is asked for."""

    kind = "ZOOKEEPER"

    def __init__(self, configuration: Configuration) -> None:
        self._zookeeper = ZooKeeperClient(configuration)
        storage_dir = _storage_dir(configuration)
        cluster_id = normalize_path(configuration.get(HA_CLUSTER_ID) or "")
        self._storage = HaStorage(storage_dir, cluster_id)
        self._job_result_path = (configuration.get(JOB_RESULT_STORE_STORAGE_PATH)
                                 or f"{storage_dir.rstrip('/')}/job-result-store{cluster_id}")
        delete_on_commit = configuration.get(JOB_RESULT_STORE_DELETE_ON_COMMIT)
        self._delete_on_commit = delete_on_commit is None or delete_on_commit
        self._driver: ZooKeeperLeaderElectionDriver | None = None
        self._election_service: DefaultLeaderElectionService | None = None
        self._lock = threading.Lock()

    def client(self) -> ZooKeeperClient:
        """The process's ZooKeeper client, connected (raises
        :class:`~strom.ha.zookeeper.client.ZooKeeperUnavailableError` naming the keys when
        the quorum does not answer within the connection timeout)."""
        return self._zookeeper.start()

    # ------------------------------------------------------------------ election
    def leader_election_service(self, executor: Executor) -> DefaultLeaderElectionService:
        with self._lock:
            if self._election_service is not None:
                raise RuntimeError(
                    "This process already has its leader election service; a JobManager "
                    "process has one, shared by all its contenders.")
            client = self.client()

            def driver_factory(events: LeaderElectionEvents) -> LeaderElectionDriver:
                driver = ZooKeeperLeaderElectionDriver(client, events)
                self._driver = driver
                return driver

            self._election_service = DefaultLeaderElectionService(driver_factory, executor)
            return self._election_service

    def leader_latch_path(self) -> str | None:
        """This process's latch node while it leads (None otherwise)."""
        driver = self._driver
        return driver.leader_latch_path() if driver is not None else None

    def leader_retrieval(self, component_id: str,
                         executor: Executor | None = None) -> DefaultLeaderRetrievalService:
        """Retrieval of ``component_id``'s leader; it watches from ``start(listener)`` on."""
        client = self.client()
        return DefaultLeaderRetrievalService(
            lambda events: ZooKeeperLeaderRetrievalDriver(client, component_id, events),
            executor)

    # ------------------------------------------------------------------ stores
    def job_graph_store(self) -> ZooKeeperJobGraphStore:
        return ZooKeeperJobGraphStore(self.client(), self._storage)

    def job_result_store(self) -> FileSystemJobResultStore:
        return FileSystemJobResultStore(self._job_result_path, self._delete_on_commit)

    def checkpoint_recovery_factory(self) -> ZooKeeperCheckpointRecoveryFactory:
        return ZooKeeperCheckpointRecoveryFactory(self.client, self._storage,
                                                  self.leader_latch_path)

    def close(self) -> None:
        """Leave the election (if this process joined it) and stop the client. Idempotent;
        the election service itself is its owner's to close."""
        with self._lock:
            driver, self._driver = self._driver, None
        if driver is not None:
            driver.close()
        self._zookeeper.close()
