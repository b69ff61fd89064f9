"""Barrier alignment without a task: randomized interleavings of records, barriers, cancel
markers and ends of partition over several channels, read through a real InputGate."""

from __future__ import annotations

import random

import pytest

from strom.network.elements import (
    END_OF_PARTITION,
    CancelCheckpointMarker,
    CheckpointBarrier,
    EndOfPartition,
    RecordBatch,
)
from strom.network.local_channel import LocalChannel
from strom.runtime.checkpoint_barriers import BarrierHandler
from strom.runtime.input_gate import InputGate


def _run(seed: int, exactly_once: bool, channels: int = 4, checkpoints: int = 3,
         end_early: bool = False) -> tuple[dict[int, set[tuple[int, int]]],
                                            dict[int, set[tuple[int, int]]]]:
    """Producers send records and barriers 1..checkpoints in random bursts; the consumer polls
    the gate in between. Returns per checkpoint (what the snapshot saw, what came before the
    barrier on every channel)."""
    rng = random.Random(seed)
    links = [LocalChannel(10**6) for _ in range(channels)]
    gate = InputGate([(c, 0) for c in links], 1)
    handler = BarrierHandler(channels, exactly_once, gate.block, gate.unblock)
    before: dict[int, set[tuple[int, int]]] = {n: set() for n in range(1, checkpoints + 1)}
    sent_barriers = [0] * channels
    ends_after = [rng.randint(0, checkpoints) if end_early else checkpoints + 1
                  for _ in range(channels)]
    ended = [False] * channels
    next_record = [0] * channels
    consumed: set[tuple[int, int]] = set()
    seen: dict[int, set[tuple[int, int]]] = {}

    def produce(c: int) -> None:
        if ended[c]:
            return
        if rng.random() < 0.7:
            record = (c, next_record[c])
            next_record[c] += 1
            for n in range(sent_barriers[c] + 1, checkpoints + 1):
                before[n].add(record)
            links[c].send_batch(RecordBatch([record]))
        elif sent_barriers[c] < checkpoints:
            sent_barriers[c] += 1
            links[c].send_event(CheckpointBarrier(sent_barriers[c], 0))
        if sent_barriers[c] >= ends_after[c] and not ended[c]:
            ended[c] = True
            links[c].send_event(END_OF_PARTITION)

    def consume() -> bool:
        polled = gate.poll()
        if polled is None:
            return False
        channel, element = polled
        if type(element) is RecordBatch:
            consumed.update(element.values)
        elif type(element) is CheckpointBarrier:
            snapshot, aborted = handler.on_barrier(channel, element)
            assert aborted is None
            if snapshot is not None:
                seen[snapshot.checkpoint_id] = set(consumed)
        elif type(element) is EndOfPartition:
            snapshot = handler.on_end_of_partition(channel)
            if snapshot is not None:
                seen[snapshot.checkpoint_id] = set(consumed)
        return True

    while not all(ended[c] or sent_barriers[c] == checkpoints for c in range(channels)):
        produce(rng.randrange(channels))
        for _ in range(rng.randint(0, 3)):
            consume()
    while consume():
        pass
    return seen, before


@pytest.mark.parametrize("seed", range(40))
def test_exactly_once_snapshots_hold_exactly_the_records_before_the_barriers(seed: int) -> None:
    seen, before = _run(seed, exactly_once=True)
    assert sorted(seen) == [1, 2, 3]
    for n, records in before.items():
        assert seen[n] == records, f"checkpoint {n}"


@pytest.mark.parametrize("seed", range(40))
def test_finished_channels_do_not_block_alignment(seed: int) -> None:
    seen, before = _run(seed, exactly_once=True, end_early=True)
    for n in seen:
        assert seen[n] == before[n]
    # a checkpoint whose barrier some open channel carried completes: the ended channels
    # count as arrived (the last one's barrier comes with or before its end)
    assert sorted(seen) == list(range(1, 1 + len(seen)))


@pytest.mark.parametrize("seed", range(40))
def test_at_least_once_snapshots_hold_at_least_the_records_before_the_barriers(
        seed: int) -> None:
    seen, before = _run(seed, exactly_once=False)
    assert sorted(seen) == [1, 2, 3]
    for n, records in before.items():
        assert seen[n] >= records


def test_at_least_once_does_not_block() -> None:
    blocked: list[int] = []
    handler = BarrierHandler(2, exactly_once=False, block=blocked.append)
    assert handler.on_barrier(0, CheckpointBarrier(1, 0)) == (None, None)
    assert blocked == []
    snapshot, _ = handler.on_barrier(1, CheckpointBarrier(1, 0))
    assert snapshot is not None and snapshot.checkpoint_id == 1


def test_a_newer_barrier_aborts_the_older_alignment_and_unblocks() -> None:
    unblocked: list[int] = []
    handler = BarrierHandler(3, True, block=lambda c: None, unblock=unblocked.append)
    handler.on_barrier(0, CheckpointBarrier(1, 0))
    handler.on_barrier(1, CheckpointBarrier(1, 0))
    snapshot, aborted = handler.on_barrier(2, CheckpointBarrier(2, 0))
    assert (snapshot, aborted) == (None, 1)
    assert sorted(unblocked) == [0, 1]
    assert handler.blocked_channels() == {2}
    # the late barriers of checkpoint 1 are stale now
    assert handler.on_barrier(0, CheckpointBarrier(1, 0)) == (None, None)
    handler.on_barrier(0, CheckpointBarrier(2, 0))
    snapshot, _ = handler.on_barrier(1, CheckpointBarrier(2, 0))
    assert snapshot is not None and snapshot.checkpoint_id == 2


def test_a_cancel_marker_aborts_once_and_unblocks() -> None:
    unblocked: list[int] = []
    handler = BarrierHandler(2, True, unblock=unblocked.append)
    handler.on_barrier(0, CheckpointBarrier(5, 0))
    assert handler.on_cancel(CancelCheckpointMarker(5).checkpoint_id) == 5
    assert unblocked == [0] and handler.pending is None
    assert handler.on_cancel(5) is None  # the marker of the other channel
    assert handler.on_barrier(1, CheckpointBarrier(5, 0)) == (None, None)


def test_the_gate_does_not_poll_a_blocked_channel_and_resumes_it_first() -> None:
    a, b = LocalChannel(10), LocalChannel(10)
    gate = InputGate([(a, 0), (b, 0)], 1)
    a.send_batch(RecordBatch(["a1"]))
    b.send_batch(RecordBatch(["b1"]))
    b.send_batch(RecordBatch(["b2"]))
    gate.block(0)
    polled = []
    while (element := gate.poll()) is not None:
        polled.append(element[1].values[0])
    assert polled == ["b1", "b2"]
    a.send_batch(RecordBatch(["a2"]))  # arrives while blocked
    assert gate.poll() is None
    gate.unblock(0)
    assert [gate.poll()[1].values[0], gate.poll()[1].values[0]] == ["a1", "a2"]  # type: ignore[index]
    assert gate.poll() is None
