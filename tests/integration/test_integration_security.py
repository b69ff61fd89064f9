"""A cluster with security on, in one process but over real sockets: a JobManager and two
TaskManagers (each its own RPC service and data port) with internal TLS, REST over TLS and
the REST token; a p=2 job whose records cross between the TaskManagers; a TaskManager
with a certificate the cluster does not trust is turned away and the job does not notice.
And what every listening port binds by default: loopback."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator

import pytest

from strom.client.rest import RestClientError
from strom.client.rest_cluster_client import RestClusterClient
from strom.common.configuration import Configuration
from strom.datastream import StreamExecutionEnvironment
from strom.jobmanager.entrypoint import JobManagerProcess, start_jobmanager
from strom.jobmanager.rest import specs
from strom.network.environment import NetworkEnvironment
from strom.taskmanager.entrypoint import TaskManagerProcess, start_taskmanager
from strom.testing import wait_until
from strom.testing.tls import CertificateFiles, make_certificates

TOKEN = "s3cret-t0ken"


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> CertificateFiles:
    return make_certificates(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="module")
def rogue(tmp_path_factory: pytest.TempPathFactory) -> CertificateFiles:
    return make_certificates(tmp_path_factory.mktemp("rogue"), name="rogue")


class Cluster:
    def __init__(self, jm_keys: dict[str, str]) -> None:
        self.jobmanager: JobManagerProcess = start_jobmanager(Configuration.from_dict(
            {"jobmanager.rpc.port": "0", "rest.port": "0", **jm_keys}))
        self.task_managers: list[TaskManagerProcess] = []

    def add_task_manager(self, keys: dict[str, str]) -> TaskManagerProcess:
        port = self.jobmanager.rpc.listen_address.rpartition(":")[2]
        tm = start_taskmanager(Configuration.from_dict(
            {"jobmanager.rpc.address": "127.0.0.1", "jobmanager.rpc.port": port,
             "taskmanager.numberOfTaskSlots": "1", **keys}))
        self.task_managers.append(tm)
        return tm

    def registered(self) -> int:
        rm = self.jobmanager.resource_manager
        return len(self.jobmanager.rpc.run_sync(rm.list_task_managers(), timeout=10))

    def stop(self) -> None:
        for tm in self.task_managers:
            tm.stop()
        self.jobmanager.stop()


@pytest.fixture
def secure(certs: CertificateFiles) -> Iterator[Cluster]:
    keys = {**certs.internal_config(), **certs.rest_config(), "security.rest.token": TOKEN}
    cluster = Cluster(keys)
    try:
        for _ in range(2):
            cluster.add_task_manager(certs.internal_config())
        wait_until(lambda: cluster.registered() == 2, timeout_s=30,
                   what="two TaskManagers to register over TLS")
        yield cluster
    finally:
        cluster.stop()


def test_a_p2_job_runs_across_two_taskmanagers_over_internal_tls(
    secure: Cluster, certs: CertificateFiles, rogue: CertificateFiles,
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = secure.jobmanager.rest.url
    assert url.startswith("https://127.0.0.1:")
    client_keys = {**certs.rest_config(), "security.rest.token": TOKEN}
    # a TaskManager whose certificate no CA of the cluster signed (it trusts the cluster)
    with caplog.at_level(logging.WARNING, logger="strom.rpc.tcp"):
        secure.add_task_manager({**rogue.internal_config(),
                                 "security.ssl.internal.truststore": str(certs.ca)})
        wait_until(lambda: any("Rejected an RPC connection" in r.getMessage()
                               for r in caplog.records), timeout_s=30,
                   what="the JobManager to log the rejected TaskManager")
    env = StreamExecutionEnvironment.get_execution_environment()
    env._cluster = RestClusterClient(url, configuration=Configuration.from_dict(client_keys))
    env.set_parallelism(2)
    stream = env.from_collection(list(range(2000))) \
        .key_by(lambda x: x % 10).map(lambda x: x * 3)
    with stream.execute_and_collect("secure p=2") as results:
        assert sorted(results) == [x * 3 for x in range(2000)]
    assert secure.registered() == 2  # the rogue never joined
    # the keyed exchange crossed between the two TaskManagers, over TLS
    for tm in secure.task_managers[:2]:
        network: NetworkEnvironment = tm.task_executor.network
        assert network._manager is not None
        connections = network._manager.connections()
        assert connections, "no data connection between the TaskManagers"
        assert all(c.transport is not None and
                   c.transport.get_extra_info("ssl_object") is not None
                   for c in connections)
    # the REST API wants the token, also over TLS
    tls_only = RestClusterClient(url, configuration=Configuration.from_dict(
        certs.rest_config()))
    with pytest.raises(RestClientError) as e:
        tls_only.rest.send(specs.CLUSTER_OVERVIEW)
    assert e.value.status == 401


def test_a_bad_security_configuration_stops_the_start_naming_key_and_file(
    certs: CertificateFiles, rogue: CertificateFiles,
) -> None:
    keys = {"jobmanager.rpc.port": "0", "rest.port": "0", **certs.rest_config(),
            "security.ssl.rest.key": str(rogue.key)}
    with pytest.raises(ValueError, match="does not belong to the certificate") as e:
        start_jobmanager(Configuration.from_dict(keys))
    assert "security.ssl.rest.key" in str(e.value) and str(rogue.key) in str(e.value)
    with pytest.raises(ValueError, match=r"security\.ssl\.internal\.cert is not set"):
        start_jobmanager(Configuration.from_dict({"jobmanager.rpc.port": "0",
                                                  "security.ssl.internal.enabled": "true"}))


def _bound_host(sock: socket.socket) -> str:
    host: str = sock.getsockname()[0]
    return host


def test_every_port_binds_loopback_by_default() -> None:
    cluster = Cluster({})
    try:
        jm = cluster.jobmanager
        tm = cluster.add_task_manager({})
        assert jm.rpc._tcp._server is not None
        assert {_bound_host(s) for s in jm.rpc._tcp._server.sockets} == {"127.0.0.1"}
        rest = jm.rest.server
        assert rest.host == "127.0.0.1" and rest.url.startswith("http://127.0.0.1:")
        assert {a[0] for a in rest._runner.addresses} == {"127.0.0.1"}
        assert tm.rpc._tcp._server is not None
        assert {_bound_host(s) for s in tm.rpc._tcp._server.sockets} == {"127.0.0.1"}
        manager = tm.task_executor.network._manager
        assert manager is not None and manager._server is not None
        assert {_bound_host(s) for s in manager._server.sockets} == {"127.0.0.1"}
        assert manager.address.startswith("127.0.0.1:")
    finally:
        cluster.stop()
