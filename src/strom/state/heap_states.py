"""The ``hashmap`` backend's state objects (without TTL; see :mod:`strom.state.ttl_states`).

Storage of one state: ``namespaces: dict[namespace, dict[key, stored]]``. The map of
:data:`VOID_NAMESPACE` always exists (so it can double as the backend's ``raw_value_map``);
the map of any other namespace is dropped as soon as it becomes empty, so closed windows
leave nothing behind. A state object remembers the map of its current namespace, which
makes an access one attribute load and one dict operation. Only the state object itself
(and the backend, on restore) may change its storage.

Snapshots copy on write. The synchronous part of a snapshot
(:meth:`~strom.state.heap_backend.HeapKeyedStateBackend.snapshot_deferred`) takes shallow
copies of the namespace maps and hands them to the state as ``_frozen``; until the
asynchronous part has encoded them, an access to an entry whose stored object a pending
snapshot still holds first replaces it by a copy (:func:`copy_stored`), so neither the
state's own in-place changes (list ``append``, map ``put``) nor the user's changes of a value
it was handed reach the snapshot. With no snapshot pending the check is one attribute test.

Stored values: the value (value and reducing state), the accumulator (aggregating state),
a non-empty ``list`` (list state) or a non-empty ``dict`` (map state). ``None`` is never
stored: it means "absent".
"""

from __future__ import annotations

import copy
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
    "copy_stored",
    "is_immutable",
]

NamespaceMap = dict[Any, dict[Any, Any]]
"""Storage of one state: namespace -> key -> stored value."""


_ATOMIC: frozenset[type] = frozenset(
    {int, float, complex, bool, str, bytes, type(None), range, frozenset}
)
"""Types whose objects cannot change: never copied for a pending snapshot."""


def is_immutable(value: Any) -> bool:
    """Whether ``value`` cannot change: an atomic value or a tuple of them."""
    kind = type(value)
    return kind in _ATOMIC or (kind is tuple and _ATOMIC.issuperset(map(type, value)))


def copy_stored(stored: Any) -> Any:
    """A copy of a stored value that shares nothing mutable with it: lists and dicts of
    immutable elements are copied shallowly (fast), anything else deeply. An object
    ``copy.deepcopy`` cannot copy is returned as is (its in-place changes would then reach a
    pending snapshot: such values should be replaced, not changed, while checkpointing)."""
    kind = type(stored)
    if kind in _ATOMIC:
        return stored
    atomic = _ATOMIC
    if kind is list:
        if all(type(e) in atomic for e in stored):
            return stored.copy()
    elif kind is dict:
        if all(type(v) in atomic for v in stored.values()):
            return stored.copy()
    elif kind is tuple and all(type(e) in atomic for e in stored):
        return stored
    try:
        return copy.deepcopy(stored)
    except Exception:  # an uncopyable user object: keep it (documented above)
        return stored


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
        "_direct",
        "_frozen",
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
        #: the namespace maps captured by pending snapshots (None when none is pending)
        self._frozen: tuple[NamespaceMap, ...] | None = None
        #: whether the storage was handed out (see ``namespaces``)
        self._direct = False

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
        """Remove and return what ``key`` stores in ``namespace`` (``None`` if nothing; a
        copy if a pending snapshot holds it, as the caller may change it)."""
        m = self._namespaces.get(namespace)
        if m is None:
            return None
        if self._frozen is not None:
            self._thaw(m, namespace, key)
        stored = m.pop(key, None)
        self._discard_if_empty(namespace, m)
        return stored

    def _thaw(self, m: dict[Any, Any], namespace: Any, key: Any) -> Any:
        """What ``key`` stores in the map ``m`` of ``namespace``, first replaced by a copy if a
        pending snapshot holds the same object (copy on write)."""
        stored = m.get(key)
        frozen = self._frozen
        if stored is None or frozen is None or type(stored) in _ATOMIC:
            return stored
        for captured in frozen:
            held = captured.get(namespace)
            if held is not None and held.get(key) is stored:
                stored = m[key] = copy_stored(stored)
                break
        return stored

    def _stored(self, m: dict[Any, Any], key: Any) -> Any:
        """What ``key`` stores in the current namespace's map ``m``, safe to change or hand
        out (see :meth:`_thaw`)."""
        if self._frozen is None:
            return m.get(key)
        return self._thaw(m, self._ns, key)

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
        """The storage, for operators that read and write it directly (the window fast
        paths), keeping this module's conventions. Changes made so bypass copy on write, so
        handing it out marks the state: the backend's snapshots then make sure no stored
        object that could be changed in place is shared with a pending snapshot."""
        self._direct = True
        return self._namespaces

    def iter_snapshot_entries(self, now: int) -> Iterator[tuple[Any, Any, Any]]:
        """``(namespace, key, stored)`` of every entry that belongs in a snapshot."""
        for ns, m in self._namespaces.items():
            for key, stored in m.items():
                yield ns, key, stored

    def per_record_cleanup(self) -> Callable[[], None] | None:
        """A hook the backend runs on every ``set_current_key``, or ``None``."""
        return None

    def snapshot_filter(self) -> Callable[[Any, int], Any] | None:
        """``(stored, now) -> stored or None``: what a snapshot keeps of an entry (TTL states
        with ``cleanup_full_snapshot`` drop expired parts), or ``None`` to keep all. It reads
        nothing but its arguments, so it may run off the task thread."""
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
        if self._frozen is None:
            return m.get(self._backend._current_key)
        return self._thaw(m, self._ns, self._backend._current_key)

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
        stored = self._stored(m, self._backend._current_key)
        return [] if stored is None else stored.copy()

    def add(self, value: Any) -> None:
        if value is None:
            raise ValueError(f"ListState {self.name!r}: cannot add None to a list state")
        m = self._ns_map
        if m is None:
            m = self._write_map()
        key = self._backend._current_key
        stored = m.get(key) if self._frozen is None else self._thaw(m, self._ns, key)
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
        stored = self._stored(m, key)
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
        stored: dict[Any, Any] | None = self._stored(m, self._backend._current_key)
        return stored

    def get(self, key: Any) -> Any:
        d = self._current()
        return None if d is None else d.get(key)

    def put(self, key: Any, value: Any) -> None:
        m = self._ns_map
        if m is None:
            m = self._write_map()
        current = self._backend._current_key
        d = m.get(current) if self._frozen is None else self._thaw(m, self._ns, current)
        if d is None:
            m[current] = {key: value}
        else:
            d[key] = value

    def put_all(self, dict_value: dict[Any, Any]) -> None:
        if not dict_value:
            return
        m = self._write_map()
        current = self._backend._current_key
        d = self._stored(m, current)
        if d is None:
            m[current] = dict(dict_value)
        else:
            d.update(dict_value)

    def remove(self, key: Any) -> None:
        m = self._ns_map
        if m is None:
            return
        current = self._backend._current_key
        d = self._stored(m, current)
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
        return self._stored(m, self._backend._current_key)

    def add(self, value: Any) -> None:
        if value is None:
            self.clear()
            return
        m = self._ns_map
        if m is None:
            m = self._write_map()
        key = self._backend._current_key
        old = m.get(key) if self._frozen is None else self._thaw(m, self._ns, key)
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
        old = self._thaw(m, target_namespace, key)
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
        acc = self._stored(m, self._backend._current_key)
        return None if acc is None else self._agg.get_result(acc)

    def add(self, value: Any) -> None:
        if value is None:
            self.clear()
            return
        m = self._ns_map
        if m is None:
            m = self._write_map()
        key = self._backend._current_key
        acc = m.get(key) if self._frozen is None else self._thaw(m, self._ns, key)
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
        old = self._thaw(m, target_namespace, key)
        m[key] = merged if old is None else agg.merge(old, merged)
