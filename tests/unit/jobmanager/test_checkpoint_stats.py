"""The checkpoint stats tracker, without an event loop: counts, the bounded history, summary
statistics over completed checkpoints, latest completed/savepoint/failed/restored, and
snapshots that later events do not change."""

from __future__ import annotations

import msgspec
import pytest

from strom.jobmanager.checkpoint.stats import (
    CheckpointStatsSnapshot,
    CheckpointStatsTracker,
    StatsSummary,
    SubtaskStats,
    checkpoint_type_name,
)

SOURCE = "a" * 32
MAP = "b" * 32


def _ack(subtask: int, at: int, size: int = 0, **fields: int) -> SubtaskStats:
    return SubtaskStats(subtask, at, state_size=size, checkpointed_size=size, **fields)


def _complete(tracker: CheckpointStatsTracker, checkpoint_id: int, trigger: int,
              sizes: tuple[int, int], ack_after: int) -> None:
    tracker.report_triggered(checkpoint_id, trigger, "CHECKPOINT", False, {SOURCE: 1, MAP: 1})
    tracker.report_acknowledged(checkpoint_id, SOURCE, _ack(0, trigger + 1, sizes[0]))
    tracker.report_acknowledged(checkpoint_id, MAP, _ack(0, trigger + ack_after, sizes[1]))
    tracker.report_completed(checkpoint_id, trigger + ack_after + 1, f"mem://chk-{checkpoint_id}")


def test_counts_follow_triggered_completed_and_failed_checkpoints() -> None:
    tracker = CheckpointStatsTracker()
    tracker.report_triggered(1, 1000, "CHECKPOINT", False, {SOURCE: 2})
    tracker.report_triggered(2, 1100, "CHECKPOINT", False, {SOURCE: 2})
    s = tracker.snapshot()
    assert (s.total, s.in_progress, s.completed, s.failed) == (2, 2, 0, 0)
    tracker.report_acknowledged(1, SOURCE, _ack(0, 1010, 5))
    tracker.report_acknowledged(1, SOURCE, _ack(1, 1020, 7))
    tracker.report_completed(1, 1030, "file:///chk-1")
    tracker.report_failed(2, 1200, "it expired before completing (timeout 100 ms)")
    s = tracker.snapshot()
    assert (s.total, s.in_progress, s.completed, s.failed) == (2, 0, 1, 1)
    assert s.latest_completed is not None and s.latest_completed.checkpoint_id == 1
    assert s.latest_completed.total("state_size") == 12
    assert s.latest_completed.num_acknowledged == s.latest_completed.num_subtasks == 2
    assert s.latest_completed.external_path == "file:///chk-1"
    # the end-to-end duration runs from the trigger to the completion
    assert s.latest_completed.end_to_end_duration == 30
    assert s.latest_failed is not None and s.latest_failed.checkpoint_id == 2
    assert s.latest_failed.failure_message == "it expired before completing (timeout 100 ms)"
    assert s.latest_failed.end_timestamp == 1200
    # an ended checkpoint ignores late events
    tracker.report_completed(2, 1300)
    tracker.report_acknowledged(2, SOURCE, _ack(0, 1300))
    assert tracker.snapshot().completed == 1
    assert tracker.snapshot().latest_failed.num_acknowledged == 0  # type: ignore[union-attr]


def test_the_history_keeps_the_most_recent_checkpoints_newest_first() -> None:
    tracker = CheckpointStatsTracker(history_size=3)
    for checkpoint_id in range(1, 6):
        _complete(tracker, checkpoint_id, checkpoint_id * 1000, (1, 1), 10)
    s = tracker.snapshot()
    assert [h.checkpoint_id for h in s.history] == [5, 4, 3]
    assert s.total == s.completed == 5
    assert s.checkpoint(4) is not None and s.checkpoint(1) is None
    with pytest.raises(ValueError, match=r"web\.checkpoints\.history must be >= 0, got -1"):
        CheckpointStatsTracker(history_size=-1)
    assert CheckpointStatsTracker(history_size=0).snapshot().history == []


def test_summaries_over_completed_checkpoints_only() -> None:
    tracker = CheckpointStatsTracker()
    assert tracker.snapshot().summary["state_size"] == StatsSummary()  # zeros before any
    for checkpoint_id, (size, after) in enumerate([(10, 20), (30, 40), (20, 60)], start=1):
        _complete(tracker, checkpoint_id, checkpoint_id * 1000, (0, size), after)
    tracker.report_triggered(9, 9000, "CHECKPOINT", False, {SOURCE: 1})
    tracker.report_acknowledged(9, SOURCE, _ack(0, 9500, 10_000))
    tracker.report_failed(9, 9600, "declined")
    summary = tracker.snapshot().summary
    assert summary["state_size"] == StatsSummary(
        min=10, max=30, avg=20, p50=20.0, p90=28.0, p95=29.0, p99=29.8, p999=29.98)
    assert summary["checkpointed_size"].max == 30
    # end to end: completion (ack + 1) minus trigger
    assert (summary["end_to_end_duration"].min, summary["end_to_end_duration"].max) == (21, 61)
    assert set(summary) == {"checkpointed_size", "state_size", "end_to_end_duration",
                            "alignment_buffered", "processed_data", "persisted_data"}


def test_savepoints_restores_and_discards_are_reported_apart() -> None:
    tracker = CheckpointStatsTracker()
    _complete(tracker, 1, 1000, (1, 2), 5)
    tracker.report_triggered(2, 2000, "SAVEPOINT", True, {SOURCE: 1})
    tracker.report_completed(2, 2050, "file:///savepoints/savepoint-ab-1")
    s = tracker.snapshot()
    assert s.latest_completed is not None and s.latest_completed.checkpoint_id == 1
    assert s.latest_savepoint is not None and s.latest_savepoint.is_savepoint
    assert s.latest_savepoint.latest_ack_timestamp == 2050  # no acks: its completion
    tracker.report_discarded(1)
    tracker.report_restored(1, 3000, False, "mem://chk-1")
    s = tracker.snapshot()
    assert s.latest_completed is not None and s.latest_completed.discarded
    assert s.restored == 1
    assert s.latest_restored is not None
    assert (s.latest_restored.checkpoint_id, s.latest_restored.restore_timestamp) == (1, 3000)


def test_a_snapshot_is_a_copy_and_travels_as_msgpack() -> None:
    tracker = CheckpointStatsTracker()
    tracker.report_triggered(1, 1000, "CHECKPOINT", False, {SOURCE: 2})
    tracker.report_acknowledged(1, SOURCE, _ack(0, 1010, 5, sync_duration_ms=3))
    before = tracker.snapshot()
    tracker.report_acknowledged(1, SOURCE, _ack(1, 1020, 5))
    tracker.report_completed(1, 1030)
    assert before.in_progress == 1 and before.history[0].num_acknowledged == 1
    assert before.history[0].status == "IN_PROGRESS"
    decoded = msgspec.msgpack.decode(msgspec.msgpack.encode(tracker.snapshot()),
                                     type=CheckpointStatsSnapshot)
    assert decoded.history[0].acks[SOURCE][0].sync_duration_ms == 3
    assert decoded.latest_completed is not None
    assert decoded.latest_completed.total("state_size") == 10


def test_checkpoint_type_names_are_flinks() -> None:
    assert checkpoint_type_name("checkpoint", False) == "CHECKPOINT"
    assert checkpoint_type_name("checkpoint", True) == "UNALIGNED_CHECKPOINT"
    assert checkpoint_type_name("savepoint", False) == "SAVEPOINT"
    assert checkpoint_type_name("savepoint-suspend", False) == "SYNC_SAVEPOINT"
    assert checkpoint_type_name("savepoint-terminate", False) == "SYNC_SAVEPOINT"
