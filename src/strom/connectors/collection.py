"""The source behind ``env.from_collection``: a fixed list of elements, read by one reader.

The whole collection is one split. The split records only how many elements were
emitted; the elements themselves stay in the source object (shipped once with the job),
so a checkpoint holds an integer rather than a copy of the collection.
"""

from __future__ import annotations

from collections.abc import Iterable
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

__all__ = ["CollectionSource", "CollectionSplit"]

BATCH_SIZE = 1024
"""Most elements emitted per ``poll_next``."""

_SPLIT_ID = "0"


@dataclass(frozen=True)
class CollectionSplit(SourceSplit):
    """The collection from ``position`` on (``position`` elements were already emitted)."""

    position: int = 0

    def split_id(self) -> str:
        return _SPLIT_ID


class _CollectionCursor:
    __slots__ = ("_elements", "_position")

    def __init__(self, elements: list[Any], position: int) -> None:
        self._elements = elements
        self._position = position

    @property
    def split_id(self) -> str:
        return _SPLIT_ID

    def next_batch(self) -> tuple[list[Any], bool]:
        start = self._position
        end = min(start + BATCH_SIZE, len(self._elements))
        self._position = end
        return self._elements[start:end], end >= len(self._elements)

    def snapshot(self) -> CollectionSplit:
        return CollectionSplit(self._position)

    def close(self) -> None:
        """Nothing to release."""


class _CollectionReader(SplitQueueReader[CollectionSplit]):
    def __init__(self, context: SourceReaderContext, elements: list[Any]) -> None:
        super().__init__(context)
        self._elements = elements

    def open_split(self, split: CollectionSplit) -> _CollectionCursor:
        if not 0 <= split.position <= len(self._elements):
            raise ValueError(
                f"CollectionSplit position {split.position} is outside the collection of "
                f"{len(self._elements)} elements; the snapshot does not belong to this "
                "collection (was the job changed between the checkpoint and the restore?)"
            )
        return _CollectionCursor(self._elements, split.position)


class CollectionSource(Source[CollectionSplit]):
    """A bounded, non-parallel source over a fixed list of elements (``env.from_collection``).

    Emits the elements in order, up to 1024 per batch, without timestamps. Its maximum
    parallelism is 1: the one split goes to the first reader that asks.

    >>> source = CollectionSource([1, 2, 3])
    >>> source.max_parallelism()
    1
    """

    def __init__(self, elements: Iterable[Any]) -> None:
        # from_collection() hands over a list it made itself; copy anything else, once
        self._elements = elements if type(elements) is list else list(elements)

    @property
    def elements(self) -> list[Any]:
        """The elements this source emits (do not modify)."""
        return self._elements

    def get_boundedness(self) -> Boundedness:
        return Boundedness.BOUNDED

    def max_parallelism(self) -> int | None:
        return 1

    def create_enumerator(
        self, context: SplitEnumeratorContext[CollectionSplit]
    ) -> SplitEnumerator[CollectionSplit]:
        return QueueSplitEnumerator(context, [CollectionSplit(0)])

    def restore_enumerator(
        self, context: SplitEnumeratorContext[CollectionSplit], checkpoint: Any
    ) -> SplitEnumerator[CollectionSplit]:
        return QueueSplitEnumerator(context, list(checkpoint))

    def create_reader(self, context: SourceReaderContext) -> _CollectionReader:
        return _CollectionReader(context, self._elements)

    def __repr__(self) -> str:
        return f"CollectionSource(<{len(self._elements)} elements>)"
