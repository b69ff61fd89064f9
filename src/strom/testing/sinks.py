"""A sink that collects what reaches it, for assertions in tests."""

from __future__ import annotations

import threading
import uuid
import weakref
from collections.abc import Sequence
from typing import Any

from strom.datastream.connectors.base import Sink, SinkWriter, SinkWriterContext

__all__ = ["CollectSink"]


class _Collected:
    """What one CollectSink received: records and their timestamps, behind one lock."""

    __slots__ = ("__weakref__", "lock", "results", "timestamps")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.results: list[Any] = []
        self.timestamps: list[int | None] = []


#: sink id -> its records, for the copies of the sink that tasks unpickle in this process.
#: Only the CollectSink the test holds keeps an entry alive: when it is garbage, its records
#: (and the entry) go too, so a process that runs many jobs does not accumulate them.
_collected: weakref.WeakValueDictionary[str, _Collected] = weakref.WeakValueDictionary()
_registry_lock = threading.Lock()


def _registered(sink_id: str) -> _Collected:
    """The records of sink ``sink_id``. If the sink that owned them is gone nobody can read
    them any more, so its copies in running tasks collect into a fresh store that is dropped
    with them."""
    with _registry_lock:
        collected = _collected.get(sink_id)
        if collected is None:
            collected = _collected[sink_id] = _Collected()
        return collected


class _CollectWriter(SinkWriter[Any]):
    def __init__(self, collected: _Collected) -> None:
        self.collected = collected

    def write(self, values: Sequence[Any], timestamps: Sequence[int] | None) -> None:
        collected = self.collected
        with collected.lock:
            collected.results.extend(values)
            collected.timestamps.extend(
                timestamps if timestamps is not None else [None] * len(values)
            )


class CollectSink(Sink[Any]):
    """Collects every record (from all parallel instances) of a job run in this process.

    ``results`` lists the records in arrival order (interleaved across subtasks);
    ``timestamps`` the event timestamps alongside (None where a record had none). They stay
    readable after the job ends, for as long as the test keeps the sink.
    """

    name = "Collect Sink"

    def __init__(self) -> None:
        self.sink_id = uuid.uuid4().hex
        self._collected = _registered(self.sink_id)

    # A job's tasks get pickled copies of the sink; they find this sink's records by id.
    def __getstate__(self) -> dict[str, Any]:
        return {"sink_id": self.sink_id}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.sink_id = state["sink_id"]
        self._collected = _registered(self.sink_id)

    @property
    def results(self) -> list[Any]:
        with self._collected.lock:
            return list(self._collected.results)

    @property
    def timestamps(self) -> list[int | None]:
        with self._collected.lock:
            return list(self._collected.timestamps)

    def clear(self) -> None:
        with self._collected.lock:
            self._collected.results.clear()
            self._collected.timestamps.clear()

    def create_writer(self, context: SinkWriterContext) -> SinkWriter[Any]:
        return _CollectWriter(self._collected)
