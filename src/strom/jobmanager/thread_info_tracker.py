"""Which stack samples a flame graph request gets, and when new ones are taken (Flink's
``VertexThreadInfoTracker``): decisions only, no I/O.

Samples are kept per vertex (all its subtasks) and per subtask. A request is answered from
the cache; when there is nothing cached, or what is cached was taken more than
``rest.flamegraph.refresh-interval`` ago, it also starts a new sample unless one for the
same vertex (or, for a subtask, its vertex) is under way. So the first request answers
"not ready" and a later one the samples, as in Flink. A vertex's samples fill its
subtasks' entries too. Entries nobody asked for within ``rest.flamegraph.cleanup-interval``
are dropped.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

from strom.jobmanager.flame_graph import FlameGraphSettings
from strom.rpc.messages import ThreadInfoSample

__all__ = ["SampleKey", "VertexThreadInfoStats", "VertexThreadInfoTracker"]

#: (vertex id, subtask index); None: all the vertex's subtasks
SampleKey = tuple[str, int | None]


@dataclass(frozen=True)
class VertexThreadInfoStats:
    """One request's samples: its id (later requests have larger ones), when it started and
    ended (epoch ms) and the samples per subtask index."""

    request_id: int
    start_time: int
    end_time: int
    samples_by_subtask: dict[int, list[ThreadInfoSample]]


@dataclass
class _Entry:
    stats: VertexThreadInfoStats
    last_access: int


class VertexThreadInfoTracker:
    """The cache of one job's samples. ``clock``: epoch ms."""

    def __init__(self, settings: FlameGraphSettings, clock: Callable[[], int]) -> None:
        self.settings = settings
        self.clock = clock
        self._cache: dict[SampleKey, _Entry] = {}
        self._pending: set[SampleKey] = set()
        self._request_ids = itertools.count(1)

    def lookup(self, key: SampleKey) -> tuple[VertexThreadInfoStats | None, int | None]:
        """The cached samples for ``key`` (None: none yet), and the request id of a sample
        to take now (None: take none). A returned id is pending until :meth:`completed` or
        :meth:`failed`."""
        now = self.clock()
        self._clean_up(now)
        entry = self._cache.get(key)
        stats = None
        if entry is not None:
            entry.last_access = now
            stats = entry.stats
        stale = stats is None or now >= stats.end_time + self.settings.refresh_interval_ms
        if not stale or self.is_pending(key):
            return stats, None
        self._pending.add(key)
        return stats, next(self._request_ids)

    def is_pending(self, key: SampleKey) -> bool:
        vertex_id, subtask = key
        return key in self._pending or (subtask is not None and (vertex_id, None) in self._pending)

    def completed(self, key: SampleKey, stats: VertexThreadInfoStats) -> None:
        """The sample for ``key`` was taken; a vertex's fills its subtasks' entries too
        (unless they hold newer ones)."""
        self._pending.discard(key)
        now = self.clock()
        self._cache[key] = _Entry(stats, now)
        vertex_id, subtask = key
        if subtask is not None:
            return
        for index, samples in stats.samples_by_subtask.items():
            old = self._cache.get((vertex_id, index))
            if old is None or old.stats.request_id < stats.request_id:
                self._cache[(vertex_id, index)] = _Entry(VertexThreadInfoStats(
                    stats.request_id, stats.start_time, stats.end_time, {index: samples}), now)

    def failed(self, key: SampleKey) -> None:
        """The sample for ``key`` could not be taken; the next request tries again."""
        self._pending.discard(key)

    def cached_keys(self) -> list[SampleKey]:
        return list(self._cache)

    def _clean_up(self, now: int) -> None:
        expiry = self.settings.cleanup_interval_ms
        for key in [k for k, e in self._cache.items() if now - e.last_access >= expiry]:
            del self._cache[key]
