"""Unaligned checkpoints without a cluster: the barrier handler's unaligned mode, priority
barriers overtaking a local channel's queue and a TCP sender's unsent frames (credit
untouched), the channel-state writer, restore assignment, config validation, and randomized
interleavings in which the snapshot plus the channel state equal the uninterrupted result."""

from __future__ import annotations

import random
from typing import Any

import pytest

from strom.common import Configuration
from strom.common import config_options as opts
from strom.common.checkpointing import CheckpointCoordinatorConfiguration
from strom.network import wire
from strom.network.elements import (
    CancelCheckpointMarker,
    CheckpointBarrier,
    PriorityBarrier,
    RecordBatch,
    WatermarkEvent,
)
from strom.network.local_channel import LocalChannel
from strom.network.partitioners import create_channel_selector
from strom.network.record_writer import RecordWriter
from strom.network.remote_input_channel import RemoteInputChannel
from strom.runtime.channel_state import (
    ChannelStateWriter,
    UnalignedRescaleError,
    assign_channel_state,
)
from strom.runtime.checkpoint_barriers import BarrierHandler
from strom.runtime.input_gate import InputGate
from strom.state.checkpoint_metadata import (
    ByteStreamStateHandle,
    CheckpointMetadata,
    OperatorStateEntry,
    SubtaskStateEntry,
)


def _barrier(checkpoint_id: int = 1) -> CheckpointBarrier:
    return CheckpointBarrier(checkpoint_id, 0, unaligned=True)


# ---------------------------------------------------------------- barrier handler
def test_the_first_unaligned_barrier_starts_the_checkpoint_and_the_last_channel_ends_it() -> None:
    handler = BarrierHandler(3, exactly_once=True)
    start, aborted = handler.on_priority_barrier(1, _barrier())
    assert start is not None and aborted is None
    assert handler.recording == {0, 1, 2}
    assert handler.blocked_channels() == set()  # unaligned blocks nothing
    assert handler.on_priority_barrier(0, _barrier()) == (None, None)  # started already
    assert not handler.finish_channel(1, 1)
    assert handler.on_end_of_partition(2) is None
    assert not handler.finish_channel(2, 1)
    assert handler.finish_channel(0, 1)  # complete
    assert handler.unaligned is None
    assert handler.on_priority_barrier(2, _barrier()) == (None, None)  # over


def test_a_cancel_marker_or_a_newer_barrier_aborts_an_unaligned_checkpoint() -> None:
    handler = BarrierHandler(2, exactly_once=True)
    handler.on_priority_barrier(0, _barrier(1))
    assert handler.on_cancel(1) == 1
    assert handler.unaligned is None and not handler.finish_channel(1, 1)
    handler.on_priority_barrier(0, _barrier(2))
    start, aborted = handler.on_priority_barrier(1, _barrier(3))
    assert start is not None and start.checkpoint_id == 3 and aborted == 2
    # an aligned savepoint barrier of a newer checkpoint aborts it too
    _, aborted = handler.on_barrier(0, CheckpointBarrier(4, 0))
    assert aborted == 3


# ---------------------------------------------------------------- channels
def test_a_priority_barrier_overtakes_a_local_channels_queue_without_credit() -> None:
    channel = LocalChannel(credit=2)
    gate = InputGate([(channel, 0)], 1)
    first, second = RecordBatch([1]), RecordBatch([2])
    channel.send_batch(first)
    channel.send_batch(second)
    assert not channel.has_credit()
    channel.send_priority_event(_barrier(7))  # needs no credit
    assert gate.has_priority()
    polled = gate.poll_priority()
    assert polled is not None and type(polled[1]) is PriorityBarrier
    assert polled[1].barrier.checkpoint_id == 7
    assert gate.inflight_before(0, 7) == [first, second]
    assert gate.inflight_before(0, 8) is None
    # the overtaken batches are still read, in order, each returning its credit
    assert gate.poll() == (0, first)
    assert channel.has_credit()
    assert gate.poll() == (0, second)
    polled = gate.poll()
    assert polled is not None and type(polled[1]) is CheckpointBarrier
    assert gate.poll() is None


def test_a_priority_barrier_overtakes_a_senders_unsent_frames_and_a_receivers_queue() -> None:
    class Connection:
        def __init__(self) -> None:
            self.loop = self
            self.views: dict[int, Any] = {}
            self.written: list[bytes] = []

        def call_soon_threadsafe(self, *_: Any) -> None:
            return None  # the frames stay unsent

    from strom.network.connection_manager import SubpartitionView

    connection = Connection()
    producer = LocalChannel(credit=4)
    view = SubpartitionView(connection, 3, producer, "key")  # type: ignore[arg-type]
    producer.receiver_waker = view.notify
    producer.send_batch(RecordBatch([1]))
    producer.send_priority_event(_barrier(2))
    frames = view._frames
    kinds = [wire.HEADER.unpack_from(f)[1] for f in frames]
    assert kinds == [wire.PRIORITY_BARRIER, wire.BUFFER, wire.BARRIER]
    # the receiver: the priority frame goes to the head of what it has queued
    receiver = RemoteInputChannel("test", "job", credit=4)
    woken: list[bool] = []
    receiver.priority_waker = lambda: woken.append(True)
    for data in [wire.frame(wire.BUFFER, 3, frames[1][wire.HEADER.size:]), *frames[:1]]:
        kind = wire.HEADER.unpack_from(data)[1]
        receiver.on_frame(kind, data[wire.HEADER.size:])
    assert woken == [True]
    priority = receiver.poll_priority()
    assert type(priority) is PriorityBarrier and priority.barrier.checkpoint_id == 2
    assert receiver.inflight_before(2) is None  # its in-order barrier is still on the way
    receiver.on_frame(wire.BARRIER, frames[2][wire.HEADER.size:])
    queued = receiver.inflight_before(2)
    assert queued is not None and [b.values for b in queued] == [[1]]


def test_a_record_writer_persists_what_its_barrier_overtook() -> None:
    channels = [LocalChannel(credit=0), LocalChannel(credit=0)]
    writer = RecordWriter(channels, create_channel_selector(_forward_all(), 2), batch_size=4)
    writer.emit([1, 2, 3], None)  # a partial buffer, cut by the barrier
    writer.broadcast_event(WatermarkEvent(5))
    writer.emit([4], None)
    overtaken = writer.broadcast_priority(_barrier(1))
    first_box = overtaken[0]
    assert first_box[0].values == [1, 2, 3]
    assert all(type(c.poll_priority()) is PriorityBarrier for c in channels)
    assert writer.waiting > 0  # still queued, sent after the barrier once credit comes


def _forward_all() -> Any:
    from strom.graph.partitioning import BroadcastPartitioning
    return BroadcastPartitioning()


# ---------------------------------------------------------------- randomized interleavings
def _run(rng: random.Random, records: list[list[int]], checkpoint_at: int
         ) -> tuple[int, list[int], int, int]:
    """A summing consumer of ``len(records)`` local channels whose producers send batches
    at random; from step ``checkpoint_at`` the producers send an unaligned barrier each (in
    a random order, interleaved with sends, reads and captures). Returns (the uninterrupted
    sum, the replayed channel state's records, the sum in the snapshot, the sum the
    producers sent after their barriers: what they send again after a restore)."""
    channels = [LocalChannel(credit=1000) for _ in records]
    gate = InputGate([(c, 0) for c in channels], 1)
    handler = BarrierHandler(len(channels), exactly_once=True)
    total, snapshot, writer = 0, None, None
    queues = [list(r) for r in records]
    pending_barriers = list(range(len(channels)))
    after_barrier = 0
    step = 0
    while any(queues) or pending_barriers or gate.has_data():
        step += 1
        action = rng.random()
        if step >= checkpoint_at and pending_barriers and action < 0.2:
            producer = pending_barriers.pop(rng.randrange(len(pending_barriers)))
            channels[producer].send_priority_event(_barrier(1))
            continue
        if action < 0.6 and any(queues):
            producer = rng.choice([i for i, q in enumerate(queues) if q])
            value = queues[producer].pop(0)
            if producer not in pending_barriers:
                after_barrier += value
            channels[producer].send_batch(RecordBatch([value]))
            continue
        if writer is not None and rng.random() < 0.3:  # a back-pressured task captures
            for channel in list(writer.recording):
                queued = gate.inflight_before(channel, 1)
                if queued is not None:
                    writer.capture(channel, queued)
                    handler.finish_channel(channel, 1)
        polled = gate.poll_priority() or gate.poll()
        if polled is None:
            continue
        channel, element = polled
        if writer is not None and channel in writer.recording:
            writer.record(channel, element)
        if type(element) is RecordBatch:
            total += sum(element.values)
        elif type(element) is PriorityBarrier:
            start, _ = handler.on_priority_barrier(channel, element.barrier)
            if start is not None:
                snapshot = total
                writer = ChannelStateWriter(start, {}, handler.recording)
        elif type(element) is CheckpointBarrier:
            handler.finish_channel(channel, 1)
    assert writer is not None and snapshot is not None and writer.complete
    replayed = [v for _, batch in writer.state.input_elements() for v in batch.values]
    return total, replayed, snapshot, after_barrier


@pytest.mark.parametrize("seed", range(40))
def test_the_snapshot_plus_the_channel_state_is_the_uninterrupted_result(seed: int) -> None:
    rng = random.Random(seed)
    records = [[rng.randrange(1, 1000) for _ in range(rng.randrange(0, 30))]
               for _ in range(rng.randrange(1, 5))]
    total, replayed, snapshot, resent = _run(rng, records, checkpoint_at=rng.randrange(1, 60))
    assert total == sum(map(sum, records))
    # a restore: the snapshot, then the replayed channel state, then what the producers
    # send again from their barriers on — every record exactly once
    assert snapshot + sum(replayed) + resent == total


# ---------------------------------------------------------------- restore and config
def _metadata(parallelism: int) -> CheckpointMetadata:
    handle = ByteStreamStateHandle(b"x")
    return CheckpointMetadata(1, "ab" * 16, 0, operators=[OperatorStateEntry(
        "sums", "sums", parallelism, 128,
        {i: SubtaskStateEntry(channel_state=handle) for i in range(parallelism)})])


def test_channel_state_is_assigned_to_the_head_operator_at_the_same_parallelism() -> None:
    assigned = assign_channel_state(_metadata(2), [("v", 2, ["sums", "after"])], {})
    assert sorted(assigned) == [("v", 0), ("v", 1)]
    assert assigned[("v", 0)]["sums"].channel_state == ByteStreamStateHandle(b"x")


def test_a_rescaled_restore_of_channel_state_is_rejected_with_what_to_do() -> None:
    with pytest.raises(UnalignedRescaleError, match="savepoint"):
        assign_channel_state(_metadata(2), [("v", 3, ["sums"])], {})


def test_unaligned_checkpoints_with_an_aligned_timeout_are_rejected() -> None:
    config = Configuration.from_dict({
        "execution.checkpointing.unaligned.enabled": "true",
        "execution.checkpointing.aligned-checkpoint-timeout": "5 s"})
    with pytest.raises(opts.ConfigError, match="aligned-checkpoint-timeout"):
        CheckpointCoordinatorConfiguration.from_configuration(config)
    config.set_string("execution.checkpointing.aligned-checkpoint-timeout", "0 s")
    assert CheckpointCoordinatorConfiguration.from_configuration(config).unaligned


def test_a_cancel_marker_keeps_its_wire_form() -> None:
    frame = wire.encode_element(0, CancelCheckpointMarker(3))
    assert wire.decode_element(wire.CANCEL_CHECKPOINT, frame[wire.HEADER.size:]
                               ).checkpoint_id == 3
