"""The source behind ``env.from_collection``: a fixed list of elements.

The elements travel inside the splits, never inside the reader tasks' copy of the source:

- The enumerator (in the JobMaster, made from the source that came with the job graph)
  cuts the collection into one contiguous share per reader; each :class:`CollectionSplit`
  refers to the collection and to its range of it.
- In one process the split reaches its reader by reference: nothing is copied, and the
  reader slices its batches straight out of the collection, which nobody modifies.
- Pickled (to another process, or into a checkpoint), a split carries only the elements it
  still has to emit, so each reader receives its share and no more.
- The JobMaster pickles the operators for the tasks inside
  :func:`~strom.datastream.connectors._reader_pickling.pickling_for_readers`, where a
  :class:`CollectionSource` leaves its elements out.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from strom.connectors._split_queue import QueueSplitEnumerator, SplitQueueReader
from strom.datastream.connectors._reader_pickling import is_pickling_for_readers
from strom.datastream.connectors.base import (
    Boundedness,
    Source,
    SourceReaderContext,
    SourceSplit,
    SplitEnumerator,
    SplitEnumeratorContext,
)

__all__ = ["CollectionSource", "CollectionSplit", "split_collection"]

BATCH_SIZE = 1024
"""Most elements emitted per ``poll_next``."""


class CollectionSplit(SourceSplit):
    """Elements ``start`` to ``end`` (exclusive) of a collection: the share of one reader,
    of which ``start`` elements were already emitted.

    The split refers to ``elements`` without copying it; pickled, it carries only
    ``elements[start:end]``.

    >>> split = CollectionSplit(0, ["a", "b", "c"], start=1)
    >>> split.remaining()
    ['b', 'c']
    """

    __slots__ = ("elements", "end", "index", "start")

    def __init__(self, index: int, elements: list[Any], start: int = 0,
                 end: int | None = None) -> None:
        size = len(elements)
        end = size if end is None else end
        if not 0 <= start <= end <= size:
            raise ValueError(
                f"CollectionSplit {index}: the range {start}..{end} does not fit its "
                f"{size} elements; start and end must satisfy 0 <= start <= end <= {size} "
                "(was the split made for another collection?)"
            )
        self.index = index
        self.elements = elements
        self.start = start
        self.end = end

    def split_id(self) -> str:
        return str(self.index)

    def remaining(self) -> list[Any]:
        """The elements still to be emitted (a copy)."""
        return list(self.elements[self.start:self.end])

    def __len__(self) -> int:
        return self.end - self.start

    def __reduce__(self) -> tuple[Any, ...]:
        whole = self.start == 0 and self.end == len(self.elements)
        return CollectionSplit, (self.index, self.elements if whole else self.remaining())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CollectionSplit):
            return NotImplemented
        return self.index == other.index and self.remaining() == other.remaining()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"CollectionSplit({self.index}, <{len(self)} elements to emit>)"


def split_collection(elements: list[Any], parts: int) -> list[CollectionSplit]:
    """Contiguous shares of ``elements`` for ``parts`` readers, in order, sizes differing by
    at most one; no empty shares (an empty collection has none).

    >>> [s.remaining() for s in split_collection([1, 2, 3, 4, 5], 2)]
    [[1, 2, 3], [4, 5]]
    """
    size = len(elements)
    parts = max(1, min(parts, size))
    splits = []
    for index in range(parts if size else 0):
        start, end = index * size // parts, (index + 1) * size // parts
        splits.append(CollectionSplit(index, elements, start, end))
    return splits


class _CollectionCursor:
    __slots__ = ("_elements", "_end", "_index", "_position")

    def __init__(self, split: CollectionSplit) -> None:
        self._index = split.index
        self._elements = split.elements
        self._position = split.start
        self._end = split.end

    @property
    def split_id(self) -> str:
        return str(self._index)

    def next_batch(self) -> tuple[list[Any], bool]:
        start = self._position
        end = min(start + BATCH_SIZE, self._end)
        self._position = end
        return self._elements[start:end], end >= self._end

    def snapshot(self) -> CollectionSplit:
        return CollectionSplit(self._index, self._elements, self._position, self._end)

    def close(self) -> None:
        """Nothing to release."""


class _CollectionReader(SplitQueueReader[CollectionSplit]):
    def open_split(self, split: CollectionSplit) -> _CollectionCursor:
        return _CollectionCursor(split)


class CollectionSource(Source[CollectionSplit]):
    """A bounded, non-parallel source over a fixed list of elements (``env.from_collection``).

    Emits the elements in order, up to 1024 per batch, without timestamps. Its maximum
    parallelism is 1; given more readers anyway, each reads one contiguous share.

    The source keeps the list it is given (``from_collection`` hands it a copy it made)
    and never modifies it; readers get the elements through their splits.

    >>> source = CollectionSource([1, 2, 3])
    >>> source.max_parallelism()
    1
    """

    def __init__(self, elements: Iterable[Any]) -> None:
        # from_collection() hands over a list it made itself; copy anything else, once
        self._elements: list[Any] | None = elements if type(elements) is list else list(elements)
        self._size = len(self._elements)

    def __reduce__(self) -> tuple[Any, ...]:
        if is_pickling_for_readers():
            return _reader_copy, (self._size,)
        return CollectionSource, (self._elements,)

    @property
    def elements(self) -> list[Any]:
        """The elements this source emits (do not modify)."""
        return self._enumerator_side("elements")

    def _enumerator_side(self, what: str) -> list[Any]:
        if self._elements is None:
            raise RuntimeError(
                f"CollectionSource.{what} is not available in a reader task: the reader tasks' "
                "copy of the source has no elements (they come inside the splits). Use the "
                "source the job was built with."
            )
        return self._elements

    def get_boundedness(self) -> Boundedness:
        return Boundedness.BOUNDED

    def max_parallelism(self) -> int | None:
        return 1

    def create_enumerator(
        self, context: SplitEnumeratorContext[CollectionSplit]
    ) -> SplitEnumerator[CollectionSplit]:
        elements = self._enumerator_side("create_enumerator()")
        return QueueSplitEnumerator(context, split_collection(elements,
                                                              context.current_parallelism()))

    def restore_enumerator(
        self, context: SplitEnumeratorContext[CollectionSplit], checkpoint: Any
    ) -> SplitEnumerator[CollectionSplit]:
        return QueueSplitEnumerator(context, list(checkpoint))

    def create_reader(self, context: SourceReaderContext) -> _CollectionReader:
        return _CollectionReader(context)

    def __repr__(self) -> str:
        return f"CollectionSource(<{self._size} elements>)"


def _reader_copy(size: int) -> CollectionSource:
    """The reader tasks' copy of a CollectionSource: its readers get the elements from their
    splits."""
    source = CollectionSource.__new__(CollectionSource)
    source._elements = None
    source._size = size
    return source
