"""LocalChannel credit accounting and RecordWriter buffering, cutting and blocking."""

from __future__ import annotations

from typing import Any

import pytest

from strom.graph.partitioning import BroadcastPartitioning, ForwardPartitioning, HashPartitioning
from strom.network.elements import (
    END_OF_PARTITION,
    EndOfPartition,
    RecordBatch,
    WatermarkEvent,
)
from strom.network.local_channel import LocalChannel
from strom.network.partitioners import create_channel_selector
from strom.network.record_writer import RecordWriter


class Wakes:
    """Counts wake-ups of one side of a channel."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> None:
        self.count += 1


def drain(channel: LocalChannel) -> list[Any]:
    out = []
    while (element := channel.poll()) is not None:
        out.append(element)
    return out


def values_of(elements: list[Any]) -> list[list[Any]]:
    return [e.values for e in elements if isinstance(e, RecordBatch)]


# ---------------------------------------------------------------- LocalChannel
def test_credit_cannot_be_negative() -> None:
    with pytest.raises(ValueError, match="cannot be negative, got -1"):
        LocalChannel(-1)
    with pytest.raises(ValueError, match="announces at least 1 credit, got 0"):
        LocalChannel().announce_credit(0)


def test_a_sender_waits_until_the_receiver_announces_credit() -> None:
    channel = LocalChannel()
    sender = Wakes()
    channel.sender_waker = sender
    writer = writer_with([channel], batch_size=1)
    writer.emit(["a"], None)
    assert writer.is_blocked() and channel.is_empty()
    channel.announce_credit(2)
    assert sender.count == 1
    assert not writer.is_blocked()
    assert values_of(drain(channel)) == [["a"]]


def test_each_batch_consumes_one_credit_and_a_sender_without_credit_cannot_send() -> None:
    channel = LocalChannel(2)
    channel.send_batch(RecordBatch([1]))
    assert channel.has_credit()
    channel.send_batch(RecordBatch([2]))
    assert not channel.has_credit()
    with pytest.raises(RuntimeError, match="without credit"):
        channel.send_batch(RecordBatch([3]))
    assert channel.queued() == 2


def test_consuming_a_batch_returns_its_credit_and_wakes_the_sender() -> None:
    channel = LocalChannel(1)
    sender, receiver = Wakes(), Wakes()
    channel.sender_waker, channel.receiver_waker = sender, receiver
    channel.send_batch(RecordBatch([1, 2]))
    assert receiver.count == 1 and sender.count == 0
    assert not channel.has_credit()
    batch = channel.poll()
    assert isinstance(batch, RecordBatch) and batch.values == [1, 2]
    assert channel.has_credit()
    assert sender.count == 1
    assert channel.poll() is None and channel.is_empty()


def test_events_need_no_credit_and_keep_their_order_with_batches() -> None:
    channel = LocalChannel(1)
    sender = Wakes()
    channel.sender_waker = sender
    channel.send_batch(RecordBatch([1]))
    channel.send_event(WatermarkEvent(5))
    channel.send_event(END_OF_PARTITION)
    elements = drain(channel)
    assert [type(e) for e in elements] == [RecordBatch, WatermarkEvent, EndOfPartition]
    assert sender.count == 1  # only the batch returned credit


def test_batches_are_handed_over_by_reference() -> None:
    channel = LocalChannel(1)
    batch = RecordBatch([object()])
    channel.send_batch(batch)
    assert channel.poll() is batch


def test_a_failed_channel_wakes_its_sender_and_raises_on_the_next_send() -> None:
    """The network thread fails a channel whose remote reader is gone; the sender, even one
    without credit, sees credit (so it does not wait forever) and its send raises."""
    channel = LocalChannel()
    woken = []
    channel.sender_waker = lambda: woken.append(1)
    channel.send_event(WatermarkEvent(1))
    assert not channel.has_credit()
    error = ConnectionError("the consumer's TaskManager is gone")
    channel.fail(error)
    assert woken == [1] and channel.has_credit() and channel.is_empty()
    with pytest.raises(ConnectionError, match="is gone"):
        channel.send_batch(RecordBatch([1]))
    with pytest.raises(ConnectionError, match="is gone"):
        channel.send_event(WatermarkEvent(2))


def test_taking_an_element_for_a_remote_reader_does_not_return_its_credit() -> None:
    channel = LocalChannel(1)
    channel.send_batch(RecordBatch([1]))
    assert channel.take().values == [1] and channel.take() is None
    assert not channel.has_credit()  # the remote consumer returns it with announce_credit
    channel.announce_credit(1)
    assert channel.has_credit()


# ---------------------------------------------------------------- RecordWriter
def writer_with(channels: list[LocalChannel], batch_size: int, partitioning: Any = None
                ) -> RecordWriter:
    selector = create_channel_selector(partitioning or ForwardPartitioning(), len(channels))
    return RecordWriter(channels, selector, batch_size)


def test_records_wait_in_a_partial_buffer_until_flushed() -> None:
    channel = LocalChannel(4)
    writer = writer_with([channel], batch_size=3)
    writer.emit([1, 2], None)
    assert writer.has_partial_buffers()
    assert channel.is_empty()
    writer.flush()
    assert not writer.has_partial_buffers()
    assert values_of(drain(channel)) == [[1, 2]]


def test_a_full_buffer_is_cut_and_sent_on_the_next_send() -> None:
    channel = LocalChannel(4)
    writer = writer_with([channel], batch_size=3)
    writer.emit([1, 2], None)
    writer.emit([3, 4], None)  # the buffer reached its size: cut
    assert writer.waiting == 1 and not writer.has_partial_buffers()
    assert writer.send()
    assert values_of(drain(channel)) == [[1, 2, 3, 4]]


def test_a_large_batch_is_sent_as_is_when_nothing_is_pending() -> None:
    channel = LocalChannel(4)
    writer = writer_with([channel], batch_size=2)
    values = [1, 2, 3, 4, 5]
    writer.emit(values, [10, 20, 30, 40, 50])
    writer.send()
    [batch] = drain(channel)
    assert batch.values is values and batch.timestamps == [10, 20, 30, 40, 50]


def test_timestamps_stay_aligned_with_values_across_cuts() -> None:
    channel = LocalChannel(8)
    writer = writer_with([channel], batch_size=3)
    writer.emit([1], [100])
    writer.emit([2, 3], [200, 300])
    writer.emit([4], [400])
    writer.flush()
    batches = drain(channel)
    assert [(b.values, b.timestamps) for b in batches] == [([1, 2, 3], [100, 200, 300]),
                                                         ([4], [400])]


def test_without_credit_the_writer_blocks_until_the_receiver_consumes() -> None:
    channel = LocalChannel(1)
    writer = writer_with([channel], batch_size=2)
    writer.emit([1, 2], None)
    writer.emit([3, 4], None)
    writer.emit([5, 6], None)
    assert writer.waiting == 3
    assert not writer.send()  # one went out, two wait for credit
    assert writer.is_blocked()
    assert channel.queued() == 1
    assert channel.poll().values == [1, 2]
    assert writer.is_blocked()  # sent [3, 4], [5, 6] still waits
    assert channel.poll().values == [3, 4]
    assert not writer.is_blocked()
    assert channel.poll().values == [5, 6]
    assert writer.waiting == 0


def test_an_event_waits_behind_blocked_batches_and_flushes_partial_buffers_first() -> None:
    channel = LocalChannel(1)
    writer = writer_with([channel], batch_size=2)
    writer.emit([1, 2], None)
    writer.emit([3, 4], None)
    writer.emit([5], None)
    writer.broadcast_event(WatermarkEvent(9))
    received = drain(channel)
    assert values_of(received) == [[1, 2]]  # the rest waits for credit, the event too
    writer.send()
    received += drain(channel)
    writer.send()
    received += drain(channel)
    writer.send()
    received += drain(channel)
    assert [e.values if isinstance(e, RecordBatch) else e.timestamp for e in received] == [
        [1, 2], [3, 4], [5], 9]


def test_broadcast_event_reaches_every_channel_after_their_records() -> None:
    channels = [LocalChannel(2) for _ in range(3)]
    writer = writer_with(channels, batch_size=10, partitioning=BroadcastPartitioning())
    writer.emit(["a"], None)
    writer.broadcast_event(END_OF_PARTITION)
    for channel in channels:
        elements = drain(channel)
        assert values_of(elements) == [["a"]]
        assert elements[-1] is END_OF_PARTITION


def test_hash_partitioned_keys_travel_with_the_batch() -> None:
    channels = [LocalChannel(2) for _ in range(2)]
    writer = writer_with(channels, batch_size=100,
                         partitioning=HashPartitioning(key_selector=lambda v: v[0],
                                                       max_parallelism=128))
    records = [("a", 1), ("b", 2), ("a", 3), ("c", 4)]
    writer.emit(records, None)
    writer.flush()
    seen = []
    for channel in channels:
        for batch in drain(channel):
            assert batch.keys == [v[0] for v in batch.values]
            seen.extend(batch.values)
    assert sorted(seen) == sorted(records)

