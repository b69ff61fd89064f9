"""The channel through which ``execute_and_collect`` gets records back from its sink.

The collect sink and the client meet on a ``CollectBuffer`` registered under the sink's id in
this process. (The embedded local cluster runs the job in the client's process; when jobs
run on a remote cluster the buffer will be fed through the JobMaster instead.)
"""

from __future__ import annotations

import queue
import threading
from typing import Any

__all__ = ["CollectBuffer", "register_collect_buffer", "lookup_collect_buffer",
           "unregister_collect_buffer"]

_END = object()


class CollectBuffer:
    """A bounded queue of record batches from every collect-sink subtask."""

    def __init__(self, producers: int = 1, capacity: int = 64) -> None:
        self.queue: queue.Queue[Any] = queue.Queue(maxsize=capacity)
        self.producers = producers
        self._ended = 0
        self._lock = threading.Lock()
        self.closed = False

    def put_batch(self, values: list[Any]) -> None:
        while not self.closed:
            try:
                self.queue.put(values, timeout=0.1)
                return
            except queue.Full:
                continue

    def end(self) -> None:
        with self._lock:
            self._ended += 1
            last = self._ended >= self.producers
        if last:
            self.put_batch(_END)  # type: ignore[arg-type]

    def get(self, timeout: float) -> tuple[bool, list[Any] | None]:
        """(ended, batch): batch is None on timeout."""
        try:
            item = self.queue.get(timeout=timeout)
        except queue.Empty:
            return False, None
        if item is _END:
            return True, None
        return False, item


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
        buffer.closed = True
