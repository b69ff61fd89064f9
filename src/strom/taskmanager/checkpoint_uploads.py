"""The asynchronous part of task snapshots: one background thread per TaskExecutor resolves
each snapshot's deferred part, pickles it, writes it to checkpoint storage and hands the
handles back to the TaskExecutor's loop, which acknowledges them to the JobMaster.

A task's thread only captures its state (the synchronous part) and goes on processing; the
upload never runs on it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import msgspec

from strom.common import _pickling
from strom.network.elements import CheckpointBarrier
from strom.rpc.messages import TaskDeploymentDescriptor
from strom.state.checkpoint_metadata import SubtaskStateEntry
from strom.state.checkpoint_storage import CheckpointLocation, InMemoryCheckpointLocation
from strom.state.key_groups import compute_key_group_range_for_operator_index
from strom.state.rocksdb_incremental import shared_dir_of, upload_keyed_state
from strom.state.snapshots import OperatorSubtaskState

__all__ = ["CheckpointUploads", "freeze_operator_state", "upload_subtask_states"]

log = logging.getLogger(__name__)

Entries = dict[str, SubtaskStateEntry]


def freeze_operator_state(states: dict[str, OperatorSubtaskState]
                          ) -> dict[str, tuple[OperatorSubtaskState, bytes | None]]:
    """Pickle each operator (non-keyed) state now, in the task's thread: it is small
    (positions, pending commits, broadcast maps) and may hold objects the operator goes on
    changing (a source split's position), so it cannot wait for the upload thread."""
    return {state_id: (OperatorSubtaskState(state.keyed, None),
                       None if state.operator is None else _pickling.dumps(state.operator))
            for state_id, state in states.items()}


def upload_subtask_states(tdd: TaskDeploymentDescriptor, barrier: CheckpointBarrier,
                          states: dict[str, tuple[OperatorSubtaskState, bytes | None]],
                          channel_state: tuple[str, bytes] | None = None) -> Entries:
    """Materialize, pickle and write one subtask's states (call off the task's thread; the
    operator states come pickled by :func:`freeze_operator_state`). Small state is inlined
    in its handle, larger state becomes a file in ``barrier.location``. An unaligned
    checkpoint's ``channel_state`` (head state id, pickled) goes on the head's entry."""
    location = (CheckpointLocation(barrier.location) if barrier.location
                else InMemoryCheckpointLocation(f"chk-{barrier.checkpoint_id}"))
    key_groups = compute_key_group_range_for_operator_index(
        tdd.max_parallelism, tdd.parallelism, tdd.subtask_index)
    entries: Entries = {}
    for state_id, (state, operator_bytes) in states.items():
        state = state.materialize()
        name = f"{state_id}-{tdd.subtask_index}-{tdd.attempt_number}"
        keyed = None if state.keyed is None else upload_keyed_state(
            state.keyed, location, shared_dir_of(barrier.location), f"{name}-keyed")
        operator = None if operator_bytes is None else location.write_state(
            f"{name}-operator", operator_bytes)
        entries[state_id] = SubtaskStateEntry(keyed, operator, key_groups.start, key_groups.end)
    if channel_state is not None:
        head, data = channel_state
        handle = location.write_state(
            f"{head}-{tdd.subtask_index}-{tdd.attempt_number}-channel", data)
        entry = entries.get(head) or SubtaskStateEntry(
            key_group_start=key_groups.start, key_group_end=key_groups.end)
        entries[head] = msgspec.structs.replace(entry, channel_state=handle)
    return entries


class CheckpointUploads:
    """Runs uploads one after the other on a daemon thread; ``on_loop`` (thread-safe) runs
    the given callable on the TaskExecutor's loop, where ``acknowledge`` or ``decline`` is
    then called with the outcome."""

    def __init__(
        self, name: str, on_loop: Callable[[Callable[[], None]], None],
        acknowledge: Callable[[TaskDeploymentDescriptor, int, Entries], None],
        decline: Callable[[TaskDeploymentDescriptor, int, BaseException], None],
    ) -> None:
        self._executor = ThreadPoolExecutor(1, thread_name_prefix=f"strom-uploads-{name}")
        self._on_loop = on_loop
        self._acknowledge = acknowledge
        self._decline = decline
        self._closed = False
        self._lock = threading.Lock()

    # CheckpointListener, called in task threads
    def snapshot_taken(self, tdd: TaskDeploymentDescriptor, barrier: CheckpointBarrier,
                       states: dict[str, OperatorSubtaskState],
                       channel_state: tuple[str, bytes] | None = None) -> None:
        try:
            frozen = freeze_operator_state(states)
        except Exception as e:
            self.declined(tdd, barrier.checkpoint_id, e)
            return
        with self._lock:
            if self._closed:
                return
            self._executor.submit(self._upload, tdd, barrier, frozen, channel_state)

    def declined(self, tdd: TaskDeploymentDescriptor, checkpoint_id: int,
                 error: BaseException) -> None:
        self._on_loop(lambda: self._decline(tdd, checkpoint_id, error))

    def _upload(self, tdd: TaskDeploymentDescriptor, barrier: CheckpointBarrier,
                states: dict[str, tuple[OperatorSubtaskState, bytes | None]],
                channel_state: tuple[str, bytes] | None = None) -> None:
        checkpoint_id = barrier.checkpoint_id
        try:
            entries = upload_subtask_states(tdd, barrier, states, channel_state)
        except Exception as e:
            log.warning("checkpoint %d of %s failed to upload: %s", checkpoint_id,
                        tdd.task_name, e)
            error = e
            self._on_loop(lambda: self._decline(tdd, checkpoint_id, error))
            return
        self._on_loop(lambda: self._acknowledge(tdd, checkpoint_id, entries))

    def close(self) -> None:
        """Stop taking uploads; the one running finishes in the background."""
        with self._lock:
            self._closed = True
        self._executor.shutdown(wait=False, cancel_futures=True)
