"""State assignment: which part of a checkpoint's state each subtask of a new program restores.

A stand-in until the full version (operator state redistributed at another parallelism):
operators are matched by ``state_id``; keyed state is re-sliced by key group (each new
subtask gets the keyed handles of every old subtask whose key-group range overlaps its own,
and its backend keeps only its own key groups); operator state is restored only at the same
parallelism.
"""

from __future__ import annotations

from typing import Any

from strom.common import _pickling
from strom.state.checkpoint_metadata import CheckpointMetadata, StateHandle
from strom.state.checkpoint_storage import read_state
from strom.state.key_groups import compute_key_group_range_for_operator_index
from strom.state.snapshots import RestoredOperatorState

__all__ = ["assign_state"]


def assign_state(
    metadata: CheckpointMetadata,
    operators: list[tuple[Any, int, int, list[str]]],
    allow_non_restored_state: bool,
) -> dict[tuple[Any, int], dict[str, RestoredOperatorState]]:
    """Per ``(vertex id, subtask)`` of the new program (``operators``: vertex id,
    parallelism, max parallelism, the state ids of its chain), the state each of its
    operators restores."""
    known = {state_id for *_, state_ids in operators for state_id in state_ids}
    for entry in metadata.operators:
        has_state = any(s.keyed is not None or s.operator is not None
                        for s in entry.subtasks.values())
        if entry.state_id not in known and has_state and not allow_non_restored_state:
            raise ValueError(
                f"Failed to rollback to checkpoint/savepoint {metadata.checkpoint_id}. Cannot "
                f"map checkpoint/savepoint state for operator {entry.state_id} "
                f"('{entry.name}') to the new program, because the operator is not available "
                "in the new program. If you want to allow to skip this, you can set the "
                "--allowNonRestoredState option on the CLI.")
    assigned: dict[tuple[Any, int], dict[str, RestoredOperatorState]] = {}
    for vertex_id, parallelism, max_parallelism, state_ids in operators:
        for subtask in range(parallelism):
            mine = compute_key_group_range_for_operator_index(
                max_parallelism, parallelism, subtask)
            states: dict[str, RestoredOperatorState] = {}
            for state_id in state_ids:
                found = metadata.operator(state_id)
                if found is None:
                    continue
                entry = found
                if entry.max_parallelism != max_parallelism:
                    raise ValueError(
                        f"The maximum parallelism ({max_parallelism}) of the restored "
                        f"operator '{entry.name}' differs from the one of the checkpoint "
                        f"({entry.max_parallelism}); keep pipeline.max-parallelism as it was.")
                keyed = tuple(
                    s.keyed for s in entry.subtasks.values() if s.keyed is not None
                    and s.key_group_start <= mine.end and mine.start <= s.key_group_end)
                operator = None
                old = entry.subtasks.get(subtask)
                if old is not None and old.operator is not None:
                    if entry.parallelism != parallelism:
                        raise ValueError(
                            f"Operator '{entry.name}' has operator state in checkpoint "
                            f"{metadata.checkpoint_id} at parallelism {entry.parallelism}; "
                            f"restoring it at parallelism {parallelism} is not supported yet.")
                    operator = _load(old.operator)
                states[state_id] = RestoredOperatorState(metadata.checkpoint_id, keyed, operator)
            assigned[(vertex_id, subtask)] = states
    return assigned


def _load(handle: StateHandle) -> Any:
    return _pickling.loads(read_state(handle))
