"""Where a client finds the leading JobManager's REST endpoint with high availability.

With ``high-availability.type: zookeeper`` in the client's configuration and no
``-m host:port``, the CLI and :class:`~strom.client.rest_cluster_client.RestClusterClient`
read the REST_SERVER leader that the leading JobManager published in ZooKeeper
(``{root}{cluster-id}/leader/rest_server/connection_info``), as Flink's client does.
"""

from __future__ import annotations

import threading
import time

from strom.common.config_options_ha import HA_CLUSTER_ID, HA_ZOOKEEPER_QUORUM
from strom.common.configuration import Configuration
from strom.ha.leader_election import REST_SERVER, LeaderInformation
from strom.ha.services import create_ha_services

__all__ = ["DEFAULT_LEADER_TIMEOUT_S", "NoLeaderError", "rest_leader_url"]

#: how long a client waits for a leader to be published
DEFAULT_LEADER_TIMEOUT_S = 30.0


class NoLeaderError(TimeoutError):
    """No leading JobManager published its REST endpoint in time."""


class _Listener:
    def __init__(self) -> None:
        self.found = threading.Event()
        self.url: str | None = None
        self.error: BaseException | None = None

    def notify_leader_address(self, info: LeaderInformation | None) -> None:
        if info is not None and info.address:
            self.url = info.address.rstrip("/")
            self.found.set()

    def handle_error(self, error: BaseException) -> None:
        self.error = error
        self.found.set()


def rest_leader_url(configuration: Configuration,
                    timeout_s: float = DEFAULT_LEADER_TIMEOUT_S) -> str:
    """The REST URL (``http(s)://host:port``) of the leading JobManager, as published in
    the HA services of ``configuration``; waits up to ``timeout_s`` for one to be
    published, then raises :class:`NoLeaderError` saying where it looked."""
    deadline = time.monotonic() + timeout_s
    services = create_ha_services(configuration)
    try:
        retrieval = services.leader_retrieval(REST_SERVER)
        listener = _Listener()
        retrieval.start(listener)
        try:
            listener.found.wait(max(0.0, deadline - time.monotonic()))
        finally:
            retrieval.stop()
    finally:
        services.close()
    if listener.error is not None:
        raise NoLeaderError(
            f"Looking up the leading JobManager failed: {type(listener.error).__name__}: "
            f"{listener.error}. Check high-availability.zookeeper.quorum, or give -m "
            "host:port.") from listener.error
    if listener.url is None:
        quorum = configuration.get(HA_ZOOKEEPER_QUORUM)
        cluster_id = configuration.get(HA_CLUSTER_ID)
        raise NoLeaderError(
            f"No leading JobManager published its REST endpoint within {timeout_s:.0f} s "
            f"(high-availability.zookeeper.quorum {quorum}, high-availability.cluster-id "
            f"{cluster_id}). Check that the JobManagers run with the same "
            "high-availability.* keys as this client, or give -m host:port.")
    return listener.url
