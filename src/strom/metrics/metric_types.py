"""The metric types, as in ``pyflink.metrics`` (and Flink's ``SimpleCounter``, ``Gauge``,
``MeterView``, ``DescriptiveStatisticsHistogram``).

They are plain objects on the hot path: ``Counter.inc`` is one attribute update, no lock
(each metric is written by one thread, its task's; readers on other threads see a value
that is at most one update old). Metrics that need a time window implement :class:`View`
and are refreshed by their registry before it reports (at most once per
:data:`VIEW_REFRESH_MIN_INTERVAL_S`), so no thread runs for them.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

__all__ = ["VIEW_REFRESH_MIN_INTERVAL_S", "Counter", "Distribution", "Gauge", "Meter", "Metric",
           "View"]

#: views are refreshed at most this often (a report in between sees the last refresh)
VIEW_REFRESH_MIN_INTERVAL_S = 1.0


class Metric:
    """Base of all metric types."""


@runtime_checkable
class View(Protocol):
    """A metric whose value is computed over a time window; the registry calls
    ``refresh()`` before it reports (at most once per :data:`VIEW_REFRESH_MIN_INTERVAL_S`)."""

    def refresh(self) -> None: ...


class Counter(Metric):
    """A count that goes up (``inc``) and down (``dec``)."""

    __slots__ = ("_count",)

    def __init__(self) -> None:
        self._count = 0

    def inc(self, n: int = 1) -> None:
        self._count += n

    def dec(self, n: int = 1) -> None:
        self._count -= n

    def get_count(self) -> int:
        return self._count


class Gauge(Metric):
    """A value read when reported: wraps the user's ``Callable[[], value]``."""

    __slots__ = ("_get",)

    def __init__(self, get: Callable[[], Any]) -> None:
        self._get = get

    def get_value(self) -> Any:
        return self._get()


class Meter(Metric):
    """Events per second over the last ``time_span_in_seconds`` (Flink's ``MeterView``).

    ``mark_event`` counts; ``refresh()`` (called by the registry before it reports)
    recomputes the rate from the oldest count seen within the time span. A meter over an
    existing :class:`Counter` (``Meter(counter=c)``) reads that counter instead of its own,
    which is how ``numRecordsInPerSecond`` follows ``numRecordsIn``.
    """

    __slots__ = ("_clock", "_count", "_counter", "_history", "_rate", "time_span_in_seconds")

    def __init__(self, time_span_in_seconds: int = 60, counter: Counter | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.time_span_in_seconds = max(1, int(time_span_in_seconds))
        self._count = 0
        self._counter = counter
        self._clock = clock
        self._history: deque[tuple[float, int]] = deque([(clock(), self.get_count())])
        self._rate = 0.0

    def mark_event(self, value: int = 1) -> None:
        self._count += value

    def get_count(self) -> int:
        counter = self._counter
        return self._count if counter is None else counter.get_count()

    def get_rate(self) -> float:
        """Events per second over the span, as of the last refresh."""
        return self._rate

    def refresh(self) -> None:
        now, count = self._clock(), self.get_count()
        history = self._history
        history.append((now, count))
        horizon = now - self.time_span_in_seconds
        while len(history) > 2 and history[1][0] <= horizon:
            history.popleft()
        then, before = history[0]
        elapsed = now - then
        self._rate = (count - before) / elapsed if elapsed > 0 else 0.0


class Distribution(Metric):
    """A distribution of values (PyFlink's ``Distribution``): count, sum, min, max and
    mean, reported as a histogram."""

    __slots__ = ("count", "max", "min", "sum")

    def __init__(self) -> None:
        self.count = 0
        self.sum = 0
        self.min: int | None = None
        self.max: int | None = None

    def update(self, value: int) -> None:
        self.count += 1
        self.sum += value
        if self.min is None or value < self.min:
            self.min = value
        if self.max is None or value > self.max:
            self.max = value

    @property
    def mean(self) -> float:
        return self.sum / self.count if self.count else 0.0
