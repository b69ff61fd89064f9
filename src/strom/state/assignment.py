"""State assignment: which part of a checkpoint's state each subtask of a new program restores.

Flink's ``StateAssignmentOperation``, for a restore at the same or another parallelism:

* Operators are matched by ``state_id`` (the operator's uid, or its stable generated id).
  State of an operator the new program does not have fails the restore, unless
  ``allow_non_restored_state`` (``strom run -n``) drops it. Operators without state in the
  checkpoint never fail it.
* Keyed state is re-sliced by key group: new subtask ``i`` owns the key groups
  ``compute_key_group_range_for_operator_index(max_parallelism, parallelism, i)`` and gets the
  keyed handles of every old subtask whose range overlaps its own; its backend's ``restore``
  keeps only its own key groups. The max parallelism must stay what the checkpoint was
  taken with, and the new parallelism cannot exceed it.
* Operator state is redistributed by :func:`~strom.state.operator_state.redistribute_operator_state`:
  list state split evenly, union list state whole to every subtask, broadcast state copied.
  Its handles are read here (operator state is small: positions, pending commits, broadcast
  maps). Keyed handles are not read: the task reads them (``read_state``) when it restores.

The function does no I/O besides reading operator-state handles, and none at all for
checkpoints without operator state.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from strom.common import _pickling
from strom.state.checkpoint_metadata import CheckpointMetadata, OperatorStateEntry, StateHandle
from strom.state.checkpoint_storage import read_state
from strom.state.key_groups import compute_key_group_range_for_operator_index
from strom.state.operator_state import redistribute_operator_state
from strom.state.snapshots import OperatorStateSnapshot, RestoredOperatorState

__all__ = ["NewOperator", "StateAssignmentError", "assign_state"]

NewOperator = tuple[Any, int, int, Sequence[str]]
"""``(job vertex id, parallelism, max parallelism, state ids of its chained operators)``."""


class StateAssignmentError(ValueError):
    """A checkpoint's state cannot be mapped onto the new program."""


def assign_state(
    metadata: CheckpointMetadata,
    operators: Sequence[NewOperator],
    allow_non_restored_state: bool = False,
) -> dict[tuple[Any, int], dict[str, RestoredOperatorState]]:
    """Assign the state of ``metadata`` to the subtasks of the new program.

    Returns ``{(job vertex id, subtask index): {state_id: RestoredOperatorState}}`` for every
    subtask of the new program; every operator the checkpoint knows gets a
    ``RestoredOperatorState`` (so it knows it is restored, as Flink's ``isRestored()``), even
    with nothing in it; operators new to the program get none. ``keyed`` holds the
    overlapping keyed handles (a :data:`~strom.state.checkpoint_metadata.StateHandle` each,
    in old-subtask order); ``operator`` this subtask's share of the operator state, or
    ``None``.
    """
    where = f"checkpoint/savepoint {metadata.checkpoint_id} of job {metadata.job_id}"
    new_by_state_id: dict[str, tuple[Any, int, int]] = {}
    for vertex_id, parallelism, max_parallelism, state_ids in operators:
        for state_id in state_ids:
            new_by_state_id[state_id] = (vertex_id, parallelism, max_parallelism)

    assigned: dict[tuple[Any, int], dict[str, RestoredOperatorState]] = {
        (vertex_id, index): {}
        for vertex_id, parallelism, _, _ in operators for index in range(parallelism)
    }
    for entry in metadata.operators:
        target = new_by_state_id.get(entry.state_id)
        if target is None:
            if allow_non_restored_state or not _has_state(entry):
                continue
            raise StateAssignmentError(
                f"Failed to rollback to {where}. Cannot map checkpoint/savepoint state for "
                f"operator {entry.state_id} ({entry.name!r}) to the new program, because the "
                "operator is not available in the new program. If you want to allow to skip "
                "this, you can set the --allowNonRestoredState option on the CLI."
            )
        vertex_id, parallelism, max_parallelism = target
        if _has_state(entry):
            _check_parallelism(entry, parallelism, max_parallelism, where)
        for index, restored in enumerate(_assign_operator(entry, metadata, parallelism)):
            assigned[(vertex_id, index)][entry.state_id] = restored
    return assigned


def _has_state(entry: OperatorStateEntry) -> bool:
    return entry.coordinator_state is not None or any(
        s.keyed is not None or s.operator is not None or s.channel_state is not None
        for s in entry.subtasks.values()
    )


def _check_parallelism(
    entry: OperatorStateEntry, parallelism: int, max_parallelism: int, where: str
) -> None:
    if entry.max_parallelism != max_parallelism:
        raise StateAssignmentError(
            f"Failed to rollback to {where}. The state of operator {entry.state_id} "
            f"({entry.name!r}) can not be restored: the maximum parallelism "
            f"({entry.max_parallelism}) of the restored state is not identical to the "
            f"configured maximum parallelism ({max_parallelism}) of the operator. Keyed state "
            "is split into max-parallelism key groups, so it must stay fixed: set the "
            f"operator's max parallelism back to {entry.max_parallelism} "
            "(set_max_parallelism, or pipeline.max-parallelism)."
        )
    if parallelism > entry.max_parallelism:
        raise StateAssignmentError(
            f"Failed to rollback to {where}. The state of operator {entry.state_id} "
            f"({entry.name!r}) can not be restored: the maximum parallelism "
            f"({entry.max_parallelism}) of the restored state is lower than the configured "
            f"parallelism ({parallelism}). Please reduce the parallelism of the task to be "
            "lower or equal to the maximum parallelism."
        )


def _assign_operator(
    entry: OperatorStateEntry, metadata: CheckpointMetadata, parallelism: int
) -> list[RestoredOperatorState]:
    old = [entry.subtasks[i] for i in sorted(entry.subtasks)]
    operator_shares: list[OperatorStateSnapshot | None] = [None] * parallelism
    old_operator = [_load_operator(s.operator) for s in old]
    if any(s is not None for s in old_operator):
        by_index: list[OperatorStateSnapshot | None] = [None] * entry.parallelism
        for index, snapshot in zip(sorted(entry.subtasks), old_operator):
            if 0 <= index < entry.parallelism:
                by_index[index] = snapshot
        shares = redistribute_operator_state(by_index, parallelism)
        operator_shares = [None if s.is_empty() else s for s in shares]

    out: list[RestoredOperatorState] = []
    for index in range(parallelism):
        own = compute_key_group_range_for_operator_index(
            entry.max_parallelism, parallelism, index)
        keyed: list[StateHandle] = []
        for subtask in old:
            if subtask.keyed is None:
                continue
            unknown_range = subtask.key_group_end < subtask.key_group_start
            if unknown_range or (
                subtask.key_group_start <= own.end and own.start <= subtask.key_group_end
            ):
                keyed.append(subtask.keyed)
        out.append(RestoredOperatorState(
            metadata.checkpoint_id, tuple(keyed), operator_shares[index]))
    return out


def _load_operator(handle: StateHandle | None) -> OperatorStateSnapshot | None:
    if handle is None:
        return None
    snapshot = _pickling.loads(read_state(handle))
    if not isinstance(snapshot, OperatorStateSnapshot):
        raise StateAssignmentError(
            f"an operator state handle holds {type(snapshot).__name__}, not an "
            "OperatorStateSnapshot: the checkpoint was not written by strom, or is damaged"
        )
    return snapshot
