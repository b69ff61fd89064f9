"""Synchronising a test with the job it runs: a latch the job's test sources wait for, and a
bounded poll for a condition."""

from __future__ import annotations

import threading
import time
import uuid
import weakref
from collections.abc import Callable
from typing import Any

__all__ = ["Latch", "wait_until"]

#: latch id -> its event, for the copies of a latch that tasks unpickle in this process. Every
#: copy holds the event, so it lives as long as one of them does and no longer: a process that
#: runs many jobs does not accumulate latches.
_events: weakref.WeakValueDictionary[str, threading.Event] = weakref.WeakValueDictionary()
_lock = threading.Lock()


def _registered(latch_id: str) -> threading.Event:
    with _lock:
        event = _events.get(latch_id)
        if event is None:
            event = _events[latch_id] = threading.Event()
        return event


class Latch:
    """A one-shot latch: a test :meth:`trigger`\\ s it, a job waits for it (see
    ``TestingSource.AWAIT``). A latch pickled into a job graph still refers to the same latch
    in this process, so it works with every cluster that runs tasks in the test's process.

    >>> latch = Latch()
    >>> latch.is_triggered()
    False
    >>> latch.trigger(); latch.is_triggered()
    True
    """

    __slots__ = ("_held", "latch_id")

    def __init__(self) -> None:
        self.latch_id = uuid.uuid4().hex
        self._held = _registered(self.latch_id)

    def _event(self) -> threading.Event:
        return self._held

    def trigger(self) -> None:
        """Release everything waiting for this latch, now and later."""
        self._event().set()

    def is_triggered(self) -> bool:
        return self._event().is_set()

    def wait(self, timeout_s: float | None = None) -> bool:
        """Block until triggered (or ``timeout_s`` passed); True if triggered."""
        return self._event().wait(timeout_s)

    def __getstate__(self) -> dict[str, Any]:
        return {"latch_id": self.latch_id}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.latch_id = state["latch_id"]
        self._held = _registered(self.latch_id)

    def __repr__(self) -> str:
        return f"Latch({self.latch_id[:8]}, triggered={self.is_triggered()})"


def wait_until(
    condition: Callable[[], Any], timeout_s: float = 10.0, what: str | None = None,
    interval_s: float = 0.002,
) -> None:
    """Poll ``condition`` every ``interval_s`` until it is truthy; raise ``TimeoutError``
    naming ``what`` (or the condition) after ``timeout_s`` seconds."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"waited {timeout_s} s for {what or condition!r}, which never became true"
            )
        time.sleep(interval_s)
