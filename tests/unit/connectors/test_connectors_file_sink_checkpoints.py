"""The FileSink through its operator: exactly-once across crashes and restores.

The SinkWriterOperator is driven as the task drives it: batches, then for a checkpoint
``prepare_snapshot_pre_barrier`` and ``snapshot_state``, later ``notify_checkpoint_complete``
(or ``_aborted``). A "crash" drops the operator without closing it; a fresh operator is
restored from the latest completed checkpoint (whether or not its notify had arrived) and
the records after that checkpoint are replayed. The finished files must equal those of an
uninterrupted run byte for byte, and by name (uuid aside), when the checkpoints after the
restore fall where they fell in the uninterrupted run; when they fall elsewhere, the part
files are cut elsewhere and the finished lines are the same, each once.
"""

from __future__ import annotations

import gc
import os
import pickle
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from strom.common.serialization import Encoder
from strom.connectors import FileWriterIdentity
from strom.datastream.connectors.file_system import (
    BucketAssigner,
    FileSink,
    OutputFileConfig,
    RollingPolicy,
)
from strom.runtime.operators.base import ChainOutput, OperatorContext
from strom.runtime.operators.sink import COMMITTER_STATE, WRITER_STATE, SinkWriterOperator
from strom.state.snapshots import OperatorStateSnapshot, RestoredOperatorState

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _sink(base: Path, policy: RollingPolicy) -> FileSink:
    return (FileSink.for_row_format(str(base), Encoder.simple_string_encoder())
            .with_bucket_assigner(BucketAssigner.base_path_bucket_assigner())
            .with_rolling_policy(policy)
            .with_output_file_config(OutputFileConfig("part", ".txt"))
            .build())


@pytest.fixture(autouse=True)
def _no_fsync(monkeypatch: pytest.MonkeyPatch) -> None:
    """Durability is not what these tests check; fsync makes them slow."""
    monkeypatch.setattr(os, "fsync", lambda fd: None)


def _operator(sink: FileSink, restored: RestoredOperatorState | None = None,
              subtask: int = 0, parallelism: int = 1) -> SinkWriterOperator:
    operator = SinkWriterOperator("sink", sink, None)
    ctx = OperatorContext(
        task_name="sink", operator_name="sink", subtask_index=subtask,
        parallelism=parallelism, max_parallelism=128, attempt_number=0, job_parameters={},
        is_batch=False, clock=lambda: 0, auto_watermark_interval=200,
        restored=None if restored is None else pickle.loads(pickle.dumps(restored)),
    )
    operator.setup(ctx, ChainOutput())
    operator.open()
    return operator


def _finished(base: Path) -> list[tuple[str, bytes]]:
    """The finished part files: (name with its uuid replaced by U, content), sorted."""
    return sorted((UUID.sub("U", path.name), path.read_bytes())
                  for path in base.rglob("part-*") if path.is_file())


def _lines(base: Path) -> list[bytes]:
    """Every line of the finished part files, sorted (the records are all different)."""
    return sorted(line for path in base.rglob("part-*")
                  for line in path.read_bytes().splitlines(keepends=True))


# -- the schedule ---------------------------------------------------------------------


@dataclass
class Step:
    kind: str  # "write", "checkpoint", "notify", "abort"
    records: list[str] = field(default_factory=list)
    checkpoint: int = 0


def _schedule(rng: random.Random, records: int) -> list[Step]:
    """Batches of records with checkpoints between them; a checkpoint's notify (or abort)
    comes a few steps later, or never."""
    steps: list[Step] = []
    later: list[tuple[int, Step]] = []
    written = checkpoint = 0
    while written < records:
        size = rng.randint(1, 9)
        steps.append(Step("write", [f"record-{i}-" + "x" * (i % 7)
                                    for i in range(written, min(written + size, records))]))
        written += size
        if rng.random() < 0.4:
            checkpoint += 1
            steps.append(Step("checkpoint", checkpoint=checkpoint))
            roll = rng.random()
            kind = "notify" if roll < 0.75 else "abort" if roll < 0.9 else "none"
            if kind != "none":
                later.append((len(steps) + rng.randint(0, 3), Step(kind, checkpoint=checkpoint)))
        for due in [item for item in later if item[0] <= len(steps)]:
            steps.append(due[1])
            later.remove(due)
    steps.extend(step for _, step in later)
    return steps


def _run(sink: FileSink, steps: list[Step]) -> None:
    """The uninterrupted run."""
    operator = _operator(sink)
    for step in steps:
        _apply(operator, step, {})
    operator.end_input()
    operator.close()


def _apply(operator: SinkWriterOperator, step: Step,
           snapshots: dict[int, OperatorStateSnapshot | None]) -> None:
    if step.kind == "write":
        operator.process_batch(list(step.records), None, None)
    elif step.kind == "checkpoint":
        operator.prepare_snapshot_pre_barrier(step.checkpoint)
        state = operator.snapshot_state(step.checkpoint)
        snapshots[step.checkpoint] = pickle.loads(pickle.dumps(state.operator))
    elif step.kind == "notify":
        operator.notify_checkpoint_complete(step.checkpoint)
    elif step.kind == "abort":
        operator.notify_checkpoint_aborted(step.checkpoint)


def _run_with_crashes(sink: FileSink, steps: list[Step], rng: random.Random,
                      crashes: int, same_positions: bool, crash_after_end: bool = False) -> None:
    """Run ``steps``, crashing ``crashes`` times at random points and restoring from the
    latest completed checkpoint each time. A checkpoint counts as completed once its
    snapshot is taken unless the schedule aborts it. Checkpoint ids grow over the whole
    run (a restored job never reuses one); with ``same_positions`` False, replayed
    checkpoints are taken or skipped at random."""
    aborted_in_schedule = {step.checkpoint for step in steps if step.kind == "abort"}
    operator = _operator(sink)
    snapshots: dict[int, OperatorStateSnapshot | None] = {}
    positions: dict[int, int] = {}  # checkpoint id -> index of the step after it
    actual_id: dict[int, int] = {}  # the schedule's checkpoint -> the id it was taken as
    aborted: set[int] = set()
    next_id = 1
    replaying = False
    crash_points = sorted(rng.sample(range(1, len(steps) + 1), min(crashes, len(steps))))
    index = 0
    ended_once = False
    while True:
        if crash_points and crash_points[0] <= index:
            crash_points.pop(0)
            del operator  # crash: no close, no end of input
            gc.collect()
            replaying = True
            completed = [cid for cid in snapshots if cid not in aborted]
            if not completed:
                operator, index = _operator(sink), 0
            else:
                latest = max(completed)
                operator = _operator(sink, RestoredOperatorState(latest, (),
                                                                 snapshots[latest]))
                index = positions[latest]
            continue
        if index >= len(steps):
            if crash_after_end and not ended_once:
                # the end of input finishes every file, then the job fails anyway and is
                # restored from the latest checkpoint, taken before that end
                operator.end_input()
                ended_once = True
                crash_points.append(index)
                continue
            break
        step = steps[index]
        index += 1
        if step.kind == "checkpoint":
            if replaying and not same_positions and rng.random() < 0.5:
                continue
            taken = actual_id[step.checkpoint] = next_id
            next_id += 1
            if step.checkpoint in aborted_in_schedule:
                aborted.add(taken)
            _apply(operator, Step("checkpoint", checkpoint=taken), snapshots)
            positions[taken] = index
        elif step.kind in ("notify", "abort"):
            if step.checkpoint in actual_id:
                _apply(operator, Step(step.kind, checkpoint=actual_id[step.checkpoint]),
                       snapshots)
        else:
            _apply(operator, step, snapshots)
    operator.end_input()
    operator.close()


POLICIES = {
    "on-checkpoint": RollingPolicy.on_checkpoint_rolling_policy,
    "size": lambda: RollingPolicy.default_rolling_policy(part_size=40),
}


@pytest.mark.parametrize("seed", range(10))
@pytest.mark.parametrize("policy", sorted(POLICIES))
@pytest.mark.parametrize("crashes", [1, 3])
def test_finished_files_equal_an_uninterrupted_run(tmp_path: Path, seed: int, policy: str,
                                                   crashes: int) -> None:
    steps = _schedule(random.Random(seed), 120)
    _run(_sink(tmp_path / "expected", POLICIES[policy]()), steps)
    _run_with_crashes(_sink(tmp_path / "actual", POLICIES[policy]()), steps,
                      random.Random(seed + 1000), crashes, same_positions=True)
    expected = _finished(tmp_path / "expected")
    assert expected and _finished(tmp_path / "actual") == expected


@pytest.mark.parametrize("seed", range(10))
@pytest.mark.parametrize("policy", sorted(POLICIES))
def test_a_restore_after_the_end_of_input_writes_nothing_twice(
        tmp_path: Path, seed: int, policy: str) -> None:
    steps = _schedule(random.Random(seed), 120)
    _run(_sink(tmp_path / "expected", POLICIES[policy]()), steps)
    _run_with_crashes(_sink(tmp_path / "actual", POLICIES[policy]()), steps,
                      random.Random(seed + 3000), 1, same_positions=True,
                      crash_after_end=True)
    expected = _finished(tmp_path / "expected")
    assert expected and _finished(tmp_path / "actual") == expected


@pytest.mark.parametrize("seed", range(10))
@pytest.mark.parametrize("policy", sorted(POLICIES))
def test_finished_content_equals_an_uninterrupted_run_when_checkpoints_move(
        tmp_path: Path, seed: int, policy: str) -> None:
    steps = _schedule(random.Random(seed), 120)
    _run(_sink(tmp_path / "expected", POLICIES[policy]()), steps)
    _run_with_crashes(_sink(tmp_path / "actual", POLICIES[policy]()), steps,
                      random.Random(seed + 2000), 3, same_positions=False)
    expected = _lines(tmp_path / "expected")
    assert len(expected) == 120 and _lines(tmp_path / "actual") == expected


def test_files_are_finished_only_when_their_checkpoint_completes(tmp_path: Path) -> None:
    operator = _operator(_sink(tmp_path, RollingPolicy.on_checkpoint_rolling_policy()))
    operator.process_batch(["a", "b"], None, None)
    operator.prepare_snapshot_pre_barrier(1)
    operator.snapshot_state(1)
    operator.process_batch(["c"], None, None)
    operator.prepare_snapshot_pre_barrier(2)
    operator.snapshot_state(2)
    assert _finished(tmp_path) == []
    operator.notify_checkpoint_aborted(1)  # 1's file waits for a later completed checkpoint
    assert _finished(tmp_path) == []
    operator.notify_checkpoint_complete(2)
    assert [content for _, content in _finished(tmp_path)] == [b"a\nb\n", b"c\n"]
    operator.close()


def test_the_checkpoint_holds_writer_state_and_uncommitted_committables(tmp_path: Path
                                                                         ) -> None:
    operator = _operator(_sink(tmp_path, RollingPolicy.default_rolling_policy(part_size=4)))
    # rolls before "bbbb" and before "c": the file is already larger than 4 bytes
    operator.process_batch(["aaaa", "bbbb", "c"], None, None)
    operator.prepare_snapshot_pre_barrier(1)
    state = operator.snapshot_state(1).operator
    assert state is not None
    pending = state.list_states[COMMITTER_STATE]
    assert [(cid, c.size, c.final_path[-6:]) for cid, c in pending] == [
        (1, 5, "-0.txt"), (1, 5, "-1.txt")]
    [identity, bucket] = state.list_states[WRITER_STATE]
    assert identity == FileWriterIdentity(operator.writer._writer_id)
    assert bucket.part_counter == 3
    assert bucket.in_progress is not None and bucket.in_progress.size == 2
    operator.notify_checkpoint_complete(1)
    assert operator.snapshot_state(2).operator.list_states[COMMITTER_STATE] == []  # type: ignore[union-attr]
    operator.close()


def test_a_restore_commits_the_restored_committables_and_continues_the_counter(
        tmp_path: Path) -> None:
    sink = _sink(tmp_path, RollingPolicy.on_checkpoint_rolling_policy())
    operator = _operator(sink)
    operator.process_batch(["a"], None, None)
    operator.prepare_snapshot_pre_barrier(1)
    state = operator.snapshot_state(1).operator
    operator.process_batch(["lost"], None, None)
    operator.prepare_snapshot_pre_barrier(2)  # checkpoint 2 never completes
    operator.snapshot_state(2)
    operator.process_batch(["lost too"], None, None)
    del operator
    gc.collect()

    restored = _operator(sink, RestoredOperatorState(1, (), state))
    assert [content for _, content in _finished(tmp_path)] == [b"a\n"]  # committed at once
    restored.process_batch(["b"], None, None)
    restored.end_input()
    restored.close()
    assert _finished(tmp_path) == [("part-U-0.txt", b"a\n"), ("part-U-1.txt", b"b\n")]
    # what the failed attempt started after checkpoint 1 is gone; the end marker stays
    assert [p.name.split("-")[:2] for p in tmp_path.iterdir() if p.name.startswith(".")
            ] == [[".strom", "filesink"]]


def test_a_restore_truncates_the_in_progress_file_to_its_checkpointed_length(
        tmp_path: Path) -> None:
    sink = _sink(tmp_path, RollingPolicy.default_rolling_policy(part_size=1000))
    operator = _operator(sink)
    operator.process_batch(["a"], None, None)
    operator.prepare_snapshot_pre_barrier(1)
    state = operator.snapshot_state(1).operator
    operator.process_batch(["written after the checkpoint"], None, None)
    operator.writer.flush(False)
    [in_progress] = [p for p in tmp_path.iterdir() if ".inprogress." in p.name]
    assert in_progress.stat().st_size > 2
    del operator
    gc.collect()
    restored = _operator(sink, RestoredOperatorState(1, (), state))
    assert in_progress.read_bytes() == b"a\n"
    restored.close()


def test_a_restored_commit_of_a_file_already_finished_is_a_no_op(tmp_path: Path) -> None:
    """The notify arrived and committed before the crash; the restore commits again."""
    sink = _sink(tmp_path, RollingPolicy.on_checkpoint_rolling_policy())
    operator = _operator(sink)
    operator.process_batch(["a"], None, None)
    operator.prepare_snapshot_pre_barrier(1)
    state = operator.snapshot_state(1).operator
    operator.notify_checkpoint_complete(1)
    del operator
    gc.collect()
    restored = _operator(sink, RestoredOperatorState(1, (), state))
    restored.end_input()
    restored.close()
    assert _finished(tmp_path) == [("part-U-0.txt", b"a\n")]


def test_rescaled_restore_merges_the_subtasks_output(tmp_path: Path) -> None:
    """Two subtasks' state restored into one: every committable is committed, both
    in-progress files are kept (one continues, the other is finished)."""
    sink = _sink(tmp_path, RollingPolicy.default_rolling_policy(part_size=1000))
    states = []
    for subtask in range(2):
        operator = _operator(sink, subtask=subtask, parallelism=2)
        operator.process_batch([f"s{subtask}-a", f"s{subtask}-b"], None, None)
        operator.prepare_snapshot_pre_barrier(1)
        states.append(operator.snapshot_state(1).operator)
        operator.process_batch([f"s{subtask}-lost"], None, None)
        del operator
    gc.collect()
    merged = OperatorStateSnapshot(list_states={
        name: [entry for state in states for entry in state.list_states[name]]  # type: ignore[union-attr]
        for name in (WRITER_STATE, COMMITTER_STATE)})
    restored = _operator(sink, RestoredOperatorState(1, (), merged))
    restored.process_batch(["after"], None, None)
    restored.end_input()
    restored.close()
    lines = sorted(b"".join(c for _, c in _finished(tmp_path)).decode().split())
    assert lines == ["after", "s0-a", "s0-b", "s1-a", "s1-b"]


def test_without_checkpoints_the_end_of_input_commits_everything(tmp_path: Path) -> None:
    operator = _operator(_sink(tmp_path, RollingPolicy.default_rolling_policy(part_size=3)))
    operator.process_batch(["aaa", "bbb", "ccc"], None, None)
    operator.end_input()
    operator.close()
    assert [c for _, c in _finished(tmp_path)] == [b"aaa\n", b"bbb\n", b"ccc\n"]
    assert not [name for name in os.listdir(tmp_path) if name.startswith(".")]

