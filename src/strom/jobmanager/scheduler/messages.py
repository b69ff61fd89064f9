"""What the scheduler core takes in (events) and gives out (commands): plain data.

The JobMaster turns RPCs, heartbeat losses and timers into events, feeds them to
:class:`~strom.jobmanager.scheduler.core.SchedulerCore`, and carries out the commands it
returns, in order. Nothing here does I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

from strom.common.job import JobStatus
from strom.graph.execution_graph import Execution
from strom.graph.ids import AllocationID
from strom.jobmanager.cluster_info import ExceptionHistoryEntry
from strom.rpc.errors import SerializedError
from strom.rpc.messages import ExecutionState, SlotOffer

__all__ = [
    "AbortCheckpoints", "AcceptSlots", "CancelExecutions", "CancelRequested",
    "CheckpointCompleted", "Command", "DeployExecutions", "Event", "ExceptionHistoryEntry",
    "FinishJob", "GlobalFailure", "JobStatusChanged", "ReleaseSlots", "RequestSlots",
    "RestoreState", "ScheduleTimer", "SlotRequestAnswered", "SlotsOffered", "Start",
    "TaskManagerLost", "TaskStateChanged", "TimerFired",
]


# ------------------------------------------------------------------ events
@dataclass(frozen=True)
class Start:
    """The JobMaster is up: schedule the job."""


@dataclass(frozen=True)
class SlotsOffered:
    offers: list[SlotOffer]


@dataclass(frozen=True)
class SlotRequestAnswered:
    """The ResourceManager answered a :class:`RequestSlots`: ``granted`` of ``requested``
    (it grants all or none; the granted slots arrive later as offers)."""

    requested: int
    granted: int


@dataclass(frozen=True)
class TaskStateChanged:
    execution_id: str
    state: ExecutionState
    error: SerializedError | None = None


@dataclass(frozen=True)
class TaskManagerLost:
    """The TaskExecutor at ``address`` stopped answering; ``error`` says so (the failure of
    the tasks that ran there)."""

    address: str
    error: SerializedError


@dataclass(frozen=True)
class GlobalFailure:
    """A failure of the job as a whole (a source coordinator, deployment, slots).
    ``recoverable=False``: no restart can help (the job's functions cannot be serialized)."""

    error: SerializedError
    recoverable: bool = True


@dataclass(frozen=True)
class CheckpointCompleted:
    checkpoint_id: int


@dataclass(frozen=True)
class TimerFired:
    token: int


@dataclass(frozen=True)
class CancelRequested:
    """Cancel the job (``strom cancel``, ``PATCH /jobs/:jobid``)."""


Event = (Start | SlotsOffered | SlotRequestAnswered | TaskStateChanged | TaskManagerLost
         | GlobalFailure | CheckpointCompleted | TimerFired | CancelRequested)


# ------------------------------------------------------------------ commands
@dataclass(frozen=True)
class RequestSlots:
    """Ask the ResourceManager for ``count`` more slots (answer: :class:`SlotRequestAnswered`)."""

    count: int


@dataclass(frozen=True)
class AcceptSlots:
    """The answer to :class:`SlotsOffered`: the offers the job keeps."""

    allocation_ids: list[AllocationID]


@dataclass(frozen=True)
class DeployExecutions:
    """Submit these executions (their slot is set on each) with ``job_attempt`` in their
    channel keys."""

    executions: list[Execution]
    job_attempt: int


@dataclass(frozen=True)
class CancelExecutions:
    executions: list[Execution]


@dataclass(frozen=True)
class ReleaseSlots:
    """Give all of the job's slots back to the ResourceManager (the job has ended)."""


@dataclass(frozen=True)
class ScheduleTimer:
    """Feed ``TimerFired(token)`` back after ``delay_ms``."""

    token: int
    delay_ms: int


@dataclass(frozen=True)
class AbortCheckpoints:
    """A failover begins: checkpoints in flight cannot complete; stop triggering new ones."""

    reason: str


@dataclass(frozen=True)
class RestoreState:
    """These new attempts restart: give them the state of the latest completed checkpoint
    (if any), reset the source coordinators of their subtasks (``is_global``: all of them),
    and trigger checkpoints again once they run."""

    executions: list[Execution]
    is_global: bool
    latest_checkpoint_id: int | None = None


@dataclass(frozen=True)
class JobStatusChanged:
    status: JobStatus


@dataclass(frozen=True)
class FinishJob:
    """The job ended with ``status``; ``error`` is the root cause of a FAILED job."""

    status: JobStatus
    error: SerializedError | None = None


Command = (RequestSlots | AcceptSlots | DeployExecutions | CancelExecutions | ReleaseSlots
           | ScheduleTimer | AbortCheckpoints | RestoreState | JobStatusChanged | FinishJob)

