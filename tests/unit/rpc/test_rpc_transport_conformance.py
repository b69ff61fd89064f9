"""One conformance suite for every RPC transport: plain ``local://``, ``local://`` through the
codec, and ``tcp://`` between two services on loopback. Each transport must deliver calls
and results with their types, start one caller's calls in order, run calls concurrently,
time out, refuse unknown methods and stopped endpoints, carry large payloads, and raise a
remote method's exception at the caller with its type, message and traceback."""

from __future__ import annotations

import asyncio
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import pytest

from strom.common.job import JobID
from strom.graph.ids import AllocationID
from strom.rpc.errors import RpcError
from strom.rpc.gateways import no_timeout
from strom.rpc.messages import ExecutionState, SlotOffer
from strom.rpc.service import RpcEndpoint, RpcService


class Refused(Exception):
    """Raised by the remote method."""


class EchoGateway(Protocol):
    async def echo(self, payload: bytes) -> bytes: ...

    async def typed(self, job_id: JobID, state: ExecutionState,
                    offers: list[SlotOffer]) -> list[AllocationID]: ...

    async def record(self, caller: str, number: int) -> None: ...

    async def recorded(self, caller: str) -> list[int]: ...

    async def meet(self, expected: int) -> int: ...

    async def sleep(self, seconds: float) -> str: ...

    @no_timeout
    async def long_poll(self, seconds: float) -> str: ...

    async def refuse(self, reason: str) -> None: ...


class WiderGateway(EchoGateway, Protocol):
    async def not_there(self) -> None: ...


class Echo(RpcEndpoint):
    gateway = EchoGateway

    def __init__(self, rpc: RpcService) -> None:
        super().__init__(rpc, "echo")
        self.calls: dict[str, list[int]] = {}
        self.inside = 0
        self.all_inside = asyncio.Event()

    async def echo(self, payload: bytes) -> bytes:
        return payload

    async def typed(self, job_id: JobID, state: ExecutionState,
                    offers: list[SlotOffer]) -> list[AllocationID]:
        assert type(job_id) is JobID and state is ExecutionState.RUNNING
        return [offer.allocation_id for offer in offers]

    async def record(self, caller: str, number: int) -> None:
        self.calls.setdefault(caller, []).append(number)

    async def recorded(self, caller: str) -> list[int]:
        return self.calls.get(caller, [])

    async def meet(self, expected: int) -> int:
        """Returns only once ``expected`` calls are inside at the same time."""
        self.inside += 1
        if self.inside >= expected:
            self.all_inside.set()
        await self.all_inside.wait()
        return self.inside

    async def sleep(self, seconds: float) -> str:
        await asyncio.sleep(seconds)
        return "slept"

    async def long_poll(self, seconds: float) -> str:
        await asyncio.sleep(seconds)
        return "polled"

    async def refuse(self, reason: str) -> None:
        raise Refused(f"refused: {reason}")


@dataclass
class Setup:
    server: RpcService
    client: RpcService
    endpoint: Echo

    def gateway(self, protocol: type = EchoGateway) -> Any:
        return self.client.connect(self.endpoint.address, protocol)

    def run(self, coro: Any, timeout: float = 20) -> Any:
        return self.client.run_sync(coro, timeout)


@pytest.fixture(params=["local", "codec", "tcp"])
def transport(request: Any) -> Iterator[Setup]:
    mode = request.param
    server = RpcService("rpc-server", mode=mode, ask_timeout_s=0.5)
    client = server if mode != "tcp" else RpcService("rpc-client", mode=mode,
                                                     ask_timeout_s=0.5)
    endpoint = Echo(server)
    server.run_sync(endpoint.start(), timeout=10)
    try:
        yield Setup(server, client, endpoint)
    finally:
        if endpoint.running:
            server.run_sync(endpoint.stop(), timeout=10)
        for service in {id(client): client, id(server): server}.values():
            service.stop()


def test_delivers_calls_and_results_with_their_types(transport: Setup) -> None:
    gateway = transport.gateway()
    assert transport.run(gateway.echo(b"ping")) == b"ping"
    allocation = AllocationID()
    offers = [SlotOffer(allocation, 0, "somewhere")]
    result = transport.run(gateway.typed(JobID.generate(), ExecutionState.RUNNING, offers))
    assert result == [allocation] and type(result[0]) is AllocationID


def test_keeps_the_order_of_one_callers_calls(transport: Setup) -> None:
    gateway = transport.gateway()

    async def fire() -> list[int]:
        calls = [asyncio.ensure_future(gateway.record("me", i)) for i in range(200)]
        await asyncio.gather(*calls)
        return await gateway.recorded("me")  # type: ignore[no-any-return]

    assert transport.run(fire()) == list(range(200))


def test_runs_calls_concurrently(transport: Setup) -> None:
    gateway = transport.gateway()

    async def together() -> list[int]:
        return await asyncio.gather(*[gateway.meet(20) for _ in range(20)])

    assert transport.run(together()) == [20] * 20  # would time out one call at a time


def test_a_call_times_out_with_an_rpc_error(transport: Setup) -> None:
    gateway = transport.gateway()
    with pytest.raises(RpcError, match=r"sleep to .*echo got no answer within 0.5 s "
                                       r"\(pekko.ask.timeout\)"):
        transport.run(gateway.sleep(3))
    assert transport.run(gateway.echo(b"still there")) == b"still there"


def test_a_long_poll_waits_past_the_timeout(transport: Setup) -> None:
    assert transport.run(transport.gateway().long_poll(0.8)) == "polled"


def test_an_unknown_method_is_refused(transport: Setup) -> None:
    with pytest.raises(AttributeError, match="explode is not part of the gateway EchoGateway"):
        _ = transport.gateway().explode
    wider = transport.gateway(WiderGateway)
    with pytest.raises(RpcError, match=r"echo has no RPC method 'not_there'"):
        transport.run(wider.not_there())


def test_a_stopped_endpoint_is_refused(transport: Setup) -> None:
    gateway = transport.gateway()
    transport.server.run_sync(transport.endpoint.stop(), timeout=10)
    with pytest.raises(RpcError, match=r"no endpoint at .*echo; it stopped or never started"):
        transport.run(gateway.echo(b"anyone?"))


def test_carries_large_payloads(transport: Setup) -> None:
    payload = bytes(range(256)) * (32 * 1024)  # 8 MiB
    assert transport.run(transport.gateway().echo(payload)) == payload


def test_a_remote_exception_arrives_with_its_type_message_and_traceback(
    transport: Setup,
) -> None:
    with pytest.raises(Refused, match="refused: because") as info:
        transport.run(transport.gateway().refuse("because"))
    frames = [frame.name for frame in traceback.extract_tb(info.value.__traceback__)]
    assert "refuse" in frames, frames


def test_an_argument_outside_the_contract_fails_at_the_caller(transport: Setup) -> None:
    if not transport.client.serializes:  # plain local:// hands arguments over by reference
        anything = Refused("an object")
        assert transport.run(transport.gateway().echo(anything)) is anything
        return
    with pytest.raises(TypeError, match=r"EchoGateway.echo to .*Refused cannot be sent over "
                                        r"RPC.*SerializedValue"):
        transport.run(transport.gateway().echo(Refused("an object")))
