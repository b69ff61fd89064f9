"""Shared machinery of the built-in split-based sources.

:class:`QueueSplitEnumerator` hands a fixed set of splits to whichever reader asks first
and tells a reader that asks when none are left that no more will come (bounded
sources). :class:`SplitQueueReader` reads its assigned splits one after the other: it
asks for a split when it has none, reads the current one a batch at a time through a
:class:`SplitCursor`, and asks for the next when the current one is exhausted.
"""

from __future__ import annotations

from abc import abstractmethod
from collections import deque
from collections.abc import Iterable
from typing import Any, Generic, Protocol, TypeVar

from strom.datastream.connectors.base import (
    InputStatus,
    ReaderOutput,
    SourceReader,
    SourceReaderContext,
    SourceSplit,
    SplitEnumerator,
    SplitEnumeratorContext,
)

__all__ = ["QueueSplitEnumerator", "SplitCursor", "SplitQueueReader"]

SplitT = TypeVar("SplitT", bound=SourceSplit)
SplitT_co = TypeVar("SplitT_co", bound=SourceSplit, covariant=True)


class SplitCursor(Protocol[SplitT_co]):
    """An open split being read: hands out batches and knows its own position."""

    @property
    def split_id(self) -> str:
        """The id of the split being read."""
        ...

    def next_batch(self) -> tuple[list[Any], bool]:
        """The next batch of records and whether the split is now exhausted.

        A batch may be empty only when the split is exhausted.
        """
        ...

    def snapshot(self) -> SplitT_co:
        """The split as it stands now: reading it again yields only what is not emitted yet."""
        ...

    def close(self) -> None:
        """Release what the cursor holds open (file handles)."""
        ...


class QueueSplitEnumerator(SplitEnumerator[SplitT]):
    """Assigns a fixed list of splits on request, in order, to whichever reader asks.

    When a reader asks and no split is left, it receives ``signal_no_more_splits``, which
    makes a bounded reader finish once its current splits are done. The snapshot is the
    list of splits not yet assigned.
    """

    def __init__(self, context: SplitEnumeratorContext[SplitT], splits: Iterable[SplitT]) -> None:
        self._context = context
        self._pending: deque[SplitT] = deque(splits)

    def handle_split_request(self, subtask_id: int) -> None:
        if self._pending:
            self._context.assign_split(self._pending.popleft(), subtask_id)
        else:
            self._context.signal_no_more_splits(subtask_id)

    def add_splits_back(self, splits: list[SplitT], subtask_id: int) -> None:
        # Returned splits go first: they were assigned before the ones still waiting.
        self._pending.extendleft(reversed(splits))

    def snapshot_state(self, checkpoint_id: int) -> Any:
        """The splits not assigned yet (a list), for ``restore_enumerator``."""
        return list(self._pending)

    def pending_splits(self) -> list[SplitT]:
        """The splits not assigned yet, in assignment order."""
        return list(self._pending)


class SplitQueueReader(SourceReader[SplitT], Generic[SplitT]):
    """Reads assigned splits one at a time, a batch per :meth:`poll_next`.

    Subclasses implement :meth:`open_split`. The reader requests a split at start when it
    has none (a restored reader already holds its splits), and again each time it finishes
    one; it ends (``END_OF_INPUT``) once it holds no split and was told no more will come.
    """

    def __init__(self, context: SourceReaderContext) -> None:
        self._context = context
        self._queue: deque[SplitT] = deque()
        self._current: SplitCursor[SplitT] | None = None
        self._no_more_splits = False
        self._awaiting_split = False

    @abstractmethod
    def open_split(self, split: SplitT) -> SplitCursor[SplitT]:
        """Open ``split`` for reading from the position it records."""

    def start(self) -> None:
        if self._current is None and not self._queue:
            self._request_split()

    def _request_split(self) -> None:
        if self._awaiting_split or self._no_more_splits:
            return
        # Set before sending: an in-process context may answer within the call.
        self._awaiting_split = True
        self._context.send_split_request()

    def add_splits(self, splits: list[SplitT]) -> None:
        self._queue.extend(splits)
        self._awaiting_split = False

    def notify_no_more_splits(self) -> None:
        self._no_more_splits = True
        self._awaiting_split = False

    def poll_next(self, output: ReaderOutput) -> InputStatus:
        cursor = self._current
        if cursor is None:
            if not self._queue:
                if self._no_more_splits:
                    return InputStatus.END_OF_INPUT
                self._request_split()
                return InputStatus.NOTHING_AVAILABLE
            cursor = self._current = self.open_split(self._queue.popleft())
        records, exhausted = cursor.next_batch()
        if records:
            output.collect(records, None, cursor.split_id)
        if exhausted:
            cursor.close()
            self._current = None
            release = getattr(output, "release_output_for_split", None)
            if release is not None:  # the finished split no longer holds the watermark back
                release(cursor.split_id)
            if not self._queue:
                self._request_split()
                # An in-process enumerator may already have answered "no more".
                if self._no_more_splits and not self._queue:
                    return InputStatus.END_OF_INPUT
        return InputStatus.MORE_AVAILABLE

    def snapshot_state(self, checkpoint_id: int) -> list[SplitT]:
        splits = [self._current.snapshot()] if self._current is not None else []
        splits.extend(self._queue)
        return splits

    def close(self) -> None:
        if self._current is not None:
            self._current.close()
            self._current = None
