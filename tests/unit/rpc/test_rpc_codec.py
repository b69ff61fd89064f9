"""The wire codec: calls decode into the gateway's annotated types, and an argument the
contract does not allow fails at the caller, before any socket exists."""

from __future__ import annotations

import typing

import msgspec
import pytest

from strom.common.job import JobID, JobStatus
from strom.graph.ids import AllocationID, ExecutionAttemptID, ResourceID
from strom.jobmanager.job_result import JobResult
from strom.rpc.codec import Call, Reply, decode_frame, gateway_codec
from strom.rpc.errors import RpcError, SerializedError
from strom.rpc.gateways import (
    DispatcherGateway,
    JobMasterGateway,
    ResourceManagerGateway,
    TaskExecutorGateway,
)
from strom.rpc.messages import (
    ExecutionState,
    SerializedValue,
    SlotOffer,
    TaskExecutionState,
)

ALL_GATEWAYS = [DispatcherGateway, JobMasterGateway, ResourceManagerGateway,
                TaskExecutorGateway]

#: what a gateway may take or return: Structs, primitives, typed ids, enums, SerializedValue
_ALLOWED_LEAVES = (type(None), bool, int, float, str, bytes, JobID, AllocationID,
                   ExecutionAttemptID, ResourceID, SerializedValue)


def _allowed(kind: object) -> bool:
    origin = typing.get_origin(kind)
    if origin is not None:
        return all(_allowed(arg) for arg in typing.get_args(kind))
    if isinstance(kind, type):
        import enum

        return issubclass(kind, msgspec.Struct | enum.Enum) or kind in _ALLOWED_LEAVES
    return False


@pytest.mark.parametrize("gateway", ALL_GATEWAYS, ids=lambda g: g.__name__)
def test_every_gateway_signature_is_wire_safe(gateway: type) -> None:
    codec = gateway_codec(gateway)
    for name in codec.methods:
        hints = typing.get_type_hints(getattr(gateway, name))
        for param, kind in hints.items():
            assert _allowed(kind), f"{gateway.__name__}.{name}: {param} is {kind}"


def round_trip(gateway: type, method: str, *args: object) -> tuple[object, ...]:
    codec = gateway_codec(gateway)
    call = decode_frame(codec.encode_call(1, "x", method, args, {}))
    assert isinstance(call, Call)
    return codec.decode_args(call)


def test_arguments_decode_into_typed_ids_enums_and_structs() -> None:
    job_id, allocation = JobID.generate(), AllocationID()
    execution = ExecutionAttemptID()
    (offers,) = round_trip(JobMasterGateway, "offer_slots",
                           [SlotOffer(allocation, 3, "local://te")])
    assert offers == [SlotOffer(allocation, 3, "local://te")]
    assert type(offers[0].allocation_id) is AllocationID  # type: ignore[index]
    (state,) = round_trip(JobMasterGateway, "update_task_execution_state",
                          TaskExecutionState(job_id, execution, ExecutionState.FAILED))
    assert state == TaskExecutionState(job_id, execution, ExecutionState.FAILED)
    assert round_trip(TaskExecutorGateway, "request_slot", 0, job_id, allocation,
                      "local://jm") == (0, job_id, allocation, "local://jm")


def test_keyword_arguments_bind_to_the_protocols_signature() -> None:
    job_id = JobID.generate()
    codec = gateway_codec(ResourceManagerGateway)
    call = decode_frame(codec.encode_call(
        1, "rm", "request_slots", (), {"count": 2, "job_id": job_id, "job_master_address": "a"}))
    assert isinstance(call, Call)
    assert codec.decode_args(call) == (job_id, "a", 2)


def test_results_decode_into_the_annotated_type() -> None:
    codec = gateway_codec(DispatcherGateway)
    result = JobResult(JobID.generate(), "job", JobStatus.FINISHED, 1, 5)
    reply = decode_frame(codec.encode_result(1, "request_job_result", result))
    assert isinstance(reply, Reply)
    decoded = codec.decode_result("request_job_result", reply, "local://dispatcher")
    assert decoded == result and decoded.status is JobStatus.FINISHED


def test_a_job_graph_by_reference_cannot_be_sent() -> None:
    from strom.graph.job_graph import JobGraph

    codec = gateway_codec(DispatcherGateway)
    graph = JobGraph.__new__(JobGraph)
    with pytest.raises(TypeError, match=r"DispatcherGateway.submit_job.*do not match "
                                        r"submit_job.*SerializedValue"):
        codec.encode_call(1, "dispatcher", "submit_job", (graph, JobID.generate()), {})


def test_an_exception_object_or_an_event_object_cannot_be_sent() -> None:
    codec = gateway_codec(JobMasterGateway)
    state = TaskExecutionState(JobID.generate(), ExecutionAttemptID(), ExecutionState.FAILED,
                               ValueError("x"))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="ValueError cannot be sent over RPC"):
        codec.encode_call(1, "jm", "update_task_execution_state", (state,), {})
    with pytest.raises(TypeError, match=r"send_operator_event.*Expected `bytes`, got `object`"):
        codec.encode_call(1, "jm", "send_operator_event",
                          (ExecutionAttemptID(), "op", 0, {"not": "bytes"}), {})


def test_the_receiver_checks_the_arguments_too() -> None:
    codec = gateway_codec(JobMasterGateway)
    bad = Call(1, "jm", "send_operator_event",
               msgspec.Raw(msgspec.msgpack.encode([ExecutionAttemptID().to_hex_string(), "op",
                                                   "zero", b""])))
    with pytest.raises(RpcError, match=r"do not match JobMasterGateway\.send_operator_event"):
        codec.decode_args(bad)


def test_serialized_values_travel_as_their_pickled_bytes() -> None:
    (payload, _) = round_trip(DispatcherGateway, "submit_job", SerializedValue({"a": [1]}),
                              JobID.generate())
    assert isinstance(payload, SerializedValue)
    assert payload.value() == {"a": [1]}


def test_a_failure_reply_raises_the_callers_exception() -> None:
    codec = gateway_codec(DispatcherGateway)
    try:
        raise KeyError("gone")
    except KeyError as e:
        error = SerializedError.from_exception(e)
    reply = Reply(1, msgspec.Raw(msgspec.msgpack.encode(None)), error)
    with pytest.raises(KeyError, match="gone"):
        codec.decode_result("cancel_job", reply, "local://dispatcher")


def test_an_unknown_method_names_the_gateways_methods() -> None:
    with pytest.raises(RpcError, match=r"no RPC method 'explode'.*cancel_job"):
        gateway_codec(DispatcherGateway).encode_call(1, "dispatcher", "explode", (), {})
