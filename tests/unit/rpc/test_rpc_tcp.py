"""What only the ``tcp://`` transport has: connections that can be lost and are opened again
on demand, one per peer, and a wire that may carry garbage. Loopback only."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator

import pytest
from test_rpc_transport_conformance import Echo, EchoGateway

from strom.rpc.errors import RpcError
from strom.rpc.service import RpcService, split_address
from strom.testing import wait_until


@pytest.fixture
def services() -> Iterator[tuple[RpcService, RpcService, Echo]]:
    server = RpcService("rpc-server", mode="tcp", ask_timeout_s=5)
    client = RpcService("rpc-client", mode="tcp", ask_timeout_s=5)
    endpoint = Echo(server)
    server.run_sync(endpoint.start(), timeout=10)
    try:
        yield server, client, endpoint
    finally:
        client.stop()
        if endpoint.running:
            server.run_sync(endpoint.stop(), timeout=10)
        server.stop()


def test_the_service_mints_tcp_addresses_on_loopback(
    services: tuple[RpcService, RpcService, Echo],
) -> None:
    server, _, endpoint = services
    scheme, peer, name = split_address(endpoint.address)
    assert (scheme, name) == ("tcp", "echo") and peer.startswith("127.0.0.1:")
    assert endpoint.address == server.address_of("echo")


def test_a_call_to_a_lost_peer_fails_naming_the_peer(
    services: tuple[RpcService, RpcService, Echo],
) -> None:
    server, client, endpoint = services
    gateway = client.connect(endpoint.address, EchoGateway)
    assert client.run_sync(gateway.echo(b"1"), 10) == b"1"
    peer = split_address(endpoint.address)[1]
    server.run_sync(endpoint.stop(), timeout=10)
    server.stop()
    with pytest.raises(RpcError, match=f"echo to tcp://{peer}/echo failed: .*tcp://{peer}"):
        client.run_sync(gateway.echo(b"2"), 10)


def test_a_waiting_call_fails_when_its_connection_breaks(
    services: tuple[RpcService, RpcService, Echo],
) -> None:
    _, client, endpoint = services
    gateway = client.connect(endpoint.address, EchoGateway)
    waiting = client.submit(gateway.long_poll(30))
    asyncio.run_coroutine_threadsafe(asyncio.sleep(0.1), client.loop).result(5)
    client.drop_connections()
    with pytest.raises(RpcError, match=r"long_poll to .* failed: .*connection to tcp://"):
        waiting.result(10)


def test_a_dropped_connection_is_opened_again_on_the_next_call(
    services: tuple[RpcService, RpcService, Echo],
) -> None:
    _, client, endpoint = services
    gateway = client.connect(endpoint.address, EchoGateway)
    assert client.run_sync(gateway.echo(b"before"), 10) == b"before"
    client.drop_connections()
    assert client.run_sync(gateway.echo(b"after"), 10) == b"after"


def test_calls_to_one_peer_share_one_connection(
    services: tuple[RpcService, RpcService, Echo],
) -> None:
    _, client, endpoint = services
    gateway = client.connect(endpoint.address, EchoGateway)

    async def many() -> None:
        await asyncio.gather(*[gateway.echo(bytes([i])) for i in range(50)])

    client.run_sync(many(), 20)
    transport = client._tcp
    assert transport is not None and len(transport._connections) == 1


def test_a_peer_sending_garbage_is_disconnected_and_the_server_keeps_serving(
    services: tuple[RpcService, RpcService, Echo],
) -> None:
    _, client, endpoint = services
    host, _, port = split_address(endpoint.address)[1].rpartition(":")
    with socket.create_connection((host, int(port)), timeout=5) as raw:
        raw.sendall(b"\x00\x00\x00\x05hello")
        raw.settimeout(5)
        assert raw.recv(10) == b""  # the server hung up
    gateway = client.connect(endpoint.address, EchoGateway)
    assert client.run_sync(gateway.echo(b"fine"), 10) == b"fine"


def test_connection_listeners_hear_of_a_peer_that_went_away(
    services: tuple[RpcService, RpcService, Echo],
) -> None:
    server, client, endpoint = services
    heard: list[str] = []
    client.add_connection_listener(heard.append)
    gateway = client.connect(endpoint.address, EchoGateway)
    assert client.run_sync(gateway.echo(b"1"), 10) == b"1"
    peer = split_address(endpoint.address)[1]
    server.run_sync(endpoint.stop(), timeout=10)
    server.stop()  # the peer's process ends: its side of the connection closes
    wait_until(lambda: heard, 10, "the client to notice the closed connection")
    assert heard == [f"tcp://{peer}"]
    client.remove_connection_listener(heard.append)


def test_connection_listeners_do_not_hear_of_connections_this_side_closes() -> None:
    server = RpcService("rpc-server", mode="tcp", ask_timeout_s=5)
    client = RpcService("rpc-client", mode="tcp", ask_timeout_s=5)
    endpoint = Echo(server)
    heard: list[str] = []
    try:
        server.run_sync(endpoint.start(), timeout=10)
        client.add_connection_listener(heard.append)
        gateway = client.connect(endpoint.address, EchoGateway)
        assert client.run_sync(gateway.echo(b"1"), 10) == b"1"
    finally:
        client.stop()
        server.run_sync(endpoint.stop(), timeout=10)
        server.stop()
    assert heard == []
