"""The gateways: what each component lets others call. All methods are async.

The annotations are the wire contract: the codec encodes arguments and results with them and
decodes into the annotated types (Structs, typed ids, enums), so a gateway takes and returns
only msgspec Structs, primitives, typed ids, enums and :class:`SerializedValue`. A method's
call times out after ``pekko.ask.timeout`` unless it is marked :func:`no_timeout` (it waits
for something that may take as long as a job).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar

from strom.common.job import JobID, JobStatus
from strom.common.process_files import LogFileInfo, ThreadInfo
from strom.graph.ids import AllocationID, ExecutionAttemptID, ResourceID
from strom.jobmanager.checkpoint.stats import CheckpointAckStats, CheckpointStatsSnapshot
from strom.jobmanager.cluster_info import (
    ClusterOverview,
    JobDetails,
    JobExceptions,
    JobSubmission,
    TaskManagerDetails,
)
from strom.jobmanager.flame_graph import FlameGraphType, VertexFlameGraph
from strom.jobmanager.job_result import JobResult
from strom.jobmanager.savepoints import OperationResult
from strom.metrics.dump import MetricDump
from strom.rpc.errors import SerializedError
from strom.rpc.messages import (
    JobOverview,
    SerializedValue,
    SlotOffer,
    SlotReport,
    TaskDeploymentDescriptor,
    TaskExecutionState,
    TaskManagerInfo,
    TaskStatus,
    ThreadInfoSample,
)
from strom.taskmanager.file_service import TaskManagerDescription

__all__ = ["DispatcherGateway", "JobMasterGateway", "ResourceManagerGateway",
           "TaskExecutorGateway", "no_timeout"]

F = TypeVar("F", bound=Callable[..., object])


def no_timeout(method: F) -> F:
    """Mark a gateway method whose calls wait without ``pekko.ask.timeout`` (long polls)."""
    method.__rpc_no_timeout__ = True  # type: ignore[attr-defined]
    return method


class DispatcherGateway(Protocol):
    async def submit_job(self, job_graph: SerializedValue, job_id: JobID) -> JobID:
        """Start the job; ``job_graph`` holds a JobGraph (cloudpickled bytes on the wire)."""
        ...

    async def request_job_status(self, job_id: JobID) -> JobStatus: ...

    @no_timeout
    async def request_job_result(self, job_id: JobID) -> JobResult:
        """Completes when the job has ended."""
        ...

    async def cancel_job(self, job_id: JobID) -> None: ...

    async def list_jobs(self) -> list[JobOverview]: ...

    async def submit_job_with_files(
        self, job_graph: SerializedValue, job_id: JobID, submission: JobSubmission
    ) -> JobID:
        """Store the job's files (Flink's BlobServer role), put them on ``sys.path`` while the
        JobGraph is unpickled, and start the job with its tasks importing from them."""
        ...

    async def poll_job_result(self, job_id: JobID) -> JobResult | None:
        """The result if the job has ended, else None (at once)."""
        ...

    async def request_job_details(self, job_id: JobID) -> JobDetails: ...

    async def request_exception_history(self, job_id: JobID) -> JobExceptions:
        """The job's failures (running or ended), newest first."""
        ...

    async def list_job_details(self) -> list[JobDetails]: ...

    async def request_cluster_overview(self) -> ClusterOverview: ...

    async def list_task_managers(self) -> list[TaskManagerDetails]: ...

    async def deliver_coordination_request(
        self, job_id: JobID, operator_id: str, request: bytes
    ) -> bytes: ...

    # checkpoint statistics (REST's /jobs/:jobid/checkpoints...)
    async def request_checkpoint_stats(self, job_id: JobID) -> CheckpointStatsSnapshot:
        """The job's checkpoint statistics (running or ended)."""
        ...

    # savepoints: the calls a JobClient waits on, and the ones REST polls by trigger id
    @no_timeout
    async def trigger_savepoint(self, job_id: JobID, target_dir: str | None,
                                format_type: str) -> str:
        """Take a savepoint (in ``target_dir`` or the configured default); its path."""
        ...

    @no_timeout
    async def stop_with_savepoint(self, job_id: JobID, target_dir: str | None, drain: bool,
                                  format_type: str) -> str:
        """Stop the job with a final savepoint; its path once the job has FINISHED."""
        ...

    @no_timeout
    async def dispose_savepoint(self, path: str) -> None: ...

    @no_timeout
    async def trigger_checkpoint(self, job_id: JobID, full: bool) -> int:
        """A manual checkpoint; its id once it completed."""
        ...

    async def start_savepoint_operation(
        self, job_id: JobID, trigger_id: str, target_dir: str | None, format_type: str,
        cancel_job: bool,
    ) -> None:
        """Start a savepoint (then cancel the job when ``cancel_job``) in the background;
        fails at once on an unknown job or a missing directory."""
        ...

    async def start_stop_with_savepoint_operation(
        self, job_id: JobID, trigger_id: str, target_dir: str | None, drain: bool,
        format_type: str,
    ) -> None: ...

    async def start_checkpoint_operation(self, job_id: JobID, trigger_id: str,
                                         full: bool) -> None: ...

    async def start_dispose_savepoint_operation(self, trigger_id: str, path: str) -> None: ...

    async def get_operation_result(self, kind: str, job_id: JobID | None,
                                   trigger_id: str) -> OperationResult:
        """``kind``: savepoint (also stop-with-savepoint), checkpoint or disposal."""
        ...

    # ---- flame graphs
    async def request_vertex_flame_graph(
        self, job_id: JobID, vertex_id: str, graph_type: FlameGraphType,
        subtask_index: int | None,
    ) -> VertexFlameGraph:
        """The flame graph of a vertex (or one subtask of it) from its latest stack
        samples; "not ready" while the first are taken, "ended" for an ended job or vertex
        (see :mod:`strom.jobmanager.vertex_flame_graphs`)."""
        ...


    # ---- REST: TaskManagers' descriptions, logs and thread dumps; cluster shutdown
    async def request_task_manager_description(self, task_manager_id: str
                                               ) -> TaskManagerDescription: ...

    async def request_task_manager_log_list(self, task_manager_id: str
                                            ) -> list[LogFileInfo]: ...

    async def request_task_manager_log(self, task_manager_id: str, name: str,
                                       max_bytes: int) -> str: ...

    async def request_task_manager_thread_dump(self, task_manager_id: str
                                               ) -> list[ThreadInfo]: ...

    async def shutdown_cluster(self) -> None: ...


class ResourceManagerGateway(Protocol):
    async def register_task_executor(
        self, address: str, resource_id: ResourceID, num_slots: int
    ) -> ResourceID:
        """Register (again) the TaskExecutor at ``address``; returns the id of this
        ResourceManager, which its heartbeats carry."""
        ...

    async def request_slots(self, job_id: JobID, job_master_address: str, count: int) -> int: ...

    async def release_slots(self, job_id: JobID) -> None: ...

    async def free_slot_count(self) -> int: ...

    async def list_task_managers(self) -> list[TaskManagerInfo]: ...


class JobMasterGateway(Protocol):
    async def offer_slots(self, offers: list[SlotOffer]) -> list[AllocationID]: ...

    async def update_task_execution_state(self, state: TaskExecutionState) -> None: ...

    async def send_operator_event(
        self, execution_id: ExecutionAttemptID, operator_id: str, subtask: int, event: bytes
    ) -> None:
        """``event``: the cloudpickled event from a task's operator to its coordinator."""
        ...

    async def request_job_status(self) -> JobStatus: ...

    async def request_job_details(self) -> JobDetails: ...

    async def request_exception_history(self) -> JobExceptions: ...

    async def request_job_files(self) -> JobSubmission:
        """The job's shipped files and ``sys.path`` entries (relative to a job directory),
        for TaskExecutors that do not share the JobManager's file system."""
        ...

    async def deliver_coordination_request(self, operator_id: str, request: bytes) -> bytes:
        """A client's request to an operator coordinator (e.g. fetching collected results);
        ``request`` and the answer are the coordinator's own msgpack messages."""
        ...

    async def cancel(self) -> None: ...

    async def acknowledge_checkpoint(
        self, execution_id: ExecutionAttemptID, checkpoint_id: int, state: SerializedValue,
        stats: CheckpointAckStats | None = None,
    ) -> None:
        """A task took checkpoint ``checkpoint_id``; ``state`` holds its
        ``dict[state_id, SubtaskStateEntry]`` (handles to what it wrote), ``stats`` what it
        measured (durations)."""
        ...

    async def request_checkpoint_stats(self) -> CheckpointStatsSnapshot: ...

    async def decline_checkpoint(
        self, execution_id: ExecutionAttemptID, checkpoint_id: int, reason: SerializedError
    ) -> None:
        """A task could not take checkpoint ``checkpoint_id``: the checkpoint is aborted."""
        ...

    @no_timeout
    async def trigger_savepoint(self, target_dir: str, format_type: str,
                                cancel_job: bool) -> str: ...

    @no_timeout
    async def stop_with_savepoint(self, target_dir: str, drain: bool,
                                  format_type: str) -> str: ...

    @no_timeout
    async def trigger_checkpoint(self, full: bool) -> int: ...

    # ---- flame graphs
    async def request_vertex_flame_graph(self, vertex_id: str, graph_type: FlameGraphType,
                                         subtask_index: int | None) -> VertexFlameGraph: ...


class TaskExecutorGateway(Protocol):
    async def request_slot(
        self, slot_index: int, job_id: JobID, allocation_id: AllocationID,
        job_master_address: str,
    ) -> None: ...

    async def submit_task(self, tdd: TaskDeploymentDescriptor) -> None: ...

    async def cancel_task(self, execution_id: ExecutionAttemptID) -> None: ...

    async def send_operator_event(
        self, execution_id: ExecutionAttemptID, operator_id: str, event: SerializedValue
    ) -> None:
        """``event``: from a coordinator to a task's operator; by reference over plain
        ``local://`` (a split may carry a large share of the input, e.g. a collection's)."""
        ...

    async def free_slots(self, job_id: JobID) -> None: ...

    async def request_task_status(self) -> list[TaskStatus]: ...

    async def heartbeat_from_resource_manager(self, resource_manager_id: ResourceID
                                              ) -> SlotReport:
        """A heartbeat of the ResourceManager; the answer is this TaskExecutor's."""
        ...

    async def heartbeat_from_job_manager(self, job_id: JobID) -> list[ExecutionAttemptID]:
        """A heartbeat of the job's JobMaster; the answer names the job's tasks here."""
        ...

    async def trigger_checkpoint(
        self, execution_id: ExecutionAttemptID, checkpoint_id: int, timestamp: int, kind: str,
        location: str = "",
    ) -> None:
        """Start checkpoint ``checkpoint_id`` at a source task: ``kind`` is a
        ``CheckpointType`` value, ``location`` the URL of the directory its state files go
        to (empty: job-manager storage, state inline)."""
        ...

    async def notify_checkpoint_complete(
        self, execution_id: ExecutionAttemptID, checkpoint_id: int) -> None: ...

    async def notify_checkpoint_aborted(
        self, execution_id: ExecutionAttemptID, checkpoint_id: int) -> None: ...

    # ---- REST: the TaskManager's description, logs and thread dump (file_service)
    async def request_task_manager_description(self) -> TaskManagerDescription: ...

    async def request_log_list(self) -> list[LogFileInfo]: ...

    async def request_log(self, name: str, max_bytes: int) -> str: ...

    async def request_thread_dump(self) -> list[ThreadInfo]: ...

    # ---- flame graphs
    @no_timeout
    async def request_thread_info_samples(
        self, execution_ids: list[ExecutionAttemptID], num_samples: int, delay_ms: int,
        max_depth: int,
    ) -> list[ThreadInfoSample]:
        """Stack samples of the slot threads running these tasks, ``delay_ms`` apart (see
        :mod:`strom.taskmanager.stack_sampler`); answers after about ``num_samples *
        delay_ms``, so the caller bounds the wait itself."""
        ...

    # ---- metrics
    async def request_metric_dump(self) -> list[MetricDump]:
        """This TaskExecutor's metrics (its own, its jobs', tasks' and operators'), for the
        JobManager's metric fetcher."""
        ...
