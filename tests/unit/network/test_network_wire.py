"""The data plane's wire messages: framing, batches, events and credit, without sockets."""

from __future__ import annotations

from collections import deque
from typing import Any

import pytest

from strom.network import wire
from strom.network.elements import (
    END_OF_PARTITION,
    CancelCheckpointMarker,
    CheckpointBarrier,
    CheckpointType,
    EndOfPartition,
    RecordBatch,
    WatermarkEvent,
    WatermarkStatusEvent,
)
from strom.network.remote_input_channel import RemoteInputChannel


class Point:
    def __init__(self, x: int, y: int) -> None:
        self.x, self.y = x, y

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Point) and (self.x, self.y) == (other.x, other.y)


def _round_trip(element: Any) -> Any:
    (kind, channel, payload), = wire.FrameParser().feed(wire.encode_element(42, element))
    assert channel == 42
    return wire.decode_element(kind, payload)


def test_a_batch_keeps_user_types_timestamps_and_keys() -> None:
    values = [(1, "a"), {"k": [1, 2]}, Point(1, 2), None, 3.5, frozenset({1})]
    batch = _round_trip(RecordBatch(values, [1, 2, 3, 4, 5, 6], [("a",), 1, 2, 3, 4, 5]))
    assert type(batch) is RecordBatch
    assert batch.values == values and type(batch.values[0]) is tuple
    assert batch.timestamps == [1, 2, 3, 4, 5, 6]
    assert batch.keys == [("a",), 1, 2, 3, 4, 5]


def test_a_batch_of_lambdas_travels_by_value() -> None:
    batch = _round_trip(RecordBatch([lambda x: x + 1]))
    assert batch.values[0](1) == 2 and batch.timestamps is None


def test_events_round_trip() -> None:
    assert _round_trip(WatermarkEvent(-(2**63))).timestamp == -(2**63)
    assert _round_trip(WatermarkStatusEvent(True)).idle is True
    assert _round_trip(WatermarkStatusEvent(False)).idle is False
    assert _round_trip(END_OF_PARTITION) is END_OF_PARTITION


def test_checkpoint_events_round_trip() -> None:
    barrier = _round_trip(CheckpointBarrier(7, 1_700_000_000_000, CheckpointType.SAVEPOINT_SUSPEND,
                                            unaligned=False, location="file:///c/chk-7"))
    assert type(barrier) is CheckpointBarrier
    assert (barrier.checkpoint_id, barrier.timestamp, barrier.kind, barrier.unaligned,
            barrier.location) == (7, 1_700_000_000_000, CheckpointType.SAVEPOINT_SUSPEND, False,
                                  "file:///c/chk-7")
    assert _round_trip(CheckpointBarrier(8, 1, unaligned=True)).unaligned is True
    marker = _round_trip(CancelCheckpointMarker(2**40))
    assert type(marker) is CancelCheckpointMarker and marker.checkpoint_id == 2**40


def test_messages_round_trip() -> None:
    request = wire.PartitionRequest("job", 0, "edge-1", 3, 1, 10)
    (kind, channel, payload), = wire.FrameParser().feed(
        wire.encode_message(wire.PARTITION_REQUEST, 9, request))
    assert (kind, channel) == (wire.PARTITION_REQUEST, 9)
    assert wire.decode_message(kind, payload) == request
    (kind, channel, payload), = wire.FrameParser().feed(wire.encode_add_credit(9, 3))
    assert (kind, wire.decode_add_credit(payload)) == (wire.ADD_CREDIT, 3)


def test_add_credit_must_be_positive_both_ways() -> None:
    with pytest.raises(ValueError, match="at least 1 credit, got 0"):
        wire.encode_add_credit(1, 0)
    with pytest.raises(ValueError, match="at least 1 credit, got 0"):
        wire.decode_add_credit(b"\0\0\0\0")


def test_the_parser_cuts_frames_at_any_chunk_boundary() -> None:
    elements = [RecordBatch([i, str(i)]) for i in range(5)] + [WatermarkEvent(7),
                                                               END_OF_PARTITION]
    stream = b"".join(wire.encode_element(i, e) for i, e in enumerate(elements))
    for chunk in (1, 3, 17, len(stream)):
        parser, frames = wire.FrameParser(), []
        for start in range(0, len(stream), chunk):
            frames += parser.feed(stream[start:start + chunk])
        decoded = [wire.decode_element(kind, payload) for kind, _, payload in frames]
        assert [c for _, c, _ in frames] == list(range(len(elements)))
        assert [b.values for b in decoded[:5]] == [[i, str(i)] for i in range(5)]
        assert isinstance(decoded[-1], EndOfPartition)


def test_a_corrupt_frame_is_refused_with_the_reason() -> None:
    with pytest.raises(ValueError, match="corrupt data-plane frame"):
        wire.FrameParser().feed(wire.HEADER.pack(5, 200, 0))


class _CreditLog:
    def __init__(self) -> None:
        self.returned: deque[tuple[int, int]] = deque()

    def add_credit(self, channel_id: int, credit: int) -> None:
        self.returned.append((channel_id, credit))


def test_a_remote_channel_returns_one_credit_per_batch_it_polls_and_none_for_events() -> None:
    channel = RemoteInputChannel("test channel", "job")
    log = _CreditLog()
    channel.connection, channel.channel_id = log, 5
    for element in (RecordBatch([1]), WatermarkEvent(3), RecordBatch([2]), END_OF_PARTITION):
        (kind, _, payload), = wire.FrameParser().feed(wire.encode_element(5, element))
        channel.on_frame(kind, payload)
    assert channel.queued() == 4 and not log.returned
    assert channel.poll().values == [1] and list(log.returned) == [(5, 1)]
    assert channel.poll().timestamp == 3 and len(log.returned) == 1
    assert channel.poll().values == [2] and len(log.returned) == 2
    assert channel.poll() is END_OF_PARTITION and channel.ended
    channel.on_failure(RuntimeError("late"))  # after its end a channel cannot fail
    assert channel.poll() is None and channel.is_empty()


def test_a_failed_remote_channel_raises_on_the_next_poll() -> None:
    channel = RemoteInputChannel("test channel", "job")
    woken = []
    channel.receiver_waker = lambda: woken.append(1)
    channel.on_failure(ConnectionError("peer gone"))
    assert woken and not channel.is_empty()
    with pytest.raises(ConnectionError, match="peer gone"):
        channel.poll()


def test_a_remote_channel_returns_credit_in_halves_of_its_credit() -> None:
    channel = RemoteInputChannel("test channel", "job", credit=4)
    log = _CreditLog()
    channel.connection, channel.channel_id = log, 2
    for i in range(4):
        (kind, _, payload), = wire.FrameParser().feed(wire.encode_element(2, RecordBatch([i])))
        channel.on_frame(kind, payload)
    channel.poll()
    assert not log.returned  # the producer still has half its credit to send with
    channel.poll()
    assert list(log.returned) == [(2, 2)]
    channel.poll()
    channel.poll()
    assert list(log.returned) == [(2, 2), (2, 2)]


def test_an_unpicklable_record_is_named_with_what_to_do() -> None:
    import threading

    with pytest.raises(TypeError, match=r"cannot be sent to another TaskManager.*lock.*"
                                        r"emit picklable values"):
        wire.encode_element(1, RecordBatch([threading.Lock()]))
