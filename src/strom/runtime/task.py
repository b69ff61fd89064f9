"""A Task: one parallel subtask of a JobVertex — its operator chain, inputs and outputs.

Tasks are driven by their slot's thread a step at a time (one input batch, one source poll,
one mail), so the tasks sharing a slot run cooperatively. Everything that touches the
operators happens in that thread: input, timers and control actions all go through
:meth:`step`, the task's mailbox loop.
"""

from __future__ import annotations

import enum
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from typing import Any

from strom.common import _pickling
from strom.datastream.connectors.base import InputStatus
from strom.graph.ids import ExecutionAttemptID
from strom.graph.job_graph import ChainedOperator
from strom.graph.partitioning import CustomPartitioning, HashPartitioning
from strom.metrics.groups import MetricGroup, unregistered_group
from strom.metrics.metric_types import Counter
from strom.network.elements import (
    END_OF_PARTITION,
    CancelCheckpointMarker,
    CheckpointBarrier,
    EndOfPartition,
    PriorityBarrier,
    RecordBatch,
    WatermarkEvent,
    WatermarkStatusEvent,
)
from strom.network.environment import InputChannel, NetworkEnvironment
from strom.network.partitioners import create_channel_selector
from strom.network.record_writer import RecordWriter
from strom.rpc.messages import ExecutionState, ProducerLocation, TaskDeploymentDescriptor
from strom.runtime import task_metrics
from strom.runtime.channel_state import ChannelStateWriter
from strom.runtime.checkpoint_barriers import BarrierHandler
from strom.runtime.checkpoint_snapshots import CheckpointListener, restored_states
from strom.runtime.failure_attribution import attribute_failure
from strom.runtime.input_gate import InputGate
from strom.runtime.operators.base import (
    ChainOutput,
    OperatorContext,
    StreamOperator,
    TwoInputOperator,
)
from strom.runtime.operators.bounded_output import BoundedOutputOperator
from strom.runtime.operators.factory import create_operator
from strom.runtime.operators.source import SourceOperator
from strom.runtime.output_types import checked_emit
from strom.runtime.python_path import acquire_python_path, release_python_path
from strom.runtime.task_checkpoints import TaskCheckpointing
from strom.runtime.task_metrics import BACKPRESSURED, BUSY, IDLE, TaskMetrics
from strom.state.key_groups import compute_key_group_range_for_operator_index
from strom.state.rocksdb_incremental import canonical_keyed_state
from strom.state.snapshots import RestoredOperatorState

__all__ = ["StepResult", "Task", "attribute_failure"]


class StepResult(enum.Enum):
    PROGRESS = 0  # did work; step again soon
    IDLE = 1  # waiting for input, time or mail
    DONE = 2  # terminal: finished, failed or cancelled
    BACKPRESSURED = 3  # waiting for credit: the output is full (the slot treats it as IDLE)


#: how long a source that had nothing to read waits before polling again (ms)
SOURCE_IDLE_POLL_MS = 5


def _guard_batch(operator: StreamOperator,
                 records_in: Counter | None) -> Callable[[list[Any], list[int] | None], None]:
    process = operator.process_batch
    name = operator.name

    def emit(values: list[Any], timestamps: list[int] | None) -> None:
        try:
            process(values, timestamps, None)
        except BaseException as e:
            attribute_failure(e, name)
            raise

    if records_in is None:
        return emit
    count = records_in.inc

    def emit_counted(values: list[Any], timestamps: list[int] | None) -> None:
        count(len(values))
        emit(values, timestamps)

    return emit_counted


def _ignore(n: int) -> None:
    return None


class Task(TaskCheckpointing):
    def __init__(
        self,
        tdd: TaskDeploymentDescriptor,
        network: NetworkEnvironment,
        clock: Callable[[], int],
        report_state: Callable[[ExecutionAttemptID, ExecutionState, BaseException | None], None],
        send_operator_event: Callable[[ExecutionAttemptID, str, int, Any], None],
        create_keyed_backend: Callable[..., Any],
        checkpoints: CheckpointListener | None = None,
        metric_group: MetricGroup | None = None,
    ) -> None:
        self.tdd = tdd
        #: this subtask attempt's metric group (category "task"); unregistered when none is
        #: given (tests that build a Task directly)
        self.metric_group = metric_group if metric_group is not None \
            else unregistered_group(f"{tdd.task_name}.{tdd.subtask_index}")
        #: records in/out, busy/back-pressured/idle time, buffers (``task_metrics``)
        self.metrics = TaskMetrics(self.metric_group)
        #: False only in the benchmark that measures what counting costs
        self._counting = task_metrics.ENABLED
        self._io_times = self.metrics.times if self._counting else None
        self._records_in = self.metrics.records_in.inc if self._counting else _ignore
        self.network = network
        self.clock = clock
        self.report_state = report_state
        self._send_operator_event = send_operator_event
        self._create_keyed_backend = create_keyed_backend
        #: the keyed state backends of this task's operators, disposed when they close
        self._keyed_backends: list[Any] = []
        self.state = ExecutionState.DEPLOYING
        self.name = f"{tdd.task_name} ({tdd.subtask_index + 1}/{tdd.parallelism})"
        self.mailbox: deque[Callable[[], None]] = deque()
        self._mail_lock = threading.Lock()
        self.waker: Callable[[], None] = lambda: None
        self.operators: list[StreamOperator] = []
        self.writers: list[RecordWriter] = []
        self.gate: InputGate | None = None
        self.source: SourceOperator | None = None
        self.head: StreamOperator | None = None
        self.timed: list[StreamOperator] = []
        self.deadline: int | None = None
        self.finishing = False
        #: the input ended while an operator still had a backlog: finish once it is drained
        self.input_ended = False
        #: the chain position whose end_input is next (operators end one after another, each
        #: after the output of the ones before it is drained)
        self._next_to_end = 0
        #: operators that may suspend between output chunks, with their chain positions
        self.bounded: list[tuple[int, BoundedOutputOperator]] = []
        self.batch_size = 1024
        self.wait_hint_ms: int | None = None
        #: the output flusher (``execution.buffer-timeout.interval``): seconds between flushes
        #: of partly filled buffers while the task is busy; None when disabled (-1)
        self._set_flush_interval(int(tdd.config.get("buffer_timeout", 100)))
        self.next_flush = 0.0
        self._python_path: tuple[str, ...] = ()
        self._output_keys: list[Any] = []
        #: operators that take coordinator events on the TaskExecutor's loop, by operator id
        self._event_handlers: dict[str, Callable[[Any], None]] = {}
        #: where snapshots go (the TaskExecutor uploads and acknowledges them)
        self.checkpoints = checkpoints
        self.barriers: BarrierHandler | None = None
        #: stop-with-savepoint: the synchronous savepoint's barrier this task passed on; until
        #: it completes, sources emit nothing and no timers fire
        self.stopping: CheckpointBarrier | None = None
        #: the synchronous savepoint completed: the task finishes once its input has ended
        self.stop_complete = False
        #: the input ended while the synchronous savepoint was still pending
        self.stop_input_ended = False
        #: the chain's state ids, in chain order
        self.state_ids: list[str] = []
        #: checkpoints this task's sources trigger are unaligned (savepoints never are)
        self.unaligned_checkpoints = bool(tdd.config.get("unaligned", False))
        #: whether this task takes unaligned checkpoints (one logical input); a two-input
        #: task aligns at the in-order barriers instead
        self._unaligned_capable = False
        #: the unaligned checkpoint whose channel state is being recorded
        self._channel_state: ChannelStateWriter | None = None
        #: restored input channel state still to feed to the operators, before any input
        self._replay: deque[tuple[int, Any]] = deque()

    def _set_flush_interval(self, timeout_ms: int) -> None:
        self.flush_interval_s = None if timeout_ms < 0 else timeout_ms / 1000.0

    # ------------------------------------------------------------------ mailbox
    def post(self, mail: Callable[[], None]) -> None:
        """Run ``mail`` in the task's thread before its next input (thread-safe)."""
        with self._mail_lock:
            self.mailbox.append(mail)
        self.waker()

    def cancel(self) -> None:
        """Cancel the task (thread-safe): its thread ends it at its next step, and operators
        blocked in a call (a sink waiting for room) are woken so that the step ends soon."""
        self.post(self._cancel)
        for op in list(self.operators):
            try:
                op.cancel()
            except Exception:  # the task is ending anyway; its thread reports the rest
                traceback.print_exc()

    def deliver_operator_event(self, operator_id: str, event: Any) -> None:
        handler = self._event_handlers.get(operator_id)
        if handler is not None:  # thread-safe, and needed while the operator blocks the task
            handler(event)
            return

        def deliver() -> None:
            if self.source is not None and self.source_id == operator_id:
                self.source.handle_operator_event(event)

        self.post(deliver)

    # ------------------------------------------------------------------ set-up
    def _initialize(self) -> None:
        tdd = self.tdd
        cfg = tdd.config
        # the job's add_python_file() paths: its functions (and their unpickling) import them
        self._python_path = acquire_python_path(cfg.get("python_path", ()))
        chain: list[ChainedOperator] = _pickling.loads(tdd.serialized_operators)
        own_timeouts = [c.buffer_timeout for c in chain if c.buffer_timeout is not None]
        if own_timeouts:  # DataStream.set_buffer_timeout: the tightest in the chain wins
            flushing = [t for t in own_timeouts if t >= 0]
            self._set_flush_interval(min(flushing) if flushing else -1)
        batch_size = self.batch_size = int(cfg.get("batch_size", 1024))
        credit_base = int(cfg.get("buffers_per_channel", 2))
        floating = int(cfg.get("floating_buffers_per_gate", 8))

        restored = restored_states(tdd.restored.value()) if tdd.restored is not None else {}
        ops: dict[int, StreamOperator] = {}
        for chained in chain:
            operator_id = f"{tdd.vertex_id}:{chained.node_id}"
            ops[chained.node_id] = create_operator(
                chained.name, chained.spec, operator_id,
                heap_state=tdd.config.get("state_backend", "hashmap") == "hashmap")
        self.operators = [ops[c.node_id] for c in chain]
        self.state_ids = [c.state_id or f"{tdd.vertex_id}:{c.node_id}" for c in chain]
        self.head = self.operators[0]
        op_metrics = [self.metrics.add_operator(state_id, c.name, position,
                                                isinstance(ops[c.node_id], SourceOperator))
                      for position, (state_id, c) in enumerate(zip(self.state_ids, chain))]
        counting = self._counting
        metrics_of = {c.node_id: m for c, m in zip(chain, op_metrics)}
        # one per operator: a target reached by two edges is still told of a watermark once
        watermark_in = {c.node_id: m.watermark_input(ops[c.node_id].process_watermark)
                        if counting else ops[c.node_id].process_watermark
                        for c, m in zip(chain, op_metrics)}
        self._head_watermark = watermark_in[chain[0].node_id]

        # network outputs: this task's result partition, one channel per consumer subtask
        job = str(tdd.job_id)
        writers: dict[str, RecordWriter] = {}
        edges = {e.edge_id: e for c in chain for e in c.network_outputs}
        for out in tdd.outputs:
            edge = edges[out.edge_id]
            keys = [(job, tdd.job_attempt, out.edge_id, tdd.subtask_index, consumer)
                    for consumer in out.consumer_subtasks]
            channels = self.network.result_subpartitions(keys)
            self._output_keys.extend(keys)
            for channel in channels:
                channel.sender_waker = self._wake
            selector = create_channel_selector(edge.partitioning, len(channels))
            writers[out.edge_id] = RecordWriter(channels, selector, batch_size)
        self.writers = list(writers.values())
        head_restored = restored.get(self.state_ids[0])
        if head_restored is not None and head_restored.channel_state is not None:
            self._restore_channel_state(head_restored.channel_state)

        # chain wiring
        for position, chained in enumerate(chain):
            output = ChainOutput()
            for edge in chained.chained_outputs:
                target, counts = ops[edge.target_id], metrics_of[edge.target_id]
                output.add_target(_guard_batch(target, counts.records_in if counting else None),
                                  watermark_in[edge.target_id],
                                  target.process_watermark_status, edge.output_tag)
            for edge in chained.network_outputs:
                writer = writers[edge.edge_id]
                output.add_target(_writer_emit(writer, edge), *_event_senders(writer),
                                  edge.output_tag)
            if chained.output_type is not None:
                output.emit = checked_emit(output.emit, chained.output_type, chained.name)
            if counting:
                op_metrics[position].count_output(output)
            ctx = self._operator_context(chained, restored.get(self.state_ids[position]))
            ctx.metric_group = op_metrics[position].group
            ctx.output_blocked = self._output_blocked_after(position)
            ops[chained.node_id].setup(ctx, output)

        # network inputs
        if tdd.inputs:
            per_input = 1 + max(i.input_index for i in tdd.inputs)
            pairs: list[tuple[InputChannel, int]] = []
            total = sum(len(i.producer_subtasks) for i in tdd.inputs)
            # exclusive buffers plus this channel's share of the gate's floating buffers
            credit = max(1, credit_base + floating // max(1, total))
            for spec in tdd.inputs:
                locations: list[ProducerLocation | None] = (
                    list(spec.producer_locations) or [None] * len(spec.producer_subtasks))
                readers = self.network.input_channels([
                    (job, tdd.job_attempt, spec.edge_id, producer, tdd.subtask_index)
                    for producer in spec.producer_subtasks
                ], locations, credit)
                pairs.extend((reader, spec.input_index) for reader in readers)
            gate = self.gate = InputGate(pairs, per_input, self._wake)
            self.barriers = BarrierHandler(len(pairs), bool(cfg.get("exactly_once", True)),
                                           gate.block, gate.unblock)
            self._unaligned_capable = (per_input == 1
                                       and not isinstance(self.head, TwoInputOperator))
            # once the gate listens: credit lets the senders send
            self.network.announce_credit([reader for reader, _ in pairs], credit)
        self.metrics.attach(self.gate, credit if tdd.inputs else 0, self.writers,
                            remote_capable=self.network.tcp)
        if isinstance(self.head, SourceOperator):
            self.source = self.head
            self.source_id = f"{tdd.vertex_id}:{chain[0].node_id}"
        self.timed = [op for op in self.operators if op.uses_processing_time]
        self.bounded = [(i, op) for i, op in enumerate(self.operators)
                        if isinstance(op, BoundedOutputOperator)]

        self._set_state(ExecutionState.INITIALIZING)
        for op in reversed(self.operators):
            try:
                op.open()
            except BaseException as e:
                attribute_failure(e, op.name)
                raise
        self._set_state(ExecutionState.RUNNING)
        self._update_deadline()

    def _operator_context(self, chained: ChainedOperator,
                          restored: RestoredOperatorState | None = None) -> OperatorContext:
        tdd, cfg = self.tdd, self.tdd.config
        ctx = OperatorContext(
            task_name=tdd.task_name, operator_name=chained.name,
            subtask_index=tdd.subtask_index, parallelism=tdd.parallelism,
            max_parallelism=tdd.max_parallelism, attempt_number=tdd.attempt_number,
            job_parameters=dict(cfg.get("job_parameters", {})),
            is_batch=bool(cfg.get("is_batch", False)), clock=self.clock,
            auto_watermark_interval=int(cfg.get("auto_watermark_interval", 200)),
            request_wakeup=self._wake, batch_size=self.batch_size,
        )
        ctx.restored = restored
        if getattr(chained.spec, "keyed", False):
            keyed = restored.keyed if restored is not None else ()
            ctx.keyed_backend_factory = lambda: self._keyed_backend_factory(keyed)
        operator_id = f"{tdd.vertex_id}:{chained.node_id}"
        ctx.extra["send_operator_event"] = (
            lambda op_id, event: self._send_operator_event(
                tdd.execution_id, op_id or operator_id, tdd.subtask_index, event)
        )
        ctx.extra["set_operator_event_handler"] = (
            lambda handler: self._event_handlers.__setitem__(operator_id, handler))
        return ctx

    def _keyed_backend_factory(self, restored: tuple[Any, ...] = ()) -> Any:
        """A new keyed backend for one operator, with the keyed snapshots it restores."""
        tdd = self.tdd
        key_groups = compute_key_group_range_for_operator_index(
            tdd.max_parallelism, tdd.parallelism, tdd.subtask_index
        )
        backend_type = str(tdd.config.get("state_backend", "hashmap"))
        options = tdd.config.get("state_backend_options")
        args = (backend_type, tdd.max_parallelism, key_groups, self.clock)
        # the rocksdb backend's keys, if any
        backend = self._create_keyed_backend(*args, options) if options else \
            self._create_keyed_backend(*args)
        self._keyed_backends.append(backend)
        if restored:
            if getattr(backend, "backend_type", None) != "rocksdb":
                restored = tuple(map(canonical_keyed_state, restored))
            backend.restore(restored)
        return backend

    def _wake(self) -> None:
        self.waker()

    def _output_blocked_after(self, position: int) -> Callable[[], bool]:
        """Whether the operator at ``position`` of the chain should stop between output
        chunks: a record writer waits for credit, or a later operator has a backlog."""

        def blocked() -> bool:
            for writer in self.writers:
                if writer.waiting and writer.is_blocked():
                    return True
            return any(i > position and op.has_backlog() for i, op in self.bounded)

        return blocked

    def _resume_backlog(self) -> bool:
        """Let the last operator with a backlog continue; True when one did, or when the
        input had ended and finishing could begin now that all backlogs are drained."""
        for _, op in reversed(self.bounded):
            if op.has_backlog():
                try:
                    op.resume()
                except BaseException as e:
                    attribute_failure(e, op.name)
                    raise
                return True
        if self.input_ended:
            self.input_ended = False
            self._begin_finish()
            return True
        return False

    def _end_of_input(self) -> None:
        """All input arrived; operators still holding a backlog finish it first."""
        if self.stopping is not None:
            # stop-with-savepoint: finish once the savepoint is complete (its notification
            # commits what the operators staged for it)
            self.stop_input_ended = True
            if self.stop_complete:
                self._finish_stopped()
            return
        self._finish_input()

    def _finish_input(self) -> None:
        if any(op.has_backlog() for _, op in self.bounded):
            self.input_ended = True
        else:
            self._begin_finish()

    # ------------------------------------------------------------------ the loop
    def step(self) -> StepResult:
        times = self._io_times
        if times is not None:
            times.enter(BUSY)
        try:
            result = self._step()
        except BaseException as e:
            self._fail(e)
            result = StepResult.DONE
        if result is StepResult.PROGRESS:
            if times is not None:
                # the other tasks of the slot run now: it is back-pressured if it has input
                # to go on with but its output still waits for them; without input it
                # would wait for its input on a thread of its own, which is idle
                times.enter(BACKPRESSURED if self._input_ready() and self._output_pending()
                            else IDLE)
        else:
            if times is not None:
                times.enter(BACKPRESSURED if result is StepResult.BACKPRESSURED else IDLE)
            if result is StepResult.DONE:
                self.metrics.close()
                if self._python_path:
                    release_python_path(self._python_path)
                    self._python_path = ()
        return result

    def _input_ready(self) -> bool:
        if self.source is not None:
            return True
        gate = self.gate
        return gate is not None and gate.may_have_data()

    def _output_pending(self) -> bool:
        for writer in self.writers:
            if writer.has_unconsumed():
                return True
        return False

    def _step(self) -> StepResult:
        if self.state is ExecutionState.DEPLOYING:
            self._initialize()
            return StepResult.PROGRESS
        while self.mailbox:
            with self._mail_lock:
                mail = self.mailbox.popleft()
            mail()
            if self.state.is_terminal:
                return StepResult.DONE
        if self.timed and self.stopping is None:
            now = self.clock()
            if self.deadline is not None and now >= self.deadline:
                for op in self.timed:
                    due = op.next_processing_time()
                    if due is not None and due <= now:
                        op.on_processing_time(now)
                self._update_deadline()
        if self.finishing:
            return self._finish_step()
        gate = self.gate
        if gate is not None and not self._replay and (
                self._channel_state is not None or gate.has_priority()):
            self._priority_input()
        for writer in self.writers:
            if writer.waiting and writer.is_blocked():
                if self._channel_state is not None:
                    self._capture_inflight()  # back-pressured: the checkpoint need not wait
                return StepResult.BACKPRESSURED
        self.wait_hint_ms = None
        if self._replay:
            self._dispatch(*self._replay.popleft())
            self._update_deadline()
            self._flush_on_timeout()
            return StepResult.PROGRESS
        if self.bounded and self._resume_backlog():
            self._update_deadline()
            self._flush_on_timeout()
            return StepResult.PROGRESS
        if self.source is not None:
            if self.stopping is not None:
                return StepResult.IDLE  # stopped: waits for the savepoint to complete
            status = self.source.emit_next()
            if status is InputStatus.END_OF_INPUT:
                self._end_of_input()
            elif status is InputStatus.NOTHING_AVAILABLE:
                self._flush()
                self.wait_hint_ms = SOURCE_IDLE_POLL_MS
                self._update_deadline()
                return StepResult.IDLE
            self._update_deadline()
            self._flush_on_timeout()
            return StepResult.PROGRESS
        assert self.gate is not None
        polled = self.gate.poll()
        if polled is None:
            self._flush()
            return StepResult.IDLE
        self._dispatch(*polled)
        self._update_deadline()
        self._flush_on_timeout()
        return StepResult.PROGRESS

    def _flush_on_timeout(self) -> None:
        """A busy task never runs out of input, so it flushes partly filled buffers when the
        buffer timeout has passed (0: after every step), bounding their latency."""
        interval = self.flush_interval_s
        if interval is None or not self.writers:
            return
        now = time.monotonic()
        if now >= self.next_flush:
            self._flush()
            self.next_flush = now + interval

    def _dispatch(self, channel: int, element: Any) -> None:
        gate, head = self.gate, self.head
        assert gate is not None and head is not None
        kind = type(element)
        recording = self._channel_state
        if recording is not None and channel in recording.recording:
            recording.record(channel, element)
        if kind is RecordBatch:
            self._records_in(len(element.values))
            try:
                if gate.input_of[channel] == 0 or not isinstance(head, TwoInputOperator):
                    if isinstance(head, TwoInputOperator):
                        head.process_batch1(element.values, element.timestamps, element.keys)
                    else:
                        head.process_batch(element.values, element.timestamps, element.keys)
                else:
                    head.process_batch2(element.values, element.timestamps, element.keys)
            except BaseException as e:
                attribute_failure(e, head.name)
                raise
        elif kind is WatermarkEvent:
            watermark = gate.on_watermark(channel, element.timestamp)
            if watermark is not None:
                self._head_watermark(watermark)
        elif kind is WatermarkStatusEvent:
            watermark, status = gate.on_status(channel, element.idle)
            if watermark is not None:
                self._head_watermark(watermark)
            if status is not None:
                head.process_watermark_status(status)
        elif kind is EndOfPartition:
            watermark, _ = gate.on_end(channel)
            # a stop without --drain ends the inputs without advancing event time
            if watermark is not None and not self._suspended():
                self._head_watermark(watermark)
            assert self.barriers is not None
            aligned = self.barriers.on_end_of_partition(channel)
            if aligned is not None:
                self._perform_checkpoint(aligned)
            unaligned = self.barriers.unaligned
            if unaligned is not None:
                self._finish_channel(channel, unaligned.checkpoint_id)
            if gate.finished():
                self._end_of_input()
        elif kind is CheckpointBarrier:
            assert self.barriers is not None
            if element.unaligned:
                if self._unaligned_capable:
                    self._on_unaligned_barrier(channel, element)
                    return
                element = _aligned(element)  # this task aligns at the in-order barriers
            aligned, aborted = self.barriers.on_barrier(channel, element)
            if aborted is not None:
                self._abort_checkpoint(aborted, "a barrier of a newer checkpoint overtook it")
            if aligned is not None:
                self._perform_checkpoint(aligned)
        elif kind is PriorityBarrier:
            self._on_priority_barrier(channel, element.barrier)
        elif kind is CancelCheckpointMarker:
            assert self.barriers is not None
            cancelled = self.barriers.on_cancel(element.checkpoint_id)
            if cancelled is not None:
                self._abort_checkpoint(cancelled, "it was cancelled upstream")
        else:
            raise TypeError(f"unexpected element on channel {channel}: {element!r}")

    def _flush(self) -> None:
        for writer in self.writers:
            if writer.has_partial_buffers() or writer.waiting:
                writer.flush()

    def _update_deadline(self) -> None:
        deadline = None
        for op in self.timed:
            due = op.next_processing_time()
            if due is not None and (deadline is None or due < deadline):
                deadline = due
        self.deadline = deadline

    def next_wakeup(self) -> int | None:
        """The processing time at which this task next has work, if any (ms)."""
        hint = None if self.wait_hint_ms is None else self.clock() + self.wait_hint_ms
        if self.deadline is None:
            return hint
        return self.deadline if hint is None else min(self.deadline, hint)

    # ------------------------------------------------------------------ endings
    def _begin_finish(self) -> None:
        operators = self.operators
        while self._next_to_end < len(operators):
            op = operators[self._next_to_end]
            self._next_to_end += 1
            try:
                op.end_input()
            except BaseException as e:
                attribute_failure(e, op.name)
                raise
            if any(o.has_backlog() for _, o in self.bounded):
                self.input_ended = True  # _resume_backlog continues here once drained
                return
        for writer in self.writers:
            writer.broadcast_event(END_OF_PARTITION)
        self.finishing = True
        self.timed = []
        self.deadline = None

    def _finish_step(self) -> StepResult:
        if any(not writer.send() for writer in self.writers):
            return StepResult.BACKPRESSURED
        self._close_operators()
        self._set_state(ExecutionState.FINISHED)
        return StepResult.DONE

    def _close_operators(self) -> BaseException | None:
        first: BaseException | None = None
        for op in self.operators:
            try:
                op.close()
            except BaseException as e:
                attribute_failure(e, op.name)
                first = first or e
        self.operators = []
        backends, self._keyed_backends = self._keyed_backends, []
        for backend in backends:  # frees the state (the rocksdb backend removes its DB)
            try:
                backend.dispose()
            except BaseException as e:
                first = first or e
        if first is not None and self.state is not ExecutionState.FAILED:
            raise first
        return first

    def _fail(self, error: BaseException) -> None:
        if self.state.is_terminal:
            return
        operator = getattr(error, "__strom_operator__", None)
        where = f"operator '{operator}' of task '{self.name}'" if operator else f"task '{self.name}'"
        note = f"strom: raised in {where} of job '{self.tdd.job_name}'"
        notes = getattr(error, "__notes__", [])
        if note not in notes:
            error.add_note(note)
        self.state = ExecutionState.FAILED
        try:
            self._close_operators()
        except BaseException as e:
            error.add_note(f"strom: closing the operators also failed: {e!r}")
        self.report_state(self.tdd.execution_id, ExecutionState.FAILED, error)
        # after the report, so the JobMaster tends to hear the cause before its consequences
        self.network.fail_partitions(self._output_keys, self.name, error)

    def _cancel(self) -> None:
        if self.state.is_terminal:
            return
        self.state = ExecutionState.CANCELING
        try:
            self._close_operators()
        except BaseException:
            traceback.print_exc()
        self._set_state(ExecutionState.CANCELED)

    def _set_state(self, state: ExecutionState) -> None:
        self.state = state
        self.report_state(self.tdd.execution_id, state, None)


def _aligned(barrier: CheckpointBarrier) -> CheckpointBarrier:
    return CheckpointBarrier(barrier.checkpoint_id, barrier.timestamp, barrier.kind,
                             location=barrier.location)


def _writer_emit(
    writer: RecordWriter, edge: Any
) -> Callable[[list[Any], list[int] | None], None]:
    """The writer's ``emit``; where the edge runs user code (a key selector or a custom
    partitioner), failures are attributed to it rather than to the operator that emitted."""
    partitioning = edge.partitioning
    if isinstance(partitioning, HashPartitioning):
        what = f"key selector of {edge.target_name}"
    elif isinstance(partitioning, CustomPartitioning):
        what = f"custom partitioner of {edge.target_name}"
    else:
        return writer.emit
    emit = writer.emit

    def guarded(values: list[Any], timestamps: list[int] | None) -> None:
        try:
            emit(values, timestamps)
        except BaseException as e:
            attribute_failure(e, what)
            raise

    return guarded


def _event_senders(writer: RecordWriter) -> tuple[Callable[[int], None], Callable[[bool], None]]:
    def watermark(timestamp: int) -> None:
        writer.broadcast_event(WatermarkEvent(timestamp))

    def status(idle: bool) -> None:
        writer.broadcast_event(WatermarkStatusEvent(idle))

    return watermark, status
