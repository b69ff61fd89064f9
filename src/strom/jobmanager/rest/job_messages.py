"""Bodies of the job and vertex endpoints beyond the overview, in Flink's JSON shapes
(``JobVertexDetailsInfo``, ``SubtaskExecutionAttemptDetailsInfo``, ``SubtasksTimesInfo``,
``JobVertexTaskManagersInfo``, ``JobVertexBackPressureInfo``, ``JobPlanInfo``,
``JobConfigInfo``, the accumulator infos and ``JobStatusInfo``)."""

from __future__ import annotations

from typing import Any

import msgspec

from strom.jobmanager.rest.messages import IOMetricsInfo, PlanInfo

__all__ = [
    "ExecutionConfigInfo", "JobAccumulatorsInfo", "JobConfigInfo", "JobPlanInfo",
    "JobStatusInfo", "JobVertexAccumulatorsInfo", "JobVertexBackPressureInfo",
    "JobVertexTaskManagersInfo", "SubtaskAccumulatorsInfo", "SubtaskBackPressureInfo",
    "SubtaskExecutionAttemptDetailsInfo", "SubtaskTimesInfo", "SubtasksAllAccumulatorsInfo",
    "SubtasksTimesInfo", "TaskManagerVertexInfo", "VertexDetailsInfo",
]


def _field(name: str, default: Any = msgspec.NODEFAULT) -> Any:
    return msgspec.field(name=name, default=default)


class SubtaskExecutionAttemptDetailsInfo(msgspec.Struct):
    """One subtask's attempt: state, where it runs (``host``, ``endpoint`` = its
    TaskManager's data address, ``taskmanager-id``), when, and its I/O metrics."""

    subtask: int
    status: str
    attempt: int
    endpoint: str
    host: str
    start_time: int = _field("start-time")
    end_time: int = _field("end-time")
    duration: int = _field("duration")
    metrics: IOMetricsInfo = _field("metrics")
    taskmanager_id: str = _field("taskmanager-id")
    #: ExecutionState name → milliseconds spent in it (so far)
    status_duration: dict[str, int] = _field("status-duration", {})


class VertexDetailsInfo(msgspec.Struct):
    """``GET /jobs/:jobid/vertices/:vertexid`` (Flink's ``JobVertexDetailsInfo``)."""

    id: str
    name: str
    max_parallelism: int = _field("maxParallelism")
    parallelism: int = _field("parallelism")
    now: int = _field("now")
    subtasks: list[SubtaskExecutionAttemptDetailsInfo] = _field("subtasks")


class SubtaskTimesInfo(msgspec.Struct):
    subtask: int
    host: str
    endpoint: str
    duration: int
    #: ExecutionState name → when the subtask entered it, epoch ms
    timestamps: dict[str, int]


class SubtasksTimesInfo(msgspec.Struct):
    """``.../subtasktimes``."""

    id: str
    name: str
    now: int
    subtasks: list[SubtaskTimesInfo]


class TaskManagerVertexInfo(msgspec.Struct):
    """The subtasks of a vertex on one TaskManager."""

    endpoint: str
    host: str
    status: str
    start_time: int = _field("start-time")
    end_time: int = _field("end-time")
    duration: int = _field("duration")
    metrics: IOMetricsInfo = _field("metrics")
    status_counts: dict[str, int] = _field("status-counts")
    taskmanager_id: str = _field("taskmanager-id")


class JobVertexTaskManagersInfo(msgspec.Struct):
    """``.../vertices/:vertexid/taskmanagers``."""

    id: str
    name: str
    now: int
    taskmanagers: list[TaskManagerVertexInfo]


class SubtaskBackPressureInfo(msgspec.Struct):
    subtask: int
    attempt_number: int = _field("attempt-number")
    backpressure_level: str = _field("backpressureLevel")
    ratio: float = _field("ratio")
    idle_ratio: float = _field("idleRatio")
    busy_ratio: float = _field("busyRatio")


class JobVertexBackPressureInfo(msgspec.Struct, omit_defaults=True):
    """``.../backpressure`` (Flink ≥ 1.13): levels from ``backPressuredTimeMsPerSecond``.
    ``{"status": "deprecated"}`` alone when no subtask has reported its metrics yet."""

    status: str
    backpressure_level: str | None = _field("backpressureLevel", None)
    end_timestamp: int | None = _field("end-timestamp", None)
    subtasks: list[SubtaskBackPressureInfo] | None = _field("subtasks", None)


class JobPlanInfo(msgspec.Struct):
    """``/jobs/:jobid/plan``."""

    plan: PlanInfo


class ExecutionConfigInfo(msgspec.Struct):
    execution_mode: str = _field("execution-mode")
    restart_strategy: str = _field("restart-strategy")
    job_parallelism: int = _field("job-parallelism")
    object_reuse_mode: bool = _field("object-reuse-mode")
    user_config: dict[str, str] = _field("user-config")


class JobConfigInfo(msgspec.Struct):
    """``/jobs/:jobid/config``."""

    jid: str
    name: str
    execution_config: ExecutionConfigInfo = _field("execution-config")


class JobAccumulatorsInfo(msgspec.Struct):
    """``/jobs/:jobid/accumulators``: strom has no user accumulators, so the lists are
    empty (Flink's shape)."""

    job_accumulators: list[Any] = _field("job-accumulators", [])
    user_task_accumulators: list[Any] = _field("user-task-accumulators", [])
    serialized_user_task_accumulators: dict[str, Any] = _field(
        "serialized-user-task-accumulators", {})


class JobVertexAccumulatorsInfo(msgspec.Struct):
    id: str
    user_accumulators: list[Any] = _field("user-accumulators", [])


class SubtaskAccumulatorsInfo(msgspec.Struct):
    subtask: int
    attempt: int
    endpoint: str
    host: str
    user_accumulators: list[Any] = _field("user-accumulators", [])


class SubtasksAllAccumulatorsInfo(msgspec.Struct):
    id: str
    parallelism: int
    subtasks: list[SubtaskAccumulatorsInfo]


class JobStatusInfo(msgspec.Struct):
    """``/jobs/:jobid/status``."""

    status: str
