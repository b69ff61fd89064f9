"""The channel through which ``execute_and_collect`` gets records back from its sink.

The collect sink and the client meet on a ``CollectBuffer`` registered under the sink's id in
this process. (The embedded local cluster runs the job in the client's process; when jobs
run on a remote cluster the buffer will be fed through the JobMaster instead.)
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

__all__ = ["CollectBuffer", "register_collect_buffer", "lookup_collect_buffer",
           "unregister_collect_buffer"]


class CollectBuffer:
    """A bounded hand-over of record batches from every collect-sink subtask to one client.

    Producers block in :meth:`put_batch` while ``capacity`` batches wait (backpressure); the
    client takes every waiting batch at once with :meth:`take`, so a fast producer costs one
    thread hand-off per group of batches rather than one per batch. Closing the buffer (the
    client went away) unblocks producers and makes them drop what they put.
    """

    def __init__(self, producers: int = 1, capacity: int = 64) -> None:
        self._batches: deque[list[Any]] = deque()
        self._capacity = capacity
        self._producers = producers
        self._ended = 0
        self._condition = threading.Condition(threading.Lock())
        self._consumer_waiting = False
        self._producers_waiting = 0
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    def put_batch(self, values: list[Any], cancelled: threading.Event | None = None) -> None:
        """Hand over one batch (the buffer keeps it: do not reuse the list). While the buffer
        is full this waits, unless ``cancelled`` is set (then the batch is dropped; see
        :meth:`wake_producers`)."""
        with self._condition:
            while len(self._batches) >= self._capacity and not self._closed:
                if cancelled is not None and cancelled.is_set():
                    return
                self._producers_waiting += 1
                try:
                    self._condition.wait(0.1)
                finally:
                    self._producers_waiting -= 1
            if self._closed:
                return
            self._batches.append(values)
            if self._consumer_waiting:
                self._condition.notify_all()

    def wake_producers(self) -> None:
        """Make waiting producers look at their ``cancelled`` event again now."""
        with self._condition:
            self._condition.notify_all()

    def end(self) -> None:
        """One producer has put its last batch."""
        with self._condition:
            self._ended += 1
            if self._consumer_waiting:
                self._condition.notify_all()

    def take(self, timeout: float) -> tuple[deque[list[Any]], bool]:
        """Every batch waiting now, or, when none is, those that arrive within ``timeout``
        seconds; and whether every producer has ended and nothing is left after these."""
        with self._condition:
            if not self._batches and self._ended < self._producers:
                self._consumer_waiting = True
                try:
                    self._condition.wait(timeout)
                finally:
                    self._consumer_waiting = False
            batches, self._batches = self._batches, deque()
            if self._producers_waiting:
                self._condition.notify_all()
            return batches, self._ended >= self._producers

    def close(self) -> None:
        """The client is gone: drop waiting batches and unblock the producers."""
        with self._condition:
            self._closed = True
            self._batches.clear()
            self._condition.notify_all()


_registry: dict[str, CollectBuffer] = {}
_registry_lock = threading.Lock()


def register_collect_buffer(collect_id: str, buffer: CollectBuffer) -> None:
    with _registry_lock:
        _registry[collect_id] = buffer


def lookup_collect_buffer(collect_id: str) -> CollectBuffer:
    with _registry_lock:
        buffer = _registry.get(collect_id)
    if buffer is None:
        raise RuntimeError(
            f"execute_and_collect: no client is waiting for results '{collect_id}'. Collecting "
            "results needs the job to run on the embedded local cluster in this process."
        )
    return buffer


def unregister_collect_buffer(collect_id: str) -> None:
    with _registry_lock:
        buffer = _registry.pop(collect_id, None)
    if buffer is not None:
        buffer.close()
