"""A sink that collects what reaches it, for assertions in tests."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Sequence
from typing import Any

from strom.datastream.connectors.base import Sink, SinkWriter, SinkWriterContext

__all__ = ["CollectSink"]

_results: dict[str, list[Any]] = {}
_timestamps: dict[str, list[int | None]] = {}
_lock = threading.Lock()


class _CollectWriter(SinkWriter[Any]):
    def __init__(self, sink_id: str) -> None:
        self.sink_id = sink_id

    def write(self, values: Sequence[Any], timestamps: Sequence[int] | None) -> None:
        with _lock:
            _results[self.sink_id].extend(values)
            _timestamps[self.sink_id].extend(
                timestamps if timestamps is not None else [None] * len(values)
            )


class CollectSink(Sink[Any]):
    """Collects every record (from all parallel instances) of a job run in this process.

    ``results`` lists the records in arrival order (interleaved across subtasks);
    ``timestamps`` the event timestamps alongside (None where a record had none).
    """

    name = "Collect Sink"

    def __init__(self) -> None:
        self.sink_id = uuid.uuid4().hex
        with _lock:
            _results[self.sink_id] = []
            _timestamps[self.sink_id] = []

    @property
    def results(self) -> list[Any]:
        with _lock:
            return list(_results[self.sink_id])

    @property
    def timestamps(self) -> list[int | None]:
        with _lock:
            return list(_timestamps[self.sink_id])

    def clear(self) -> None:
        with _lock:
            _results[self.sink_id].clear()
            _timestamps[self.sink_id].clear()

    def create_writer(self, context: SinkWriterContext) -> SinkWriter[Any]:
        return _CollectWriter(self.sink_id)
