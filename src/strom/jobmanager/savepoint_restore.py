"""Starting a job from a savepoint (``strom run -s``, ``execution.state-recovery.path``).

When the JobMaster first deploys a job whose JobGraph carries
:class:`~strom.common.job.SavepointRestoreSettings`, it reads the savepoint's ``_metadata``,
assigns its state to the new job's subtasks (:func:`strom.state.assignment.assign_state`:
operators matched by their state id, keyed state re-sliced by key group when the
parallelism changed, operator state redistributed), resets the source enumerators to their
checkpointed state, and deploys each subtask with its share. The savepoint itself is never
modified or deleted (Flink's NO_CLAIM mode).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from strom.graph.job_graph import JobGraph
from strom.jobmanager.savepoints import storage_path

__all__ = ["SavepointRestore", "load_savepoint_restore"]


@dataclass
class SavepointRestore:
    """What a savepoint gives the job's first deployment."""

    #: the savepoint's path as the user gave it
    path: str
    checkpoint_id: int
    #: (vertex id, subtask) -> ``dict[state_id, RestoredOperatorState]``
    subtask_states: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    #: state id of a source -> its enumerator's checkpointed state
    coordinator_states: dict[str, bytes] = field(default_factory=dict)


def load_savepoint_restore(job_graph: JobGraph) -> SavepointRestore | None:
    """Read and assign the savepoint the job starts from, or None when it starts empty.
    Blocking I/O: call it off the JobMaster's loop. Raises when the savepoint cannot be
    read, or holds state no operator of the job takes and ``-n`` was not given."""
    settings = job_graph.savepoint_restore_settings
    if not settings.restore_savepoint():
        return None
    from strom.state.assignment import assign_state
    from strom.state.checkpoint_storage import read_metadata, read_state

    assert settings.restore_path is not None
    try:
        metadata = read_metadata(storage_path(settings.restore_path))
    except Exception as e:
        e.add_note(f"strom: job '{job_graph.name}' was to start from the savepoint "
                   f"{settings.restore_path} (strom run -s, execution.state-recovery.path); "
                   "give the path 'strom savepoint' or 'strom stop' printed.")
        raise
    operators = [(vertex.id, vertex.parallelism, vertex.max_parallelism,
                  [op.state_id for op in vertex.operators])
                 for vertex in job_graph.vertices]
    assignment = assign_state(metadata, operators, settings.allow_non_restored_state)
    restore = SavepointRestore(settings.restore_path, metadata.checkpoint_id)
    for (vertex_id, subtask), states in assignment.items():
        restore.subtask_states[(str(vertex_id), subtask)] = states
    for entry in metadata.operators:
        if entry.coordinator_state is not None:
            restore.coordinator_states[entry.state_id] = read_state(entry.coordinator_state)
    return restore
