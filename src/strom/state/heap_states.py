"""The ``hashmap`` backend's state objects (without TTL; see :mod:`strom.state.ttl_states`).

Storage of one state: ``namespaces: dict[namespace, dict[key, stored]]``. The map of
:data:`VOID_NAMESPACE` always exists (so it can double as the backend's ``raw_value_map``);
the map of any other namespace is dropped as soon as it becomes empty, so closed windows
leave nothing behind. A state object remembers the map of its current namespace, which
makes an access one attribute load and one dict operation. Only the state object itself
(and the backend, on restore) may change its storage.

Stored values: the value (value and reducing state), the accumulator (aggregating state),
a non-empty ``list`` (list state) or a non-empty ``dict`` (map state). ``None`` is never
stored: it means "absent".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, ClassVar, Protocol

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
from strom.state.namespaces import VOID_NAMESPACE

__all__ = [
    "HeapAggregatingState",
    "HeapListState",
    "HeapMapState",
    "HeapReducingState",
    "HeapState",
    "HeapValueState",
    "KeyContext",
    "NamespaceMap",
]

NamespaceMap = dict[Any, dict[Any, Any]]
"""Storage of one state: namespace -> key -> stored value."""


class KeyContext(Protocol):
    """What a state object needs from its backend: the current key."""

    _current_key: Any


class HeapState:
    """Storage and namespace handling shared by all heap state objects."""

    # Every subclass's fields are declared here: the TTL classes inherit from two slotted
    # classes, which Python allows only when those add no slots of their own.
    __slots__ = (
        "_agg",
        "_backend",
        "_cursor",
        "_cursor_map",
        "_cursor_ns",
        "_cursor_pos",
        "_descriptor",
        "_namespaces",
        "_ns",
        "_ns_map",
        "_pending",
        "_policy",
        "_reduce",
        "name",
    )

    kind: ClassVar[str] = ""
    """``value``, ``list``, ``map``, ``reducing`` or ``aggregating``."""
    has_ttl: ClassVar[bool] = False

    def __init__(
        self,
        backend: KeyContext,
        descriptor: StateDescriptor,
        namespaces: NamespaceMap | None = None,
    ) -> None:
        self._backend = backend
        self._descriptor = descriptor
        self.name = descriptor.name
        self._namespaces: NamespaceMap = {} if namespaces is None else namespaces
        self._ns: Any = VOID_NAMESPACE
        self._ns_map: dict[Any, Any] | None = self._namespaces.setdefault(VOID_NAMESPACE, {})

    # ------------------------------------------------------------------ namespaces

    def set_current_namespace(self, namespace: Any) -> None:
        """Make the following operations act on ``namespace`` (a window, or VOID_NAMESPACE)."""
        self._ns = namespace
        self._ns_map = self._namespaces.get(namespace)

    def get_current_namespace(self) -> Any:
        return self._ns

    def _write_map(self) -> dict[Any, Any]:
        m = self._ns_map
        if m is None:
            m = self._namespaces[self._ns] = {}
            self._ns_map = m
        return m

    def _map_for(self, namespace: Any) -> dict[Any, Any]:
        m = self._namespaces.get(namespace)
        if m is None:
            m = self._namespaces[namespace] = {}
            if namespace == self._ns:
                self._ns_map = m
        return m

    def _discard_if_empty(self, namespace: Any, m: dict[Any, Any]) -> None:
        """Drop the map ``m`` of ``namespace`` if it is empty (never the VOID one)."""
        if not m and namespace is not VOID_NAMESPACE and self._namespaces.get(namespace) is m:
            del self._namespaces[namespace]
            if self._ns_map is m:
                self._ns_map = None

    def _pop_stored(self, namespace: Any, key: Any) -> Any:
        """Remove and return what ``key`` stores in ``namespace`` (``None`` if nothing)."""
        m = self._namespaces.get(namespace)
        if m is None:
            return None
        stored = m.pop(key, None)
        self._discard_if_empty(namespace, m)
        return stored

    def _reset_namespace_cache(self) -> None:
        self._namespaces.setdefault(VOID_NAMESPACE, {})
        self._ns_map = self._namespaces.get(self._ns)

    def clear(self) -> None:
        m = self._ns_map
        if m:
            m.pop(self._backend._current_key, None)
            if not m:
                self._discard_if_empty(self._ns, m)

    # ------------------------------------------------------------------ backend hooks

    @property
    def namespaces(self) -> NamespaceMap:
        """The storage (read by snapshots and ``keys()``; do not modify)."""
        return self._namespaces

    def iter_snapshot_entries(self, now: int) -> Iterator[tuple[Any, Any, Any]]:
        """``(namespace, key, stored)`` of every entry that belongs in a snapshot."""
        for ns, m in self._namespaces.items():
            for key, stored in m.items():
                yield ns, key, stored

    def per_record_cleanup(self) -> Callable[[], None] | None:
        """A hook the backend runs on every ``set_current_key``, or ``None``."""
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, namespace={self._ns!r})"


class HeapValueState(HeapState, ValueState[Any]):
    """:class:`~strom.datastream.state.ValueState` on the heap."""

    __slots__ = ()
    kind = "value"

    def value(self) -> Any:
        m = self._ns_map
        if m is None:
            return None
        return m.get(self._backend._current_key)

    def update(self, value: Any) -> None:
        if value is None:
            self.clear()
            return
        m = self._ns_map
        if m is None:
            m = self._write_map()
        m[self._backend._current_key] = value


def _reject_none_elements(name: str, values: Any, what: str) -> list[Any]:
    if values is None:
        raise ValueError(
            f"ListState {name!r}: {what}(None) is not allowed; pass a list "
            f"(use clear() to remove the list)"
        )
    items = list(values)
    if any(v is None for v in items):
        raise ValueError(
            f"ListState {name!r}: {what} got a list containing None ({items!r}); "
            "list state cannot hold None elements"
        )
    return items


class HeapListState(HeapState, ListState[Any]):
    """:class:`~strom.datastream.state.ListState` on the heap. ``get()`` returns a copy."""

    __slots__ = ()
    kind = "list"

    def get(self) -> list[Any]:
        m = self._ns_map
        if m is None:
            return []
        stored = m.get(self._backend._current_key)
        return [] if stored is None else stored.copy()

    def add(self, value: Any) -> None:
        if value is None:
            raise ValueError(f"ListState {self.name!r}: cannot add None to a list state")
        m = self._ns_map
        if m is None:
            m = self._write_map()
        key = self._backend._current_key
        stored = m.get(key)
        if stored is None:
            m[key] = [value]
        else:
            stored.append(value)

    def add_all(self, values: list[Any]) -> None:
        items = _reject_none_elements(self.name, values, "add_all")
        if not items:
            return
        m = self._write_map()
        key = self._backend._current_key
        stored = m.get(key)
        if stored is None:
            m[key] = items
        else:
            stored.extend(items)

    def update(self, values: list[Any]) -> None:
        items = _reject_none_elements(self.name, values, "update")
        if not items:
            self.clear()
            return
        self._write_map()[self._backend._current_key] = items

    def merge_namespaces(self, target_namespace: Any, source_namespaces: Iterable[Any]) -> None:
        """Append the lists of ``source_namespaces`` (in order) to the list of
        ``target_namespace`` for the current key, and remove them from the sources."""
        key = self._backend._current_key
        merged: list[Any] | None = None
        for ns in source_namespaces:
            stored = self._pop_stored(ns, key)
            if stored is not None:
                merged = stored if merged is None else merged + stored
        if merged is None:
            return
        m = self._map_for(target_namespace)
        old = m.get(key)
        m[key] = merged if old is None else old + merged


class HeapMapState(HeapState, MapState[Any, Any]):
    """:class:`~strom.datastream.state.MapState` on the heap."""

    __slots__ = ()
    kind = "map"

    def _current(self) -> dict[Any, Any] | None:
        m = self._ns_map
        if m is None:
            return None
        stored: dict[Any, Any] | None = m.get(self._backend._current_key)
        return stored

    def get(self, key: Any) -> Any:
        d = self._current()
        return None if d is None else d.get(key)

    def put(self, key: Any, value: Any) -> None:
        m = self._ns_map
        if m is None:
            m = self._write_map()
        current = self._backend._current_key
        d = m.get(current)
        if d is None:
            m[current] = {key: value}
        else:
            d[key] = value

    def put_all(self, dict_value: dict[Any, Any]) -> None:
        if not dict_value:
            return
        m = self._write_map()
        current = self._backend._current_key
        d = m.get(current)
        if d is None:
            m[current] = dict(dict_value)
        else:
            d.update(dict_value)

    def remove(self, key: Any) -> None:
        m = self._ns_map
        if m is None:
            return
        current = self._backend._current_key
        d = m.get(current)
        if d is None:
            return
        d.pop(key, None)
        if not d:
            del m[current]
            self._discard_if_empty(self._ns, m)

    def contains(self, key: Any) -> bool:
        d = self._current()
        return d is not None and key in d

    def items(self) -> list[tuple[Any, Any]]:
        d = self._current()
        return [] if d is None else list(d.items())

    def keys(self) -> list[Any]:
        d = self._current()
        return [] if d is None else list(d)

    def values(self) -> list[Any]:
        d = self._current()
        return [] if d is None else list(d.values())

    def is_empty(self) -> bool:
        return self._current() is None


class HeapReducingState(HeapState, ReducingState[Any]):
    """:class:`~strom.datastream.state.ReducingState` on the heap: ``add(v)`` stores
    ``reduce(old, v)``; ``add(None)`` clears the state, as in Flink."""

    __slots__ = ()
    kind = "reducing"

    def __init__(
        self,
        backend: KeyContext,
        descriptor: StateDescriptor,
        namespaces: NamespaceMap | None = None,
    ) -> None:
        super().__init__(backend, descriptor, namespaces)
        assert isinstance(descriptor, ReducingStateDescriptor)
        self._reduce = descriptor.get_reduce_function().reduce

    def get(self) -> Any:
        m = self._ns_map
        if m is None:
            return None
        return m.get(self._backend._current_key)

    def add(self, value: Any) -> None:
        if value is None:
            self.clear()
            return
        m = self._ns_map
        if m is None:
            m = self._write_map()
        key = self._backend._current_key
        old = m.get(key)
        m[key] = value if old is None else self._reduce(old, value)

    def merge_namespaces(self, target_namespace: Any, source_namespaces: Iterable[Any]) -> None:
        """Reduce the values of ``source_namespaces`` into ``target_namespace`` for the current
        key (``reduce(target, reduce(source1, source2, ...))``) and remove the sources."""
        key = self._backend._current_key
        merged = None
        for ns in source_namespaces:
            stored = self._pop_stored(ns, key)
            if stored is not None:
                merged = stored if merged is None else self._reduce(merged, stored)
        if merged is None:
            return
        m = self._map_for(target_namespace)
        old = m.get(key)
        m[key] = merged if old is None else self._reduce(old, merged)


class HeapAggregatingState(HeapState, AggregatingState[Any, Any]):
    """:class:`~strom.datastream.state.AggregatingState` on the heap; stores the accumulator.
    ``add(None)`` clears the state, as in Flink."""

    __slots__ = ()
    kind = "aggregating"

    def __init__(
        self,
        backend: KeyContext,
        descriptor: StateDescriptor,
        namespaces: NamespaceMap | None = None,
    ) -> None:
        super().__init__(backend, descriptor, namespaces)
        assert isinstance(descriptor, AggregatingStateDescriptor)
        self._agg = descriptor.get_agg_function()

    def get(self) -> Any:
        m = self._ns_map
        if m is None:
            return None
        acc = m.get(self._backend._current_key)
        return None if acc is None else self._agg.get_result(acc)

    def add(self, value: Any) -> None:
        if value is None:
            self.clear()
            return
        m = self._ns_map
        if m is None:
            m = self._write_map()
        key = self._backend._current_key
        acc = m.get(key)
        agg = self._agg
        if acc is None:
            acc = agg.create_accumulator()
        m[key] = agg.add(value, acc)

    def merge_namespaces(self, target_namespace: Any, source_namespaces: Iterable[Any]) -> None:
        """Merge the accumulators of ``source_namespaces`` into ``target_namespace`` for the
        current key with ``AggregateFunction.merge`` and remove the sources."""
        key = self._backend._current_key
        agg = self._agg
        merged = None
        for ns in source_namespaces:
            stored = self._pop_stored(ns, key)
            if stored is not None:
                merged = stored if merged is None else agg.merge(merged, stored)
        if merged is None:
            return
        m = self._map_for(target_namespace)
        old = m.get(key)
        m[key] = merged if old is None else agg.merge(old, merged)
