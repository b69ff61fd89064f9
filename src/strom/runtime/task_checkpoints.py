"""The checkpoint side of a :class:`~strom.runtime.task.Task`: taking its snapshots,
forwarding barriers, stop-with-savepoint, and the channel state of unaligned checkpoints.

A mixin rather than a collaborator: these methods read and change the task's own loop state
(``stopping``, ``finishing``, ``deadline``, the writers and the gate) and the loop reads
theirs (``_channel_state``, ``_replay``) every step, so keeping both on the task leaves the
hot path without an extra attribute hop. Barrier alignment itself is the
:class:`~strom.runtime.checkpoint_barriers.BarrierHandler`'s, the recording of channel state
the :class:`~strom.runtime.channel_state.ChannelStateWriter`'s, and the upload and
acknowledgement the TaskExecutor's.
"""

from __future__ import annotations

import pickle
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from strom.jobmanager.checkpoint.stats import CheckpointAckStats
from strom.network.elements import (
    END_OF_PARTITION,
    CancelCheckpointMarker,
    CheckpointBarrier,
    CheckpointType,
)
from strom.network.record_writer import RecordWriter
from strom.rpc.messages import ExecutionState, TaskDeploymentDescriptor
from strom.runtime.channel_state import ChannelState, ChannelStateWriter
from strom.runtime.checkpoint_barriers import BarrierHandler
from strom.runtime.checkpoint_snapshots import (
    CheckpointListener,
    CheckpointSkippedError,
    subtask_state,
)
from strom.runtime.failure_attribution import attribute_failure
from strom.runtime.input_gate import InputGate
from strom.runtime.operators.base import StreamOperator
from strom.runtime.operators.source import SourceOperator
from strom.runtime.task_metrics import TaskMetrics

__all__ = ["TaskCheckpointing"]


class TaskCheckpointing:
    """Checkpoints, stop-with-savepoint and unaligned channel state, mixed into the Task
    (which sets every attribute declared here in its ``__init__``)."""

    tdd: TaskDeploymentDescriptor
    name: str
    state: ExecutionState
    operators: list[StreamOperator]
    writers: list[RecordWriter]
    gate: InputGate | None
    source: SourceOperator | None
    timed: list[StreamOperator]
    deadline: int | None
    wait_hint_ms: int | None
    finishing: bool
    input_ended: bool
    waker: Callable[[], None]
    _keyed_backends: list[Any]
    checkpoints: CheckpointListener | None
    barriers: BarrierHandler | None
    stopping: CheckpointBarrier | None
    stop_complete: bool
    stop_input_ended: bool
    state_ids: list[str]
    unaligned_checkpoints: bool
    _unaligned_capable: bool
    _channel_state: ChannelStateWriter | None
    _replay: deque[tuple[int, Any]]
    metrics: TaskMetrics

    if TYPE_CHECKING:  # the Task's own loop, which these methods drive
        def post(self, mail: Callable[[], None]) -> None: ...
        def _flush(self) -> None: ...
        def _update_deadline(self) -> None: ...
        def _finish_input(self) -> None: ...

    # ------------------------------------------------------------------ checkpoints
    def trigger_checkpoint(self, checkpoint_id: int, timestamp: int, kind: CheckpointType,
                           location: str = "") -> None:
        """A source task starts checkpoint ``checkpoint_id`` (thread-safe): at its next step
        it snapshots its chain and sends the barrier after everything emitted before."""
        unaligned = self.unaligned_checkpoints and kind is CheckpointType.CHECKPOINT
        barrier = CheckpointBarrier(checkpoint_id, timestamp, kind, unaligned, location)

        def trigger() -> None:
            if self.state is not ExecutionState.RUNNING or self.finishing or self.input_ended:
                self._decline(checkpoint_id, CheckpointSkippedError(
                    f"Task {self.name} cannot take checkpoint {checkpoint_id}: it is "
                    f"{'finishing' if self.state is ExecutionState.RUNNING else self.state.value}."))
                return
            if kind is CheckpointType.SAVEPOINT_TERMINATE and self.source is not None:
                # --drain: every event-time window and timer fires before the savepoint
                self.source.emit_max_watermark()
            self._perform_checkpoint(barrier)

        self.post(trigger)

    def notify_checkpoint_complete(self, checkpoint_id: int) -> None:
        """Checkpoint ``checkpoint_id`` completed: the operators may commit (thread-safe)."""
        self.post(lambda: self._notify(checkpoint_id, complete=True))

    def notify_checkpoint_aborted(self, checkpoint_id: int) -> None:
        self.post(lambda: self._notify(checkpoint_id, complete=False))

    def _notify(self, checkpoint_id: int, complete: bool) -> None:
        if self.state.is_terminal:
            return
        for backend in self._keyed_backends:  # rocksdb: the base of incremental checkpoints
            notify = getattr(backend, "notify_checkpoint_complete" if complete
                             else "notify_checkpoint_aborted", None)
            if notify is not None:
                notify(checkpoint_id)
        for op in self.operators:
            try:
                if complete:
                    op.notify_checkpoint_complete(checkpoint_id)
                else:
                    op.notify_checkpoint_aborted(checkpoint_id)
            except BaseException as e:
                attribute_failure(e, op.name)
                raise
        stopping = self.stopping
        if stopping is not None and stopping.checkpoint_id == checkpoint_id:
            # after the operators heard of it: a sink commits the savepoint's data first
            self._stop_decided(complete)

    def _perform_checkpoint(self, barrier: CheckpointBarrier) -> None:
        """Snapshot the chain (synchronous part), then forward the barrier; the TaskExecutor
        uploads the rest in the background and acknowledges."""
        checkpoint_id = barrier.checkpoint_id
        started = time.time()
        try:
            for backend in self._keyed_backends:  # which kind of snapshot to take
                begin = getattr(backend, "begin_checkpoint", None)
                if begin is not None:
                    begin(checkpoint_id, barrier.kind.is_savepoint)
            for op in self.operators:
                op.prepare_snapshot_pre_barrier(checkpoint_id)
            states = {}
            for state_id, op in zip(self.state_ids, self.operators, strict=True):
                state = subtask_state(op.snapshot_state(checkpoint_id))
                if state is not None:
                    states[state_id] = state
        except Exception as e:
            attribute_failure(e, self.name)
            self._decline(checkpoint_id, e)
            for writer in self.writers:
                writer.broadcast_event(CancelCheckpointMarker(checkpoint_id))
            return
        if barrier.unaligned:
            self.metrics.checkpoint_start_delay_nanos = \
                _sync_part(barrier, started, self.barriers).start_delay_ms * 1_000_000
            self._start_channel_state(barrier, states)
            return
        for writer in self.writers:
            writer.broadcast_event(barrier)
        if barrier.kind.is_synchronous:
            self._stop_after(barrier)
        measured = _sync_part(barrier, started, self.barriers)
        self.metrics.checkpoint_start_delay_nanos = measured.start_delay_ms * 1_000_000
        if self.checkpoints is not None:
            self.checkpoints.snapshot_taken(self.tdd, barrier, states, measured=measured)

    # ------------------------------------------------------------------ stop-with-savepoint
    def _stop_after(self, barrier: CheckpointBarrier) -> None:
        """This task passed on the barrier of a synchronous savepoint: nothing more is read
        from the source and no timers fire until it completes (then the task finishes) or
        is aborted (then the task goes on)."""
        self.stopping = barrier
        self.deadline = None
        self.wait_hint_ms = None
        self._flush()

    def _stop_decided(self, complete: bool) -> None:
        if not complete:  # the savepoint failed: the job goes on
            self.stopping = None
            self._update_deadline()
            self.waker()
            if self.stop_input_ended:  # (upstream ended by itself meanwhile)
                self.stop_input_ended = False
                self._finish_input()
            return
        self.stop_complete = True
        if self.source is not None or self.stop_input_ended:
            self._finish_stopped()

    def _suspended(self) -> bool:
        stopping = self.stopping
        return stopping is not None and stopping.kind is CheckpointType.SAVEPOINT_SUSPEND

    def _finish_stopped(self) -> None:
        """End after a completed stop-with-savepoint. ``--drain`` (SAVEPOINT_TERMINATE)
        ends the input as a bounded input ends; otherwise (SAVEPOINT_SUSPEND) the operators
        get no ``end_input``, so nothing more fires: what they hold is in the savepoint."""
        assert self.stopping is not None
        if self.stopping.kind is CheckpointType.SAVEPOINT_TERMINATE:
            self._finish_input()
            return
        for writer in self.writers:
            writer.broadcast_event(END_OF_PARTITION)
        self.finishing = True
        self.timed = []
        self.deadline = None

    # ------------------------------------------------------------------ unaligned checkpoints
    def _priority_input(self) -> None:
        """Priority barriers first, even while the output is back-pressured."""
        gate = self.gate
        assert gate is not None
        while (polled := gate.poll_priority()) is not None:
            channel, priority = polled
            self._on_priority_barrier(channel, priority.barrier)

    def _on_priority_barrier(self, channel: int, barrier: CheckpointBarrier) -> None:
        if not self._unaligned_capable:
            return  # it aligns at the in-order barrier
        assert self.barriers is not None
        start, aborted = self.barriers.on_priority_barrier(channel, barrier)
        if aborted is not None:
            self._abort_checkpoint(aborted, "a barrier of a newer checkpoint overtook it")
        if start is not None:
            self._perform_checkpoint(start)

    def _on_unaligned_barrier(self, channel: int, barrier: CheckpointBarrier) -> None:
        """The in-order barrier: everything before it on ``channel`` is recorded."""
        assert self.barriers is not None
        unaligned = self.barriers.unaligned
        if unaligned is None or unaligned.checkpoint_id != barrier.checkpoint_id:
            self._on_priority_barrier(channel, barrier)  # started here, if not over yet
        self._finish_channel(channel, barrier.checkpoint_id)

    def _start_channel_state(self, barrier: CheckpointBarrier, states: dict[str, Any]) -> None:
        """The operators are snapshotted: the barrier overtakes the output buffers (they
        become output channel state), and the inputs are recorded up to their barriers."""
        handler = self.barriers
        recording = handler.recording if handler is not None and \
            handler.unaligned is barrier else set()
        writer = self._channel_state = ChannelStateWriter(barrier, states, recording)
        for index, record_writer in enumerate(self.writers):
            writer.add_outputs(index, record_writer.broadcast_priority(barrier))
        if writer.recording:
            self._capture_inflight()
        if self._channel_state is writer and writer.complete:
            self._complete_channel_state()

    def _capture_inflight(self) -> None:
        """Take what waits in the channels before their barriers into the channel state,
        without processing it, for every channel whose barrier is in already."""
        writer, gate = self._channel_state, self.gate
        assert writer is not None and gate is not None
        checkpoint_id = writer.checkpoint_id
        for channel in list(writer.recording):
            queued = gate.inflight_before(channel, checkpoint_id)
            if queued is not None:
                writer.capture(channel, queued)
                self._finish_channel(channel, checkpoint_id)
                if self._channel_state is not writer:
                    return

    def _finish_channel(self, channel: int, checkpoint_id: int) -> None:
        assert self.barriers is not None
        if self.barriers.finish_channel(channel, checkpoint_id):
            self._complete_channel_state()

    def _complete_channel_state(self) -> None:
        writer, self._channel_state = self._channel_state, None
        if writer is None or self.checkpoints is None:
            return
        data = pickle.dumps(writer.state, protocol=5)
        self.checkpoints.snapshot_taken(self.tdd, writer.barrier, writer.states,
                                        (self.state_ids[0], data))

    def _restore_channel_state(self, state: ChannelState) -> None:
        """Output channel state goes first on its channels; input channel state is fed to
        the operators before the first input is read."""
        for index, writer in enumerate(self.writers):
            for subchannel in range(writer.n):
                writer.restore_output(subchannel, state.output_elements(index, subchannel))
        self._replay.extend(state.input_elements())

    def _abort_checkpoint(self, checkpoint_id: int, why: str) -> None:
        recording = self._channel_state
        if recording is not None and recording.checkpoint_id <= checkpoint_id:
            self._channel_state = None  # its channel state will not complete
        self._decline(checkpoint_id, CheckpointSkippedError(
            f"Task {self.name} gave up checkpoint {checkpoint_id}: {why}."))
        for writer in self.writers:
            writer.broadcast_event(CancelCheckpointMarker(checkpoint_id))

    def _decline(self, checkpoint_id: int, error: BaseException) -> None:
        if self.checkpoints is not None:
            self.checkpoints.declined(self.tdd, checkpoint_id, error)


def _sync_part(barrier: CheckpointBarrier, started: float,
               barriers: BarrierHandler | None) -> CheckpointAckStats:
    """What a checkpoint's synchronous part took at this task, its barrier alignment, and
    how long after the trigger its first barrier came (REST's sync duration, alignment
    duration and start delay); a source starts at the trigger's arrival."""
    now = time.time()
    first, alignment_ms = started, 0
    aligned = barriers.last_alignment if barriers is not None else None
    if aligned is not None and aligned[0] == barrier.checkpoint_id:
        first, alignment_ms = aligned[1], int((aligned[2] - aligned[1]) * 1000)
    return CheckpointAckStats(sync_duration_ms=int((now - started) * 1000),
                              alignment_duration_ms=alignment_ms,
                              start_delay_ms=max(0, int(first * 1000) - barrier.timestamp))
