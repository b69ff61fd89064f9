"""The RPC wire codec: calls and replies as msgpack frames, typed by the gateway Protocols.

A call is ``Call(request_id, target, method, args, fencing_token)`` and its answer ``Reply(request_id,
result, error)``, both msgspec Structs encoded with msgpack. ``args`` and ``result`` are
encoded separately and decoded into the types the gateway method's annotations name
(Structs, typed ids, enums, :class:`~strom.rpc.messages.SerializedValue`), so an argument
the contract does not allow (a JobGraph, an exception object, an arbitrary event) fails at
the caller, in one process as over TCP. A failure travels as a
:class:`~strom.rpc.errors.SerializedError`.

>>> from strom.rpc.gateways import ResourceManagerGateway
>>> codec = gateway_codec(ResourceManagerGateway)
>>> frame = codec.encode_call(7, "resourcemanager", "free_slot_count", (), {})
>>> call = decode_frame(frame)
>>> call.request_id, call.target, call.method, codec.decode_args(call)
(7, 'resourcemanager', 'free_slot_count', ())
"""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgspec

from strom.common.job import JobID
from strom.graph.ids import AbstractID
from strom.rpc.errors import RpcError, SerializedError
from strom.rpc.messages import SerializedValue

__all__ = ["Call", "GatewayCodec", "MethodSpec", "Reply", "decode_frame", "encode_frame",
           "gateway_codec", "gateway_methods"]


class Call(msgspec.Struct, frozen=True, array_like=True, tag="call"):
    request_id: int
    #: the endpoint's name at the receiving RPC service
    target: str
    method: str
    #: the positional arguments, msgpack-encoded as an array
    args: msgspec.Raw
    #: the caller's fencing token (its leader session id), None from an unfenced caller;
    #: the last field and optional, so a frame without it still decodes
    fencing_token: str | None = None


class Reply(msgspec.Struct, frozen=True, array_like=True, tag="reply"):
    request_id: int
    #: the msgpack-encoded result (nil when the call failed)
    result: msgspec.Raw
    error: SerializedError | None = None


def _enc_hook(value: Any) -> Any:
    if isinstance(value, AbstractID | JobID):
        return value.to_hex_string()
    if isinstance(value, SerializedValue):
        return value.to_bytes()
    raise TypeError(
        f"a {type(value).__module__}.{type(value).__qualname__} cannot be sent over RPC. "
        "Gateway arguments and results are msgspec Structs, primitives, typed ids or enums; "
        "send user objects as cloudpickled bytes or in a SerializedValue, and failures as a "
        "SerializedError."
    )


def _dec_hook(kind: type, value: Any) -> Any:
    if kind is JobID or (isinstance(kind, type) and issubclass(kind, AbstractID)):
        return kind(value)
    if kind is SerializedValue:
        if not isinstance(value, bytes):
            raise TypeError(f"Expected the bytes of a SerializedValue, got {type(value).__name__}")
        return SerializedValue.from_bytes(value)
    # msgspec's dec_hook protocol: NotImplementedError means "not a type this hook decodes",
    # which msgspec reports as a ValidationError naming the field
    raise NotImplementedError(f"no RPC decoding for {kind!r}")


_encoder = msgspec.msgpack.Encoder(enc_hook=_enc_hook)
_frame_decoder = msgspec.msgpack.Decoder(Call | Reply, dec_hook=_dec_hook)
_NIL = msgspec.Raw(_encoder.encode(None))


def encode_frame(message: Call | Reply) -> bytes:
    return _encoder.encode(message)


def decode_frame(data: bytes) -> Call | Reply:
    return _frame_decoder.decode(data)


def gateway_methods(protocol: type) -> frozenset[str]:
    """The public methods a gateway Protocol declares (its bases included)."""
    names: set[str] = set()
    for klass in protocol.__mro__:
        if klass is object or klass is typing.Protocol or klass is typing.Generic:
            continue
        names.update(n for n, v in vars(klass).items() if not n.startswith("_") and callable(v))
    return frozenset(names)


@dataclass(frozen=True)
class MethodSpec:
    """One gateway method: how to bind, encode and decode its call and its result."""

    name: str
    signature: inspect.Signature
    args: msgspec.msgpack.Decoder[Any]
    result: msgspec.msgpack.Decoder[Any]
    #: False for long polls (``@no_timeout``): the call waits without ``pekko.ask.timeout``
    timed: bool


class GatewayCodec:
    """Encodes and decodes the calls of one gateway Protocol."""

    def __init__(self, protocol: type) -> None:
        self.protocol = protocol
        self.methods: dict[str, MethodSpec] = {}
        for name in sorted(gateway_methods(protocol)):
            function: Callable[..., Any] = getattr(protocol, name)
            hints = typing.get_type_hints(function)
            signature = inspect.signature(function)
            params = [p for p in signature.parameters.values() if p.name != "self"]
            arg_types = tuple(hints.get(p.name, Any) for p in params)
            args_type: Any = tuple[arg_types] if arg_types else tuple[()]  # type: ignore[valid-type]
            self.methods[name] = MethodSpec(
                name=name,
                signature=signature.replace(parameters=params),
                args=msgspec.msgpack.Decoder(args_type, dec_hook=_dec_hook),
                result=msgspec.msgpack.Decoder(hints.get("return", Any), dec_hook=_dec_hook),
                timed=not getattr(function, "__rpc_no_timeout__", False),
            )

    def method(self, name: str, target: str) -> MethodSpec:
        spec = self.methods.get(name)
        if spec is None:
            raise RpcError(
                f"{target} has no RPC method {name!r}: its gateway "
                f"{self.protocol.__name__} declares {sorted(self.methods)}."
            )
        return spec

    def encode_call(self, request_id: int, target: str, method: str, args: tuple[Any, ...],
                    kwargs: dict[str, Any], fencing_token: str | None = None) -> bytes:
        spec = self.method(method, target)
        try:
            bound = spec.signature.bind(*args, **kwargs)
        except TypeError as e:
            raise TypeError(f"{self.protocol.__name__}.{method}: {e}") from None
        bound.apply_defaults()
        what = f"RPC {self.protocol.__name__}.{method} to {target}"
        try:
            encoded = _encoder.encode(bound.args)
            # msgspec encodes any dataclass as a map: check that the arguments decode into the
            # annotated types here, so that a JobGraph passed by reference fails at the caller
            spec.args.decode(encoded)
        except TypeError as e:
            raise TypeError(f"{what}: {e}") from None
        except msgspec.ValidationError as e:
            raise TypeError(
                f"{what}: the arguments do not match {method}{spec.signature}: {e}. "
                "Gateway arguments are msgspec Structs, primitives, typed ids or enums; send "
                "user objects in a SerializedValue."
            ) from None
        return encode_frame(
            Call(request_id, target, method, msgspec.Raw(encoded), fencing_token))

    def decode_args(self, call: Call) -> tuple[Any, ...]:
        spec = self.method(call.method, call.target)
        try:
            return tuple(spec.args.decode(call.args))
        except msgspec.ValidationError as e:
            raise RpcError(
                f"the arguments of {call.method} for {call.target} do not match "
                f"{self.protocol.__name__}.{call.method}{spec.signature}: {e}"
            ) from None

    def encode_result(self, request_id: int, method: str, result: Any) -> bytes:
        try:
            encoded = msgspec.Raw(_encoder.encode(result))
        except TypeError as e:
            raise TypeError(f"the result of {self.protocol.__name__}.{method}: {e}") from None
        return encode_frame(Reply(request_id, encoded))

    def decode_result(self, method: str, reply: Reply, target: str) -> Any:
        """The call's result, or raise its failure as the caller's exception."""
        if reply.error is not None:
            raise reply.error.rebuild()
        spec = self.method(method, target)
        try:
            return spec.result.decode(reply.result)
        except msgspec.ValidationError as e:
            raise RpcError(
                f"the result of {method} from {target} is not the "
                f"{self.protocol.__name__}.{method} return type: {e}"
            ) from None


def encode_error(request_id: int, error: BaseException) -> bytes:
    return encode_frame(Reply(request_id, _NIL, SerializedError.from_exception(error)))


@functools.cache
def gateway_codec(protocol: type) -> GatewayCodec:
    """The (cached) codec of a gateway Protocol."""
    return GatewayCodec(protocol)
