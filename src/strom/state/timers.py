"""Event-time and processing-time timers of keyed operators (Flink's ``InternalTimerService``).

A timer is ``(timestamp, key, namespace)``; registering the same timer twice keeps one.
Timers fire in timestamp order (ties in registration order). Each queue is a binary heap
with lazy deletion: a deleted timer leaves its heap entry behind until it reaches the top or
the heap is compacted, so register, delete and fire are all O(log n).

Timers are keyed state: the backend that owns the service includes them, by key group, in
its snapshots.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple

from strom.state.heap_states import KeyContext

__all__ = ["LONG_MIN", "InternalTimerService", "Timer", "TimerQueue"]

LONG_MIN = -(2**63)
"""The watermark before any watermark arrived (Java's ``Long.MIN_VALUE``)."""

_COMPACT_MIN_SIZE = 64


class Timer(NamedTuple):
    """One registered timer."""

    timestamp: int
    key: Any
    namespace: Any


class TimerQueue:
    """Timers of one time domain: deduplicated, deletable, popped in timestamp order."""

    __slots__ = ("_heap", "_live", "_seq")

    def __init__(self) -> None:
        # (timestamp, sequence, timer): the unique sequence keeps keys and namespaces out of
        # comparisons (they need not be orderable) and makes ties fire in registration order.
        self._heap: list[tuple[int, int, Timer]] = []
        self._live: set[Timer] = set()
        self._seq = 0

    def add(self, timer: Timer) -> bool:
        """Register ``timer``; ``False`` if it was already registered."""
        live = self._live
        if timer in live:
            return False
        live.add(timer)
        self._seq += 1
        heapq.heappush(self._heap, (timer.timestamp, self._seq, timer))
        return True

    def remove(self, timer: Timer) -> bool:
        """Delete ``timer``; ``False`` if it was not registered."""
        live = self._live
        if timer not in live:
            return False
        live.remove(timer)
        heap = self._heap
        if len(heap) > _COMPACT_MIN_SIZE and len(heap) > 2 * len(live):
            self._compact()
        return True

    def _compact(self) -> None:
        live = self._live
        seen: set[Timer] = set()
        kept = []
        for entry in self._heap:
            timer = entry[2]
            if timer in live and timer not in seen:
                seen.add(timer)
                kept.append(entry)
        heapq.heapify(kept)
        self._heap = kept

    def pop_until(self, limit: int) -> Iterator[Timer]:
        """Pop, lazily and in order, every timer with ``timestamp <= limit``, including
        timers added while the iteration is under way."""
        live = self._live
        while True:
            heap = self._heap  # re-read: a removal during the iteration may compact the heap
            if not heap or heap[0][0] > limit:
                return
            timer = heapq.heappop(heap)[2]
            if timer in live:
                live.remove(timer)
                yield timer

    def peek_timestamp(self) -> int | None:
        """The earliest registered timestamp, or ``None``."""
        heap, live = self._heap, self._live
        while heap and heap[0][2] not in live:
            heapq.heappop(heap)
        if not heap:
            return None
        # A stale entry equal to a live timer is harmless here: its timestamp is the same.
        return heap[0][0]

    def timers(self) -> list[Timer]:
        """All registered timers in firing order (a copy)."""
        seen: set[Timer] = set()
        out = []
        for _, _, timer in sorted(self._heap):
            if timer in self._live and timer not in seen:
                seen.add(timer)
                out.append(timer)
        return out

    def __len__(self) -> int:
        return len(self._live)

    def __contains__(self, timer: object) -> bool:
        return timer in self._live

    def clear(self) -> None:
        self._heap.clear()
        self._live.clear()


class InternalTimerService:
    """The timers of one operator (one per backend and service name).

    ``register_*``/``delete_*`` act on the backend's current key. ``advance_watermark`` and
    ``advance_processing_time`` return lazy iterators of the timers that are due; the caller
    sets the current key to ``timer.key`` and calls ``on_timer`` for each. A timer the callback
    registers that is already due fires in the same pass.
    """

    __slots__ = ("_event", "_keys", "_processing", "_watermark", "name")

    def __init__(self, name: str, key_context: KeyContext) -> None:
        self.name = name
        self._keys = key_context
        self._event = TimerQueue()
        self._processing = TimerQueue()
        self._watermark = LONG_MIN

    def register_event_time_timer(self, namespace: Any, timestamp: int) -> None:
        self._event.add(Timer(timestamp, self._keys._current_key, namespace))

    def delete_event_time_timer(self, namespace: Any, timestamp: int) -> None:
        self._event.remove(Timer(timestamp, self._keys._current_key, namespace))

    def register_processing_time_timer(self, namespace: Any, timestamp: int) -> None:
        self._processing.add(Timer(timestamp, self._keys._current_key, namespace))

    def delete_processing_time_timer(self, namespace: Any, timestamp: int) -> None:
        self._processing.remove(Timer(timestamp, self._keys._current_key, namespace))

    def current_watermark(self) -> int:
        """The last watermark passed to :meth:`advance_watermark` (initially ``-2**63``)."""
        return self._watermark

    def advance_watermark(self, watermark: int) -> Iterator[Timer]:
        """Set the watermark now and return the event-time timers with
        ``timestamp <= watermark``, popped lazily in timestamp order."""
        self._watermark = watermark
        return self._event.pop_until(watermark)

    def advance_processing_time(self, now: int) -> Iterator[Timer]:
        """The processing-time timers with ``timestamp <= now``, popped lazily in order."""
        return self._processing.pop_until(now)

    def next_processing_time(self) -> int | None:
        """The earliest pending processing-time timer, or ``None`` (to schedule a wake-up)."""
        return self._processing.peek_timestamp()

    def next_event_time(self) -> int | None:
        """The earliest pending event-time timer, or ``None``."""
        return self._event.peek_timestamp()

    def num_event_time_timers(self) -> int:
        return len(self._event)

    def num_processing_time_timers(self) -> int:
        return len(self._processing)

    def event_time_timers(self) -> list[Timer]:
        """All pending event-time timers in firing order (a copy)."""
        return self._event.timers()

    def processing_time_timers(self) -> list[Timer]:
        """All pending processing-time timers in firing order (a copy)."""
        return self._processing.timers()

    def restore_timers(self, event_time: Iterable[Timer], processing_time: Iterable[Timer]) -> None:
        """Add restored timers (used by the backend's ``restore``)."""
        for timer in event_time:
            self._event.add(Timer(*timer))
        for timer in processing_time:
            self._processing.add(Timer(*timer))

    def clear(self) -> None:
        self._event.clear()
        self._processing.clear()

    def __repr__(self) -> str:
        return (
            f"InternalTimerService({self.name!r}, event_time_timers={len(self._event)}, "
            f"processing_time_timers={len(self._processing)}, watermark={self._watermark})"
        )
