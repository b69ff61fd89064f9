"""What a task hands on when it has snapshotted its chain, and the shapes a snapshot takes.

``StreamOperator.snapshot_state`` returns an :class:`OperatorSubtaskState` (or None). Older
operators returned a keyed backend's snapshot, or a plain picklable value (a source reader's
splits): :func:`subtask_state` turns those into the same shape, a plain value becoming the
operator state's ``raw`` list state.
"""

from __future__ import annotations

from typing import Any, Protocol

from strom.common import _pickling
from strom.network.elements import CheckpointBarrier
from strom.rpc.messages import TaskDeploymentDescriptor
from strom.state.checkpoint_metadata import ByteStreamStateHandle, FileStateHandle
from strom.state.checkpoint_storage import read_state
from strom.state.snapshots import (
    KeyedStateSnapshot,
    OperatorStateSnapshot,
    OperatorSubtaskState,
    RestoredOperatorState,
)

__all__ = ["RAW_OPERATOR_STATE", "CheckpointListener", "CheckpointSkippedError",
           "keyed_backend_state", "restored_states", "subtask_state"]

#: the list state a plain snapshot value is kept under
RAW_OPERATOR_STATE = "strom.raw"


class CheckpointSkippedError(RuntimeError):
    """A task did not take part in a checkpoint for a reason that is not a failure: it was
    not running yet or finishing, or the checkpoint was subsumed or cancelled upstream.
    Declines for this reason do not count toward ``tolerable-failed-checkpoints`` (Flink's
    ``CHECKPOINT_DECLINED_TASK_NOT_READY``, ``..._SUBSUMED``, ``..._ON_CANCELLATION_BARRIER``)."""


class CheckpointListener(Protocol):
    """The task's TaskExecutor: uploads snapshots and acknowledges or declines them (both
    called in the task's thread; they must not block it). An unaligned checkpoint's snapshot
    is handed on once its channel state is complete."""

    def snapshot_taken(self, tdd: TaskDeploymentDescriptor, barrier: CheckpointBarrier,
                       states: dict[str, OperatorSubtaskState],
                       channel_state: tuple[str, bytes] | None = None) -> None:
        """``channel_state``: an unaligned checkpoint's (head state id, pickled
        ``ChannelState``)."""

    def declined(self, tdd: TaskDeploymentDescriptor, checkpoint_id: int,
                 error: BaseException) -> None: ...


def keyed_backend_state(backend: Any) -> OperatorSubtaskState:
    """A keyed operator's snapshot: the backend's deferred snapshot when it has one (the
    synchronous part runs now, the rest on the upload thread), else its full snapshot."""
    for_checkpoint = getattr(backend, "checkpoint_snapshot", None)
    if for_checkpoint is not None:  # rocksdb: incremental or canonical, as configured
        return OperatorSubtaskState(keyed=for_checkpoint())
    deferred = getattr(backend, "snapshot_deferred", None)
    if deferred is not None:
        return OperatorSubtaskState(keyed=deferred())
    return OperatorSubtaskState(keyed=backend.snapshot())


def subtask_state(snapshot: Any) -> OperatorSubtaskState | None:
    """``snapshot_state``'s answer as an :class:`OperatorSubtaskState` (None: no state)."""
    if snapshot is None or isinstance(snapshot, OperatorSubtaskState):
        return snapshot
    if isinstance(snapshot, KeyedStateSnapshot):
        return OperatorSubtaskState(keyed=snapshot)
    if isinstance(snapshot, OperatorStateSnapshot):
        return OperatorSubtaskState(operator=snapshot)
    return OperatorSubtaskState(
        operator=OperatorStateSnapshot(list_states={RAW_OPERATOR_STATE: [snapshot]}))


def _resolve(value: Any) -> Any:
    """A state handle's unpickled content; anything else as it is."""
    if isinstance(value, (ByteStreamStateHandle, FileStateHandle)):
        return _pickling.loads(read_state(value))
    return value


def restored_states(assigned: dict[str, RestoredOperatorState]
                    ) -> dict[str, RestoredOperatorState]:
    """A subtask's assigned state with its handles read and unpickled (the keyed snapshots
    a backend restores, the operator state an operator reads from ``ctx.restored``)."""
    return {state_id: RestoredOperatorState(
                state.checkpoint_id, tuple(_resolve(k) for k in state.keyed),
                _resolve(state.operator), _resolve(state.channel_state))
            for state_id, state in assigned.items()}
