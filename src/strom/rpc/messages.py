"""Control messages between the JobManager's components and the TaskExecutors.

Everything a gateway takes or returns is one of these msgspec Structs, a primitive, a typed
id (``JobID``, ``AllocationID``, ``ExecutionAttemptID``, ``ResourceID``) or an enum
(``JobStatus``, :class:`ExecutionState`). User code and user objects (the JobGraph, the
operators of a task, source events) travel as cloudpickled bytes or in a
:class:`SerializedValue`; failures travel as a :class:`~strom.rpc.errors.SerializedError`.
"""

from __future__ import annotations

import enum
from typing import Any

import msgspec

from strom.common import _pickling
from strom.common.job import JobID, JobStatus
from strom.graph.ids import AllocationID, ExecutionAttemptID, ResourceID
from strom.rpc.errors import SerializedError

__all__ = ["ExecutionState", "InputChannelSpec", "JobOverview", "OutputSpec",
           "ProducerLocation", "SerializedValue", "SlotOffer", "SlotReport", "SlotStatus",
           "TaskDeploymentDescriptor", "TaskExecutionState", "TaskManagerInfo", "TaskStatus"]


class ExecutionState(enum.Enum):
    CREATED = "CREATED"
    SCHEDULED = "SCHEDULED"
    DEPLOYING = "DEPLOYING"
    INITIALIZING = "INITIALIZING"
    RUNNING = "RUNNING"
    FINISHED = "FINISHED"
    CANCELING = "CANCELING"
    CANCELED = "CANCELED"
    FAILED = "FAILED"

    @property
    def is_terminal(self) -> bool:
        return self in (ExecutionState.FINISHED, ExecutionState.CANCELED, ExecutionState.FAILED)


class SerializedValue:
    """A user object that crosses the RPC boundary cloudpickled (Flink's ``SerializedValue``).

    Over a serializing transport (``tcp://``, or ``local://`` in codec mode) the codec sends
    its cloudpickled bytes and the receiver gets a ``SerializedValue`` of those bytes. Over the
    plain ``local://`` transport the object itself is handed over by reference, so a local
    submission does not pickle the whole JobGraph; its receiver must treat it as read-only.

    >>> SerializedValue.from_bytes(SerializedValue([1, 2]).to_bytes()).value()
    [1, 2]
    """

    __slots__ = ("_data", "_value")

    _UNSET: Any = object()

    def __init__(self, value: Any) -> None:
        self._value = value
        self._data: bytes | None = None

    @classmethod
    def from_bytes(cls, data: bytes) -> SerializedValue:
        serialized = cls(cls._UNSET)
        serialized._data = bytes(data)
        return serialized

    def to_bytes(self) -> bytes:
        if self._data is None:
            self._data = _pickling.dumps(self._value)
        return self._data

    def value(self) -> Any:
        """The object (unpickled once, on first use, when it arrived as bytes)."""
        if self._value is SerializedValue._UNSET:
            assert self._data is not None
            self._value = _pickling.loads(self._data)
        return self._value

    def __repr__(self) -> str:
        if self._value is SerializedValue._UNSET:
            return f"SerializedValue(<{len(self._data or b'')} bytes>)"
        return f"SerializedValue({type(self._value).__name__})"


class ProducerLocation(msgspec.Struct, frozen=True):
    """Where a producer subtask runs: its TaskManager and that TaskManager's data address
    (``host:port``, empty when the cluster's channels are all in one process)."""

    resource_id: ResourceID
    data_address: str = ""


class InputChannelSpec(msgspec.Struct, frozen=True):
    """One network input edge of a task and the producer subtasks it reads from."""

    edge_id: str
    #: 0 for the first (or only) logical input, 1 for the second input of two-input operators
    input_index: int
    producer_subtasks: list[int]
    #: per producer subtask, where it runs (empty: all in this process)
    producer_locations: list[ProducerLocation] = []


class OutputSpec(msgspec.Struct, frozen=True):
    """One network output edge of a task and the consumer subtasks it writes to."""

    edge_id: str
    consumer_subtasks: list[int]


class TaskDeploymentDescriptor(msgspec.Struct):
    job_id: JobID
    job_name: str
    job_attempt: int
    vertex_id: str
    task_name: str
    subtask_index: int
    parallelism: int
    max_parallelism: int
    attempt_number: int
    execution_id: ExecutionAttemptID
    allocation_id: AllocationID
    #: the vertex's operator chain, cloudpickled (user functions travel this way)
    serialized_operators: bytes
    inputs: list[InputChannelSpec]
    outputs: list[OutputSpec]
    #: the job's settings: primitives only (msgpack), user objects travel pickled
    config: dict[str, Any]
    #: the state this subtask starts from (a restore from a checkpoint or savepoint): a
    #: ``dict[state_id, RestoredOperatorState]``; None on a fresh start
    restored: SerializedValue | None = None


class TaskExecutionState(msgspec.Struct):
    job_id: JobID
    execution_id: ExecutionAttemptID
    state: ExecutionState
    #: why the task failed (with ``state`` FAILED)
    error: SerializedError | None = None


class SlotOffer(msgspec.Struct, frozen=True):
    allocation_id: AllocationID
    slot_index: int
    task_executor_address: str
    #: the offering TaskExecutor (named when it is lost) and its data address, for its
    #: consumers' channels
    location: ProducerLocation | None = None


class SlotStatus(msgspec.Struct, frozen=True):
    """One slot of a TaskExecutor: free, or allocated to a job."""

    slot_index: int
    job_id: JobID | None = None
    allocation_id: AllocationID | None = None


class SlotReport(msgspec.Struct, frozen=True):
    """A TaskExecutor's slots, as its heartbeats to the ResourceManager report them."""

    resource_id: ResourceID
    slots: list[SlotStatus]


class TaskManagerInfo(msgspec.Struct, frozen=True):
    """One registered TaskExecutor as the ResourceManager sees it."""

    resource_id: ResourceID
    address: str
    num_slots: int
    free_slots: int
    #: when its last heartbeat arrived, epoch ms (its registration until the first one)
    last_heartbeat: int


class JobOverview(msgspec.Struct, frozen=True):
    """One line of ``Dispatcher.list_jobs``."""

    job_id: JobID
    job_name: str
    status: JobStatus


class TaskStatus(msgspec.Struct, frozen=True):
    """One task of a TaskExecutor as ``request_task_status`` reports it."""

    execution_id: ExecutionAttemptID
    name: str
    state: ExecutionState
    #: when the task next has processing-time work (a timer, a periodic watermark), epoch ms
    next_processing_time: int | None = None


# ---- flame graphs
class ThreadInfoSample(msgspec.Struct, frozen=True):
    """Identical stack samples of the slot thread running one task (Flink's
    ``ThreadInfoSample``, counted instead of repeated): what a TaskExecutor answers to
    ``request_thread_info_samples``.

    ``frames`` run from the outermost frame to the innermost, each ``function (file:line)``;
    ``on_cpu`` says whether the thread was working or waiting
    (:mod:`strom.taskmanager.stack_sampler` defines the two)."""

    execution_id: ExecutionAttemptID
    frames: list[str]
    on_cpu: bool
    #: how many samples had this stack and state
    count: int = 1


__all__ += ["ThreadInfoSample"]
