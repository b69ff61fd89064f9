"""Fenced RPC on every transport (plain ``local://``, ``local://`` through the codec, and
``tcp://`` between two services): a caller's fencing token travels with each call, a
:class:`FencedRpcEndpoint` refuses calls of another leader session and every call while it
does not lead, and an unfenced endpoint sees the token through ``current_fencing_token``."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import msgspec
import pytest

from strom.rpc.codec import Call, decode_frame, encode_frame, gateway_codec
from strom.rpc.errors import FencingTokenError, RpcError
from strom.rpc.service import (
    FencedRpcEndpoint,
    RpcEndpoint,
    RpcService,
    current_fencing_token,
)

LEADER = "a" * 32
DEPOSED = "b" * 32


class CounterGateway(Protocol):
    async def bump(self) -> int: ...

    async def token(self) -> str | None: ...


class FencedCounter(FencedRpcEndpoint):
    gateway = CounterGateway

    def __init__(self, rpc: RpcService, fencing_token: str | None) -> None:
        super().__init__(rpc, "fenced-counter", fencing_token)
        self.count = 0

    async def bump(self) -> int:
        self.count += 1
        return self.count

    async def token(self) -> str | None:
        return current_fencing_token()


class PlainCounter(RpcEndpoint):
    gateway = CounterGateway

    def __init__(self, rpc: RpcService) -> None:
        super().__init__(rpc, "plain-counter")

    async def bump(self) -> int:
        return 0

    async def token(self) -> str | None:
        return current_fencing_token()


@dataclass
class Setup:
    server: RpcService
    client: RpcService
    fenced: FencedCounter
    plain: PlainCounter

    def run(self, coro: Any) -> Any:
        return self.client.run_sync(coro, 20)

    def fenced_gateway(self, token: str | None) -> Any:
        return self.client.connect(self.fenced.address, CounterGateway, fencing_token=token)


@pytest.fixture(params=["local", "codec", "tcp"])
def rpc(request: Any) -> Iterator[Setup]:
    mode = request.param
    server = RpcService("fencing-server", mode=mode)
    client = server if mode != "tcp" else RpcService("fencing-client", mode=mode)
    fenced, plain = FencedCounter(server, LEADER), PlainCounter(server)
    server.run_sync(fenced.start(), timeout=10)
    server.run_sync(plain.start(), timeout=10)
    try:
        yield Setup(server, client, fenced, plain)
    finally:
        server.run_sync(fenced.stop(), timeout=10)
        server.run_sync(plain.stop(), timeout=10)
        for service in {id(client): client, id(server): server}.values():
            service.stop()


def test_a_fenced_endpoint_serves_its_own_session_and_unfenced_callers(rpc: Setup) -> None:
    assert rpc.run(rpc.fenced_gateway(LEADER).bump()) == 1
    assert rpc.run(rpc.fenced_gateway(None).bump()) == 2
    assert rpc.run(rpc.fenced_gateway(LEADER).token()) == LEADER


def test_a_fenced_endpoint_refuses_another_sessions_call_with_its_type(rpc: Setup) -> None:
    with pytest.raises(FencingTokenError, match=re.escape(
            f"Fencing token mismatch: Ignoring message bump because the fencing token "
            f"{DEPOSED} did not match the expected fencing token {LEADER}.")) as info:
        rpc.run(rpc.fenced_gateway(DEPOSED).bump())
    assert isinstance(info.value, RpcError)
    assert rpc.fenced.count == 0  # refused before the method ran


def test_a_fenced_endpoint_that_does_not_lead_refuses_every_call(rpc: Setup) -> None:
    rpc.server.call_soon(setattr, rpc.fenced, "fencing_token", None)
    for token in (None, LEADER):
        with pytest.raises(FencingTokenError, match=re.escape(
                "Fencing token mismatch: Ignoring message bump because the fencing token is "
                "null.")):
            rpc.run(rpc.fenced_gateway(token).bump())
    assert rpc.fenced.count == 0


def test_a_new_session_fences_off_the_previous_one(rpc: Setup) -> None:
    old = rpc.fenced_gateway(LEADER)
    assert rpc.run(old.bump()) == 1
    rpc.server.call_soon(setattr, rpc.fenced, "fencing_token", DEPOSED)  # leads again, anew
    with pytest.raises(FencingTokenError, match=f"fencing token {LEADER} did not match"):
        rpc.run(old.bump())
    assert rpc.run(rpc.fenced_gateway(DEPOSED).bump()) == 2


def test_an_unfenced_endpoint_sees_the_callers_token(rpc: Setup) -> None:
    for token in (LEADER, None, DEPOSED):
        gateway = rpc.client.connect(rpc.plain.address, CounterGateway, fencing_token=token)
        assert rpc.run(gateway.token()) == token
    assert current_fencing_token() is None  # outside a served call


def test_the_call_frame_carries_the_token_and_old_frames_still_decode() -> None:
    codec = gateway_codec(CounterGateway)
    call = decode_frame(codec.encode_call(3, "fenced-counter", "bump", (), {}, LEADER))
    assert isinstance(call, Call) and call.fencing_token == LEADER

    class OldCall(msgspec.Struct, frozen=True, array_like=True, tag="call"):
        """The frame before fencing: no token field."""

        request_id: int
        target: str
        method: str
        args: msgspec.Raw

    old = decode_frame(msgspec.msgpack.encode(
        OldCall(4, "fenced-counter", "bump", msgspec.Raw(msgspec.msgpack.encode(())))))
    assert isinstance(old, Call) and old.fencing_token is None and old.request_id == 4
    # and an older receiver ignores the extra trailing field
    again = msgspec.msgpack.decode(encode_frame(call), type=OldCall)
    assert again.method == "bump"
