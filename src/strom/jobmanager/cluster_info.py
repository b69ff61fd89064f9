"""What the Dispatcher reports about jobs, TaskManagers and the cluster (REST's data).

These Structs travel through the ``DispatcherGateway`` (so the REST handlers never touch a
component's fields) and hold only primitives, typed ids and enums. The REST layer turns
them into Flink's JSON shapes (:mod:`strom.jobmanager.rest.messages`).
"""

from __future__ import annotations

import msgspec

from strom.common.job import JobID, JobStatus
from strom.rpc.errors import SerializedError

__all__ = ["ClusterOverview", "ExceptionHistoryEntry", "JobDetails", "JobExceptions", "JobFile",
           "JobSubmission", "PlanInput", "PlanNode", "SubtaskDetails", "TaskManagerDetails",
           "VertexDetails", "aggregate_execution_state"]


class SubtaskDetails(msgspec.Struct, frozen=True):
    """One subtask's current attempt: its state, where it runs and when it changed state."""

    subtask: int
    status: str
    #: 0 for the first attempt, +1 per restart
    attempt: int
    #: the TaskManager's resource id ("" before the subtask has a slot)
    task_manager_id: str = ""
    #: the TaskManager's host ("" before the subtask has a slot)
    host: str = ""
    #: ``host:data port`` of its TaskManager (its host where the channels are in-process)
    endpoint: str = ""
    #: ExecutionState name → when this attempt entered it, epoch ms
    timestamps: dict[str, int] = {}


class PlanInput(msgspec.Struct, frozen=True):
    """One input edge of a plan node (Flink's ``JobPlanInfo`` input)."""

    num: int
    id: str
    ship_strategy: str
    exchange: str


class PlanNode(msgspec.Struct, frozen=True):
    id: str
    parallelism: int
    operator: str
    operator_strategy: str
    description: str
    inputs: list[PlanInput] = []


class VertexDetails(msgspec.Struct, frozen=True):
    """One JobVertex of a job: its subtasks counted by ExecutionState name."""

    vertex_id: str
    name: str
    parallelism: int
    max_parallelism: int
    #: the vertex's aggregate ExecutionState name (see :func:`aggregate_execution_state`)
    status: str
    #: ExecutionState name → number of subtasks in it
    tasks: dict[str, int]
    start_time: int
    end_time: int
    subtasks: list[SubtaskDetails] = []
    #: the subtasks' replaced attempts (after restarts), oldest first
    prior_attempts: list[SubtaskDetails] = []


class JobDetails(msgspec.Struct, frozen=True):
    """One job, running or ended (Flink's ``JobDetailsInfo`` as data)."""

    job_id: JobID
    name: str
    status: JobStatus
    #: STREAMING or BATCH
    job_type: str
    start_time: int
    #: -1 while the job runs
    end_time: int
    #: JobStatus name → when the job entered it (epoch ms)
    timestamps: dict[str, int]
    vertices: list[VertexDetails] = []
    #: the dataflow plan: one node per vertex with its inputs (REST's ``plan``)
    plan: list[PlanNode] = []
    #: the restart strategy, described (REST's ``/jobs/:jobid/config``)
    restart_strategy: str = ""
    #: the job's global job parameters (``user-config``)
    user_config: dict[str, str] = {}

    @property
    def last_modification(self) -> int:
        return max(self.timestamps.values(), default=self.start_time)


class ExceptionHistoryEntry(msgspec.Struct, frozen=True):
    """One failure the job saw (Flink's ``/jobs/:jobid/exceptions`` history entry)."""

    exception_name: str
    stacktrace: str
    #: when it was handled, epoch ms
    timestamp: int
    #: the failed subtask (``name (i/n)``), None for a failure of the job as a whole
    task_name: str | None = None
    #: the TaskManager it ran on: its host and data address or RPC address
    location: str | None = None
    task_manager_id: str | None = None
    failure_labels: dict[str, str] = {}
    #: failures that came with it (other tasks failing while the job restarted or failed)
    concurrent_exceptions: list[ExceptionHistoryEntry] = []
    #: the message of the exception (its first line in the stacktrace)
    message: str = ""


class JobExceptions(msgspec.Struct, frozen=True):
    """A job's failures: the exception history, newest first, and the root cause of a
    FAILED job."""

    history: list[ExceptionHistoryEntry]
    root_cause: SerializedError | None = None


class TaskManagerDetails(msgspec.Struct, frozen=True):
    """One registered TaskExecutor as the ResourceManager sees it."""

    resource_id: str
    address: str
    slots_number: int
    free_slots: int
    #: when its last heartbeat arrived at the ResourceManager, epoch ms
    last_heartbeat: int = 0


class ClusterOverview(msgspec.Struct, frozen=True):
    task_managers: int
    slots_total: int
    slots_available: int
    jobs_running: int
    jobs_finished: int
    jobs_cancelled: int
    jobs_failed: int


class JobFile(msgspec.Struct, frozen=True):
    """One file shipped with a job (Flink's user artifact): ``path`` is relative to the job's
    directory on the JobManager, with ``/`` separators and no ``..``."""

    path: str
    data: bytes


class JobSubmission(msgspec.Struct, frozen=True):
    """The files of a job and the ``sys.path`` entries (relative to the job's directory)
    that make them importable for its functions."""

    files: list[JobFile] = []
    python_path: list[str] = []


#: the order in which one subtask's state decides a vertex's aggregate state
_STATE_PRIORITY = ("FAILED", "CANCELING", "CANCELED", "RUNNING", "INITIALIZING", "DEPLOYING",
                   "SCHEDULED", "CREATED", "FINISHED")


def aggregate_execution_state(counts: dict[str, int]) -> str:
    """A vertex's state from its subtasks' states, as the web UI shows it: FINISHED only when
    all are, otherwise the most telling state present.

    >>> aggregate_execution_state({"FINISHED": 2, "RUNNING": 1})
    'RUNNING'
    """
    present = [state for state, n in counts.items() if n > 0]
    if present and all(state == "FINISHED" for state in present):
        return "FINISHED"
    for state in _STATE_PRIORITY:
        if state in present:
            return state
    return "CREATED"
