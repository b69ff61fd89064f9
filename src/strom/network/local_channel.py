"""An in-process channel from one producer subtask to one consumer subtask.

Flow control is credit-based, as in Flink: the receiver announces credit (one per buffer it
can accept: ``buffers-per-channel`` exclusive plus its share of floating buffers), the sender
sends a record batch only against credit, and consuming a batch returns its credit. Events
(watermarks, end of partition) need no credit: they are small and must never be stuck
behind a full channel's data forever. Batches are handed over by reference.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from strom.network.elements import RecordBatch

__all__ = ["LocalChannel"]


def _noop() -> None:
    return None


class LocalChannel:
    __slots__ = ("_credit", "_lock", "_queue", "receiver_waker", "sender_waker")

    def __init__(self, credit: int) -> None:
        if credit < 1:
            raise ValueError(f"a channel needs at least 1 credit, got {credit}")
        self._queue: deque[Any] = deque()
        self._credit = credit
        self._lock = threading.Lock()
        self.receiver_waker: Callable[[], None] = _noop
        self.sender_waker: Callable[[], None] = _noop

    # sender side
    def has_credit(self) -> bool:
        return self._credit > 0

    def send_batch(self, batch: RecordBatch) -> None:
        """Send a batch; the caller checked :meth:`has_credit` (this consumes one credit)."""
        with self._lock:
            self._credit -= 1
            self._queue.append(batch)
        self.receiver_waker()

    def send_event(self, event: Any) -> None:
        with self._lock:
            self._queue.append(event)
        self.receiver_waker()

    # receiver side
    def poll(self) -> Any:
        """The next element, or None when the channel is empty right now."""
        with self._lock:
            if not self._queue:
                return None
            element = self._queue.popleft()
            if type(element) is RecordBatch:
                self._credit += 1
                notify = True
            else:
                notify = False
        if notify:
            self.sender_waker()
        return element

    def is_empty(self) -> bool:
        return not self._queue

    def queued(self) -> int:
        return len(self._queue)
