"""Checkpoint stats of incremental rocksdb state: the upload reports the full size (all SST
files) and the checkpointed size (the files it uploaded now), not the size of the handle
that points at them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from backend_conformance import OPEN_ROCKSDB_BACKENDS, FakeClock

from strom.common.job import JobID
from strom.datastream.state import ValueStateDescriptor
from strom.graph.ids import AllocationID, ExecutionAttemptID
from strom.jobmanager.checkpoint.stats import CheckpointAckStats
from strom.network.elements import CheckpointBarrier
from strom.rpc.messages import TaskDeploymentDescriptor
from strom.state.checkpoint_storage import CheckpointStorage
from strom.state.key_groups import KeyGroupRange
from strom.state.namespaces import VOID_NAMESPACE
from strom.state.rocksdb_backend import RocksDBKeyedStateBackend
from strom.state.snapshots import OperatorSubtaskState
from strom.taskmanager.checkpoint_uploads import (
    _with_incremental_sizes,
    upload_subtask_states,
)


def _tdd() -> TaskDeploymentDescriptor:
    return TaskDeploymentDescriptor(
        job_id=JobID.generate(), job_name="j", job_attempt=0, vertex_id="v", task_name="t",
        subtask_index=0, parallelism=1, max_parallelism=128, attempt_number=0,
        execution_id=ExecutionAttemptID(), allocation_id=AllocationID(),
        serialized_operators=b"", inputs=[], outputs=[], config={})


def _write(backend: Any, keys: range) -> None:
    state = backend.get_partitioned_state(VOID_NAMESPACE, ValueStateDescriptor("v"))
    for key in keys:
        backend.set_current_key(key)
        state.update("x" * 100)


def test_incremental_state_reports_full_and_uploaded_sizes(tmp_path: Path) -> None:
    storage = CheckpointStorage(str(tmp_path / "checkpoints"), "job")
    storage.initialize()
    backend = RocksDBKeyedStateBackend(128, KeyGroupRange(0, 127), FakeClock())
    OPEN_ROCKSDB_BACKENDS.append(backend)
    tdd = _tdd()
    reported = []
    for checkpoint_id, keys in ((1, range(2000)), (2, range(2000, 2100))):
        _write(backend, keys)
        sizes: dict[str, tuple[int, int]] = {}
        barrier = CheckpointBarrier(checkpoint_id, 0,
                                    location=storage.checkpoint_location(checkpoint_id).url)
        states = {"s": (OperatorSubtaskState(keyed=backend.snapshot_incremental(checkpoint_id)),
                        None)}
        entries = upload_subtask_states(tdd, barrier, states, sizes=sizes)
        backend.notify_checkpoint_complete(checkpoint_id)
        stats = _with_incremental_sizes(CheckpointAckStats(), entries, sizes)
        reported.append((sizes["s"], stats))
    (first_full, first_new), first = reported[0]
    (second_full, second_new), second = reported[1]
    # the first uploads everything; the second only its new files, of a larger state
    assert first_full == first_new > 10_000
    assert second_full > first_full and 0 < second_new < second_full
    # the handle (a few hundred bytes pointing at the files) does not count
    assert first.state_size == first_full and first.checkpointed_size == first_new
    assert second.state_size == second_full and second.checkpointed_size == second_new
