"""The source operator: drives a SourceReader and applies the watermark strategy.

Checkpoints: the operator's snapshot is its reader's unfinished splits with their positions
(operator list state ``SourceReaderState``, redistributed on rescaling as Flink does) and
how far it got in the enumerator's numbered split assignments (union state
``SourceSplitSequences``). A restored operator hands the splits back to a new reader and
tells the enumerator's coordinator, when it registers, which assignments it had received,
so that assignments still in flight at the checkpoint are assigned again, never twice.

Events from the coordinator carry the id of its latest checkpoint when they were sent
(Flink closes its operator event valve for the same reason): what the coordinator sent
after its part of checkpoint ``n`` is held back until this operator has taken its part of
``n`` (or heard that ``n`` completed or was aborted), since the enumerator's state of ``n``
still has those splits.
"""

from __future__ import annotations

import uuid
from collections import deque
from dataclasses import dataclass
from typing import Any

from strom.datastream.connectors.base import InputStatus
from strom.runtime.operators.base import LONG_MAX, StreamOperator
from strom.runtime.watermarks import TimestampsAndWatermarks
from strom.state.snapshots import OperatorStateSnapshot, OperatorSubtaskState

__all__ = ["AddSplitsEvent", "NoMoreSplitsEvent", "ReaderRegistrationEvent", "RequestSplitEvent",
           "SourceEventWrapper", "SourceOperator", "SplitsReceivedEvent",
           "TimestampsAndWatermarksOperator"]

READER_STATE = "SourceReaderState"
"""The operator list state holding the reader's unfinished splits (Flink's name)."""
SEQUENCE_STATE = "SourceSplitSequences"
"""The operator union state holding ``(subtask, last received assignment number)`` pairs."""


# Operator events between source readers (tasks) and the enumerator (JobMaster).
@dataclass
class ReaderRegistrationEvent:
    """A reader started. ``received`` is None for a fresh start; for a restored reader, the
    last split assignment number each subtask of the checkpointed job had received
    (assignments with higher numbers were in flight and are assigned again)."""

    subtask: int
    received: dict[int, int] | None = None
    #: a token of this reader instance; its SplitsReceivedEvents carry it
    reader_id: str = ""


@dataclass
class RequestSplitEvent:
    subtask: int


@dataclass
class AddSplitsEvent:
    """Splits for one reader. ``sequence`` numbers the assignments to that reader from 1
    (0: unnumbered); the reader applies them in that order, whatever order they arrive in."""

    splits: list[Any]
    sequence: int = 0
    #: the coordinator's latest checkpoint when it sent the event (0: none)
    checkpoint_id: int = 0


@dataclass
class SplitsReceivedEvent:
    """The reader of ``subtask`` applied the assignments numbered up to ``sequence``."""

    subtask: int
    sequence: int
    reader_id: str = ""


@dataclass
class NoMoreSplitsEvent:
    checkpoint_id: int = 0


@dataclass
class SourceEventWrapper:
    event: Any
    subtask: int = -1
    checkpoint_id: int = 0


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
        #: the number of the last split assignment applied, and ones that arrived early
        self.received_sequence = 0
        self._early: dict[int, AddSplitsEvent] = {}
        # coordinator events sent after a checkpoint this operator has not taken yet
        self._held: deque[Any] = deque()
        self._checkpointed = 0
        self.reader_id = uuid.uuid4().hex

    def open(self) -> None:
        ctx = self.ctx
        assert ctx is not None
        self.send_to_coordinator = ctx.extra["send_operator_event"]
        self.watermarks = TimestampsAndWatermarks(
            self.strategy, ctx.clock, ctx.auto_watermark_interval,
            self._emit_watermark, self.output.emit_watermark_status, ctx.is_batch, self.name,
        )
        self.reader = self.source.create_reader(_ReaderContext(self))
        received = self._restore()
        self.send_event(ReaderRegistrationEvent(ctx.subtask_index, received, self.reader_id))
        self.reader.start()

    def _restore(self) -> dict[int, int] | None:
        """Give the reader its restored splits; the assignment numbers received before the
        checkpoint (None on a fresh start)."""
        assert self.ctx is not None
        restored = self.ctx.restored
        if restored is None:
            return None
        self._checkpointed = restored.checkpoint_id
        state = restored.operator
        if state is None:
            return {}
        splits = list(state.list_states.get(READER_STATE, ()))
        received: dict[int, int] = {}
        for subtask, sequence in state.union_states.get(SEQUENCE_STATE, ()):
            received[subtask] = max(received.get(subtask, 0), sequence)
        self.received_sequence = received.get(self.ctx.subtask_index, 0)
        if splits:
            self.reader.add_splits(splits)
        return received

    def send_event(self, event: Any) -> None:
        self.send_to_coordinator(self.operator_id, event)

    def handle_operator_event(self, event: Any) -> None:
        if self._held or getattr(event, "checkpoint_id", 0) > self._checkpointed:
            self._held.append(event)
        else:
            self._apply(event)

    def _release_held(self, checkpoint_id: int) -> None:
        """This operator took (or no longer waits for) its part of ``checkpoint_id``."""
        self._checkpointed = max(self._checkpointed, checkpoint_id)
        held = self._held
        while held and getattr(held[0], "checkpoint_id", 0) <= self._checkpointed:
            self._apply(held.popleft())

    def _apply(self, event: Any) -> None:
        if isinstance(event, AddSplitsEvent):
            self._add_splits(event)
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

    def _add_splits(self, event: AddSplitsEvent) -> None:
        if event.sequence == 0:
            self.reader.add_splits(event.splits)
            return
        if event.sequence <= self.received_sequence:
            return  # applied before (a duplicate delivery)
        self._early[event.sequence] = event
        applied = self.received_sequence
        while applied + 1 in self._early:
            applied += 1
            self.reader.add_splits(self._early.pop(applied).splits)
        if applied > self.received_sequence:
            self.received_sequence = applied
            assert self.ctx is not None
            self.send_event(SplitsReceivedEvent(self.ctx.subtask_index, applied, self.reader_id))

    def snapshot_state(self, checkpoint_id: int) -> OperatorSubtaskState:
        """The reader's unfinished splits with their positions, and the last assignment
        number applied. Readers return split objects that later reading does not change,
        so nothing is copied here."""
        assert self.ctx is not None
        splits = list(self.reader.snapshot_state(checkpoint_id))
        state = OperatorSubtaskState(operator=OperatorStateSnapshot(
            list_states={READER_STATE: splits},
            union_states={SEQUENCE_STATE: [(self.ctx.subtask_index, self.received_sequence)]},
        ))
        self._release_held(checkpoint_id)
        return state

    def notify_checkpoint_complete(self, checkpoint_id: int) -> None:
        super().notify_checkpoint_complete(checkpoint_id)
        self._release_held(checkpoint_id)
        self.reader.notify_checkpoint_complete(checkpoint_id)

    def notify_checkpoint_aborted(self, checkpoint_id: int) -> None:
        super().notify_checkpoint_aborted(checkpoint_id)
        self._release_held(checkpoint_id)

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
