"""The REST API's request and response bodies, in Flink's JSON shapes and field names.

Each is a msgspec Struct whose JSON field names are Flink's (``start-time``, ``jobUrl``);
the specs in :mod:`strom.jobmanager.rest.specs` name them, the server encodes them, the
client decodes them, and the OpenAPI document is generated from them.
"""

from __future__ import annotations

from typing import Any

import msgspec

from strom import __version__

__all__ = [
    "ArtifactEntry", "IOMetricsInfo", "PlanInfo", "PlanInputInfo", "PlanNodeInfo", "ClusterOverviewInfo", "CoordinationRequest", "CoordinationResponse", "EmptyResponse", "ErrorResponse",
    "ExceptionInfo", "ExecutionResultInfo", "ExceptionHistory", "FailureCause",
    "JobExceptionsInfo", "RootExceptionInfo", "JobDetailsInfo", "JobExecutionResultResponse",
    "JobIdWithStatus", "JobIdsWithStatusOverview", "JobOverviewInfo", "JobSubmitRequest",
    "JobSubmitResponse", "JobVertexDetailsInfo", "MultipleJobsDetails", "QueueStatus",
    "Hardware", "ResourceProfileInfo", "TaskManagerInfo", "TaskManagerMemoryConfiguration",
    "TaskManagersInfo", "STROM_VERSION",
    "CheckpointInfo", "CheckpointStatusResponse", "CheckpointTriggerRequest",
    "OperationInfo", "OperationStatusResponse", "SavepointDisposalRequest", "SavepointInfo",
    "SavepointStatusResponse", "SavepointTriggerRequest", "StopWithSavepointRequest",
    "TriggerResponse",
]

STROM_VERSION = __version__


def _field(name: str, default: Any = msgspec.NODEFAULT) -> Any:
    return msgspec.field(name=name, default=default)


class ErrorResponse(msgspec.Struct):
    """Every error: ``{"errors": ["what was wrong ..."]}`` (Flink's ErrorResponseBody)."""

    errors: list[str]


class EmptyResponse(msgspec.Struct):
    """``{}``: an accepted request with nothing to return (e.g. a cancel)."""


class JobIdWithStatus(msgspec.Struct):
    id: str
    status: str


class JobIdsWithStatusOverview(msgspec.Struct):
    jobs: list[JobIdWithStatus]


class JobOverviewInfo(msgspec.Struct):
    """One job in ``/jobs/overview`` (Flink's JobDetails)."""

    jid: str
    name: str
    state: str
    start_time: int = _field("start-time")
    end_time: int = _field("end-time")
    duration: int = _field("duration")
    last_modification: int = _field("last-modification")
    #: subtasks by ExecutionState, lowercase names, plus ``total``
    tasks: dict[str, int] = _field("tasks")


class MultipleJobsDetails(msgspec.Struct):
    jobs: list[JobOverviewInfo]


class IOMetricsInfo(msgspec.Struct):
    """A vertex's or subtask's I/O (Flink's ``IOMetricsInfo``), from the task metrics:
    ``*-complete`` is false when some subtask's metric was missing."""

    read_bytes: int = _field("read-bytes", 0)
    read_bytes_complete: bool = _field("read-bytes-complete", False)
    write_bytes: int = _field("write-bytes", 0)
    write_bytes_complete: bool = _field("write-bytes-complete", False)
    read_records: int = _field("read-records", 0)
    read_records_complete: bool = _field("read-records-complete", False)
    write_records: int = _field("write-records", 0)
    write_records_complete: bool = _field("write-records-complete", False)
    accumulated_backpressured_time: int = _field("accumulated-backpressured-time", 0)
    accumulated_idle_time: int = _field("accumulated-idle-time", 0)
    accumulated_busy_time: float = _field("accumulated-busy-time", 0.0)


class PlanInputInfo(msgspec.Struct):
    num: int
    id: str
    ship_strategy: str
    exchange: str


class PlanNodeInfo(msgspec.Struct):
    id: str
    parallelism: int
    operator: str
    operator_strategy: str
    description: str
    inputs: list[PlanInputInfo] = []
    optimizer_properties: dict[str, Any] = {}


class PlanInfo(msgspec.Struct):
    """The dataflow plan (Flink's ``JobPlanInfo`` raw JSON): a node per vertex."""

    jid: str
    name: str
    type: str
    nodes: list[PlanNodeInfo]


class JobVertexDetailsInfo(msgspec.Struct):
    id: str
    name: str
    parallelism: int
    max_parallelism: int = _field("maxParallelism")
    status: str = _field("status")
    start_time: int = _field("start-time")
    end_time: int = _field("end-time")
    duration: int = _field("duration")
    #: subtasks by ExecutionState name
    tasks: dict[str, int] = _field("tasks")
    metrics: IOMetricsInfo = msgspec.field(name="metrics", default_factory=IOMetricsInfo)


class JobDetailsInfo(msgspec.Struct):
    """``/jobs/:jobid`` (Flink's JobDetailsInfo)."""

    jid: str
    name: str
    is_stoppable: bool = _field("isStoppable")
    state: str = _field("state")
    job_type: str = _field("job-type")
    start_time: int = _field("start-time")
    end_time: int = _field("end-time")
    duration: int = _field("duration")
    max_parallelism: int = _field("maxParallelism")
    now: int = _field("now")
    timestamps: dict[str, int] = _field("timestamps")
    vertices: list[JobVertexDetailsInfo] = _field("vertices")
    status_counts: dict[str, int] = _field("status-counts")
    plan: PlanInfo | None = _field("plan", None)


class FailureCause(msgspec.Struct):
    """Why a job failed (Flink's SerializedThrowable): the exception's class, its traceback
    text, and ``serialized-throwable`` (base64 msgpack of strom's SerializedError, which a
    strom client turns back into the user's own exception)."""

    class_name: str = _field("class")
    stack_trace: str = _field("stack-trace")
    serialized_throwable: bytes | None = _field("serialized-throwable", None)


class RootExceptionInfo(msgspec.Struct):
    """A concurrent failure of an exception history entry."""

    exception_name: str = _field("exceptionName")
    stacktrace: str = _field("stacktrace")
    timestamp: int = _field("timestamp")
    task_name: str | None = _field("taskName", None)
    location: str | None = _field("location", None)
    endpoint: str | None = _field("endpoint", None)
    task_manager_id: str | None = _field("taskManagerId", None)
    failure_labels: dict[str, str] = _field("failureLabels", {})


class ExceptionInfo(RootExceptionInfo):
    """One failure of a job (Flink's ``RootExceptionInfo`` in ``exceptionHistory``)."""

    concurrent_exceptions: list[RootExceptionInfo] = _field("concurrentExceptions", [])


class ExceptionHistory(msgspec.Struct):
    entries: list[ExceptionInfo]
    truncated: bool = False


class JobExceptionsInfo(msgspec.Struct):
    """``/jobs/:jobid/exceptions``: the failures a job saw, newest first (Flink's
    ``JobExceptionsInfoWithHistory``; ``root-exception`` is the newest one's stack trace)."""

    exception_history: ExceptionHistory = _field("exceptionHistory")
    root_exception: str | None = _field("root-exception", None)
    timestamp: int | None = _field("timestamp", None)
    all_exceptions: list[Any] = _field("all-exceptions", [])
    truncated: bool = _field("truncated", False)


class ExecutionResultInfo(msgspec.Struct):
    id: str
    application_status: str = _field("application-status")
    net_runtime: int = _field("net-runtime")
    accumulator_results: dict[str, Any] = _field("accumulator-results", {})
    failure_cause: FailureCause | None = _field("failure-cause", None)


class QueueStatus(msgspec.Struct):
    #: IN_PROGRESS or COMPLETED
    id: str


class JobExecutionResultResponse(msgspec.Struct, omit_defaults=True):
    """``/jobs/:jobid/execution-result``: IN_PROGRESS until the job ends, then its result."""

    status: QueueStatus
    job_execution_result: ExecutionResultInfo | None = _field("job-execution-result", None)


class ArtifactEntry(msgspec.Struct):
    #: where the file goes, relative to the job's directory on the JobManager
    entry_name: str = _field("entryName")
    #: the multipart part's file name that carries its bytes
    file_name: str = _field("fileName")


class JobSubmitRequest(msgspec.Struct):
    """The ``request`` part of ``POST /jobs`` (Flink's JobSubmitRequestBody). strom adds
    ``jobId`` (optional) and ``pythonPath``: entries of the job's directory for ``sys.path``."""

    job_graph_file_name: str = _field("jobGraphFileName")
    job_jar_file_names: list[str] = _field("jobJarFileNames", [])
    job_artifact_file_names: list[ArtifactEntry] = _field("jobArtifactFileNames", [])
    python_path: list[str] = _field("pythonPath", [])
    job_id: str | None = _field("jobId", None)


class JobSubmitResponse(msgspec.Struct):
    job_url: str = _field("jobUrl")


class CoordinationRequest(msgspec.Struct):
    """A request to an operator coordinator (Flink's ClientCoordinationRequestBody)."""

    serialized_coordination_request: bytes = _field("serializedCoordinationRequest")


class CoordinationResponse(msgspec.Struct):
    serialized_coordination_response: bytes = _field("serializedCoordinationResponse")


class ClusterOverviewInfo(msgspec.Struct):
    """``/overview``; ``flink-version`` carries strom's version."""

    taskmanagers: int
    slots_total: int = _field("slots-total")
    slots_available: int = _field("slots-available")
    jobs_running: int = _field("jobs-running")
    jobs_finished: int = _field("jobs-finished")
    jobs_cancelled: int = _field("jobs-cancelled")
    jobs_failed: int = _field("jobs-failed")
    flink_version: str = _field("flink-version", STROM_VERSION)
    flink_commit: str = _field("flink-commit", "")


class Hardware(msgspec.Struct):
    cpu_cores: int = _field("cpuCores")
    physical_memory: int = _field("physicalMemory")
    free_memory: int = _field("freeMemory")
    managed_memory: int = _field("managedMemory")


class ResourceProfileInfo(msgspec.Struct):
    """Flink's ``ResourceProfileInfo`` (strom does not size slots: zeros)."""

    cpu_cores: float = _field("cpuCores", 0.0)
    task_heap_memory: int = _field("taskHeapMemory", 0)
    task_off_heap_memory: int = _field("taskOffHeapMemory", 0)
    managed_memory: int = _field("managedMemory", 0)
    network_memory: int = _field("networkMemory", 0)
    extended_resources: dict[str, float] = _field("extendedResources", {})


class TaskManagerMemoryConfiguration(msgspec.Struct):
    """Flink's memory model; strom is not a JVM and configures none of it (zeros)."""

    framework_heap: int = _field("frameworkHeap", 0)
    task_heap: int = _field("taskHeap", 0)
    framework_off_heap: int = _field("frameworkOffHeap", 0)
    task_off_heap: int = _field("taskOffHeap", 0)
    network_memory: int = _field("networkMemory", 0)
    managed_memory: int = _field("managedMemory", 0)
    jvm_metaspace: int = _field("jvmMetaspace", 0)
    jvm_overhead: int = _field("jvmOverhead", 0)
    total_flink_memory: int = _field("totalFlinkMemory", 0)
    total_process_memory: int = _field("totalProcessMemory", 0)


class TaskManagerInfo(msgspec.Struct):
    """One TaskManager of ``/taskmanagers`` (Flink's ``TaskManagerInfo``): ``path`` is its
    RPC address, ``dataPort`` its data server's port (-1: none), ``jmxPort`` always -1,
    ``timeSinceLastHeartbeat`` the time of its last heartbeat (epoch ms, as Flink's)."""

    id: str
    path: str
    data_port: int = _field("dataPort")
    jmx_port: int = _field("jmxPort")
    time_since_last_heartbeat: int = _field("timeSinceLastHeartbeat")
    slots_number: int = _field("slotsNumber")
    free_slots: int = _field("freeSlots")
    total_resource: ResourceProfileInfo = msgspec.field(
        name="totalResource", default_factory=lambda: ResourceProfileInfo())
    free_resource: ResourceProfileInfo = msgspec.field(
        name="freeResource", default_factory=lambda: ResourceProfileInfo())
    hardware: Hardware = msgspec.field(name="hardware",
                                       default_factory=lambda: Hardware(0, 0, 0, 0))
    memory_configuration: TaskManagerMemoryConfiguration = msgspec.field(
        name="memoryConfiguration", default_factory=lambda: TaskManagerMemoryConfiguration())
    blocked: bool = _field("blocked", False)


class TaskManagersInfo(msgspec.Struct):
    taskmanagers: list[TaskManagerInfo]


# -- asynchronous operations: savepoints, stop-with-savepoint, checkpoints, disposal --------


class SavepointTriggerRequest(msgspec.Struct):
    """``POST /jobs/:jobid/savepoints`` (Flink's SavepointTriggerRequestBody)."""

    target_directory: str | None = _field("target-directory", None)
    #: cancel the job once the savepoint is complete (deprecated in Flink: use /stop)
    cancel_job: bool = _field("cancel-job", False)
    #: CANONICAL (the default) or NATIVE
    format_type: str = _field("formatType", "CANONICAL")
    #: a trigger id of the client's choosing, so that a retried request is not run twice
    trigger_id: str | None = _field("triggerId", None)


class StopWithSavepointRequest(msgspec.Struct):
    """``POST /jobs/:jobid/stop`` (Flink's StopWithSavepointRequestBody); ``drain`` emits
    MAX_WATERMARK before the savepoint so that all event-time timers and windows fire."""

    target_directory: str | None = _field("targetDirectory", None)
    drain: bool = _field("drain", False)
    format_type: str = _field("formatType", "CANONICAL")
    trigger_id: str | None = _field("triggerId", None)


class CheckpointTriggerRequest(msgspec.Struct):
    """``POST /jobs/:jobid/checkpoints`` (Flink 1.19's CheckpointTriggerRequestBody):
    CONFIGURED, FULL or INCREMENTAL."""

    checkpoint_type: str = _field("checkpointType", "CONFIGURED")
    trigger_id: str | None = _field("triggerId", None)


class SavepointDisposalRequest(msgspec.Struct):
    """``POST /savepoint-disposal``."""

    savepoint_path: str = _field("savepoint-path")


class TriggerResponse(msgspec.Struct):
    """202: the operation runs; poll its status with the ``request-id`` (a trigger id)."""

    request_id: str = _field("request-id")


class SavepointInfo(msgspec.Struct, omit_defaults=True):
    location: str | None = _field("location", None)
    failure_cause: FailureCause | None = _field("failure-cause", None)


class CheckpointInfo(msgspec.Struct, omit_defaults=True):
    checkpoint_id: int | None = _field("checkpointId", None)
    failure_cause: FailureCause | None = _field("failure-cause", None)


class OperationInfo(msgspec.Struct, omit_defaults=True):
    failure_cause: FailureCause | None = _field("failure-cause", None)


class SavepointStatusResponse(msgspec.Struct, omit_defaults=True):
    """``GET /jobs/:jobid/savepoints/:triggerid``: IN_PROGRESS, then COMPLETED with the
    savepoint's ``location`` or its ``failure-cause``."""

    status: QueueStatus
    operation: SavepointInfo | None = None


class CheckpointStatusResponse(msgspec.Struct, omit_defaults=True):
    status: QueueStatus
    operation: CheckpointInfo | None = None


class OperationStatusResponse(msgspec.Struct, omit_defaults=True):
    """``GET /savepoint-disposal/:triggerid``."""

    status: QueueStatus
    operation: OperationInfo | None = None
