"""The checkpoint endpoints' bodies in Flink's JSON shapes and field names
(``CheckpointingStatistics``, ``CheckpointStatistics``, ``TaskCheckpointStatistics...``,
``CheckpointConfigInfo``), plus ``/jobs/:jobid/metrics``'
``[{"id", "value"}]``."""

from __future__ import annotations

from typing import Any

import msgspec

__all__ = [
    "AlignmentSummary", "CheckpointConfigInfo", "CheckpointCounts", "CheckpointDurations",
    "CheckpointDurationsSummary", "CheckpointStatistics", "CheckpointingStatistics",
    "ExternalizedCheckpointInfo", "JobMetric", "LatestCheckpoints",
    "RestoredCheckpointStatistics", "StatsSummaryDto", "SubtaskAlignment",
    "SubtaskCheckpointStatistics", "SubtaskDetailsSummary", "TaskCheckpointStatistics",
    "TaskCheckpointStatisticsWithSubtaskDetails",
]


def _field(name: str, default: Any = msgspec.NODEFAULT) -> Any:
    return msgspec.field(name=name, default=default)


class StatsSummaryDto(msgspec.Struct):
    min: int = 0
    max: int = 0
    avg: int = 0
    p50: float = 0.0
    p90: float = 0.0
    p95: float = 0.0
    p99: float = 0.0
    p999: float = 0.0


class CheckpointCounts(msgspec.Struct):
    restored: int
    total: int
    in_progress: int
    completed: int
    failed: int


class TaskCheckpointStatistics(msgspec.Struct):
    """One vertex's part of a checkpoint."""

    id: int
    status: str
    latest_ack_timestamp: int
    checkpointed_size: int
    state_size: int
    end_to_end_duration: int
    alignment_buffered: int
    processed_data: int
    persisted_data: int
    num_subtasks: int
    num_acknowledged_subtasks: int


class CheckpointStatistics(msgspec.Struct, omit_defaults=True):
    """One checkpoint; ``className`` says which kind (``completed``, ``failed``,
    ``in_progress``): a completed one has ``external_path`` and ``discarded``, a failed one
    ``failure_timestamp`` and ``failure_message``."""

    class_name: str = _field("className")
    id: int = _field("id")
    status: str = _field("status")
    is_savepoint: bool = _field("is_savepoint")
    trigger_timestamp: int = _field("trigger_timestamp")
    latest_ack_timestamp: int = _field("latest_ack_timestamp")
    checkpointed_size: int = _field("checkpointed_size")
    state_size: int = _field("state_size")
    end_to_end_duration: int = _field("end_to_end_duration")
    alignment_buffered: int = _field("alignment_buffered")
    processed_data: int = _field("processed_data")
    persisted_data: int = _field("persisted_data")
    num_subtasks: int = _field("num_subtasks")
    num_acknowledged_subtasks: int = _field("num_acknowledged_subtasks")
    checkpoint_type: str = _field("checkpoint_type")
    #: per vertex id (only in a checkpoint's details)
    tasks: dict[str, TaskCheckpointStatistics] = _field("tasks")
    savepoint_format: str | None = _field("savepointFormat", None)
    external_path: str | None = _field("external_path", None)
    discarded: bool | None = _field("discarded", None)
    failure_timestamp: int | None = _field("failure_timestamp", None)
    failure_message: str | None = _field("failure_message", None)


class RestoredCheckpointStatistics(msgspec.Struct):
    id: int
    restore_timestamp: int
    is_savepoint: bool
    external_path: str | None


class LatestCheckpoints(msgspec.Struct):
    completed: CheckpointStatistics | None
    savepoint: CheckpointStatistics | None
    failed: CheckpointStatistics | None
    restored: RestoredCheckpointStatistics | None


class CheckpointingStatistics(msgspec.Struct):
    """``GET /jobs/:jobid/checkpoints``."""

    counts: CheckpointCounts
    #: checkpointed_size, state_size, end_to_end_duration, alignment_buffered,
    #: processed_data, persisted_data
    summary: dict[str, StatsSummaryDto]
    latest: LatestCheckpoints
    #: the most recent checkpoints (``web.checkpoints.history``), newest first
    history: list[CheckpointStatistics]


class ExternalizedCheckpointInfo(msgspec.Struct):
    enabled: bool
    delete_on_cancellation: bool


class CheckpointConfigInfo(msgspec.Struct):
    """``GET /jobs/:jobid/checkpoints/config``; ``interval`` is Long.MAX_VALUE (as Flink
    shows it) when the job takes no periodic checkpoints."""

    mode: str
    interval: int
    timeout: int
    min_pause: int
    max_concurrent: int
    externalization: ExternalizedCheckpointInfo
    state_backend: str
    checkpoint_storage: str
    unaligned_checkpoints: bool
    tolerable_failed_checkpoints: int
    aligned_checkpoint_timeout: int
    checkpoints_after_tasks_finish: bool
    state_changelog_enabled: bool
    changelog_periodic_materialization_interval: int
    changelog_storage: str


class CheckpointDurations(msgspec.Struct):
    sync: int
    async_: int = _field("async")


class SubtaskAlignment(msgspec.Struct):
    buffered: int
    processed: int
    persisted: int
    duration: int


class SubtaskCheckpointStatistics(msgspec.Struct, omit_defaults=True):
    """One subtask: ``status`` ``completed`` with its numbers, or ``pending_or_failed``."""

    index: int
    status: str
    ack_timestamp: int | None = None
    end_to_end_duration: int | None = None
    state_size: int | None = None
    checkpointed_size: int | None = None
    processed_data: int | None = None
    persisted_data: int | None = None
    checkpoint: CheckpointDurations | None = None
    alignment: SubtaskAlignment | None = None
    start_delay: int | None = None
    unaligned_checkpoint: bool | None = None
    aborted: bool | None = None


class CheckpointDurationsSummary(msgspec.Struct):
    sync: StatsSummaryDto
    async_: StatsSummaryDto = _field("async")


class AlignmentSummary(msgspec.Struct):
    buffered: StatsSummaryDto
    processed: StatsSummaryDto
    persisted: StatsSummaryDto
    duration: StatsSummaryDto


class SubtaskDetailsSummary(msgspec.Struct):
    checkpointed_size: StatsSummaryDto
    state_size: StatsSummaryDto
    end_to_end_duration: StatsSummaryDto
    checkpoint_duration: CheckpointDurationsSummary
    alignment: AlignmentSummary
    start_delay: StatsSummaryDto


class TaskCheckpointStatisticsWithSubtaskDetails(msgspec.Struct):
    """``GET /jobs/:jobid/checkpoints/details/:checkpointid/subtasks/:vertexid``."""

    id: int
    status: str
    latest_ack_timestamp: int
    checkpointed_size: int
    state_size: int
    end_to_end_duration: int
    alignment_buffered: int
    processed_data: int
    persisted_data: int
    num_subtasks: int
    num_acknowledged_subtasks: int
    summary: SubtaskDetailsSummary
    subtasks: list[SubtaskCheckpointStatistics]


class JobMetric(msgspec.Struct, omit_defaults=True):
    """One metric of ``GET /jobs/:jobid/metrics``: its id, and its value (a string, as
    Flink sends it) when asked for with ``?get=``."""

    id: str
    value: str | None = None
