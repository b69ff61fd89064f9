"""A processing-time clock that only moves when the test moves it."""

from __future__ import annotations

import threading
from collections.abc import Callable

__all__ = ["ManualClock"]


class ManualClock:
    """Callable clock (epoch ms). ``advance`` and ``set`` wake every task of the clusters
    that use it, so processing-time timers and windows fire without sleeping.

    >>> clock = ManualClock(1000)
    >>> clock.advance(500)
    >>> clock()
    1500
    """

    def __init__(self, start_ms: int = 0) -> None:
        self._now = start_ms
        self._lock = threading.Lock()
        self._listeners: list[Callable[[], None]] = []

    def __call__(self) -> int:
        return self._now

    def now(self) -> int:
        return self._now

    def advance(self, millis: int) -> None:
        if millis < 0:
            raise ValueError(f"time only moves forward; got advance({millis})")
        self.set(self._now + millis)

    def set(self, now_ms: int) -> None:
        with self._lock:
            if now_ms < self._now:
                raise ValueError(f"time only moves forward; {now_ms} < {self._now}")
            self._now = now_ms
            listeners = list(self._listeners)
        for listener in listeners:
            listener()

    def add_listener(self, listener: Callable[[], None]) -> None:
        with self._lock:
            self._listeners.append(listener)
