"""Every message of the data plane between TaskManagers, and how it is framed on TCP.

One TCP connection joins a pair of TaskManagers; the input channels of all their tasks are
multiplexed on it, each by the id its consumer gave it. A frame is::

    u32 length (of what follows) · u8 kind · u32 channel id · payload

Consumer → producer: :data:`HELLO` (who is calling), :data:`PARTITION_REQUEST` (open the
channel, with the consumer's initial credit), :data:`ADD_CREDIT` (the consumer freed buffers;
always > 0), :data:`CLOSE_REQUEST` (the consumer is gone). Producer → consumer:
:data:`BUFFER` (one record batch), :data:`WATERMARK`, :data:`WATERMARK_STATUS`,
:data:`END_OF_PARTITION`, :data:`BARRIER` (a checkpoint barrier: ``[id, timestamp, kind,
unaligned, location]`` in msgpack), :data:`CANCEL_CHECKPOINT` (u64 checkpoint id) (events travel in
order with the batches, and need no credit), :data:`PRIORITY_BARRIER` (an unaligned barrier's
:class:`~strom.network.elements.PriorityBarrier`, same payload as :data:`BARRIER`: the sender
writes it before its unsent frames and the receiver puts it at the head of its queue) and
:data:`ERROR_RESPONSE` (the channel failed: producer failure, unknown partition).

A record batch is pickled once per buffer (protocol 5) as ``(values, timestamps, keys)``:
every user type survives the round trip. Values plain pickle cannot handle (classes of the
job script, lambdas) go through strom's cloudpickle; both are read by ``pickle.loads``.
"""

from __future__ import annotations

import pickle
import struct
from typing import Any

import msgspec

from strom.common import _pickling
from strom.network.elements import (
    END_OF_PARTITION,
    CancelCheckpointMarker,
    CheckpointBarrier,
    CheckpointType,
    EndOfPartition,
    PriorityBarrier,
    RecordBatch,
    WatermarkEvent,
    WatermarkStatusEvent,
)

__all__ = ["ADD_CREDIT", "BARRIER", "BUFFER", "CANCEL_CHECKPOINT", "CLOSE_REQUEST", "END_OF_PARTITION_KIND", "ERROR_RESPONSE",
           "HEADER", "HELLO", "PARTITION_REQUEST", "PRIORITY_BARRIER", "WATERMARK", "WATERMARK_STATUS",
           "ErrorResponse", "FrameParser", "Hello", "PartitionRequest", "decode_add_credit",
           "decode_barrier", "decode_element", "encode_add_credit", "encode_element", "frame"]

HELLO = 0
PARTITION_REQUEST = 1
ADD_CREDIT = 2
CLOSE_REQUEST = 3
BUFFER = 4
WATERMARK = 5
WATERMARK_STATUS = 6
END_OF_PARTITION_KIND = 7
ERROR_RESPONSE = 8
BARRIER = 9
CANCEL_CHECKPOINT = 10
PRIORITY_BARRIER = 11
_KINDS = 12

#: u32 length · u8 kind · u32 channel
HEADER = struct.Struct(">IBI")
_KIND_AND_CHANNEL = 5
_U32 = struct.Struct(">I")
_I64 = struct.Struct(">q")
#: a frame larger than this is a corrupt stream, not a batch
MAX_FRAME_BYTES = 1 << 30


class Hello(msgspec.Struct, array_like=True, frozen=True):
    """The first frame on a connection: the calling TaskManager."""

    resource_id: str
    data_address: str


class PartitionRequest(msgspec.Struct, array_like=True, frozen=True):
    """Open the channel from ``producer`` to ``consumer`` subtask of an edge, with the
    consumer's initial credit (its exclusive buffers plus its share of floating ones)."""

    job_id: str
    job_attempt: int
    edge_id: str
    producer: int
    consumer: int
    credit: int


class ErrorResponse(msgspec.Struct, array_like=True, frozen=True):
    """The channel failed on the producer's side; ``kind`` names the exception to raise at
    the consumer (``PartitionNotFoundError``, ``ProducerFailedError``, ...)."""

    kind: str
    message: str


_encoder = msgspec.msgpack.Encoder()
_decoders: dict[int, msgspec.msgpack.Decoder[Any]] = {
    HELLO: msgspec.msgpack.Decoder(Hello),
    PARTITION_REQUEST: msgspec.msgpack.Decoder(PartitionRequest),
    ERROR_RESPONSE: msgspec.msgpack.Decoder(ErrorResponse),
}

_barrier_decoder = msgspec.msgpack.Decoder(tuple[int, int, str, bool, str])


def frame(kind: int, channel: int, payload: bytes = b"") -> bytes:
    return HEADER.pack(_KIND_AND_CHANNEL + len(payload), kind, channel) + payload


def encode_message(kind: int, channel: int, message: msgspec.Struct) -> bytes:
    return frame(kind, channel, _encoder.encode(message))


def decode_message(kind: int, payload: bytes | memoryview) -> Any:
    return _decoders[kind].decode(payload)


def encode_add_credit(channel: int, credit: int) -> bytes:
    if credit < 1:
        raise ValueError(f"AddCredit announces at least 1 credit, got {credit}")
    return frame(ADD_CREDIT, channel, _U32.pack(credit))


def decode_add_credit(payload: bytes | memoryview) -> int:
    (credit,) = _U32.unpack(payload)
    if credit < 1:
        raise ValueError(f"AddCredit must announce at least 1 credit, got {credit}: the peer "
                         "speaks a broken protocol.")
    return int(credit)


def encode_element(channel: int, element: Any) -> bytes:
    """The frame for a channel element (a batch or an event)."""
    kind = type(element)
    if kind is RecordBatch:
        data = (element.values, element.timestamps, element.keys)
        try:
            payload = pickle.dumps(data, protocol=5)
        except (pickle.PicklingError, AttributeError, TypeError):
            try:
                payload = _pickling.dumps(data)  # classes of __main__, lambdas: by value
            except Exception as e:
                raise TypeError(
                    f"A record batch cannot be sent to another TaskManager: {e} (first "
                    f"record: {element.values[0]!r:.200}). Records that cross TaskManagers "
                    "are pickled; emit picklable values (no locks, sockets, open files or "
                    "generators), or keep the operators chained on one TaskManager."
                ) from e
        return frame(BUFFER, channel, payload)
    if kind is WatermarkEvent:
        return frame(WATERMARK, channel, _I64.pack(element.timestamp))
    if kind is WatermarkStatusEvent:
        return frame(WATERMARK_STATUS, channel, b"\x01" if element.idle else b"\x00")
    if kind is EndOfPartition:
        return frame(END_OF_PARTITION_KIND, channel)
    if kind is CheckpointBarrier:
        return frame(BARRIER, channel, _encode_barrier(element))
    if kind is PriorityBarrier:
        return frame(PRIORITY_BARRIER, channel, _encode_barrier(element.barrier))
    if kind is CancelCheckpointMarker:
        return frame(CANCEL_CHECKPOINT, channel, _I64.pack(element.checkpoint_id))
    raise TypeError(f"cannot send {element!r} over the network: not a batch or an event")


def _encode_barrier(barrier: CheckpointBarrier) -> bytes:
    return _encoder.encode((barrier.checkpoint_id, barrier.timestamp, barrier.kind.value,
                            barrier.unaligned, barrier.location))


def decode_barrier(payload: bytes | memoryview) -> CheckpointBarrier:
    """The barrier of a :data:`BARRIER` or :data:`PRIORITY_BARRIER` frame's payload."""
    checkpoint_id, timestamp, checkpoint_type, unaligned, location = (
        _barrier_decoder.decode(payload))
    return CheckpointBarrier(checkpoint_id, timestamp, CheckpointType(checkpoint_type),
                             unaligned, location)


def decode_element(kind: int, payload: bytes | memoryview) -> Any:
    """The channel element of a :data:`BUFFER` or event frame."""
    if kind == BUFFER:
        values, timestamps, keys = pickle.loads(payload)
        return RecordBatch(values, timestamps, keys)
    if kind == WATERMARK:
        return WatermarkEvent(_I64.unpack(payload)[0])
    if kind == WATERMARK_STATUS:
        return WatermarkStatusEvent(payload[0] == 1)
    if kind == END_OF_PARTITION_KIND:
        return END_OF_PARTITION
    if kind == BARRIER:
        return decode_barrier(payload)
    if kind == PRIORITY_BARRIER:
        return PriorityBarrier(decode_barrier(payload))
    if kind == CANCEL_CHECKPOINT:
        return CancelCheckpointMarker(_I64.unpack(payload)[0])
    raise ValueError(f"frame kind {kind} is not a channel element")


class FrameParser:
    """Cuts a byte stream into ``(kind, channel, payload)`` frames.

    >>> parser = FrameParser()
    >>> parser.feed(frame(CLOSE_REQUEST, 7) + frame(ADD_CREDIT, 7, b"\\0\\0\\0\\2")[:3])
    [(3, 7, b'')]
    """

    __slots__ = ("_buffer",)

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[tuple[int, int, bytes]]:
        buffer = self._buffer
        buffer += data
        frames = []
        start, end = 0, len(buffer)
        header = HEADER.size
        while end - start >= header:
            length, kind, channel = HEADER.unpack_from(buffer, start)
            if length < _KIND_AND_CHANNEL or length > MAX_FRAME_BYTES or kind >= _KINDS:
                raise ValueError(
                    f"corrupt data-plane frame (length {length}, kind {kind}): the peer is not "
                    "a strom TaskManager of this version, or the stream lost bytes."
                )
            stop = start + 4 + length
            if stop > end:
                break
            frames.append((kind, channel, bytes(buffer[start + header:stop])))
            start = stop
        if start:
            del buffer[:start]
        return frames
