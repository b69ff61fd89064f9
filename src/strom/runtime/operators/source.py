"""The source operator: drives a SourceReader and applies the watermark strategy."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from strom.datastream.connectors.base import InputStatus
from strom.runtime.operators.base import LONG_MAX, StreamOperator
from strom.runtime.watermarks import TimestampsAndWatermarks

__all__ = ["AddSplitsEvent", "NoMoreSplitsEvent", "ReaderRegistrationEvent", "RequestSplitEvent",
           "SourceEventWrapper", "SourceOperator", "TimestampsAndWatermarksOperator"]


# Operator events between source readers (tasks) and the enumerator (JobMaster).
@dataclass
class ReaderRegistrationEvent:
    subtask: int


@dataclass
class RequestSplitEvent:
    subtask: int


@dataclass
class AddSplitsEvent:
    splits: list[Any]


@dataclass
class NoMoreSplitsEvent:
    pass


@dataclass
class SourceEventWrapper:
    event: Any
    subtask: int = -1


class _ReaderContext:
    def __init__(self, operator: SourceOperator) -> None:
        self._op = operator

    def index_of_subtask(self) -> int:
        assert self._op.ctx is not None
        return self._op.ctx.subtask_index

    def number_of_parallel_subtasks(self) -> int:
        assert self._op.ctx is not None
        return self._op.ctx.parallelism

    def send_split_request(self) -> None:
        self._op.send_event(RequestSplitEvent(self.index_of_subtask()))

    def send_source_event(self, event: Any) -> None:
        self._op.send_event(SourceEventWrapper(event, self.index_of_subtask()))


class SourceOperator(StreamOperator):
    """Polls its reader a batch at a time; emits MAX watermark when the input ends."""

    uses_processing_time = True

    def __init__(self, name: str, source: Any, watermark_strategy: Any, operator_id: str) -> None:
        super().__init__(name)
        self.source = source
        self.strategy = watermark_strategy
        self.operator_id = operator_id
        self.reader: Any = None
        self.finished = False

    def open(self) -> None:
        ctx = self.ctx
        assert ctx is not None
        self.send_to_coordinator = ctx.extra["send_operator_event"]
        self.watermarks = TimestampsAndWatermarks(
            self.strategy, ctx.clock, ctx.auto_watermark_interval,
            self._emit_watermark, self.output.emit_watermark_status, ctx.is_batch, self.name,
        )
        self.reader = self.source.create_reader(_ReaderContext(self))
        self.send_event(ReaderRegistrationEvent(ctx.subtask_index))
        self.reader.start()

    def send_event(self, event: Any) -> None:
        self.send_to_coordinator(self.operator_id, event)

    def handle_operator_event(self, event: Any) -> None:
        if isinstance(event, AddSplitsEvent):
            self.reader.add_splits(event.splits)
        elif isinstance(event, NoMoreSplitsEvent):
            self.reader.notify_no_more_splits()
        elif isinstance(event, SourceEventWrapper):
            self.reader.handle_source_event(event.event)
        else:
            raise TypeError(f"source operator got an unknown operator event {event!r}")

    # ReaderOutput
    def collect(
        self, values: list[Any], timestamps: list[int] | None = None, split_id: str | None = None
    ) -> None:
        if not values:
            return
        self.watermarks.process(values, timestamps, split_id, self.output.emit)

    def release_output_for_split(self, split_id: str) -> None:
        """The reader finished ``split_id``: its watermark no longer holds the others back
        (Flink's ``ReaderOutput.releaseOutputForSplit``)."""
        self.watermarks.release_split(split_id)

    def _emit_watermark(self, timestamp: int) -> None:
        self.current_watermark = timestamp
        self.output.emit_watermark(timestamp)

    def emit_next(self) -> InputStatus:
        status: InputStatus = self.reader.poll_next(self)
        if status is InputStatus.MORE_AVAILABLE:
            return status
        if status is InputStatus.END_OF_INPUT:
            self.finished = True
            self._emit_watermark(LONG_MAX)
        elif status is not InputStatus.NOTHING_AVAILABLE:
            raise TypeError(
                f"{type(self.reader).__name__}.poll_next() of '{self.name}' returned "
                f"{status!r}; it must return an InputStatus: MORE_AVAILABLE (there is more to "
                "read right now), NOTHING_AVAILABLE (nothing right now, poll again later) or "
                "END_OF_INPUT (this reader is finished). Did you forget a return?"
            )
        return status

    def emit_max_watermark(self) -> None:
        """Stop-with-savepoint ``--drain``: the end of event time, before the savepoint."""
        self._emit_watermark(LONG_MAX)

    def next_processing_time(self) -> int | None:
        return None if self.finished else self.watermarks.next_periodic

    def on_processing_time(self, now: int) -> None:
        self.watermarks.on_periodic(now)

    def snapshot_state(self, checkpoint_id: int) -> Any:
        return self.reader.snapshot_state(checkpoint_id)

    def close(self) -> None:
        if self.reader is not None:
            self.reader.close()


class TimestampsAndWatermarksOperator(StreamOperator):
    """``assign_timestamps_and_watermarks``: replaces the stream's timestamps and watermarks.

    Upstream watermarks are swallowed except the final MAX watermark, as in Flink.
    """

    uses_processing_time = True

    def __init__(self, name: str, watermark_strategy: Any) -> None:
        super().__init__(name)
        self.strategy = watermark_strategy

    def open(self) -> None:
        ctx = self.ctx
        assert ctx is not None
        self.watermarks = TimestampsAndWatermarks(
            self.strategy, ctx.clock, ctx.auto_watermark_interval,
            self._emit_watermark, self.output.emit_watermark_status, ctx.is_batch, self.name,
        )

    def _emit_watermark(self, timestamp: int) -> None:
        self.current_watermark = timestamp
        self.output.emit_watermark(timestamp)

    def process_batch(
        self, values: list[Any], timestamps: list[int] | None, keys: list[Any] | None
    ) -> None:
        self.watermarks.process(values, timestamps, None, self.output.emit)

    def process_watermark(self, timestamp: int) -> None:
        if timestamp == LONG_MAX:
            self._emit_watermark(timestamp)

    def process_watermark_status(self, idle: bool) -> None:
        """Idleness is decided by this operator's own generator."""

    def next_processing_time(self) -> int | None:
        return self.watermarks.next_periodic

    def on_processing_time(self, now: int) -> None:
        self.watermarks.on_periodic(now)
