"""Control messages between the JobManager's components and the TaskExecutors."""

from __future__ import annotations

import enum
from typing import Any

import msgspec

__all__ = ["ExecutionState", "InputChannelSpec", "OutputSpec", "SlotOffer",
           "TaskDeploymentDescriptor", "TaskExecutionState"]


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


class InputChannelSpec(msgspec.Struct, frozen=True):
    """One network input edge of a task and the producer subtasks it reads from."""

    edge_id: str
    #: 0 for the first (or only) logical input, 1 for the second input of two-input operators
    input_index: int
    producer_subtasks: list[int]


class OutputSpec(msgspec.Struct, frozen=True):
    """One network output edge of a task and the consumer subtasks it writes to."""

    edge_id: str
    consumer_subtasks: list[int]


class TaskDeploymentDescriptor(msgspec.Struct):
    job_id: str
    job_name: str
    job_attempt: int
    vertex_id: str
    task_name: str
    subtask_index: int
    parallelism: int
    max_parallelism: int
    attempt_number: int
    execution_id: str
    allocation_id: str
    #: the vertex's operator chain, cloudpickled (user functions travel this way)
    serialized_operators: bytes
    inputs: list[InputChannelSpec]
    outputs: list[OutputSpec]
    config: dict[str, Any]


class TaskExecutionState(msgspec.Struct):
    job_id: str
    execution_id: str
    state: ExecutionState
    #: the failure (an exception object over local RPC)
    error: Any = None


class SlotOffer(msgspec.Struct, frozen=True):
    allocation_id: str
    slot_index: int
    task_executor_address: str
