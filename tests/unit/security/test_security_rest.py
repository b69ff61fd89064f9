"""The REST endpoint over TLS and behind the bearer token, with the REST client: real HTTPS
over loopback; clients without the truststore, the client certificate or the token are
refused with a message that says what to set."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp import web

from strom.client.rest import RestClient, RestClientError
from strom.client.rest_cluster_client import RestClusterClient
from strom.common.configuration import Configuration
from strom.datastream import StreamExecutionEnvironment
from strom.jobmanager.rest import server as rest_server
from strom.jobmanager.rest import specs
from strom.jobmanager.rest.server import RestServer
from strom.minicluster import MiniCluster
from strom.testing.sync import wait_until
from strom.testing.tls import CertificateFiles

TOKEN = "correct-horse-battery-staple"


@pytest.fixture
def minicluster() -> Iterator[MiniCluster]:
    with MiniCluster(num_task_managers=1, slots_per_task_manager=2) as c:
        yield c
        wait_until(lambda: c.leftovers() == [], what="the cluster to be idle")


def serve(cluster: MiniCluster, keys: dict[str, str]) -> RestServer:
    assert cluster.rpc is not None
    server = RestServer(cluster.dispatcher_gateway, "127.0.0.1", 0,
                        Configuration.from_dict(keys))
    cluster.rpc.run_sync(server.start(), timeout=30)
    return server


@pytest.fixture
def stop_servers(minicluster: MiniCluster) -> Iterator[list[RestServer]]:
    servers: list[RestServer] = []
    yield servers
    assert minicluster.rpc is not None
    for server in servers:
        minicluster.rpc.run_sync(server.stop(), timeout=30)


def client(url: str, **keys: str) -> RestClient:
    return RestClient(url, timeout_s=10, configuration=Configuration.from_dict(keys))


def raw_get(url: str, headers: dict[str, str] | None = None,
            context: ssl.SSLContext | None = None) -> tuple[int, dict[str, str], Any]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10, context=context) as answer:
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), json.loads(e.read())


# ------------------------------------------------------------------ TLS

def test_the_rest_api_over_tls_with_the_truststore(
    minicluster: MiniCluster, stop_servers: list[RestServer], certs: CertificateFiles,
) -> None:
    server = serve(minicluster, certs.rest_config())
    stop_servers.append(server)
    assert server.url.startswith("https://127.0.0.1:")
    overview = client(server.url, **certs.rest_config()).send(specs.CLUSTER_OVERVIEW)
    assert overview.taskmanagers == 1
    # a bare host:port means https when the client's configuration turns REST TLS on
    bare = server.url.removeprefix("https://")
    assert client(bare, **certs.rest_config()).base_url == server.url
    # execute_and_collect fetches its results over the same TLS connection settings
    env = StreamExecutionEnvironment.get_execution_environment()
    env._cluster = RestClusterClient(server.url,
                                     configuration=Configuration.from_dict(certs.rest_config()))
    env.set_parallelism(2)
    with env.from_collection(list(range(100))).map(lambda x: x + 1) \
            .execute_and_collect("over https") as results:
        assert sorted(results) == list(range(1, 101))


def test_a_client_without_the_truststore_fails_clearly(
    minicluster: MiniCluster, stop_servers: list[RestServer], certs: CertificateFiles,
) -> None:
    server = serve(minicluster, certs.rest_config())
    stop_servers.append(server)
    with pytest.raises(RestClientError, match=r"CERTIFICATE_VERIFY_FAILED.*"
                                              r"security\.ssl\.rest\.truststore"):
        RestClient(server.url, timeout_s=10).send(specs.CLUSTER_OVERVIEW)
    # plain HTTP to the HTTPS port gets no answer, and the message says why that may be
    with pytest.raises(RestClientError, match=r"security\.ssl\.rest\.enabled"):
        RestClient(server.url.replace("https://", "http://"),
                   timeout_s=10).send(specs.CLUSTER_OVERVIEW)


def test_mutual_tls_refuses_a_client_without_a_certificate(
    minicluster: MiniCluster, stop_servers: list[RestServer], certs: CertificateFiles,
    rogue: CertificateFiles,
) -> None:
    server = serve(minicluster, certs.rest_config(authentication=True))
    stop_servers.append(server)
    trusted = client(server.url, **certs.rest_config(authentication=True))
    assert trusted.send(specs.CLUSTER_OVERVIEW).taskmanagers == 1
    # trusts the server, but presents no certificate
    with pytest.raises(RestClientError, match="Could not reach"):
        client(server.url, **certs.rest_config()).send(specs.CLUSTER_OVERVIEW)
    # presents a certificate the server's truststore does not trust
    rogue_keys = {**rogue.rest_config(authentication=True),
                  "security.ssl.rest.truststore": str(certs.ca)}
    with pytest.raises(RestClientError, match="Could not reach"):
        client(server.url, **rogue_keys).send(specs.CLUSTER_OVERVIEW)


# ------------------------------------------------------------------ the token

@pytest.fixture
def with_a_ui_page(monkeypatch: pytest.MonkeyPatch) -> None:
    """A web UI page, as the web UI's routes add one."""

    def add_page(app: web.Application, configuration: Configuration, context: Any = None
                 ) -> None:
        async def index(request: web.Request) -> web.Response:
            return web.Response(text="<html>strom</html>", content_type="text/html")

        app.router.add_get("/", index)

    monkeypatch.setattr(rest_server, "add_webui_routes", add_page)


def test_requests_without_the_right_token_get_401(
    minicluster: MiniCluster, stop_servers: list[RestServer], with_a_ui_page: None,
) -> None:
    server = serve(minicluster, {"security.rest.token": TOKEN})
    stop_servers.append(server)
    for headers, given in (({}, "got none"),
                           ({"Authorization": "Bearer guess"}, "got a wrong token"),
                           ({"Authorization": f"Basic {TOKEN}"}, "got a wrong token")):
        status, answer_headers, body = raw_get(server.url + "/overview", headers)
        assert status == 401
        assert answer_headers["WWW-Authenticate"] == 'Bearer realm="strom"'
        [error] = body["errors"]
        assert "security.rest.token" in error and given in error
    # unknown paths and the API document are behind the token too
    assert raw_get(server.url + "/v1/openapi.json")[0] == 401
    assert raw_get(server.url + "/no/such/path")[0] == 401
    status, _, body = raw_get(server.url + "/v1/overview",
                              {"Authorization": f"Bearer {TOKEN}"})
    assert status == 200 and json.loads(body)["taskmanagers"] == 1
    # the UI's page loads without it (it asks for the token when the API answers 401)
    status, _, body = raw_get(server.url + "/")
    assert status == 200 and body == b"<html>strom</html>"


def test_the_client_sends_the_token_from_config_or_environment(
    minicluster: MiniCluster, stop_servers: list[RestServer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = serve(minicluster, {"security.rest.token": TOKEN})
    stop_servers.append(server)
    monkeypatch.delenv("STROM_REST_TOKEN", raising=False)
    with pytest.raises(RestClientError) as e:
        RestClient(server.url, timeout_s=10).send(specs.CLUSTER_OVERVIEW)
    assert e.value.status == 401 and "security.rest.token" in str(e.value)
    with pytest.raises(RestClientError, match="got a wrong token"):
        client(server.url, **{"security.rest.token": "wrong"}).send(specs.CLUSTER_OVERVIEW)
    configured = client(server.url, **{"security.rest.token": TOKEN})
    assert configured.send(specs.CLUSTER_OVERVIEW).taskmanagers == 1
    monkeypatch.setenv("STROM_REST_TOKEN", TOKEN)
    assert RestClient(server.url, timeout_s=10).send(specs.CLUSTER_OVERVIEW).taskmanagers == 1


def test_application_mode_serves_rest_with_the_programs_security_keys(
    certs: CertificateFiles, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from strom.cli.application import _application_cluster

    monkeypatch.delenv("STROM_REST_TOKEN", raising=False)
    keys = {"rest.port": "0", "execution.local.taskmanagers": "thread",
            "parallelism.default": "1", **certs.rest_config(), "security.rest.token": TOKEN}
    cluster = _application_cluster(Configuration.from_dict(keys))
    try:
        assert cluster.rest_url.startswith("https://127.0.0.1:")
        with pytest.raises(RestClientError) as e:
            client(cluster.rest_url, **certs.rest_config()).send(specs.CLUSTER_OVERVIEW)
        assert e.value.status == 401
        answer = client(cluster.rest_url, **certs.rest_config(),
                        **{"security.rest.token": TOKEN}).send(specs.CLUSTER_OVERVIEW)
        assert answer.taskmanagers >= 1
    finally:
        cluster.stop()
