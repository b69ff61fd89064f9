"""The upload half of task snapshots, without a cluster: operator state is frozen in the
task's thread, keyed state materialized and written later, and the outcome reaches the
TaskExecutor's loop as an acknowledgement or a decline."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from strom.common import _pickling
from strom.common.job import JobID
from strom.graph.ids import AllocationID, ExecutionAttemptID
from strom.network.elements import CheckpointBarrier
from strom.rpc.messages import TaskDeploymentDescriptor
from strom.state.checkpoint_metadata import ByteStreamStateHandle, FileStateHandle
from strom.state.checkpoint_storage import read_state
from strom.state.snapshots import OperatorStateSnapshot, OperatorSubtaskState
from strom.taskmanager.checkpoint_uploads import (
    CheckpointUploads,
    freeze_operator_state,
    upload_subtask_states,
)


def _tdd(subtask: int = 1, parallelism: int = 2) -> TaskDeploymentDescriptor:
    return TaskDeploymentDescriptor(
        job_id=JobID.generate(), job_name="j", job_attempt=0, vertex_id="v", task_name="t",
        subtask_index=subtask, parallelism=parallelism, max_parallelism=128,
        attempt_number=0, execution_id=ExecutionAttemptID(), allocation_id=AllocationID(),
        serialized_operators=b"", inputs=[], outputs=[], config={})


def test_operator_state_is_frozen_when_the_snapshot_is_taken() -> None:
    position = {"offset": 3}
    states = {"src": OperatorSubtaskState(
        operator=OperatorStateSnapshot(list_states={"splits": [position]}))}
    frozen = freeze_operator_state(states)
    position["offset"] = 99  # the reader reads on after the barrier
    entries = upload_subtask_states(_tdd(), CheckpointBarrier(1, 0), frozen)
    handle = entries["src"].operator
    assert handle is not None
    restored = _pickling.loads(read_state(handle))
    assert restored.list_states == {"splits": [{"offset": 3}]}


def test_deferred_keyed_state_runs_at_upload_and_large_state_goes_to_a_file(
        tmp_path: Path) -> None:
    ran: list[str] = []

    def deferred() -> Any:
        ran.append(threading.current_thread().name)
        return b"x" * 50_000

    frozen = freeze_operator_state({"keyed": OperatorSubtaskState(keyed=deferred)})
    assert ran == []
    entries = upload_subtask_states(
        _tdd(1, 2), CheckpointBarrier(4, 0, location=f"file://{tmp_path}/chk-4"), frozen)
    entry = entries["keyed"]
    assert ran and isinstance(entry.keyed, FileStateHandle)
    assert entry.keyed.url.startswith(f"file://{tmp_path}/chk-4/")
    assert _pickling.loads(read_state(entry.keyed)) == b"x" * 50_000
    assert (entry.key_group_start, entry.key_group_end) == (64, 127)


def test_without_a_location_state_is_inline() -> None:
    entries = upload_subtask_states(
        _tdd(), CheckpointBarrier(1, 0),
        freeze_operator_state({"k": OperatorSubtaskState(keyed=b"y" * 50_000)}))
    assert isinstance(entries["k"].keyed, ByteStreamStateHandle)


def test_uploads_acknowledge_or_decline_on_the_loop() -> None:
    outcomes: list[tuple[str, int, Any]] = []
    done = threading.Event()

    def on_loop(fn: Any) -> None:
        fn()
        done.set()

    uploads = CheckpointUploads(
        "te", on_loop,
        acknowledge=lambda tdd, cid, entries: outcomes.append(("ack", cid, sorted(entries))),
        decline=lambda tdd, cid, error: outcomes.append(("decline", cid, str(error))))

    def failing() -> Any:
        raise OSError("disk full")

    try:
        uploads.snapshot_taken(_tdd(), CheckpointBarrier(1, 0),
                               {"a": OperatorSubtaskState(keyed=b"k")})
        assert done.wait(10)
        done.clear()
        uploads.snapshot_taken(_tdd(), CheckpointBarrier(2, 0),
                               {"a": OperatorSubtaskState(keyed=failing)})
        assert done.wait(10)
    finally:
        uploads.close()
    assert outcomes == [("ack", 1, ["a"]), ("decline", 2, "disk full")]
