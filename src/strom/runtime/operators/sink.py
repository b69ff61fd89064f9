"""Sink operators: Sink V2 writers, SinkFunctions, print and collect.

Delivery guarantees: a Sink V2 sink with a committer (``FileSink``) is exactly-once with
checkpoints: what its writer pre-commits before a checkpoint's barrier is committed only
when that checkpoint completes, and the pending committables and the writer's own state are
part of the checkpoint. ``SinkFunction`` sinks and ``print()`` write as records arrive and
are at-least-once: records after the restored checkpoint are written again.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import Any

from strom.runtime.collect import CollectBuffer, lookup_collect_buffer
from strom.runtime.functions import call_close, call_open, user_callable
from strom.runtime.operators.base import StreamOperator, StreamRuntimeContext
from strom.state.snapshots import OperatorStateSnapshot, OperatorSubtaskState

__all__ = ["CollectSinkOperator", "PrintSinkOperator", "SinkFunctionOperator",
           "SinkWriterOperator"]

_SINK_TIMER_INTERVAL_MS = 1000

WRITER_STATE = "writer_raw_states"
"""The operator list state holding the writer's ``snapshot_state`` (Flink's name)."""
COMMITTER_STATE = "streaming_committer_raw_states"
"""The operator list state holding ``(checkpoint id, committable)`` pairs not committed yet."""


class _WriterContext:
    def __init__(self, operator: StreamOperator) -> None:
        self._op = operator

    def index_of_subtask(self) -> int:
        assert self._op.ctx is not None
        return self._op.ctx.subtask_index

    def number_of_parallel_subtasks(self) -> int:
        assert self._op.ctx is not None
        return self._op.ctx.parallelism

    def attempt_number(self) -> int:
        assert self._op.ctx is not None
        return self._op.ctx.attempt_number

    def current_processing_time(self) -> int:
        assert self._op.ctx is not None
        return self._op.ctx.clock()


class SinkWriterOperator(StreamOperator):
    """``sink_to(Sink)``: Flink's Sink V2 writer and committer in one operator.

    Before a checkpoint's barrier the writer flushes and pre-commits
    (:meth:`prepare_snapshot_pre_barrier`); the checkpoint holds the writer's state and
    every committable not committed yet; when checkpoint ``n`` completes, the committables
    of checkpoints up to ``n`` are committed (an aborted checkpoint's wait for the next).
    A restored operator first commits the committables it restores (commits are
    idempotent), then restores the writer. At the end of input everything is committed.
    """

    uses_processing_time = True

    def __init__(self, name: str, sink: Any, input_type: Any) -> None:
        super().__init__(name)
        self.sink = sink
        self.input_type = input_type
        self.writer: Any = None
        self.committer: Any = None
        #: ``(checkpoint id, committable)`` pre-committed and not committed yet
        self.pending: list[tuple[int, Any]] = []
        self._prepared: int | None = None

    def open(self) -> None:
        assert self.ctx is not None
        set_input_type = getattr(self.sink, "set_input_type", None)
        if set_input_type is not None:
            set_input_type(self.input_type)
        self.committer = self.sink.create_committer()
        restored = self.ctx.restored
        if restored is None:
            self.writer = self.sink.create_writer(_WriterContext(self))
        else:
            state = restored.operator
            writer_state: list[Any] = []
            if state is not None:
                writer_state = list(state.list_states.get(WRITER_STATE, ()))
                self.pending = list(state.list_states.get(COMMITTER_STATE, ()))
            # re-commit what the checkpoint had pre-committed, as soon as possible (Flink)
            self._commit_up_to(restored.checkpoint_id)
            self.writer = self.sink.restore_writer(_WriterContext(self), writer_state)
        interval = getattr(self.sink, "bucket_check_interval", None) or _SINK_TIMER_INTERVAL_MS
        self.interval = min(int(interval), _SINK_TIMER_INTERVAL_MS)
        self.next_timer = self.ctx.clock() + self.interval

    def process_batch(
        self, values: list[Any], timestamps: list[int] | None, keys: list[Any] | None
    ) -> None:
        self.writer.write(values, timestamps)

    def next_processing_time(self) -> int | None:
        return self.next_timer

    def on_processing_time(self, now: int) -> None:
        self.writer.on_processing_time(now)
        self.next_timer = now + self.interval

    def end_input(self) -> None:
        """Commit everything: first what earlier checkpoints pre-committed, then what the
        writer finishes now (a writer may record the latter before handing it out)."""
        self.writer.flush(True)
        earlier = [c for _, c in self.pending]
        self.pending = []
        if self.committer is not None and earlier:
            self.committer.commit(earlier)
        committables = self.writer.prepare_commit()
        if self.committer is not None and committables:
            self.committer.commit(committables)

    # -- checkpoints ------------------------------------------------------------------------

    def prepare_snapshot_pre_barrier(self, checkpoint_id: int) -> None:
        """Flush and pre-commit: the committables belong to ``checkpoint_id``."""
        self._prepared = checkpoint_id
        self.writer.flush(False)
        committables = self.writer.prepare_commit()
        if self.committer is not None:
            self.pending.extend((checkpoint_id, c) for c in committables)

    def snapshot_state(self, checkpoint_id: int) -> OperatorSubtaskState:
        if self._prepared != checkpoint_id:
            self.prepare_snapshot_pre_barrier(checkpoint_id)
        return OperatorSubtaskState(operator=OperatorStateSnapshot(list_states={
            WRITER_STATE: list(self.writer.snapshot_state(checkpoint_id)),
            COMMITTER_STATE: list(self.pending),
        }))

    def notify_checkpoint_complete(self, checkpoint_id: int) -> None:
        super().notify_checkpoint_complete(checkpoint_id)
        self._commit_up_to(checkpoint_id)

    def notify_checkpoint_aborted(self, checkpoint_id: int) -> None:
        """The committables stay pending: the next completed checkpoint commits them."""
        super().notify_checkpoint_aborted(checkpoint_id)

    def _commit_up_to(self, checkpoint_id: int) -> None:
        due = [c for cid, c in self.pending if cid <= checkpoint_id]
        if not due:
            return
        self.pending = [(cid, c) for cid, c in self.pending if cid > checkpoint_id]
        if self.committer is not None:
            self.committer.commit(due)

    def close(self) -> None:
        try:
            if self.writer is not None:
                self.writer.close()
        finally:
            if self.committer is not None:
                self.committer.close()


class _SinkContext:
    __slots__ = ("_op", "ts")

    def __init__(self, operator: StreamOperator) -> None:
        self._op = operator
        self.ts: int | None = None

    def current_processing_time(self) -> int:
        assert self._op.ctx is not None
        return self._op.ctx.clock()

    def current_watermark(self) -> int:
        return self._op.current_watermark

    def timestamp(self) -> int | None:
        return self.ts


class SinkFunctionOperator(StreamOperator):
    """``add_sink(SinkFunction | callable)``: ``invoke(value, context)`` per record."""

    def __init__(self, name: str, function: Any) -> None:
        super().__init__(name)
        self.function = function

    def open(self) -> None:
        assert self.ctx is not None
        call_open(self.function, StreamRuntimeContext(self.ctx))
        self.fn = user_callable(self.function, "invoke")
        self.context = _SinkContext(self)

    def process_batch(
        self, values: list[Any], timestamps: list[int] | None, keys: list[Any] | None
    ) -> None:
        fn, ctx = self.fn, self.context
        if timestamps is None:
            for v in values:
                fn(v, ctx)
        else:
            for v, t in zip(values, timestamps):
                ctx.ts = t
                fn(v, ctx)

    def close(self) -> None:
        call_close(self.function)


class PrintSinkOperator(StreamOperator):
    """``print()``: one line per record on stdout with PyFlink's prefixes.

    Prefix: ``"{identifier}:{subtask}> "`` when parallel, ``"{subtask}> "`` when parallel
    without identifier, ``"{identifier}> "`` at parallelism 1 with identifier, else nothing.
    Values are formatted as PyFlink's print sink formats them for the stream's type.
    """

    def __init__(self, name: str, identifier: str | None, input_type: Any, to_stderr: bool) -> None:
        super().__init__(name)
        self.identifier = identifier
        self.input_type = input_type
        self.to_stderr = to_stderr

    def open(self) -> None:
        from strom.common.typeinfo import to_java_string

        assert self.ctx is not None
        parallel = self.ctx.parallelism > 1
        subtask = self.ctx.subtask_index + 1
        if parallel:
            self.prefix = f"{self.identifier}:{subtask}> " if self.identifier else f"{subtask}> "
        else:
            self.prefix = f"{self.identifier}> " if self.identifier else ""
        type_info = self.input_type
        self.format: Callable[[Any], str]
        if type_info is None:
            self.format = str
        else:
            self.format = lambda v: to_java_string(v, type_info)

    def process_batch(
        self, values: list[Any], timestamps: list[int] | None, keys: list[Any] | None
    ) -> None:
        prefix, fmt = self.prefix, self.format
        text = "".join([f"{prefix}{fmt(v)}\n" for v in values])
        stream = sys.stderr if self.to_stderr else sys.stdout
        stream.write(text)
        stream.flush()


class CollectSinkOperator(StreamOperator):
    """``execute_and_collect``: hands batches to the waiting client."""

    def __init__(self, name: str, collect_id: str) -> None:
        super().__init__(name)
        self.collect_id = collect_id
        self.buffer: CollectBuffer | None = None
        self.cancelled = threading.Event()

    def open(self) -> None:
        self.buffer = lookup_collect_buffer(self.collect_id)

    def process_batch(
        self, values: list[Any], timestamps: list[int] | None, keys: list[Any] | None
    ) -> None:
        assert self.buffer is not None
        self.buffer.put_batch(list(values), self.cancelled)

    def cancel(self) -> None:
        # a full buffer (a client that does not read) must not hold the cancelled task
        self.cancelled.set()
        buffer = self.buffer
        if buffer is not None:
            buffer.wake_producers()

    def end_input(self) -> None:
        assert self.buffer is not None
        self.buffer.end()
