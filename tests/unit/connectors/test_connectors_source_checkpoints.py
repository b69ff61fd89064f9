"""Sources restored from a checkpoint replay exactly the records after it.

Real SourceOperators and their SourceCoordinator run in one thread with the events between
them queued; a seeded random schedule interleaves polls, event deliveries, checkpoints (the
coordinator's part first, each reader's part later, as barriers reach them) and
completions, then "crashes" and restores a fresh coordinator and fresh operators from the
latest completed checkpoint (at the same or another parallelism). What the operators
emitted before their snapshot plus what the restored ones emit is the whole input, once.
"""

from __future__ import annotations

import pickle
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from source_harness import SourceHarness, redistribute

from strom.connectors import collection, file_source, sequence
from strom.connectors.collection import CollectionSource
from strom.connectors.sequence import NumberSequenceSource
from strom.datastream.connectors.base import InputStatus, Source
from strom.datastream.connectors.file_system import FileSource, StreamFormat
from strom.jobmanager.source_coordinator import SourceCoordinator
from strom.runtime.operators.source import AddSplitsEvent, ReaderRegistrationEvent
from strom.state.snapshots import OperatorStateSnapshot
from strom.testing import TestingSource


@pytest.fixture(autouse=True)
def _small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    """Small batches give the schedule many points to checkpoint and crash at."""
    monkeypatch.setattr(sequence, "BATCH_SIZE", 7)
    monkeypatch.setattr(collection, "BATCH_SIZE", 5)
    monkeypatch.setattr(file_source, "READ_BLOCK_BYTES", 40)


def _crash_and_restore(make_source: Callable[[], Source[Any]], parallelism: int,
                       restore_parallelism: int, seed: int) -> tuple[list[Any], list[Any]]:
    """Run with a random schedule, crash, restore from the latest completed checkpoint and
    run to the end. Returns (emitted before the restored checkpoint, emitted after)."""
    rng = random.Random(seed)
    harness = SourceHarness(make_source(), parallelism)
    checkpoint_id = 0
    in_progress: dict[str, Any] | None = None
    completed: dict[str, Any] | None = None
    crash_at = rng.randrange(1, 300)
    for _ in range(crash_at):
        roll = rng.random()
        if roll < 0.3:
            harness.deliver_one(rng)
        elif roll < 0.75:
            harness.poll(rng.randrange(parallelism))
        elif in_progress is None:
            checkpoint_id += 1
            in_progress = {"id": checkpoint_id, "coordinator": harness.coordinator.checkpoint(
                checkpoint_id), "operators": {}}
        elif roll > 0.95:  # aborted (a timeout, a declining task): every task hears it
            for operator in harness.operators:
                operator.notify_checkpoint_aborted(in_progress["id"])
            in_progress = None
        else:  # the barrier reaches one more reader
            waiting = sorted(set(range(parallelism)) - set(in_progress["operators"]))
            subtask = rng.choice(waiting)
            in_progress["operators"][subtask] = (
                harness.snapshot(subtask, in_progress["id"]), len(harness.emitted[subtask]))
            if len(in_progress["operators"]) == parallelism:
                completed, in_progress = in_progress, None
                if rng.random() < 0.5:
                    harness.coordinator.notify_checkpoint_complete(completed["id"])
                    for operator in harness.operators:
                        operator.notify_checkpoint_complete(completed["id"])
        if all(harness.finished) and not harness.pending_events():
            break
    if completed is None:
        restored = SourceHarness(make_source(), restore_parallelism)
        before: list[Any] = []
    else:
        states = [completed["operators"][s][0] for s in range(parallelism)]
        restored = SourceHarness(make_source(), restore_parallelism, completed["coordinator"],
                                 redistribute(states, restore_parallelism), completed["id"])
        before = [value for s in range(parallelism)
                  for value in harness.emitted[s][:completed["operators"][s][1]]]
    restored.run_to_end()
    return before, [value for records in restored.emitted for value in records]


SEEDS = range(12)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(("parallelism", "restore_parallelism"), [(1, 1), (2, 2), (3, 2),
                                                                  (2, 3)])
def test_number_sequence_restores_exactly_the_rest(seed: int, parallelism: int,
                                                    restore_parallelism: int) -> None:
    before, after = _crash_and_restore(lambda: NumberSequenceSource(1, 200), parallelism,
                                       restore_parallelism, seed)
    assert sorted(before + after) == list(range(1, 201))
    if parallelism == restore_parallelism == 1:
        assert before + after == list(range(1, 201))


@pytest.mark.parametrize("seed", SEEDS)
def test_collection_restores_exactly_the_rest(seed: int) -> None:
    elements = [f"e{i}" for i in range(120)]
    before, after = _crash_and_restore(lambda: CollectionSource(list(elements)), 1, 1, seed)
    assert before + after == elements


@pytest.mark.parametrize("seed", SEEDS)
def test_collection_at_two_readers_restores_exactly_the_rest(seed: int) -> None:
    elements = list(range(150))
    before, after = _crash_and_restore(lambda: CollectionSource(list(elements)), 2, 1, seed)
    assert sorted(before + after) == elements


def _write_files(directory: Path, lines_per_file: list[int], encoding: str = "utf-8"
                 ) -> list[str]:
    directory.mkdir(exist_ok=True)
    expected = []
    for index, count in enumerate(lines_per_file):
        lines = [f"file{index}-line{i}-" + "x" * (i % 13) for i in range(count)]
        text = "\n".join(lines) + ("\n" if index % 2 and count else "")
        (directory / f"f{index:02d}.txt").write_bytes(text.encode(encoding))
        expected.extend(lines)
    return expected


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(("parallelism", "restore_parallelism"), [(1, 1), (2, 2), (3, 1)])
def test_file_source_restores_exactly_the_rest(tmp_path: Path, seed: int, parallelism: int,
                                               restore_parallelism: int) -> None:
    expected = _write_files(tmp_path / "in", [30, 0, 17, 45, 3])

    def make() -> Source[Any]:
        return FileSource.for_record_stream_format(StreamFormat.text_line_format(),
                                                   str(tmp_path / "in")).build()

    before, after = _crash_and_restore(make, parallelism, restore_parallelism, seed)
    assert sorted(before + after) == sorted(expected)
    if parallelism == restore_parallelism == 1:
        assert before + after == expected


@pytest.mark.parametrize("seed", range(6))
def test_file_source_in_utf16_restores_exactly_the_rest(tmp_path: Path, seed: int) -> None:
    """UTF-16 positions are counts of lines to skip, not byte offsets."""
    expected = _write_files(tmp_path / "in", [25, 40], "utf-16")

    def make() -> Source[Any]:
        return FileSource.for_record_stream_format(StreamFormat.text_line_format("UTF-16"),
                                                   str(tmp_path / "in")).build()

    before, after = _crash_and_restore(make, 1, 1, seed)
    assert before + after == expected


@pytest.mark.parametrize("seed", range(6))
def test_compressed_file_source_restores_exactly_the_rest(tmp_path: Path, seed: int) -> None:
    """Offsets of compressed files are positions in the decompressed stream."""
    import gzip

    expected = _write_files(tmp_path / "plain", [33, 12])
    (tmp_path / "in").mkdir()
    for path in sorted((tmp_path / "plain").iterdir()):
        (tmp_path / "in" / (path.name + ".gz")).write_bytes(gzip.compress(path.read_bytes()))

    def make() -> Source[Any]:
        return FileSource.for_record_stream_format(StreamFormat.text_line_format(),
                                                   str(tmp_path / "in")).build()

    before, after = _crash_and_restore(make, 1, 1, seed)
    assert before + after == expected


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(("parallelism", "restore_parallelism"), [(1, 1), (2, 2), (2, 1)])
def test_testing_source_restores_exactly_the_rest(seed: int, parallelism: int,
                                                  restore_parallelism: int) -> None:
    elements = list(range(90))
    before, after = _crash_and_restore(
        lambda: TestingSource(elements, splits=3, batch_size=4), parallelism,
        restore_parallelism, seed)
    assert sorted(before + after) == elements


def test_continuous_file_source_restores_positions_and_seen_files(tmp_path: Path) -> None:
    """The enumerator's checkpoint keeps the files already turned into splits: files found
    before the checkpoint are not read again, files added after it are read once."""
    directory = tmp_path / "in"
    first = _write_files(directory, [20, 9])
    source = FileSource.for_record_stream_format(
        StreamFormat.text_line_format(), str(directory)).monitor_continuously(
            _duration_ms(50)).build()
    harness = SourceHarness(source, 2)
    harness.deliver_all()
    for _ in range(3):  # part of the files
        harness.poll(0)
        harness.poll(1)
        harness.deliver_all()
    coordinator_state = harness.coordinator.checkpoint(1)
    states = [harness.snapshot(s, 1) for s in range(2)]
    before = [v for records in harness.emitted for v in records]
    (directory / "late.txt").write_text("late-1\nlate-2\n")

    restored = SourceHarness(source, 2, coordinator_state, redistribute(states, 2), 1)
    _run_continuous(restored)
    after = [v for records in restored.emitted for v in records]
    assert sorted(before + after) == sorted([*first, "late-1", "late-2"])


def _duration_ms(ms: int) -> Any:
    from strom.common import Duration

    return Duration.of_millis(ms)


def _run_continuous(harness: SourceHarness, rounds: int = 200) -> None:
    for _ in range(rounds):
        harness.fire_async_calls()
        harness.deliver_all()
        statuses = [harness.poll(s) for s in range(harness.parallelism)]
        harness.deliver_all()
        if all(status is not InputStatus.MORE_AVAILABLE for status in statuses) \
                and not harness.pending_events():
            return


def test_a_split_in_flight_at_the_checkpoint_is_assigned_again_once() -> None:
    """A split assigned before the coordinator's checkpoint but reaching the reader after
    the reader's snapshot is in neither's state: the coordinator's checkpoint keeps it and
    the restored coordinator gives it back to the enumerator."""
    source = NumberSequenceSource(1, 10)
    harness = SourceHarness(source, 1)
    harness.deliver_to_coordinator()  # registration, then the split request...
    assert len(harness.to_readers[0]) == 1  # ...answered: the split is on its way
    coordinator_state = harness.coordinator.checkpoint(1)
    reader_state = harness.snapshot(0, 1)  # the barrier overtook the split
    assert reader_state is not None and reader_state.list_states["SourceReaderState"] == []
    harness.deliver_all()
    harness.run_to_end()
    assert harness.emitted[0] == list(range(1, 11))

    restored = SourceHarness(source, 1, coordinator_state, redistribute([reader_state], 1), 1)
    restored.run_to_end()
    assert restored.emitted[0] == list(range(1, 11))


def test_a_split_received_before_the_barrier_is_not_assigned_again() -> None:
    """The reader confirmed the split after the coordinator's checkpoint was taken, but its
    snapshot holds it: the restored coordinator must not hand it out a second time."""
    source = NumberSequenceSource(1, 10)
    harness = SourceHarness(source, 1)
    harness.deliver_to_coordinator()
    coordinator_state = harness.coordinator.checkpoint(1)  # the split is unconfirmed here
    harness.deliver_to_reader(0)
    reader_state = harness.snapshot(0, 1)
    restored = SourceHarness(source, 1, coordinator_state, redistribute([reader_state], 1), 1)
    restored.run_to_end()
    assert restored.emitted[0] == list(range(1, 11))


def test_what_the_coordinator_sends_after_its_checkpoint_waits_for_the_readers_part() -> None:
    """The enumerator's state of checkpoint 1 still has a split assigned after it: a reader
    that got it before its own part of checkpoint 1 must not have it in its snapshot."""
    source = NumberSequenceSource(1, 10)
    harness = SourceHarness(source, 1)
    coordinator_state = harness.coordinator.checkpoint(1)
    harness.deliver_to_coordinator()  # the assignment is made after the checkpoint
    harness.deliver_to_reader(0)  # and overtakes the barrier
    for _ in range(3):
        harness.poll(0)
    assert harness.emitted[0] == []
    reader_state = harness.snapshot(0, 1)
    assert reader_state is not None and reader_state.list_states["SourceReaderState"] == []
    harness.run_to_end()  # released by the snapshot
    assert harness.emitted[0] == list(range(1, 11))

    restored = SourceHarness(source, 1, coordinator_state, redistribute([reader_state], 1), 1)
    restored.run_to_end()
    assert restored.emitted[0] == list(range(1, 11))


@pytest.mark.parametrize("notify", ["complete", "aborted"])
def test_held_events_are_released_when_the_checkpoint_ends_without_the_reader(
        notify: str) -> None:
    source = NumberSequenceSource(1, 10)
    harness = SourceHarness(source, 1)
    harness.coordinator.checkpoint(1)
    harness.deliver_to_coordinator()
    harness.deliver_to_reader(0)
    getattr(harness.operators[0], f"notify_checkpoint_{notify}")(1)
    harness.run_to_end()
    assert harness.emitted[0] == list(range(1, 11))


def test_assignments_are_applied_in_their_order_whatever_order_they_arrive_in() -> None:
    source = NumberSequenceSource(1, 30)
    harness = SourceHarness(source, 1)
    harness.deliver_all()
    operator = harness.operators[0]
    splits = [sequence.NumberSequenceSplit(str(i), 100 * i, 100 * i) for i in range(1, 4)]
    # the coordinator's next numbers are 2, 3, 4 (1 was the first range split)
    operator.handle_operator_event(AddSplitsEvent([splits[2]], 4))
    operator.handle_operator_event(AddSplitsEvent([splits[1]], 3))
    assert operator.received_sequence == 1
    operator.handle_operator_event(AddSplitsEvent([splits[0]], 2))
    operator.handle_operator_event(AddSplitsEvent([splits[0]], 2))  # a duplicate: ignored
    assert operator.received_sequence == 4
    state = harness.snapshot(0, 1)
    assert state is not None
    assert [s.split_id() for s in state.list_states["SourceReaderState"]] == ["0", "1", "2", "3"]


def test_region_failover_gives_back_what_the_reset_subtask_had_not_checkpointed() -> None:
    """subtask_reset: assignments to the subtask after its checkpoint go back to the
    enumerator (Flink's getAndRemoveUncheckpointedAssignment), earlier ones do not."""
    source = NumberSequenceSource(1, 40)
    harness = SourceHarness(source, 2)
    harness.deliver_all()
    coordinator = harness.coordinator
    assert sorted(s.split_id() for s in coordinator.assigned_splits(0)) == ["0"]
    coordinator.checkpoint(1)
    state = harness.snapshot(0, 1)
    harness.snapshot(1, 1)
    coordinator.notify_checkpoint_complete(1)
    assert coordinator.assigned_splits(0) == []  # held by the completed checkpoint
    for _ in range(2):
        harness.poll(0)
    # subtask 0 fails; restart it alone from checkpoint 1
    coordinator.subtask_reset(0, 1)
    harness.operators[0] = harness._operator(0, _restored(state, 1))
    harness.emitted[0] = harness.emitted.pop()  # the new operator's records list
    harness.finished[0] = False
    harness.run_to_end()
    assert sorted(harness.emitted[0] + harness.emitted[1]) == list(range(1, 41))


def test_region_failover_without_a_checkpoint_gives_back_every_split_of_the_subtask() -> None:
    source = NumberSequenceSource(1, 40)
    harness = SourceHarness(source, 2)
    harness.deliver_all()
    for _ in range(2):
        harness.poll(0)
    harness.coordinator.subtask_reset(0)  # restarts from scratch
    harness.operators[0] = harness._operator(0, None)
    harness.emitted[0] = harness.emitted.pop()
    harness.finished[0] = False
    harness.run_to_end()
    assert sorted(harness.emitted[0] + harness.emitted[1]) == list(range(1, 41))


def _restored(state: OperatorStateSnapshot | None, checkpoint_id: int) -> Any:
    from strom.state.snapshots import RestoredOperatorState

    return RestoredOperatorState(checkpoint_id, (), state)


def test_reset_to_checkpoint_without_state_starts_the_enumerator_fresh() -> None:
    source = NumberSequenceSource(1, 10)
    coordinator = SourceCoordinator(source, 1, lambda s, e: None, lambda *a: None)
    coordinator.start()
    coordinator.reset_to_checkpoint(3, None)
    assert [s.split_id() for s in coordinator.enumerator.pending_splits()] == ["0"]


def test_reset_to_checkpoint_refuses_state_of_another_kind() -> None:
    source = NumberSequenceSource(1, 10)
    coordinator = SourceCoordinator(source, 1, lambda s, e: None, lambda *a: None,
                                    source_name="numbers", job_name="job")
    with pytest.raises(TypeError, match=r"numbers.*not a source coordinator's checkpoint"):
        coordinator.reset_to_checkpoint(3, pickle.dumps({"some": "state"}))


def test_a_replaced_enumerator_no_longer_assigns() -> None:
    """After reset_to_checkpoint, the old enumerator's periodic discovery (still scheduled in
    the JobMaster) neither lists nor assigns."""
    sent: list[Any] = []
    calls: list[tuple[Any, Any]] = []
    source = NumberSequenceSource(1, 10)
    coordinator = SourceCoordinator(source, 1, lambda s, e: sent.append(e),
                                    lambda c, h, *a: calls.append((c, h)))
    old_context = coordinator._context
    coordinator.reset_to_checkpoint(1, coordinator.checkpoint(1))
    old_context.call_async(lambda: 1 / 0, lambda r, e: sent.append("handled"))
    callable, handler = calls[0]
    assert callable() is None  # not run: 1 / 0 would raise
    handler(None, None)
    old_context.assign_split(sequence.NumberSequenceSplit("x", 1, 1), 0)
    assert sent == []


def test_a_closed_coordinator_no_longer_assigns() -> None:
    """A global restart closes the coordinator and starts a new one: the old enumerator's
    periodic discovery must not reach the new readers."""
    sent: list[Any] = []
    calls: list[tuple[Any, Any]] = []
    coordinator = SourceCoordinator(NumberSequenceSource(1, 10), 1, lambda s, e: sent.append(e),
                                    lambda c, h, *a: calls.append((c, h)))
    coordinator.start()
    coordinator.handle_event(0, ReaderRegistrationEvent(0, None, "r1"))
    context = coordinator._context
    context.call_async(lambda: 1, lambda r, e: context.assign_split(
        sequence.NumberSequenceSplit("late", 1, 1), 0))
    coordinator.close()
    callable, handler = calls[0]
    handler(callable(), None)
    assert sent == []


def test_assignments_to_a_reader_not_registered_wait_for_its_registration() -> None:
    sent: list[Any] = []
    source = NumberSequenceSource(1, 10)
    coordinator = SourceCoordinator(source, 1, lambda s, e: sent.append(e), lambda *a: None)
    coordinator.start()
    coordinator.handle_event(0, _request(0))  # the request overtook the registration
    assert sent == []
    coordinator.handle_event(0, ReaderRegistrationEvent(0, None, "r1"))
    assert [(type(e).__name__, e.sequence) for e in sent] == [("AddSplitsEvent", 1)]


def _request(subtask: int) -> Any:
    from strom.runtime.operators.source import RequestSplitEvent

    return RequestSplitEvent(subtask)
