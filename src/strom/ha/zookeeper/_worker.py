"""The thread on which a ZooKeeper driver does its work. kazoo calls watches on its event
thread and state listeners on its connection thread; neither may block on a ZooKeeper
call, so both only put an event here, and this thread handles the events one by one in
their order."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

__all__ = ["DriverWorker"]

log = logging.getLogger(__name__)

#: how long ``close()`` waits for the thread to end
CLOSE_TIMEOUT_S = 10.0


class DriverWorker:
    """A named thread running ``handle(event)`` for each :meth:`put` event, and
    ``handle(retry_event)`` again ``retry_s`` after :meth:`retry_later` asked for it (a step
    that failed on a transient error while connected)."""

    def __init__(self, name: str, handle: Callable[[Any], None],
                 on_crash: Callable[[BaseException], None]) -> None:
        self._handle = handle
        self._on_crash = on_crash
        self._events: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._retry: tuple[float, Any] | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def put(self, event: Any) -> None:
        """Queue ``event`` (any thread; never blocks)."""
        self._events.put(event)

    def sync(self, timeout_s: float) -> bool:
        """Wait until every event queued before this call is handled; False on timeout."""
        handled = threading.Event()
        self._events.put(_Sync(handled))
        return handled.wait(timeout_s)

    def retry_later(self, event: Any, retry_s: float) -> None:
        """Handle ``event`` again after ``retry_s`` unless one is due sooner (worker thread
        only)."""
        due = time.monotonic() + retry_s
        if self._retry is None or self._retry[0] > due:
            self._retry = (due, event)

    def stop(self, last: Any) -> None:
        """Handle ``last`` after what is queued, then end the thread; waits for it unless
        called on the thread itself."""
        self._events.put(_Stop(last))
        if threading.current_thread() is not self._thread and self._thread.is_alive():
            self._thread.join(CLOSE_TIMEOUT_S)
            if self._thread.is_alive():
                log.warning("%s did not end within %.0f s", self._thread.name, CLOSE_TIMEOUT_S)

    def _run(self) -> None:
        while True:
            timeout = None
            if self._retry is not None:
                timeout = max(0.0, self._retry[0] - time.monotonic())
            try:
                event = self._events.get(timeout=timeout)
            except queue.Empty:
                assert self._retry is not None
                event, self._retry = self._retry[1], None
            try:
                if isinstance(event, _Sync):
                    event.handled.set()
                    continue
                if isinstance(event, _Stop):
                    self._handle(event.last)
                    return
                self._handle(event)
            except Exception as error:
                log.exception("%s failed", self._thread.name)
                self._on_crash(error)


class _Stop:
    __slots__ = ("last",)

    def __init__(self, last: Any) -> None:
        self.last = last


class _Sync:
    __slots__ = ("handled",)

    def __init__(self, handled: threading.Event) -> None:
        self.handled = handled
