"""User metrics, as in ``pyflink.metrics``: counters, gauges, meters and distributions
registered through ``RuntimeContext.get_metrics_group()``."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

__all__ = ["Counter", "Distribution", "Meter", "MetricGroup"]


class Counter:
    def __init__(self) -> None:
        self._count = 0

    def inc(self, n: int = 1) -> None:
        self._count += n

    def dec(self, n: int = 1) -> None:
        self._count -= n

    def get_count(self) -> int:
        return self._count


class Meter:
    """Events per second since creation (``mark_event``)."""

    def __init__(self, time_span_in_seconds: int = 60) -> None:
        self._count = 0
        self._start = time.monotonic()
        self.time_span_in_seconds = time_span_in_seconds

    def mark_event(self, value: int = 1) -> None:
        self._count += value

    def get_count(self) -> int:
        return self._count

    def get_rate(self) -> float:
        elapsed = time.monotonic() - self._start
        return self._count / elapsed if elapsed > 0 else 0.0


class Distribution:
    def __init__(self) -> None:
        self.count = 0
        self.sum = 0
        self.min: int | None = None
        self.max: int | None = None

    def update(self, value: int) -> None:
        self.count += 1
        self.sum += value
        self.min = value if self.min is None else min(self.min, value)
        self.max = value if self.max is None else max(self.max, value)


class MetricGroup:
    """A named scope of metrics; ``add_group`` nests scopes."""

    def __init__(self, scope: str) -> None:
        self.scope = scope
        self.metrics: dict[str, Any] = {}
        self.groups: dict[str, MetricGroup] = {}

    def add_group(self, name: str, extra: str | None = None) -> MetricGroup:
        key = name if extra is None else f"{name}.{extra}"
        return self.groups.setdefault(key, MetricGroup(f"{self.scope}.{key}"))

    def counter(self, name: str) -> Counter:
        return self.metrics.setdefault(name, Counter())  # type: ignore[no-any-return]

    def gauge(self, name: str, obj: Callable[[], int]) -> None:
        self.metrics[name] = obj

    def meter(self, name: str, time_span_in_seconds: int = 60) -> Meter:
        return self.metrics.setdefault(name, Meter(time_span_in_seconds))  # type: ignore[no-any-return]

    def distribution(self, name: str) -> Distribution:
        return self.metrics.setdefault(name, Distribution())  # type: ignore[no-any-return]
