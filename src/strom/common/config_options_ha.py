"""Configuration options of high availability (Flink's ``high-availability.*`` and
``job-result-store.*`` keys and defaults); :mod:`strom.common.config_options` validates them
with the rest and :mod:`strom.ha.services` reads them."""

from __future__ import annotations

from typing import Any

from strom.common._option_types import BOOL, DURATION, INT, STRING
from strom.common.config_options import ConfigOption

__all__ = [
    "HA_CLUSTER_ID",
    "HA_JOBMANAGER_PORT",
    "HA_OPTIONS",
    "HA_STORAGE_DIR",
    "HA_TYPE",
    "HA_ZOOKEEPER_CONNECTION_TIMEOUT",
    "HA_ZOOKEEPER_MAX_RETRY_ATTEMPTS",
    "HA_ZOOKEEPER_QUORUM",
    "HA_ZOOKEEPER_RETRY_WAIT",
    "HA_ZOOKEEPER_ROOT",
    "HA_ZOOKEEPER_SESSION_TIMEOUT",
    "HA_ZOOKEEPER_TOLERATE_SUSPENDED",
    "JOB_RESULT_STORE_DELETE_ON_COMMIT",
    "JOB_RESULT_STORE_STORAGE_PATH",
]

HA_TYPE: ConfigOption[str] = ConfigOption(
    "high-availability.type", STRING, "NONE",
    "NONE (one JobManager at fixed addresses) or ZOOKEEPER (several JobManagers, one leader "
    "elected through ZooKeeper; clients and TaskManagers find it there). Case-insensitive. "
    "(1.x key: high-availability.)",
)
HA_STORAGE_DIR: ConfigOption[str] = ConfigOption(
    "high-availability.storageDir", STRING, None,
    "Where the leader keeps what a new leader recovers (job graphs, completed-checkpoint "
    "handles, the job result store); ZooKeeper only holds pointers to these files. Needed "
    "with high-availability.type ZOOKEEPER; every JobManager must reach it.",
)
HA_CLUSTER_ID: ConfigOption[str] = ConfigOption(
    "high-availability.cluster-id", STRING, "/default",
    "Separates the clusters that share one ZooKeeper quorum and storage directory.",
)
HA_ZOOKEEPER_QUORUM: ConfigOption[str] = ConfigOption(
    "high-availability.zookeeper.quorum", STRING, None,
    "The ZooKeeper servers, host:port[,host:port...]. Needed with ZOOKEEPER.",
)
HA_ZOOKEEPER_ROOT: ConfigOption[str] = ConfigOption(
    "high-availability.zookeeper.path.root", STRING, "/flink",
    "The root ZooKeeper node under which each cluster (high-availability.cluster-id) keeps "
    "its nodes.",
)
HA_ZOOKEEPER_SESSION_TIMEOUT: ConfigOption[int] = ConfigOption(
    "high-availability.zookeeper.client.session-timeout", DURATION, 60_000,
    "The ZooKeeper session timeout: how long ZooKeeper keeps a disconnected JobManager's "
    "leadership before a standby can take over.",
)
HA_ZOOKEEPER_CONNECTION_TIMEOUT: ConfigOption[int] = ConfigOption(
    "high-availability.zookeeper.client.connection-timeout", DURATION, 15_000,
    "How long connecting to ZooKeeper may take.",
)
HA_ZOOKEEPER_RETRY_WAIT: ConfigOption[int] = ConfigOption(
    "high-availability.zookeeper.client.retry-wait", DURATION, 5_000,
    "The pause between attempts to reach ZooKeeper.",
)
HA_ZOOKEEPER_MAX_RETRY_ATTEMPTS: ConfigOption[int] = ConfigOption(
    "high-availability.zookeeper.client.max-retry-attempts", INT, 3,
    "How often a ZooKeeper operation is retried before it fails.",
)
HA_ZOOKEEPER_TOLERATE_SUSPENDED: ConfigOption[bool] = ConfigOption(
    "high-availability.zookeeper.client.tolerate-suspended-connections", BOOL, False,
    "Keep leadership while the connection to ZooKeeper is only suspended (false: the "
    "leader gives up leadership as soon as the connection is suspended, as in Flink).",
)
HA_JOBMANAGER_PORT: ConfigOption[str] = ConfigOption(
    "high-availability.jobmanager.port", STRING, "0",
    "The RPC port (or range 50100-50200, or list) of JobManagers with high availability; 0 "
    "picks a free one, since TaskManagers and clients find the leader through ZooKeeper.",
)
JOB_RESULT_STORE_STORAGE_PATH: ConfigOption[str] = ConfigOption(
    "job-result-store.storage-path", STRING, None,
    "Where the job result store keeps one file per globally terminated job. Unset: "
    "<high-availability.storageDir>/job-result-store/<high-availability.cluster-id>.",
)
JOB_RESULT_STORE_DELETE_ON_COMMIT: ConfigOption[bool] = ConfigOption(
    "job-result-store.delete-on-commit", BOOL, True,
    "Delete a job's entry once its resources are cleaned up (false: keep it).",
)

HA_OPTIONS: tuple[ConfigOption[Any], ...] = (
    HA_TYPE, HA_STORAGE_DIR, HA_CLUSTER_ID, HA_ZOOKEEPER_QUORUM, HA_ZOOKEEPER_ROOT,
    HA_ZOOKEEPER_SESSION_TIMEOUT, HA_ZOOKEEPER_CONNECTION_TIMEOUT, HA_ZOOKEEPER_RETRY_WAIT,
    HA_ZOOKEEPER_MAX_RETRY_ATTEMPTS, HA_ZOOKEEPER_TOLERATE_SUSPENDED, HA_JOBMANAGER_PORT,
    JOB_RESULT_STORE_STORAGE_PATH, JOB_RESULT_STORE_DELETE_ON_COMMIT,
)
