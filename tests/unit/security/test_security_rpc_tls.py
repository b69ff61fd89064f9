"""Internal TLS on the ``tcp://`` RPC transport: mutual authentication over loopback; a peer
without the right certificate is rejected, logged by the server, and the server carries on."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Protocol

import pytest

from strom.common.configuration import Configuration
from strom.common.security import InternalTls, internal_tls
from strom.rpc.errors import RpcError
from strom.rpc.service import RpcEndpoint, RpcService
from strom.testing import wait_until
from strom.testing.tls import CertificateFiles


class EchoGateway(Protocol):
    async def echo(self, payload: bytes) -> bytes: ...


class Echo(RpcEndpoint):
    gateway = EchoGateway

    def __init__(self, rpc: RpcService) -> None:
        super().__init__(rpc, "echo")

    async def echo(self, payload: bytes) -> bytes:
        return payload


def tls_of(files: CertificateFiles, trust: CertificateFiles | None = None) -> InternalTls | None:
    config = files.internal_config()
    if trust is not None:
        config["security.ssl.internal.truststore"] = str(trust.ca)
    return internal_tls(Configuration.from_dict(config))


@pytest.fixture
def server(certs: CertificateFiles) -> Iterator[tuple[RpcService, Echo]]:
    service = RpcService("tls-server", mode="tcp", ask_timeout_s=5, tls=tls_of(certs))
    endpoint = Echo(service)
    service.run_sync(endpoint.start(), timeout=10)
    try:
        yield service, endpoint
    finally:
        service.run_sync(endpoint.stop(), timeout=10)
        service.stop()


def call(client: RpcService, address: str) -> bytes:
    gateway = client.connect(address, EchoGateway)
    result: bytes = client.run_sync(gateway.echo(b"hello"), 10)
    return result


def test_calls_go_over_mutually_authenticated_tls(
    server: tuple[RpcService, Echo], certs: CertificateFiles,
) -> None:
    _, endpoint = server
    client = RpcService("tls-client", mode="tcp", ask_timeout_s=5, tls=tls_of(certs))
    try:
        assert call(client, endpoint.address) == b"hello"
        [connection] = client._tcp._connections.values()
        assert connection.writer.get_extra_info("ssl_object") is not None
        peer_cert = connection.writer.get_extra_info("peercert")
        assert peer_cert is not None and dict(x[0] for x in peer_cert["subject"]) == {
            "commonName": "localhost"}
    finally:
        client.stop()


@pytest.mark.parametrize("who", ["plain", "rogue certificate"])
def test_a_peer_without_the_right_certificate_is_rejected_and_logged(
    who: str, server: tuple[RpcService, Echo], certs: CertificateFiles,
    rogue: CertificateFiles, caplog: pytest.LogCaptureFixture,
) -> None:
    _, endpoint = server
    # the rogue trusts the server's CA, so only the server's check can stop it
    tls = None if who == "plain" else tls_of(rogue, trust=certs)
    intruder = RpcService("intruder", mode="tcp", ask_timeout_s=2, tls=tls)
    try:
        with caplog.at_level(logging.WARNING, logger="strom.rpc.tcp"):
            with pytest.raises((RpcError, TimeoutError)):
                call(intruder, endpoint.address)
            wait_until(lambda: any("Rejected an RPC connection" in r.getMessage()
                                   for r in caplog.records),
                       what="the server to log the rejected peer")
        message = next(r.getMessage() for r in caplog.records
                       if "Rejected an RPC connection" in r.getMessage())
        assert "127.0.0.1:" in message and "security.ssl.internal.truststore" in message
    finally:
        intruder.stop()
    # the server carries on serving peers with the right certificate
    client = RpcService("tls-client", mode="tcp", ask_timeout_s=5, tls=tls_of(certs))
    try:
        assert call(client, endpoint.address) == b"hello"
    finally:
        client.stop()


def test_a_client_refuses_a_server_its_truststore_does_not_trust(
    server: tuple[RpcService, Echo], rogue: CertificateFiles,
) -> None:
    _, endpoint = server
    client = RpcService("tls-client", mode="tcp", ask_timeout_s=5, tls=tls_of(rogue))
    try:
        with pytest.raises(RpcError, match=r"TLS handshake failed.*security\.ssl\.internal"):
            call(client, endpoint.address)
    finally:
        client.stop()
