"""Heap state objects with time-to-live (Flink's ``StateTtlConfig`` semantics, processing time).

Stored values carry their last-access timestamp: ``(value, ts)`` for value, reducing and
aggregating state; a list of ``(element, ts)`` for list state and a dict
``user_key -> (value, ts)`` for map state (per-element TTL, as in Flink). An entry is expired
when ``ts + ttl <= now``.

* Update type ``OnCreateAndWrite`` stamps on every write; ``OnReadAndWrite`` also on reads.
* Visibility ``NeverReturnExpired`` hides expired entries; ``ReturnExpiredIfNotCleanedUp``
  returns an expired entry that is still stored (and removes it in the same read).
* Expired entries are removed when read; incremental cleanup checks ``cleanup_size``
  entries round-robin on every access (and, if configured, on every record); with
  ``cleanup_full_snapshot`` snapshots leave expired entries out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, ClassVar

from strom.datastream.state import StateDescriptor, StateTtlConfig
from strom.state.heap_states import (
    HeapAggregatingState,
    HeapListState,
    HeapMapState,
    HeapReducingState,
    HeapState,
    HeapValueState,
    KeyContext,
    NamespaceMap,
    _reject_none_elements,
)

__all__ = [
    "TtlAggregatingState",
    "TtlListState",
    "TtlMapState",
    "TtlPolicy",
    "TtlReducingState",
    "TtlValueState",
]


class TtlPolicy:
    """A :class:`StateTtlConfig` resolved for the heap backend, with the backend's clock."""

    __slots__ = (
        "cleanup_every_record",
        "cleanup_in_snapshot",
        "cleanup_size",
        "clock",
        "return_expired",
        "ttl",
        "update_on_read",
    )

    def __init__(self, config: StateTtlConfig, clock: Callable[[], int]) -> None:
        self.ttl = config.get_ttl().to_milliseconds()
        self.update_on_read = config.get_update_type() is StateTtlConfig.UpdateType.OnReadAndWrite
        self.return_expired = (
            config.get_state_visibility()
            is StateTtlConfig.StateVisibility.ReturnExpiredIfNotCleanedUp
        )
        self.clock = clock
        strategies = config.get_cleanup_strategies()
        self.cleanup_in_snapshot = strategies.in_full_snapshot()
        incremental = strategies.get_incremental_cleanup_strategy()
        self.cleanup_size = 0 if incremental is None else incremental.get_cleanup_size()
        self.cleanup_every_record = (
            incremental is not None and incremental.run_cleanup_for_every_record()
        )


class _TtlState(HeapState):
    """Expiry checks, incremental cleanup and snapshot filtering shared by the TTL states."""

    __slots__ = ()
    has_ttl = True
    _single_value: ClassVar[bool] = True
    """Whether stored values are one ``(value, ts)`` pair (not a list or map of them)."""

    def __init__(
        self,
        backend: KeyContext,
        descriptor: StateDescriptor,
        policy: TtlPolicy,
        namespaces: NamespaceMap | None = None,
    ) -> None:
        super().__init__(backend, descriptor, namespaces)
        self._policy = policy
        # Incremental cleanup: the namespaces left in this pass, the one being walked, its
        # map, a copy of its keys and the position in that copy.
        self._pending: list[Any] = []
        self._cursor_ns: Any = None
        self._cursor_map: dict[Any, Any] = {}
        self._cursor: list[Any] = []
        self._cursor_pos = 0

    def _purge(self, stored: Any, now: int) -> Any:
        """``stored`` without its expired parts: ``None`` if nothing is left, ``stored``
        itself if nothing expired."""
        _, ts = stored
        return None if ts + self._policy.ttl <= now else stored

    def _cleanup_step(self) -> None:
        """Check the next ``cleanup_size`` entries and drop the expired ones.

        A pass walks the namespaces one at a time, each over a copy of its keys taken when
        the walk reaches it; when all are done the next pass starts. Keys added meanwhile are
        checked in a later pass."""
        policy = self._policy
        budget = policy.cleanup_size
        if budget <= 0:
            return
        now, ttl = policy.clock(), policy.ttl
        keys, pos, m = self._cursor, self._cursor_pos, self._cursor_map
        restarted = False
        while True:
            chunk = keys[pos : pos + budget]
            if chunk:
                pos += len(chunk)
                budget -= len(chunk)
                get = m.get
                if self._single_value:
                    for key in chunk:
                        stored = get(key)
                        if stored is not None and stored[1] + ttl <= now:
                            del m[key]
                else:
                    purge = self._purge
                    for key in chunk:
                        stored = get(key)
                        if stored is not None:
                            kept = purge(stored, now)
                            if kept is None:
                                del m[key]
                            elif kept is not stored:
                                m[key] = kept
                if not m:
                    self._discard_if_empty(self._cursor_ns, m)
                if budget <= 0:
                    break
            pending = self._pending
            if not pending:
                if restarted:
                    break
                pending = self._pending = list(self._namespaces)
                restarted = True
            self._cursor_ns = pending.pop()
            found = self._namespaces.get(self._cursor_ns)
            m = {} if found is None else found
            keys, pos = list(m), 0
        self._cursor, self._cursor_pos, self._cursor_map = keys, pos, m

    def per_record_cleanup(self) -> Callable[[], None] | None:
        return self._cleanup_step if self._policy.cleanup_every_record else None

    def snapshot_filter(self) -> Callable[[Any, int], Any] | None:
        return self._purge if self._policy.cleanup_in_snapshot else None

    def iter_snapshot_entries(self, now: int) -> Iterator[tuple[Any, Any, Any]]:
        if not self._policy.cleanup_in_snapshot:
            yield from super().iter_snapshot_entries(now)
            return
        for ns, m in self._namespaces.items():
            for key, stored in m.items():
                kept = self._purge(stored, now)
                if kept is not None:
                    yield ns, key, kept

    def _read_single(self) -> Any:
        """Read a ``(value, ts)`` entry of the current key with TTL check and update."""
        self._cleanup_step()
        m = self._ns_map
        if m is None:
            return None
        key = self._backend._current_key
        stored = self._stored(m, key)
        if stored is None:
            return None
        value, ts = stored
        policy = self._policy
        now = policy.clock()
        if ts + policy.ttl <= now:
            del m[key]
            self._discard_if_empty(self._ns, m)
            return value if policy.return_expired else None
        if policy.update_on_read:
            m[key] = (value, now)
        return value

    def _usable(self, stored: Any, now: int) -> Any:
        """The value of a ``(value, ts)`` entry if it may still be used, else ``None``."""
        if stored is None:
            return None
        value, ts = stored
        if ts + self._policy.ttl <= now and not self._policy.return_expired:
            return None
        return value


class TtlValueState(_TtlState, HeapValueState):
    __slots__ = ()

    def value(self) -> Any:
        return self._read_single()

    def update(self, value: Any) -> None:
        self._cleanup_step()
        if value is None:
            self.clear()
            return
        self._write_map()[self._backend._current_key] = (value, self._policy.clock())


class TtlReducingState(_TtlState, HeapReducingState):
    __slots__ = ()

    def get(self) -> Any:
        return self._read_single()

    def add(self, value: Any) -> None:
        self._cleanup_step()
        if value is None:
            self.clear()
            return
        m = self._write_map()
        key = self._backend._current_key
        now = self._policy.clock()
        old = self._usable(self._stored(m, key), now)
        m[key] = (value if old is None else self._reduce(old, value), now)

    def merge_namespaces(self, target_namespace: Any, source_namespaces: Iterable[Any]) -> None:
        key = self._backend._current_key
        now = self._policy.clock()
        merged = None
        for ns in source_namespaces:
            value = self._usable(self._pop_stored(ns, key), now)
            if value is not None:
                merged = value if merged is None else self._reduce(merged, value)
        if merged is None:
            return
        m = self._map_for(target_namespace)
        old = self._usable(self._thaw(m, target_namespace, key), now)
        m[key] = (merged if old is None else self._reduce(old, merged), now)


class TtlAggregatingState(_TtlState, HeapAggregatingState):
    __slots__ = ()

    def get(self) -> Any:
        acc = self._read_single()
        return None if acc is None else self._agg.get_result(acc)

    def add(self, value: Any) -> None:
        self._cleanup_step()
        if value is None:
            self.clear()
            return
        m = self._write_map()
        key = self._backend._current_key
        now = self._policy.clock()
        acc = self._usable(self._stored(m, key), now)
        if acc is None:
            acc = self._agg.create_accumulator()
        m[key] = (self._agg.add(value, acc), now)

    def merge_namespaces(self, target_namespace: Any, source_namespaces: Iterable[Any]) -> None:
        key = self._backend._current_key
        now = self._policy.clock()
        agg = self._agg
        merged = None
        for ns in source_namespaces:
            acc = self._usable(self._pop_stored(ns, key), now)
            if acc is not None:
                merged = acc if merged is None else agg.merge(merged, acc)
        if merged is None:
            return
        m = self._map_for(target_namespace)
        old = self._usable(self._thaw(m, target_namespace, key), now)
        m[key] = (merged if old is None else agg.merge(old, merged), now)


class TtlListState(_TtlState, HeapListState):
    """List state with a timestamp per element."""

    __slots__ = ()
    _single_value = False

    def _purge(self, stored: Any, now: int) -> Any:
        ttl = self._policy.ttl
        live = [e for e in stored if e[1] + ttl > now]
        if len(live) == len(stored):
            return stored
        return live or None

    def get(self) -> list[Any]:
        self._cleanup_step()
        m = self._ns_map
        if m is None:
            return []
        key = self._backend._current_key
        stored = self._stored(m, key)
        if stored is None:
            return []
        policy = self._policy
        now = policy.clock()
        live = self._purge(stored, now)
        result = [e[0] for e in (stored if policy.return_expired else (live or ()))]
        if live is None:
            del m[key]
            self._discard_if_empty(self._ns, m)
        elif policy.update_on_read:
            m[key] = [(e[0], now) for e in live]
        elif live is not stored:
            m[key] = live
        return result

    def add(self, value: Any) -> None:
        self._cleanup_step()
        if value is None:
            raise ValueError(f"ListState {self.name!r}: cannot add None to a list state")
        m = self._write_map()
        key = self._backend._current_key
        entry = (value, self._policy.clock())
        stored = self._stored(m, key)
        if stored is None:
            m[key] = [entry]
        else:
            stored.append(entry)

    def add_all(self, values: list[Any]) -> None:
        self._cleanup_step()
        items = _reject_none_elements(self.name, values, "add_all")
        if not items:
            return
        now = self._policy.clock()
        m = self._write_map()
        key = self._backend._current_key
        entries = [(v, now) for v in items]
        stored = self._stored(m, key)
        if stored is None:
            m[key] = entries
        else:
            stored.extend(entries)

    def update(self, values: list[Any]) -> None:
        self._cleanup_step()
        items = _reject_none_elements(self.name, values, "update")
        if not items:
            self.clear()
            return
        now = self._policy.clock()
        self._write_map()[self._backend._current_key] = [(v, now) for v in items]


class TtlMapState(_TtlState, HeapMapState):
    """Map state with a timestamp per entry."""

    __slots__ = ()
    _single_value = False

    def _purge(self, stored: Any, now: int) -> Any:
        ttl = self._policy.ttl
        live = {k: e for k, e in stored.items() if e[1] + ttl > now}
        if len(live) == len(stored):
            return stored
        return live or None

    def _checked(self) -> dict[Any, Any] | None:
        self._cleanup_step()
        m = self._ns_map
        if m is None:
            return None
        d: dict[Any, Any] | None = self._stored(m, self._backend._current_key)
        return d

    def _drop_if_empty(self, d: dict[Any, Any]) -> None:
        if not d:
            m = self._ns_map
            assert m is not None
            del m[self._backend._current_key]
            self._discard_if_empty(self._ns, m)

    def _read_entry(self, d: dict[Any, Any], user_key: Any, now: int) -> tuple[bool, Any]:
        """``(visible, value)`` of one entry, with TTL check and update."""
        entry = d.get(user_key)
        if entry is None:
            return False, None
        value, ts = entry
        policy = self._policy
        if ts + policy.ttl <= now:
            del d[user_key]
            self._drop_if_empty(d)
            return policy.return_expired, (value if policy.return_expired else None)
        if policy.update_on_read:
            d[user_key] = (value, now)
        return True, value

    def get(self, key: Any) -> Any:
        d = self._checked()
        if d is None:
            return None
        return self._read_entry(d, key, self._policy.clock())[1]

    def contains(self, key: Any) -> bool:
        d = self._checked()
        if d is None:
            return False
        return self._read_entry(d, key, self._policy.clock())[0]

    def put(self, key: Any, value: Any) -> None:
        self._cleanup_step()
        m = self._write_map()
        current = self._backend._current_key
        entry = (value, self._policy.clock())
        d = self._stored(m, current)
        if d is None:
            m[current] = {key: entry}
        else:
            d[key] = entry

    def put_all(self, dict_value: dict[Any, Any]) -> None:
        self._cleanup_step()
        if not dict_value:
            return
        now = self._policy.clock()
        m = self._write_map()
        current = self._backend._current_key
        entries = {k: (v, now) for k, v in dict_value.items()}
        d = self._stored(m, current)
        if d is None:
            m[current] = entries
        else:
            d.update(entries)

    def remove(self, key: Any) -> None:
        self._cleanup_step()
        HeapMapState.remove(self, key)

    def items(self) -> list[tuple[Any, Any]]:
        d = self._checked()
        if d is None:
            return []
        now = self._policy.clock()
        out = []
        for user_key in list(d):
            visible, value = self._read_entry(d, user_key, now)
            if visible:
                out.append((user_key, value))
        return out

    def keys(self) -> list[Any]:
        return [k for k, _ in self.items()]

    def values(self) -> list[Any]:
        return [v for _, v in self.items()]

    def is_empty(self) -> bool:
        return not self.items()
