"""Event-time and processing-time timers of keyed operators (Flink's ``InternalTimerService``).

A timer is ``(timestamp, key, namespace)``; registering the same timer twice keeps one.
Timers fire in timestamp order (ties in registration order). Each queue keeps one
insertion-ordered bucket of ``(key, namespace)`` entries per timestamp and a binary heap of
the timestamps that have a bucket. Windows give every key of a window the same timer
timestamp, so registering a timer is a dict operation (O(1); a heap push only for a new
timestamp), registering an existing one is a lookup, and deleting one is a dict removal
(its timestamp stays in the heap until it reaches the top or the heap is compacted).

Timers are keyed state: the backend that owns the service includes them, by key group, in
its snapshots.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple

from strom.state.heap_states import KeyContext

__all__ = ["LONG_MIN", "InternalTimerService", "Timer", "TimerQueue", "timers_in_order"]

LONG_MIN = -(2**63)
"""The watermark before any watermark arrived (Java's ``Long.MIN_VALUE``)."""

_COMPACT_MIN_SIZE = 64

Bucket = dict[tuple[Any, Any], None]
"""The timers of one timestamp: ``(key, namespace)`` entries in registration order."""


class Timer(NamedTuple):
    """One registered timer."""

    timestamp: int
    key: Any
    namespace: Any


def timers_in_order(buckets: dict[int, Bucket]) -> list[Timer]:
    """The timers of :meth:`TimerQueue.capture` in firing order."""
    out: list[Timer] = []
    for ts in sorted(buckets):
        out.extend(Timer(ts, key, namespace) for key, namespace in buckets[ts])
    return out


class TimerQueue:
    """Timers of one time domain: deduplicated, deletable, popped in timestamp order."""

    __slots__ = ("_buckets", "_firing", "_firing_ts", "_heap")

    def __init__(self) -> None:
        self._buckets: dict[int, Bucket] = {}
        # every bucket's timestamp is in the heap (stale and repeated timestamps are skipped)
        self._heap: list[int] = []
        # the bucket pop_until is working through (taken out of _buckets), and its timestamp
        self._firing: Bucket | None = None
        self._firing_ts: int | None = None

    def add_entry(self, timestamp: int, key: Any, namespace: Any) -> bool:
        """Register the timer ``(timestamp, key, namespace)``; ``False`` if it was already
        registered."""
        entry = (key, namespace)
        bucket = self._buckets.get(timestamp)
        if bucket is not None and entry in bucket:
            return False
        if timestamp == self._firing_ts and self._is_firing(entry):
            return False
        if bucket is None:
            self._buckets[timestamp] = {entry: None}
            heapq.heappush(self._heap, timestamp)
        else:
            bucket[entry] = None
        return True

    def _is_firing(self, entry: tuple[Any, Any]) -> bool:
        """Whether ``entry`` waits in the bucket being fired (its timestamp is checked by the
        caller)."""
        firing = self._firing
        return firing is not None and entry in firing

    def bucket(self, timestamp: int) -> Bucket:
        """The timers of ``timestamp`` as the queue's own dict: setting
        ``bucket[(key, namespace)] = None`` registers that timer (an existing one keeps its
        place). Only while no ``pop_until`` is under way, and only to add; a batch loop keeps
        the dict of a timestamp to register many keys' timers with one dict store each."""
        bucket = self._buckets.get(timestamp)
        if bucket is None:
            bucket = self._buckets[timestamp] = {}
            heapq.heappush(self._heap, timestamp)
        return bucket

    def add(self, timer: Timer) -> bool:
        """Register ``timer``; ``False`` if it was already registered."""
        return self.add_entry(timer[0], timer[1], timer[2])

    def remove_entry(self, timestamp: int, key: Any, namespace: Any) -> bool:
        """Delete the timer ``(timestamp, key, namespace)``; ``False`` if it was not
        registered."""
        entry = (key, namespace)
        bucket = self._buckets.get(timestamp)
        if bucket is not None and entry in bucket:
            del bucket[entry]
            if not bucket:
                del self._buckets[timestamp]
                heap = self._heap
                if len(heap) > _COMPACT_MIN_SIZE and len(heap) > 2 * len(self._buckets):
                    self._compact()
            return True
        firing = self._firing
        if timestamp == self._firing_ts and firing is not None and entry in firing:
            del firing[entry]
            return True
        return False

    def remove(self, timer: Timer) -> bool:
        """Delete ``timer``; ``False`` if it was not registered."""
        return self.remove_entry(timer[0], timer[1], timer[2])

    def _compact(self) -> None:
        heap = list(self._buckets)
        heapq.heapify(heap)
        self._heap = heap

    def pop_until(self, limit: int) -> Iterator[Timer]:
        """Pop, lazily and in order, every timer with ``timestamp <= limit``, including
        timers added while the iteration is under way (an earlier one fires next). Timers not
        yet popped when the iteration is abandoned stay registered."""
        buckets = self._buckets
        while True:
            heap = self._heap  # re-read: a removal during the iteration may compact the heap
            if not heap or heap[0] > limit:
                return
            ts = heapq.heappop(heap)
            bucket = buckets.pop(ts, None)
            if bucket is None:  # stale: the bucket was emptied by deletions
                continue
            self._firing, self._firing_ts = bucket, ts
            try:
                for entry in list(bucket):
                    heap = self._heap
                    if heap and heap[0] < ts:
                        break  # a timer earlier than this one was registered: it goes first
                    if entry in bucket:  # not deleted meanwhile
                        del bucket[entry]
                        yield Timer(ts, entry[0], entry[1])
            finally:
                self._firing, self._firing_ts = None, None
                if bucket:
                    self._requeue(ts, bucket)

    def pop_groups_until(self, limit: int) -> Iterator[tuple[int, Bucket]]:
        """Pop, in timestamp order, the timers with ``timestamp <= limit`` a timestamp at a
        time: ``(timestamp, {(key, namespace): None, ...})`` in registration order. For
        callers that register no timer at or before a timestamp they are handling and delete
        none of its timers (a window operator with the built-in event-time trigger); a timer
        registered later than that still fires in this pass."""
        buckets = self._buckets
        while True:
            heap = self._heap
            if not heap or heap[0] > limit:
                return
            ts = heapq.heappop(heap)
            bucket = buckets.pop(ts, None)
            if bucket:
                yield ts, bucket

    def _requeue(self, timestamp: int, bucket: Bucket) -> None:
        """Put back the unfired rest of a bucket, before timers registered for the same
        timestamp while it was firing."""
        newer = self._buckets.get(timestamp)
        if newer is None:
            heapq.heappush(self._heap, timestamp)
        else:
            bucket.update(newer)
        self._buckets[timestamp] = bucket

    def peek_timestamp(self) -> int | None:
        """The earliest registered timestamp, or ``None``."""
        heap, buckets = self._heap, self._buckets
        while heap:
            bucket = buckets.get(heap[0])
            if bucket:
                break
            if bucket is not None:  # left empty by a caller of bucket()
                del buckets[heap[0]]
            heapq.heappop(heap)
        earliest = heap[0] if heap else None
        firing_ts = self._firing_ts
        if self._firing and firing_ts is not None and (earliest is None or firing_ts < earliest):
            return firing_ts
        return earliest

    def timers(self) -> list[Timer]:
        """All registered timers in firing order (a copy)."""
        return timers_in_order(self.capture())

    def capture(self) -> dict[int, Bucket]:
        """A copy of the registered timers, bucket by bucket, that later registrations and
        deletions do not change: the synchronous part of a snapshot (one ``dict.copy`` per
        timestamp). :func:`timers_in_order` lists them."""
        pending = {ts: bucket.copy() for ts, bucket in self._buckets.items()}
        if self._firing:
            ts = self._firing_ts
            assert ts is not None
            pending[ts] = {**self._firing, **pending.get(ts, {})}
        return pending

    def __len__(self) -> int:
        return sum(map(len, self._buckets.values())) + len(self._firing or ())

    def __contains__(self, timer: object) -> bool:
        if not isinstance(timer, tuple) or len(timer) != 3:
            return False
        ts, key, namespace = timer
        entry = (key, namespace)
        bucket = self._buckets.get(ts)
        if bucket is not None and entry in bucket:
            return True
        return ts == self._firing_ts and self._is_firing(entry)

    def clear(self) -> None:
        self._buckets.clear()
        self._heap.clear()
        if self._firing is not None:
            self._firing.clear()


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
        self._event.add_entry(timestamp, self._keys._current_key, namespace)

    def delete_event_time_timer(self, namespace: Any, timestamp: int) -> None:
        self._event.remove_entry(timestamp, self._keys._current_key, namespace)

    def register_processing_time_timer(self, namespace: Any, timestamp: int) -> None:
        self._processing.add_entry(timestamp, self._keys._current_key, namespace)

    def delete_processing_time_timer(self, namespace: Any, timestamp: int) -> None:
        self._processing.remove_entry(timestamp, self._keys._current_key, namespace)

    @property
    def event_timers(self) -> TimerQueue:
        """The event-time queue, for operators that register timers of keys other than the
        current one (``add_entry``/``remove_entry``)."""
        return self._event

    @property
    def processing_timers(self) -> TimerQueue:
        """The processing-time queue (see :attr:`event_timers`)."""
        return self._processing

    def current_watermark(self) -> int:
        """The last watermark passed to :meth:`advance_watermark` (initially ``-2**63``)."""
        return self._watermark

    def advance_watermark(self, watermark: int) -> Iterator[Timer]:
        """Set the watermark now and return the event-time timers with
        ``timestamp <= watermark``, popped lazily in timestamp order."""
        self._watermark = watermark
        return self._event.pop_until(watermark)

    def advance_watermark_groups(self, watermark: int) -> Iterator[tuple[int, Bucket]]:
        """:meth:`advance_watermark` a timestamp at a time (see
        :meth:`TimerQueue.pop_groups_until` for what the caller must not do meanwhile)."""
        self._watermark = watermark
        return self._event.pop_groups_until(watermark)

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
