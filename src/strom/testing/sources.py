"""A source for tests: given elements, with markers that end the input or fail the job."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from strom.datastream.connectors.base import (
    Boundedness,
    InputStatus,
    ReaderOutput,
    Source,
    SourceReader,
    SourceReaderContext,
    SourceSplit,
    SplitEnumerator,
    SplitEnumeratorContext,
)
from strom.testing.sync import Latch

__all__ = ["TestingSource"]


@dataclass
class _Fail:
    error: BaseException


@dataclass
class _Pause:
    pass


@dataclass
class _Await:
    latch: Latch


@dataclass
class _TestingSplit(SourceSplit):
    index: int
    elements: list[Any]
    position: int = 0

    def split_id(self) -> str:
        return f"testing-{self.index}"


@dataclass
class _Enumerator(SplitEnumerator[_TestingSplit]):
    context: SplitEnumeratorContext[_TestingSplit]
    pending: list[_TestingSplit] = field(default_factory=list)

    def handle_split_request(self, subtask_id: int) -> None:
        pass

    def add_reader(self, subtask_id: int) -> None:
        parallelism = self.context.current_parallelism()
        for split in [s for s in self.pending if s.index % parallelism == subtask_id]:
            self.pending.remove(split)
            self.context.assign_split(split, subtask_id)
        self.context.signal_no_more_splits(subtask_id)

    def add_splits_back(self, splits: list[_TestingSplit], subtask_id: int) -> None:
        self.pending.extend(splits)

    def snapshot_state(self, checkpoint_id: int) -> Any:
        return list(self.pending)


class _Reader(SourceReader[_TestingSplit]):
    def __init__(self, batch_size: int, timestamped: bool) -> None:
        self.splits: list[_TestingSplit] = []
        self.no_more = False
        self.batch_size = batch_size
        self.timestamped = timestamped
        # an AWAIT marker whose latch was seen triggered; the reader passes it on the next poll
        self.await_passed = False

    def poll_next(self, output: ReaderOutput) -> InputStatus:
        while self.splits:
            split = self.splits[0]
            batch: list[Any] = []
            elements = split.elements
            while split.position < len(elements) and len(batch) < self.batch_size:
                element = elements[split.position]
                if isinstance(element, _Fail):
                    if batch:
                        break
                    split.position += 1
                    raise element.error
                if isinstance(element, _Pause):
                    split.position += 1
                    if batch:
                        break
                    continue
                if isinstance(element, _Await):
                    if batch:
                        break
                    if not element.latch.is_triggered():
                        return InputStatus.NOTHING_AVAILABLE
                    if not self.await_passed:
                        # Yield once more: the task then runs the processing-time work due
                        # when the latch was triggered before this reader reads on.
                        self.await_passed = True
                        return InputStatus.MORE_AVAILABLE
                    self.await_passed = False
                    split.position += 1
                    continue
                if element is TestingSource.END:
                    split.position = len(elements)
                    break
                batch.append(element)
                split.position += 1
            if batch:
                self._emit(output, batch, split)
                return InputStatus.MORE_AVAILABLE
            if split.position >= len(elements):
                self.splits.pop(0)
                release = getattr(output, "release_output_for_split", None)
                if release is not None:
                    release(split.split_id())
                continue
            return InputStatus.MORE_AVAILABLE
        return InputStatus.END_OF_INPUT if self.no_more else InputStatus.NOTHING_AVAILABLE

    def _emit(self, output: ReaderOutput, batch: list[Any], split: _TestingSplit) -> None:
        if self.timestamped:
            output.collect([v for v, _ in batch], [t for _, t in batch], split.split_id())
        else:
            output.collect(batch, None, split.split_id())

    def add_splits(self, splits: list[_TestingSplit]) -> None:
        self.splits.extend(splits)

    def notify_no_more_splits(self) -> None:
        self.no_more = True

    def snapshot_state(self, checkpoint_id: int) -> list[_TestingSplit]:
        # copies: reading on moves the live splits' positions
        return [_TestingSplit(s.index, s.elements, s.position) for s in self.splits]


class TestingSource(Source[_TestingSplit]):
    """Emits ``elements`` (bounded). Markers inside ``elements``:

    * ``TestingSource.END`` — the input ends here (the rest is ignored);
    * ``TestingSource.FAIL(exc)`` — the reader raises ``exc`` here (the job fails);
    * ``TestingSource.PAUSE`` — ends the current batch, so what follows arrives later (lets
      periodic watermarks and timers interleave with the data);
    * ``TestingSource.AWAIT(latch)`` — the reader reads nothing more until the test calls
      ``latch.trigger()`` (a :class:`~strom.testing.Latch`). After a ``manual_clock.advance``
      followed by ``latch.trigger()``, the periodic watermarks and processing-time timers due
      at the new time run before the next record is read.

    A split that is read to its end is released, so it no longer holds the watermark back.
    Checkpoints record each split's position, so a job restored from one reads on after
    the last element read before it (a ``FAIL`` marker after that point fails again).

    ``splits`` > 1 deals the elements round-robin into that many splits, spread over the
    source's parallel instances. With ``timestamped=True`` each element is a
    ``(value, timestamp_ms)`` pair and the value is emitted with that timestamp.
    """

    __test__ = False  # not a pytest test class

    END: Any = object()
    PAUSE: Any = _Pause()

    @staticmethod
    def FAIL(error: BaseException) -> Any:
        return _Fail(error)

    @staticmethod
    def AWAIT(latch: Latch) -> Any:
        if not isinstance(latch, Latch):
            raise TypeError(f"TestingSource.AWAIT takes a strom.testing.Latch, got {latch!r}")
        return _Await(latch)

    def __init__(self, elements: list[Any], splits: int = 1, batch_size: int = 1024,
                 timestamped: bool = False) -> None:
        if splits < 1:
            raise ValueError(f"splits must be >= 1, got {splits}")
        self.elements = list(elements)
        self.splits = splits
        self.batch_size = batch_size
        self.timestamped = timestamped

    def get_boundedness(self) -> Boundedness:
        return Boundedness.BOUNDED

    def _initial_splits(self) -> list[_TestingSplit]:
        if self.splits == 1:
            return [_TestingSplit(0, list(self.elements))]
        return [_TestingSplit(i, self.elements[i::self.splits]) for i in range(self.splits)]

    def create_enumerator(self, context: SplitEnumeratorContext[_TestingSplit]) -> _Enumerator:
        return _Enumerator(context, self._initial_splits())

    def restore_enumerator(self, context: SplitEnumeratorContext[_TestingSplit],
                           checkpoint: Any) -> _Enumerator:
        return _Enumerator(context, list(checkpoint))

    def create_reader(self, context: SourceReaderContext) -> _Reader:
        return _Reader(self.batch_size, self.timestamped)
