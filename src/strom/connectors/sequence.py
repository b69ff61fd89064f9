"""``NumberSequenceSource``: the numbers ``start..end`` (inclusive), read in parallel.

Like Flink's ``NumberSequenceSource``, the range is cut into one contiguous sub-range per
parallel reader at enumerator creation; each sub-range is a split, assigned on request.
A split's snapshot is the rest of its range, so a restored reader continues right after
the last number it emitted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from strom.connectors._split_queue import QueueSplitEnumerator, SplitQueueReader
from strom.datastream.connectors.base import (
    Boundedness,
    Source,
    SourceReaderContext,
    SourceSplit,
    SplitEnumerator,
    SplitEnumeratorContext,
)

__all__ = ["NumberSequenceSource", "NumberSequenceSplit", "split_number_range"]

BATCH_SIZE = 1024
"""Most numbers emitted per ``poll_next``."""


@dataclass(frozen=True)
class NumberSequenceSplit(SourceSplit):
    """The numbers ``from_`` to ``to``, both inclusive (empty when ``from_ > to``)."""

    id: str
    from_: int
    to: int

    def split_id(self) -> str:
        return self.id


def split_number_range(start: int, end: int, num_splits: int) -> list[NumberSequenceSplit]:
    """Cut ``start..end`` (inclusive) into at most ``num_splits`` contiguous, non-empty splits.

    The first ``total % num_splits`` splits get one number more than the others, as in
    Flink. Fewer splits come back when the range has fewer numbers than ``num_splits``.
    """
    if num_splits < 1:
        raise ValueError(f"num_splits must be at least 1, got {num_splits}")
    total = end - start + 1
    if total <= 0:
        return []
    num_splits = min(num_splits, total)
    per_split, remainder = divmod(total, num_splits)
    splits = []
    current = start
    for index in range(num_splits):
        size = per_split + (1 if index < remainder else 0)
        splits.append(NumberSequenceSplit(str(index), current, current + size - 1))
        current += size
    return splits


class _SequenceCursor:
    __slots__ = ("_id", "_next", "_to")

    def __init__(self, split: NumberSequenceSplit) -> None:
        self._id = split.id
        self._next = split.from_
        self._to = split.to

    @property
    def split_id(self) -> str:
        return self._id

    def next_batch(self) -> tuple[list[Any], bool]:
        start = self._next
        stop = min(start + BATCH_SIZE, self._to + 1)
        self._next = max(stop, start)
        return list(range(start, stop)), self._next > self._to

    def snapshot(self) -> NumberSequenceSplit:
        return NumberSequenceSplit(self._id, self._next, self._to)

    def close(self) -> None:
        """Nothing to release."""


class _SequenceReader(SplitQueueReader[NumberSequenceSplit]):
    def open_split(self, split: NumberSequenceSplit) -> _SequenceCursor:
        return _SequenceCursor(split)


class NumberSequenceSource(Source[NumberSequenceSplit]):
    """A bounded source of the integers ``start`` to ``end``, both inclusive.

    The range is split into as many contiguous sub-ranges as there are parallel readers;
    each sub-range is emitted in order, so with parallelism 1 the whole sequence arrives
    in order. Useful for tests and for jobs that just need N events.

    >>> NumberSequenceSource(1, 10).get_boundedness()
    <Boundedness.BOUNDED: 0>
    """

    def __init__(self, start: int, end: int) -> None:
        for name, value in (("start", start), ("end", end)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(
                    f"NumberSequenceSource {name} must be an int, got {value!r} "
                    f"({type(value).__name__})"
                )
        if start > end:
            raise ValueError(
                f"NumberSequenceSource needs start <= end, got start={start}, end={end}"
            )
        self._start = start
        self._end = end

    def get_start(self) -> int:
        return self._start

    def get_end(self) -> int:
        return self._end

    def get_boundedness(self) -> Boundedness:
        return Boundedness.BOUNDED

    def create_enumerator(
        self, context: SplitEnumeratorContext[NumberSequenceSplit]
    ) -> SplitEnumerator[NumberSequenceSplit]:
        splits = split_number_range(self._start, self._end, context.current_parallelism())
        return QueueSplitEnumerator(context, splits)

    def restore_enumerator(
        self, context: SplitEnumeratorContext[NumberSequenceSplit], checkpoint: Any
    ) -> SplitEnumerator[NumberSequenceSplit]:
        return QueueSplitEnumerator(context, list(checkpoint))

    def create_reader(self, context: SourceReaderContext) -> _SequenceReader:
        return _SequenceReader(context)

    def __repr__(self) -> str:
        return f"NumberSequenceSource({self._start}, {self._end})"
