"""The ``rocksdb`` backend's state objects: every access reads or writes RocksDB rows.

One row per ``(state, key, namespace)`` (layout in :mod:`strom.state.rocksdb_keys`) holds
the pickled stored value, in the ``hashmap`` backend's stored form: the value (value and
reducing state), the accumulator (aggregating state), a non-empty list (list state) or a
non-empty dict (map state: the whole map of one key is one row); with TTL, ``(value, ts)``,
a list of ``(element, ts)`` or a dict ``user_key -> (value, ts)``, as
:mod:`strom.state.ttl_states` describes (same expiry, visibility and cleanup rules).
``None`` is never stored: a missing row means "absent".
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, MutableMapping
from typing import TYPE_CHECKING, Any, ClassVar

from strom.datastream.state import (
    AggregatingState,
    AggregatingStateDescriptor,
    ListState,
    MapState,
    ReducingState,
    ReducingStateDescriptor,
    StateDescriptor,
    ValueState,
)
from strom.state.heap_states import _reject_none_elements
from strom.state.namespaces import VOID_NAMESPACE
from strom.state.rocksdb_keys import dumps_value, encode_object, loads_value
from strom.state.ttl_states import TtlPolicy

if TYPE_CHECKING:
    from strom.state.rocksdb_backend import RocksDBKeyedStateBackend

__all__ = [
    "ROCKS_STATE_CLASSES",
    "RocksAggregatingState",
    "RocksListState",
    "RocksMapState",
    "RocksRawValueMap",
    "RocksReducingState",
    "RocksState",
    "RocksValueState",
    "purge_stored",
]

_VOID_BYTES = encode_object(VOID_NAMESPACE)
_SCAN_RENEWAL = 256
"""Cleanup steps one RocksDB iterator serves before a new one continues the pass."""


def purge_stored(kind: str, stored: Any, now: int, ttl: int) -> Any:
    """A TTL state's ``stored`` value without its expired parts: ``None`` if nothing is
    left, ``stored`` itself if nothing expired."""
    if kind == "list":
        live = [e for e in stored if e[1] + ttl > now]
        return stored if len(live) == len(stored) else (live or None)
    if kind == "map":
        kept = {k: e for k, e in stored.items() if e[1] + ttl > now}
        return stored if len(kept) == len(stored) else (kept or None)
    return None if stored[1] + ttl <= now else stored


class RocksState:
    """Rows, namespaces and TTL handling shared by the state objects."""

    __slots__ = (
        "_backend",
        "_cursor",
        "_descriptor",
        "_ns",
        "_ns_bytes",
        "_policy",
        "_prefix_sid",
        "_scan",
        "_scan_steps",
        "has_ttl",
        "name",
        "state_id",
    )

    kind: ClassVar[str] = ""

    def __init__(
        self,
        backend: RocksDBKeyedStateBackend,
        descriptor: StateDescriptor,
        state_id: int,
        policy: TtlPolicy | None,
    ) -> None:
        self._backend = backend
        self._descriptor = descriptor
        self.name = descriptor.name
        self.state_id = state_id
        self._prefix_sid = state_id.to_bytes(2, "big")
        self._policy = policy
        self.has_ttl = policy is not None
        self._ns: Any = VOID_NAMESPACE
        self._ns_bytes = _VOID_BYTES
        self._cursor: bytes | None = None  # the last row incremental TTL cleanup checked
        self._scan: Iterator[tuple[bytes, bytes]] | None = None  # the current pass's rows
        self._scan_steps = 0

    # ------------------------------------------------------------------ rows

    def set_current_namespace(self, namespace: Any) -> None:
        """Make the following operations act on ``namespace`` (a window, or VOID_NAMESPACE)."""
        if namespace is not self._ns:
            self._ns = namespace
            self._ns_bytes = encode_object(namespace)

    def get_current_namespace(self) -> Any:
        return self._ns

    def _row(self, ns_bytes: bytes | None = None) -> bytes:
        b = self._backend
        return (b._kg_bytes + self._prefix_sid + b._key_part
                + (self._ns_bytes if ns_bytes is None else ns_bytes))

    def _get(self, row: bytes) -> Any:
        raw = self._backend._db.get(row)
        return None if raw is None else loads_value(raw)

    def _put(self, row: bytes, stored: Any) -> None:
        self._backend._db.put(row, dumps_value(stored))

    def _delete(self, row: bytes) -> None:
        self._backend._db.delete(row)

    def _pop(self, ns: Any, now: int) -> Any:
        """Remove and return the usable stored value of the current key in ``ns``."""
        row = self._row(encode_object(ns))
        stored = self._get(row)
        if stored is not None:
            self._delete(row)
            if self._policy is not None:
                stored = self._usable(stored, now)
        return stored

    def clear(self) -> None:
        self._delete(self._row())

    # ------------------------------------------------------------------ TTL

    def _now(self) -> int:
        policy = self._policy
        return 0 if policy is None else policy.clock()

    def _usable(self, stored: Any, now: int) -> Any:
        """What a ``(value, ts)`` entry may still be used as, else ``None``."""
        if stored is None:
            return None
        policy = self._policy
        assert policy is not None
        value, ts = stored
        if ts + policy.ttl <= now and not policy.return_expired:
            return None
        return value

    def _cleanup_step(self) -> None:
        """Check the next ``cleanup_size`` rows of this state (round robin over the whole
        state, as the ``hashmap`` backend's incremental cleanup) and drop expired parts.

        A pass reads the rows through one RocksDB iterator (a view as of its creation, as
        the hashmap backend walks a copy of the keys), renewed every
        :data:`_SCAN_RENEWAL` steps so that it does not pin old files for long; a row that
        looks expired is read again before it is changed, since the view may be older."""
        policy = self._policy
        if policy is None or policy.cleanup_size <= 0:
            return
        budget, now, ttl, kind = policy.cleanup_size, policy.clock(), policy.ttl, self.kind
        db = self._backend._db
        restarted = False
        while True:
            scan = self._scan
            if scan is None or self._scan_steps >= _SCAN_RENEWAL:
                scan = self._scan = self._backend.scan_state(self.state_id, self._cursor)
                self._scan_steps = 0
            self._scan_steps += 1
            for row, raw in scan:
                self._cursor = row
                stored = loads_value(raw)
                if purge_stored(kind, stored, now, ttl) is not stored:
                    current = db.get(row)  # the view may be older than the row
                    if current is not None:
                        stored = loads_value(current)
                        kept = purge_stored(kind, stored, now, ttl)
                        if kept is None:
                            db.delete(row)
                        elif kept is not stored:
                            db.put(row, dumps_value(kept))
                budget -= 1
                if budget <= 0:
                    return
            self._scan = None  # the pass is done
            self._cursor = None
            if restarted:
                return
            restarted = True

    def release_scan(self) -> None:
        """Drop the incremental cleanup's iterator (before the DB closes)."""
        self._scan = None

    def per_record_cleanup(self) -> Any:
        """A hook the backend runs on every ``set_current_key``, or ``None``."""
        policy = self._policy
        return self._cleanup_step if policy is not None and policy.cleanup_every_record else None

    def _read_single(self) -> Any:
        """The stored value of the current key (value, reducing, aggregating), with TTL."""
        row = self._row()
        policy = self._policy
        if policy is None:
            return self._get(row)
        self._cleanup_step()
        stored = self._get(row)
        if stored is None:
            return None
        value, ts = stored
        now = policy.clock()
        if ts + policy.ttl <= now:
            self._delete(row)
            return value if policy.return_expired else None
        if policy.update_on_read:
            self._put(row, (value, now))
        return value

    def _write_single(self, row: bytes, value: Any, now: int) -> None:
        self._put(row, value if self._policy is None else (value, now))

    def _merge_single(
        self, target_namespace: Any, source_namespaces: Iterable[Any], merge: Any
    ) -> None:
        """Merge the values of ``source_namespaces`` into ``target_namespace`` (current key)
        with ``merge(a, b)`` and remove the sources."""
        now = self._now()
        merged = None
        for ns in source_namespaces:
            value = self._pop(ns, now)
            if value is not None:
                merged = value if merged is None else merge(merged, value)
        if merged is None:
            return
        row = self._row(encode_object(target_namespace))
        old = self._get(row)
        if old is not None and self._policy is not None:
            old = self._usable(old, now)
        self._write_single(row, merged if old is None else merge(old, merged), now)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, namespace={self._ns!r})"


class RocksValueState(RocksState, ValueState[Any]):
    __slots__ = ()
    kind = "value"

    def value(self) -> Any:
        return self._read_single()

    def update(self, value: Any) -> None:
        if self._policy is not None:
            self._cleanup_step()
        if value is None:
            self.clear()
            return
        self._write_single(self._row(), value, self._now())


class RocksReducingState(RocksState, ReducingState[Any]):
    """``add(v)`` stores ``reduce(old, v)``; ``add(None)`` clears the state, as in Flink."""

    __slots__ = ("_reduce",)
    kind = "reducing"

    def __init__(self, backend: Any, descriptor: StateDescriptor, state_id: int,
                 policy: TtlPolicy | None) -> None:
        super().__init__(backend, descriptor, state_id, policy)
        assert isinstance(descriptor, ReducingStateDescriptor)
        self._reduce = descriptor.get_reduce_function().reduce

    def get(self) -> Any:
        return self._read_single()

    def add(self, value: Any) -> None:
        if self._policy is not None:
            self._cleanup_step()
        if value is None:
            self.clear()
            return
        row = self._row()
        now = self._now()
        old = self._get(row)
        if old is not None and self._policy is not None:
            old = self._usable(old, now)
        self._write_single(row, value if old is None else self._reduce(old, value), now)

    def merge_namespaces(self, target_namespace: Any, source_namespaces: Iterable[Any]) -> None:
        self._merge_single(target_namespace, source_namespaces, self._reduce)


class RocksAggregatingState(RocksState, AggregatingState[Any, Any]):
    """Stores the accumulator; ``add(None)`` clears the state, as in Flink."""

    __slots__ = ("_agg",)
    kind = "aggregating"

    def __init__(self, backend: Any, descriptor: StateDescriptor, state_id: int,
                 policy: TtlPolicy | None) -> None:
        super().__init__(backend, descriptor, state_id, policy)
        assert isinstance(descriptor, AggregatingStateDescriptor)
        self._agg = descriptor.get_agg_function()

    def get(self) -> Any:
        acc = self._read_single()
        return None if acc is None else self._agg.get_result(acc)

    def add(self, value: Any) -> None:
        if self._policy is not None:
            self._cleanup_step()
        if value is None:
            self.clear()
            return
        row = self._row()
        now = self._now()
        acc = self._get(row)
        if acc is not None and self._policy is not None:
            acc = self._usable(acc, now)
        agg = self._agg
        if acc is None:
            acc = agg.create_accumulator()
        self._write_single(row, agg.add(value, acc), now)

    def merge_namespaces(self, target_namespace: Any, source_namespaces: Iterable[Any]) -> None:
        self._merge_single(target_namespace, source_namespaces, self._agg.merge)


class RocksListState(RocksState, ListState[Any]):
    """``get()`` returns a fresh list (the row is unpickled on every read)."""

    __slots__ = ()
    kind = "list"

    def get(self) -> list[Any]:
        row = self._row()
        policy = self._policy
        if policy is None:
            stored = self._get(row)
            return [] if stored is None else stored
        self._cleanup_step()
        stored = self._get(row)
        if stored is None:
            return []
        now = policy.clock()
        live = purge_stored("list", stored, now, policy.ttl)
        result = [e[0] for e in (stored if policy.return_expired else (live or ()))]
        if live is None:
            self._delete(row)
        elif policy.update_on_read:
            self._put(row, [(e[0], now) for e in live])
        elif live is not stored:
            self._put(row, live)
        return result

    def _entries(self, items: list[Any]) -> list[Any]:
        if self._policy is None:
            return items
        now = self._policy.clock()
        return [(v, now) for v in items]

    def add(self, value: Any) -> None:
        if self._policy is not None:
            self._cleanup_step()
        if value is None:
            raise ValueError(f"ListState {self.name!r}: cannot add None to a list state")
        self._append(self._entries([value]))

    def add_all(self, values: list[Any]) -> None:
        if self._policy is not None:
            self._cleanup_step()
        items = _reject_none_elements(self.name, values, "add_all")
        if items:
            self._append(self._entries(items))

    def _append(self, entries: list[Any]) -> None:
        row = self._row()
        stored = self._get(row)
        self._put(row, entries if stored is None else stored + entries)

    def update(self, values: list[Any]) -> None:
        if self._policy is not None:
            self._cleanup_step()
        items = _reject_none_elements(self.name, values, "update")
        if not items:
            self.clear()
            return
        self._put(self._row(), self._entries(items))

    def merge_namespaces(self, target_namespace: Any, source_namespaces: Iterable[Any]) -> None:
        """Append the lists of ``source_namespaces`` (in order) to the list of
        ``target_namespace`` for the current key, and remove them from the sources."""
        merged: list[Any] = []
        for ns in source_namespaces:
            row = self._row(encode_object(ns))
            stored = self._get(row)
            if stored is not None:
                self._delete(row)
                merged += stored
        if not merged:
            return
        row = self._row(encode_object(target_namespace))
        old = self._get(row)
        self._put(row, merged if old is None else old + merged)


class RocksMapState(RocksState, MapState[Any, Any]):
    """The map of one key and namespace is one row (a pickled dict)."""

    __slots__ = ()
    kind = "map"

    def _current(self) -> dict[Any, Any] | None:
        """The visible entries of the current key's map (``None`` if empty), with TTL
        checks: expired entries are dropped, read entries refreshed if configured."""
        row = self._row()
        policy = self._policy
        stored: dict[Any, Any] | None = self._get(row)
        if policy is None or stored is None:
            return stored
        now = policy.clock()
        visible: dict[Any, Any] = {}
        kept: dict[Any, Any] = {}
        changed = False
        for user_key, (value, ts) in stored.items():
            if ts + policy.ttl <= now:
                changed = True
                if policy.return_expired:
                    visible[user_key] = value
            else:
                visible[user_key] = value
                if policy.update_on_read:
                    kept[user_key] = (value, now)
                    changed = changed or ts != now
                else:
                    kept[user_key] = (value, ts)
        if changed:
            if kept:
                self._put(row, kept)
            else:
                self._delete(row)
        return visible or None

    def _checked(self) -> dict[Any, Any] | None:
        if self._policy is not None:
            self._cleanup_step()
        return self._current()

    def get(self, key: Any) -> Any:
        d = self._checked_one(key)
        return None if d is None else d.get(key)

    def contains(self, key: Any) -> bool:
        d = self._checked_one(key)
        return d is not None and key in d

    def _checked_one(self, key: Any) -> dict[Any, Any] | None:
        """Like :meth:`_checked`, but TTL-checks and refreshes only the entry ``key``."""
        policy = self._policy
        if policy is None:
            return self._get(self._row())
        self._cleanup_step()
        row = self._row()
        stored = self._get(row)
        if stored is None or key not in stored:
            return None
        value, ts = stored[key]
        now = policy.clock()
        if ts + policy.ttl <= now:
            del stored[key]
            if stored:
                self._put(row, stored)
            else:
                self._delete(row)
            return {key: value} if policy.return_expired else None
        if policy.update_on_read:
            stored[key] = (value, now)
            self._put(row, stored)
        return {key: value}

    def put(self, key: Any, value: Any) -> None:
        self.put_all({key: value})

    def put_all(self, dict_value: dict[Any, Any]) -> None:
        if self._policy is not None:
            self._cleanup_step()
        if not dict_value:
            return
        row = self._row()
        stored = self._get(row)
        if self._policy is None:
            entries = dict(dict_value)
        else:
            now = self._policy.clock()
            entries = {k: (v, now) for k, v in dict_value.items()}
        if stored is None:
            stored = entries
        else:
            stored.update(entries)
        self._put(row, stored)

    def remove(self, key: Any) -> None:
        if self._policy is not None:
            self._cleanup_step()
        row = self._row()
        stored = self._get(row)
        if stored is None or key not in stored:
            return
        del stored[key]
        if stored:
            self._put(row, stored)
        else:
            self._delete(row)

    def items(self) -> list[tuple[Any, Any]]:
        d = self._checked()
        return [] if d is None else list(d.items())

    def keys(self) -> list[Any]:
        d = self._checked()
        return [] if d is None else list(d)

    def values(self) -> list[Any]:
        d = self._checked()
        return [] if d is None else list(d.values())

    def is_empty(self) -> bool:
        return self._checked() is None


ROCKS_STATE_CLASSES: dict[str, type[RocksState]] = {
    "value": RocksValueState,
    "list": RocksListState,
    "map": RocksMapState,
    "reducing": RocksReducingState,
    "aggregating": RocksAggregatingState,
}


class RocksRawValueMap(MutableMapping[Any, Any]):
    """``raw_value_map(name)`` of the ``rocksdb`` backend: a mapping key -> value over the
    rows of a TTL-less value state in :data:`VOID_NAMESPACE` (every access is a RocksDB
    read or write; iteration scans the state)."""

    __slots__ = ("_backend", "_name", "_sid")

    def __init__(self, backend: RocksDBKeyedStateBackend, name: str, state_id: int) -> None:
        self._backend = backend
        self._name = name
        self._sid = state_id

    def _row(self, key: Any) -> bytes:
        return self._backend.row_for(key, self._sid, _VOID_BYTES)

    def __getitem__(self, key: Any) -> Any:
        raw = self._backend._db.get(self._row(key))
        if raw is None:
            raise KeyError(key)
        return loads_value(raw)

    def get(self, key: Any, default: Any = None) -> Any:
        raw = self._backend._db.get(self._row(key))
        return default if raw is None else loads_value(raw)

    def __setitem__(self, key: Any, value: Any) -> None:
        self._backend._db.put(self._row(key), dumps_value(value))

    def __delitem__(self, key: Any) -> None:
        row = self._row(key)
        db = self._backend._db
        if db.get(row) is None:
            raise KeyError(key)
        db.delete(row)

    def __contains__(self, key: object) -> bool:
        return self._backend._db.get(self._row(key)) is not None

    def __iter__(self) -> Iterator[Any]:
        return self._backend.keys(self._name, VOID_NAMESPACE)

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __repr__(self) -> str:
        return f"RocksRawValueMap({self._name!r})"
