"""The process's ZooKeeper client (kazoo), configured from the ``high-availability.*`` keys,
and the paths of the cluster's nodes (the layout Flink uses):

* ``{root}{cluster-id}/leader/latch/latch-<seq>`` — one ephemeral sequential node per
  contending JobManager; the lowest sequence leads;
* ``{root}{cluster-id}/leader/{component}/connection_info`` — the leader's published
  address and session id (JSON);
* ``{root}{cluster-id}/jobgraphs/{job-id}`` — the path of the stored job graph;
* ``{root}{cluster-id}/jobs/{job-id}/checkpoints/{id:019d}`` — the path of a completed
  checkpoint;
* ``{root}{cluster-id}/jobs/{job-id}/checkpoint_id_counter`` — the next checkpoint id.

Connection state changes (``CONNECTED``, ``SUSPENDED``, ``LOST``) fan out to every listener
registered with :meth:`ZooKeeperClient.add_state_listener`. Listeners run on kazoo's
connection thread: they must only hand the change on (queue it), never call ZooKeeper.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TypeVar

from kazoo.client import KazooClient, KazooState
from kazoo.handlers.threading import KazooTimeoutError
from kazoo.retry import KazooRetry

from strom.common.config_options import ConfigOption
from strom.common.config_options_ha import (
    HA_CLUSTER_ID,
    HA_ZOOKEEPER_CONNECTION_TIMEOUT,
    HA_ZOOKEEPER_MAX_RETRY_ATTEMPTS,
    HA_ZOOKEEPER_QUORUM,
    HA_ZOOKEEPER_RETRY_WAIT,
    HA_ZOOKEEPER_ROOT,
    HA_ZOOKEEPER_SESSION_TIMEOUT,
    HA_ZOOKEEPER_TOLERATE_SUSPENDED,
)
from strom.common.configuration import Configuration
from strom.common.job import JobID

__all__ = [
    "CONNECTED",
    "LOST",
    "SUSPENDED",
    "ZooKeeperClient",
    "ZooKeeperPaths",
    "ZooKeeperUnavailableError",
    "normalize_path",
]

log = logging.getLogger(__name__)

#: kazoo's connection states, by the names the drivers use
CONNECTED = KazooState.CONNECTED
SUSPENDED = KazooState.SUSPENDED
LOST = KazooState.LOST

StateListener = Callable[[str], None]
T = TypeVar("T")


def _value(configuration: Configuration, option: ConfigOption[T]) -> T:
    """The option's value, its default when unset."""
    value = configuration.get(option)
    if value is None:
        value = option.default
    assert value is not None, option.key
    return value


class ZooKeeperUnavailableError(ConnectionError):
    """The ZooKeeper quorum could not be reached."""


def normalize_path(path: str) -> str:
    """``path`` with exactly one leading ``/`` and no trailing one (``""`` for the root).

    >>> normalize_path("flink/"), normalize_path("//default"), normalize_path("/")
    ('/flink', '/default', '')
    """
    parts = [part for part in path.strip().split("/") if part]
    return "".join(f"/{part}" for part in parts)


class ZooKeeperPaths:
    """Where the cluster's nodes live: ``{root}{cluster_id}/...`` (see the module docstring).

    >>> ZooKeeperPaths("/flink", "/default").connection_info("dispatcher")
    '/flink/default/leader/dispatcher/connection_info'
    """

    def __init__(self, root: str, cluster_id: str) -> None:
        self.cluster = normalize_path(root) + normalize_path(cluster_id)

    @classmethod
    def from_configuration(cls, configuration: Configuration) -> ZooKeeperPaths:
        return cls(configuration.get(HA_ZOOKEEPER_ROOT) or "", configuration.get(HA_CLUSTER_ID) or "")

    @property
    def latch_dir(self) -> str:
        return f"{self.cluster}/leader/latch"

    @property
    def latch_prefix(self) -> str:
        return f"{self.latch_dir}/latch-"

    def connection_info(self, component_id: str) -> str:
        return f"{self.cluster}/leader/{component_id}/connection_info"

    @property
    def job_graphs(self) -> str:
        return f"{self.cluster}/jobgraphs"

    def job_graph(self, job_id: JobID) -> str:
        return f"{self.job_graphs}/{job_id.to_hex_string()}"

    def job(self, job_id: JobID) -> str:
        return f"{self.cluster}/jobs/{job_id.to_hex_string()}"

    def checkpoints(self, job_id: JobID) -> str:
        return f"{self.job(job_id)}/checkpoints"

    def checkpoint(self, job_id: JobID, checkpoint_id: int) -> str:
        return f"{self.checkpoints(job_id)}/{checkpoint_id:019d}"

    def checkpoint_id_counter(self, job_id: JobID) -> str:
        return f"{self.job(job_id)}/checkpoint_id_counter"


class ZooKeeperClient:
    """One kazoo client for the process, from ``configuration`` (nothing connects until
    :meth:`start`):

    * ``high-availability.zookeeper.quorum`` — the servers;
    * ``...client.session-timeout`` — the session timeout (ZooKeeper bounds it by its
      ``minSessionTimeout``/``maxSessionTimeout``);
    * ``...client.connection-timeout`` — how long :meth:`start` waits for the first
      connection;
    * ``...client.retry-wait`` and ``...client.max-retry-attempts`` — the retries of one
      operation (:meth:`retry`); the client itself reconnects forever, backing off up to
      ``retry-wait`` between attempts, so a restarted quorum is found again.
    """

    def __init__(self, configuration: Configuration) -> None:
        quorum = configuration.get(HA_ZOOKEEPER_QUORUM)
        if not quorum or not str(quorum).strip():
            raise ValueError(
                f"high-availability.type ZOOKEEPER needs '{HA_ZOOKEEPER_QUORUM.key}' (the "
                "ZooKeeper servers, host:port[,host:port...]); it is not set. Set it, e.g. "
                f"-D{HA_ZOOKEEPER_QUORUM.key}=zk1:2181,zk2:2181.")
        self.quorum = str(quorum).strip()
        self.paths = ZooKeeperPaths.from_configuration(configuration)
        self.session_timeout_ms: int = _value(configuration, HA_ZOOKEEPER_SESSION_TIMEOUT)
        self.connection_timeout_ms: int = _value(configuration, HA_ZOOKEEPER_CONNECTION_TIMEOUT)
        self.retry_wait_ms: int = _value(configuration, HA_ZOOKEEPER_RETRY_WAIT)
        self.max_retry_attempts: int = _value(configuration, HA_ZOOKEEPER_MAX_RETRY_ATTEMPTS)
        self.tolerate_suspended: bool = _value(configuration, HA_ZOOKEEPER_TOLERATE_SUSPENDED)
        self._listeners: list[StateListener] = []
        #: guards start and close (kazoo's connection thread never takes it)
        self._lock = threading.Lock()
        #: guards the listeners (taken on kazoo's connection thread)
        self._listeners_lock = threading.Lock()
        self._kazoo: KazooClient | None = None
        self._closed = False

    @property
    def kazoo(self) -> KazooClient:
        """The started kazoo client (raises when :meth:`start` has not run)."""
        if self._kazoo is None:
            raise RuntimeError("ZooKeeperClient is not started: call start() first.")
        return self._kazoo

    @property
    def connected(self) -> bool:
        return self._kazoo is not None and self._kazoo.connected

    @property
    def session_id(self) -> int | None:
        """The current ZooKeeper session's id (None while there is none)."""
        if self._kazoo is None or self._kazoo.client_id is None:
            return None
        return int(self._kazoo.client_id[0])

    def start(self) -> ZooKeeperClient:
        """Connect; raises :class:`ZooKeeperUnavailableError` naming the keys when the quorum
        does not answer within the connection timeout. Idempotent."""
        with self._lock:
            if self._closed:
                raise RuntimeError("ZooKeeperClient is closed; create a new one.")
            if self._kazoo is not None:
                return self
            retry_wait_s = max(self.retry_wait_ms, 1) / 1000.0
            kazoo = KazooClient(
                hosts=self.quorum,
                timeout=self.session_timeout_ms / 1000.0,
                connection_retry=KazooRetry(max_tries=-1, delay=0.05, backoff=2,
                                            max_delay=retry_wait_s, ignore_expire=True),
                command_retry=KazooRetry(max_tries=self.max_retry_attempts,
                                         delay=min(retry_wait_s, 0.5), backoff=2,
                                         max_delay=retry_wait_s, ignore_expire=False),
            )
            kazoo.add_listener(self._fan_out)
            try:
                kazoo.start(timeout=self.connection_timeout_ms / 1000.0)
            except KazooTimeoutError:
                kazoo.stop()
                kazoo.close()
                raise ZooKeeperUnavailableError(
                    f"Could not connect to ZooKeeper at '{self.quorum}' "
                    f"({HA_ZOOKEEPER_QUORUM.key}) within {self.connection_timeout_ms} ms "
                    f"({HA_ZOOKEEPER_CONNECTION_TIMEOUT.key}). Check that the quorum runs and "
                    "is reachable from this machine, or raise the timeout.") from None
            self._kazoo = kazoo
            return self

    def retry(self, operation: Callable[..., object], *args: object, **kwargs: object) -> object:
        """Run ``operation`` (a kazoo call) with the configured retries of connection loss."""
        return self.kazoo.retry(operation, *args, **kwargs)

    def add_state_listener(self, listener: StateListener) -> None:
        """Call ``listener(state)`` on every connection state change (see the module
        docstring: it must not block)."""
        with self._listeners_lock:
            self._listeners.append(listener)

    def remove_state_listener(self, listener: StateListener) -> None:
        with self._listeners_lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def close(self) -> None:
        """Stop the client: its session ends, so its ephemeral nodes (latch, published
        leader information) go at once, and its listeners hear ``LOST``. Idempotent."""
        with self._lock:
            self._closed = True
            kazoo, self._kazoo = self._kazoo, None
            if kazoo is not None:
                kazoo.stop()  # listeners hear LOST: a leader revokes
                kazoo.close()
        with self._listeners_lock:
            self._listeners.clear()

    def _fan_out(self, state: str) -> None:
        with self._listeners_lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(state)
            except Exception:
                log.exception("A ZooKeeper connection state listener failed on %s", state)
