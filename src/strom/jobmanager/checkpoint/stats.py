"""Checkpoint statistics of one job (Flink's ``CheckpointStatsTracker``), without I/O or an
event loop: the :class:`~strom.jobmanager.checkpoint.coordinator.CheckpointCoordinator`
reports what happens to its checkpoints (triggered, a subtask acknowledged with its sizes and
durations, completed, failed, restored) with the time (epoch ms), and :meth:`snapshot`
answers what REST shows at ``/jobs/:jobid/checkpoints``: counts, a bounded history
(``web.checkpoints.history``), summary statistics over completed checkpoints and the latest
completed checkpoint, savepoint, failure and restore.

The records are msgspec Structs, so a snapshot travels over RPC as it is (the Dispatcher
keeps the last one of an ended job, as Flink's ``ExecutionGraphInfo`` does).
"""

from __future__ import annotations

import math
from collections import deque

import msgspec

__all__ = ["COMPLETED", "FAILED", "IN_PROGRESS", "CheckpointAckStats", "CheckpointConfigInfo", "CheckpointStats", "CheckpointStatsSnapshot",
           "CheckpointStatsTracker", "DEFAULT_HISTORY_SIZE", "RestoredCheckpointStats",
           "StatsSummary", "SubtaskStats", "SUMMARY_METRICS", "checkpoint_type_name"]

#: ``web.checkpoints.history``'s default: how many recent checkpoints REST lists
DEFAULT_HISTORY_SIZE = 10
#: the summary statistics kept over the latest completed checkpoints (a sliding window)
SUMMARY_WINDOW = 10_000
#: the summaries REST shows, by Flink's names
SUMMARY_METRICS = ("checkpointed_size", "state_size", "end_to_end_duration",
                   "alignment_buffered", "processed_data", "persisted_data")

IN_PROGRESS = "IN_PROGRESS"
COMPLETED = "COMPLETED"
FAILED = "FAILED"


class CheckpointAckStats(msgspec.Struct, frozen=True):
    """What a task measured of its part of a checkpoint; it travels with the
    acknowledgement (sizes the JobMaster reads from the state handles)."""

    #: snapshotting the chain in the task's thread
    sync_duration_ms: int = 0
    #: uploading the state afterwards
    async_duration_ms: int = 0
    #: from the first barrier to the last (tasks with several inputs, aligned)
    alignment_duration_ms: int = 0
    #: from the trigger to the start of the snapshot at this task
    start_delay_ms: int = 0
    unaligned: bool = False
    #: the subtask's full and checkpointed sizes when it knows better than its handles
    #: (incremental keyed state: the handle points at shared files)
    state_size: int | None = None
    checkpointed_size: int | None = None


def checkpoint_type_name(kind_value: str, unaligned: bool) -> str:
    """Flink's ``checkpoint_type`` of a strom ``CheckpointType`` value."""
    if kind_value == "checkpoint":
        return "UNALIGNED_CHECKPOINT" if unaligned else "CHECKPOINT"
    return "SAVEPOINT" if kind_value == "savepoint" else "SYNC_SAVEPOINT"


class SubtaskStats(msgspec.Struct, frozen=True):
    """What one subtask reported with its acknowledgement."""

    subtask: int
    ack_timestamp: int
    #: the bytes of its state in this checkpoint (full size), and what it wrote for it
    state_size: int = 0
    checkpointed_size: int = 0
    sync_duration_ms: int = 0
    async_duration_ms: int = 0
    alignment_duration_ms: int = 0
    start_delay_ms: int = 0
    processed_data: int = 0
    persisted_data: int = 0
    unaligned: bool = False


class CheckpointStats(msgspec.Struct):
    """One checkpoint or savepoint, in progress or ended."""

    checkpoint_id: int
    trigger_timestamp: int
    #: Flink's checkpoint_type: CHECKPOINT, UNALIGNED_CHECKPOINT, SAVEPOINT, SYNC_SAVEPOINT
    checkpoint_type: str
    is_savepoint: bool
    #: parallelism of every vertex that takes part, by vertex id
    parallelism: dict[str, int]
    status: str = IN_PROGRESS
    #: acknowledgements by vertex id, then subtask index
    acks: dict[str, dict[int, SubtaskStats]] = {}
    external_path: str | None = None
    discarded: bool = False
    #: when it completed or failed
    end_timestamp: int | None = None
    failure_message: str | None = None

    @property
    def num_subtasks(self) -> int:
        return sum(self.parallelism.values())

    @property
    def num_acknowledged(self) -> int:
        return sum(len(subtasks) for subtasks in self.acks.values())

    def all_acks(self) -> list[SubtaskStats]:
        return [s for subtasks in self.acks.values() for s in subtasks.values()]

    @property
    def latest_ack_timestamp(self) -> int:
        """The last acknowledgement's time; a completed checkpoint without any (every task
        had finished) counts its completion time; -1 while none arrived."""
        acks = self.all_acks()
        if acks:
            return max(a.ack_timestamp for a in acks)
        return self.end_timestamp if self.status == COMPLETED and self.end_timestamp else -1

    @property
    def end_to_end_duration(self) -> int:
        latest = self.latest_ack_timestamp
        if self.status == COMPLETED and self.end_timestamp is not None:
            latest = max(latest, self.end_timestamp)
        return max(0, latest - self.trigger_timestamp) if latest >= 0 else 0

    def total(self, field: str) -> int:
        return sum(getattr(a, field) for a in self.all_acks())


class RestoredCheckpointStats(msgspec.Struct, frozen=True):
    checkpoint_id: int
    restore_timestamp: int
    is_savepoint: bool
    external_path: str | None = None


class StatsSummary(msgspec.Struct, frozen=True):
    """min/max/avg and percentiles of one value over the completed checkpoints (all 0 when
    none completed yet, as Flink shows)."""

    min: int = 0
    max: int = 0
    avg: int = 0
    p50: float = 0.0
    p90: float = 0.0
    p95: float = 0.0
    p99: float = 0.0
    p999: float = 0.0

    @staticmethod
    def of(values: list[int]) -> StatsSummary:
        if not values:
            return StatsSummary()
        ordered = sorted(values)
        return StatsSummary(
            min=ordered[0], max=ordered[-1], avg=sum(ordered) // len(ordered),
            p50=_percentile(ordered, 0.5), p90=_percentile(ordered, 0.9),
            p95=_percentile(ordered, 0.95), p99=_percentile(ordered, 0.99),
            p999=_percentile(ordered, 0.999))


def _percentile(ordered: list[int], q: float) -> float:
    """The ``q`` quantile of sorted values, interpolated between neighbours."""
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return float(ordered[low] + (ordered[high] - ordered[low]) * (position - low))


class CheckpointConfigInfo(msgspec.Struct, frozen=True):
    """The job's checkpoint settings, as ``/jobs/:jobid/checkpoints/config`` shows them."""

    exactly_once: bool
    #: None: no periodic checkpoints
    interval_ms: int | None
    timeout_ms: int
    min_pause_ms: int
    max_concurrent: int
    externalized_retention: str
    state_backend: str
    checkpoint_storage: str
    unaligned: bool
    tolerable_failures: int
    aligned_checkpoint_timeout_ms: int
    checkpoints_after_tasks_finish: bool


class CheckpointStatsSnapshot(msgspec.Struct, frozen=True):
    """Everything REST shows of a job's checkpoints at one moment."""

    restored: int = 0
    total: int = 0
    in_progress: int = 0
    completed: int = 0
    failed: int = 0
    #: by :data:`SUMMARY_METRICS` name
    summary: dict[str, StatsSummary] = {}
    #: the most recent checkpoints, newest first
    history: list[CheckpointStats] = []
    latest_completed: CheckpointStats | None = None
    latest_savepoint: CheckpointStats | None = None
    latest_failed: CheckpointStats | None = None
    latest_restored: RestoredCheckpointStats | None = None
    #: None: the job does not checkpoint (a batch job)
    config: CheckpointConfigInfo | None = None

    def checkpoint(self, checkpoint_id: int) -> CheckpointStats | None:
        """A checkpoint still in the history (or one of the latest), else None."""
        for stats in (*self.history, self.latest_completed, self.latest_savepoint,
                      self.latest_failed):
            if stats is not None and stats.checkpoint_id == checkpoint_id:
                return stats
        return None


class CheckpointStatsTracker:
    """Counts, history and summaries of one job's checkpoints (no I/O)."""

    def __init__(self, history_size: int = DEFAULT_HISTORY_SIZE,
                 config: CheckpointConfigInfo | None = None) -> None:
        if history_size < 0:
            raise ValueError(f"web.checkpoints.history must be >= 0, got {history_size}.")
        self.history_size = history_size
        self.config = config
        self.counts = {"restored": 0, "total": 0, "in_progress": 0, "completed": 0,
                       "failed": 0}
        self.pending: dict[int, CheckpointStats] = {}
        self.history: deque[CheckpointStats] = deque(maxlen=history_size or None)
        self._values: dict[str, deque[int]] = {
            name: deque(maxlen=SUMMARY_WINDOW) for name in SUMMARY_METRICS}
        self.latest_completed: CheckpointStats | None = None
        self.latest_savepoint: CheckpointStats | None = None
        self.latest_failed: CheckpointStats | None = None
        self.latest_restored: RestoredCheckpointStats | None = None

    def _remember(self, stats: CheckpointStats) -> None:
        if self.history_size:
            self.history.appendleft(stats)

    # ------------------------------------------------------------------ events
    def report_triggered(self, checkpoint_id: int, trigger_timestamp: int,
                         checkpoint_type: str, is_savepoint: bool,
                         parallelism: dict[str, int]) -> CheckpointStats:
        stats = CheckpointStats(checkpoint_id, trigger_timestamp, checkpoint_type,
                                is_savepoint, dict(parallelism), acks={})
        self.pending[checkpoint_id] = stats
        self.counts["total"] += 1
        self.counts["in_progress"] += 1
        self._remember(stats)
        return stats

    def report_acknowledged(self, checkpoint_id: int, vertex_id: str,
                            subtask: SubtaskStats) -> None:
        """A subtask's acknowledgement; a late one (the checkpoint ended) is ignored."""
        stats = self.pending.get(checkpoint_id)
        if stats is not None:
            stats.acks.setdefault(vertex_id, {})[subtask.subtask] = subtask

    def report_completed(self, checkpoint_id: int, now_ms: int,
                         external_path: str | None = None) -> None:
        stats = self.pending.pop(checkpoint_id, None)
        if stats is None:
            return
        stats.status = COMPLETED
        stats.end_timestamp = now_ms
        stats.external_path = external_path
        self.counts["in_progress"] -= 1
        self.counts["completed"] += 1
        values = {"checkpointed_size": stats.total("checkpointed_size"),
                  "state_size": stats.total("state_size"),
                  "end_to_end_duration": stats.end_to_end_duration,
                  "alignment_buffered": 0,
                  "processed_data": stats.total("processed_data"),
                  "persisted_data": stats.total("persisted_data")}
        for name, value in values.items():
            self._values[name].append(value)
        if stats.is_savepoint:
            self.latest_savepoint = stats
        else:
            self.latest_completed = stats

    def report_failed(self, checkpoint_id: int, now_ms: int, cause: str) -> None:
        stats = self.pending.pop(checkpoint_id, None)
        if stats is None:
            return
        stats.status = FAILED
        stats.end_timestamp = now_ms
        stats.failure_message = cause
        self.counts["in_progress"] -= 1
        self.counts["failed"] += 1
        self.latest_failed = stats

    def report_discarded(self, checkpoint_id: int) -> None:
        """A completed checkpoint was discarded (no longer retained)."""
        for stats in (*self.history, self.latest_completed):
            if stats is not None and stats.checkpoint_id == checkpoint_id:
                stats.discarded = True

    def report_restored(self, checkpoint_id: int, now_ms: int, is_savepoint: bool,
                        external_path: str | None = None) -> None:
        self.counts["restored"] += 1
        self.latest_restored = RestoredCheckpointStats(checkpoint_id, now_ms, is_savepoint,
                                                       external_path)

    # ------------------------------------------------------------------ answers
    def snapshot(self) -> CheckpointStatsSnapshot:
        """A copy that later events do not change."""
        def copy(stats: CheckpointStats | None) -> CheckpointStats | None:
            if stats is None:
                return None
            return msgspec.structs.replace(
                stats, parallelism=dict(stats.parallelism),
                acks={v: dict(s) for v, s in stats.acks.items()})

        history = [copy(s) for s in self.history]
        return CheckpointStatsSnapshot(
            restored=self.counts["restored"], total=self.counts["total"],
            in_progress=self.counts["in_progress"], completed=self.counts["completed"],
            failed=self.counts["failed"],
            summary={name: StatsSummary.of(list(values))
                     for name, values in self._values.items()},
            history=[s for s in history if s is not None],
            latest_completed=copy(self.latest_completed),
            latest_savepoint=copy(self.latest_savepoint),
            latest_failed=copy(self.latest_failed),
            latest_restored=self.latest_restored, config=self.config)
