"""The ``hashmap`` keyed state backend: state as Python objects on the heap.

One backend serves one parallel instance of a keyed operator and owns the key groups of its
:class:`~strom.state.key_groups.KeyGroupRange`. The operator calls :meth:`set_current_key`
before it touches state for a record; every state object then acts on that key.

Key groups are computed lazily: writing state costs no hashing; :meth:`snapshot` hashes each
key once to file its entries under their key group (and fails if a key does not belong to
this backend's range, which means the input was not partitioned by this key).
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from strom.datastream.state import (
    AggregatingStateDescriptor,
    ListStateDescriptor,
    MapStateDescriptor,
    ReducingStateDescriptor,
    StateDescriptor,
    ValueStateDescriptor,
)
from strom.state.heap_snapshots import (
    FORK_AVAILABLE,
    Capture,
    CopiedSnapshot,
    ForkedSnapshot,
    SnapshotLayout,
    TimerCapture,
    capture_namespaces,
    holds_mutable,
)
from strom.state.heap_states import (
    HeapAggregatingState,
    HeapListState,
    HeapMapState,
    HeapReducingState,
    HeapState,
    HeapValueState,
    NamespaceMap,
)
from strom.state.key_groups import KeyGroupRange, check_backend_range
from strom.state.namespaces import VOID_NAMESPACE
from strom.state.snapshots import KeyedStateSnapshot, StateMeta, decode_key_group
from strom.state.timers import InternalTimerService
from strom.state.ttl_states import (
    TtlAggregatingState,
    TtlListState,
    TtlMapState,
    TtlPolicy,
    TtlReducingState,
    TtlValueState,
)

__all__ = ["DEFAULT_FORK_MIN_ENTRIES", "HeapKeyedStateBackend", "wall_clock_millis"]

DEFAULT_FORK_MIN_ENTRIES = 1_000_000
"""State entries from which a snapshot forks instead of copying (copying 1M entries takes
about 50 ms on the task thread; a fork about 15 ms for a GB)."""


def wall_clock_millis() -> int:
    """Milliseconds since the epoch (the default TTL clock)."""
    return time.time_ns() // 1_000_000


_KINDS: tuple[tuple[type[StateDescriptor], str], ...] = (
    (ValueStateDescriptor, "value"),
    (ListStateDescriptor, "list"),
    (MapStateDescriptor, "map"),
    (ReducingStateDescriptor, "reducing"),
    (AggregatingStateDescriptor, "aggregating"),
)
_HEAP_CLASSES: dict[str, type[HeapState]] = {
    "value": HeapValueState,
    "list": HeapListState,
    "map": HeapMapState,
    "reducing": HeapReducingState,
    "aggregating": HeapAggregatingState,
}
_TTL_CLASSES: dict[str, type[Any]] = {
    "value": TtlValueState,
    "list": TtlListState,
    "map": TtlMapState,
    "reducing": TtlReducingState,
    "aggregating": TtlAggregatingState,
}


def _kind_of(descriptor: Any) -> str:
    for cls, kind in _KINDS:
        if isinstance(descriptor, cls):
            return kind
    raise TypeError(
        "keyed state needs a ValueStateDescriptor, ListStateDescriptor, MapStateDescriptor, "
        f"ReducingStateDescriptor or AggregatingStateDescriptor, got {descriptor!r}"
    )


def requested_meta(descriptor: StateDescriptor, states: dict[str, Any]) -> tuple[StateMeta, Any]:
    """The kind and TTL flag ``descriptor`` asks for, and the state ``states`` already holds
    under its name (None if none); raises when that state is of another kind."""
    kind = _kind_of(descriptor)
    ttl_config = descriptor.get_ttl_config()
    wanted = StateMeta(kind, ttl_config is not None and ttl_config.is_enabled())
    existing = states.get(descriptor.name)
    if existing is not None:
        have = StateMeta(existing.kind, existing.has_ttl)
        if have != wanted:
            raise ValueError(
                f"state {descriptor.name!r} is already registered as {_describe(have)}; it "
                f"cannot also be used as {_describe(wanted)} ({descriptor!r}). Give each "
                "state its own name."
            )
    return wanted, existing


def _describe(meta: StateMeta) -> str:
    return f"{meta.kind} state {'with' if meta.has_ttl else 'without'} TTL"


class HeapKeyedStateBackend:
    """Keyed state and timers of one keyed operator instance, on the heap.

    ``clock`` (milliseconds) drives TTL; inject a fake one in tests. State objects are cached
    per descriptor name: :meth:`get_partitioned_state` returns the same object every time,
    switched to the namespace it was asked for.
    """

    backend_type = "hashmap"

    def __init__(
        self,
        max_parallelism: int,
        key_group_range: KeyGroupRange,
        clock: Callable[[], int] = wall_clock_millis,
        fork_min_entries: int | None = DEFAULT_FORK_MIN_ENTRIES,
    ) -> None:
        check_backend_range(max_parallelism, key_group_range)
        self.max_parallelism = max_parallelism
        self.key_group_range = key_group_range
        #: entries from which snapshot_deferred forks (None: never)
        self.fork_min_entries = fork_min_entries
        self._clock = clock
        self._current_key: Any = None
        self._states: dict[str, HeapState] = {}
        # Restored states not yet asked for by a descriptor: their meta and storage.
        self._restored: dict[str, tuple[StateMeta, NamespaceMap]] = {}
        self._timer_services: dict[str, InternalTimerService] = {}
        self._per_record_hooks: list[Callable[[], None]] = []
        # Snapshots whose synchronous part ran and whose asynchronous part has not: token ->
        # state name -> the captured namespace maps (see snapshot_deferred).
        self._pending_snapshots: dict[int, dict[str, NamespaceMap]] = {}
        self._next_snapshot = 0
        self._snapshot_lock = threading.Lock()

    # ------------------------------------------------------------------ the current key

    def set_current_key(self, key: Any) -> None:
        """Make ``key`` the key that every state object and timer registration acts on.

        Also runs the per-record TTL cleanup of states configured with
        ``cleanup_incrementally(n, run_cleanup_for_every_record=True)``."""
        self._current_key = key
        if self._per_record_hooks:
            for hook in self._per_record_hooks:
                hook()

    def get_current_key(self) -> Any:
        return self._current_key

    # ------------------------------------------------------------------ state access

    def get_partitioned_state(self, namespace: Any, descriptor: StateDescriptor) -> Any:
        """The state described by ``descriptor``, acting on ``(current key, namespace)``.

        Raises ``ValueError`` when the name is already used by another kind of state, or by
        the same kind with TTL switched differently (also against restored state)."""
        try:
            state = self._states.get(descriptor.name)
        except AttributeError:  # not a descriptor: _register says what is expected
            state = None
        if state is not None and state._descriptor is descriptor:
            state.set_current_namespace(namespace)
            return state
        state = self._register(descriptor)
        state.set_current_namespace(namespace)
        return state

    def _register(self, descriptor: StateDescriptor) -> HeapState:
        wanted, existing = requested_meta(descriptor, self._states)
        if existing is not None:
            return existing
        name = descriptor.name
        kind, with_ttl = wanted
        ttl_config = descriptor.get_ttl_config()
        namespaces: NamespaceMap | None = None
        restored = self._restored.get(name)
        if restored is not None:
            if restored[0] != wanted:
                raise ValueError(
                    f"state {name!r} was restored from a snapshot as {_describe(restored[0])}, "
                    f"but is now asked for as {_describe(wanted)} ({descriptor!r}). Keep the "
                    "state's kind and TTL setting, or use a new state name."
                )
            del self._restored[name]
            namespaces = restored[1]
        state: HeapState
        if ttl_config is not None and with_ttl:
            policy = TtlPolicy(ttl_config, self._clock)
            state = _TTL_CLASSES[kind](self, descriptor, policy, namespaces)
        else:
            state = _HEAP_CLASSES[kind](self, descriptor, namespaces)
        self._states[name] = state
        if self._pending_snapshots:
            with self._snapshot_lock:
                self._refresh_frozen((name,))
        hook = state.per_record_cleanup()
        if hook is not None:
            self._per_record_hooks.append(hook)
        return state

    def raw_value_map(self, name: str) -> dict[Any, Any]:
        """A plain ``dict`` key -> value backing the TTL-less value state ``name`` in
        :data:`VOID_NAMESPACE`: the fast path for built-in rolling aggregates. The same dict is
        returned every time (also after :meth:`restore`) and is included in snapshots. Store
        no ``None`` values in it (``None`` means absent)."""
        state = self._states.get(name)
        if state is None:
            state = self._register(ValueStateDescriptor(name))
        elif state.kind != "value" or state.has_ttl:
            raise ValueError(
                f"raw_value_map({name!r}): state {name!r} is "
                f"{_describe(StateMeta(state.kind, state.has_ttl))}; the raw map needs value "
                "state without TTL. Use another name."
            )
        return state.namespaces[VOID_NAMESPACE]  # marks the state as changed directly

    def keys(self, state_name: str, namespace: Any) -> Iterator[Any]:
        """The keys that have an entry in state ``state_name`` under ``namespace`` (entries of
        TTL state count until they are cleaned up). Iterates over a copy, so state may be
        changed meanwhile; an unknown state name has no keys."""
        state = self._states.get(state_name)
        if state is not None:
            namespaces = state._namespaces
        elif state_name in self._restored:
            namespaces = self._restored[state_name][1]
        else:
            return iter(())
        m = namespaces.get(namespace)
        return iter(()) if not m else iter(list(m))

    def state_names(self) -> list[str]:
        """Names of all states, registered or restored."""
        return [*self._states, *self._restored]

    def get_timer_service(self, name: str) -> InternalTimerService:
        """The timer service ``name`` of this backend (created on first use)."""
        service = self._timer_services.get(name)
        if service is None:
            service = self._timer_services[name] = InternalTimerService(name, self)
        return service

    # ------------------------------------------------------------------ snapshot / restore

    def snapshot(self) -> KeyedStateSnapshot:
        """Copy all state and timers, organised by key group, into a picklable snapshot:
        ``snapshot_deferred()()``, both parts on the calling thread."""
        return self.snapshot_deferred()()

    def snapshot_deferred(self) -> Callable[[], KeyedStateSnapshot]:
        """Take the synchronous part of a snapshot and return the asynchronous part.

        The synchronous part (on the task thread) captures a consistent view of all state
        and timers; the returned callable (run it on an upload thread; later calls return the
        same snapshot) files the entries under their key groups and pickles each group. It
        never reads the live state. TTL states with ``cleanup_full_snapshot`` leave out what
        had expired when the synchronous part ran.

        Two ways, chosen by size (see :mod:`strom.state.heap_snapshots`): below
        ``fork_min_entries`` entries (or where fork is unavailable) the synchronous part
        shallow-copies every namespace map and stored objects are copied on write while the
        snapshot is pending; at or above it, the process forks and the child encodes the
        state as it was at the fork (a pause of ~15 ms for 1 GB instead of ~250 ms). Maps
        handed out by :meth:`raw_value_map` or ``state.namespaces`` bypass copy on write:
        stored objects in them that could change in place are deep-copied by the
        synchronous part, or, from a tenth of ``fork_min_entries`` of them, the snapshot
        forks.
        """
        now = self._clock()
        metas: dict[str, StateMeta] = {}
        live: list[Capture] = []
        for name, state in self._states.items():
            metas[name] = StateMeta(state.kind, state.has_ttl)
            live.append(Capture(name, state._namespaces, state.snapshot_filter()))
        for name, (meta, namespaces) in self._restored.items():
            metas[name] = meta
            live.append(Capture(name, namespaces, None))
        layout = SnapshotLayout(self.backend_type, self.max_parallelism, self.key_group_range,
                                metas, tuple(self._timer_services))
        threshold = self.fork_min_entries if FORK_AVAILABLE else None
        if threshold is not None and _entries(live) >= threshold:
            return self._fork(layout, live, now)
        # States whose maps were handed out (window fast paths, raw_value_map) are changed
        # without copy on write: if they hold objects a user function may change in place,
        # the snapshot takes deep copies of those objects, or forks when they are many.
        direct = {name for name, state in self._states.items()
                  if state._direct and holds_mutable(state._namespaces)}
        if threshold is not None and direct and (
            _entries([c for c in live if c.name in direct]) >= threshold // 10
        ):
            return self._fork(layout, live, now)
        captures = [
            Capture(c.name, capture_namespaces(c.frozen, deep=c.name in direct), c.keep)
            for c in live
        ]
        timers = self._capture_timers()
        with self._snapshot_lock:
            token = self._next_snapshot
            self._next_snapshot += 1
            self._pending_snapshots[token] = {c.name: c.frozen for c in captures}
            self._refresh_frozen(metas)
        deferred = CopiedSnapshot(layout, captures, timers, now)
        deferred.release = weakref.finalize(deferred, self._release_snapshot, token)
        return deferred

    def _fork(self, layout: SnapshotLayout, live: list[Capture], now: int) -> ForkedSnapshot:
        return ForkedSnapshot.fork(layout, lambda: (live, self._capture_timers()), now)

    def _capture_timers(self) -> list[TimerCapture]:
        return [(name, service.event_timers.capture(), service.processing_timers.capture())
                for name, service in self._timer_services.items()]

    def pending_snapshots(self) -> int:
        """How many snapshots have taken their synchronous part but not finished (or been
        dropped): while any is pending, state access copies on write."""
        return len(self._pending_snapshots)

    def _release_snapshot(self, token: int) -> None:
        """Forget a finished or dropped snapshot (any thread): its entries need no more
        copies."""
        with self._snapshot_lock:
            released = self._pending_snapshots.pop(token, None)
            if released is not None:
                self._refresh_frozen(released)

    def _refresh_frozen(self, names: Iterable[str]) -> None:
        # Called with _snapshot_lock held. Assigning the tuple is atomic for the task thread.
        pending = self._pending_snapshots.values()
        for name in names:
            state = self._states.get(name)
            if state is not None:
                held = tuple(p[name] for p in pending if name in p)
                state._frozen = held or None

    def restore(self, snapshots: Iterable[KeyedStateSnapshot]) -> None:
        """Load the key groups of this backend's range from ``snapshots`` (any parallelism,
        any backend type using the same payload format); other key groups are skipped, which
        is how rescaling re-slices state. Entries are merged into what the backend holds, so
        restore into a fresh backend. The max parallelism must be the one the snapshots were
        taken with."""
        snapshots = list(snapshots)
        for snap in snapshots:
            if not isinstance(snap, KeyedStateSnapshot):
                raise TypeError(f"restore() needs KeyedStateSnapshot objects, got {snap!r}")
            if snap.max_parallelism != self.max_parallelism:
                raise ValueError(
                    f"cannot restore keyed state taken with max parallelism "
                    f"{snap.max_parallelism} into a backend with max parallelism "
                    f"{self.max_parallelism}: the max parallelism of a job's keyed state must "
                    "stay fixed. Set it back to the value the snapshot was taken with."
                )
            for name, meta in snap.states.items():
                self._storage_for_restore(name, StateMeta(*meta))
            for name in snap.timer_services:
                self.get_timer_service(name)
        key_range = self.key_group_range
        for snap in snapshots:
            for kg, blob in snap.key_groups.items():
                if kg not in key_range:
                    continue
                states, timers = decode_key_group(blob)
                for name, by_ns in states.items():
                    namespaces = self._storage_for_restore(name, StateMeta(*snap.states[name]))
                    for ns, entries in by_ns.items():
                        target = namespaces.get(ns)
                        if target is None:
                            namespaces[ns] = dict(entries)
                        else:
                            target.update(entries)
                for name, (event_time, processing_time) in timers.items():
                    self.get_timer_service(name).restore_timers(event_time, processing_time)
        for state in self._states.values():
            state._reset_namespace_cache()

    def _storage_for_restore(self, name: str, meta: StateMeta) -> NamespaceMap:
        state = self._states.get(name)
        if state is not None:
            have = StateMeta(state.kind, state.has_ttl)
            if have != meta:
                raise ValueError(
                    f"cannot restore state {name!r} as {_describe(meta)}: this backend already "
                    f"has it as {_describe(have)}"
                )
            return state._namespaces
        restored = self._restored.get(name)
        if restored is None:
            restored = self._restored[name] = (meta, {})
        elif restored[0] != meta:
            raise ValueError(
                f"the snapshots disagree about state {name!r}: {_describe(restored[0])} in one, "
                f"{_describe(meta)} in another"
            )
        return restored[1]

    def dispose(self) -> None:
        """Drop all state and timers; the backend is empty afterwards. Snapshots already
        taken keep what they captured."""
        with self._snapshot_lock:
            self._pending_snapshots.clear()
            self._refresh_frozen(list(self._states))
        for state in self._states.values():
            for m in state._namespaces.values():
                m.clear()  # also empties maps handed out by raw_value_map
            state._namespaces.clear()
            state._reset_namespace_cache()
        self._states.clear()
        self._restored.clear()
        for service in self._timer_services.values():
            service.clear()
        self._timer_services.clear()
        self._per_record_hooks.clear()
        self._current_key = None

    def __repr__(self) -> str:
        return (
            f"HeapKeyedStateBackend(max_parallelism={self.max_parallelism}, "
            f"key_group_range={self.key_group_range.start}..{self.key_group_range.end}, "
            f"states={sorted(self.state_names())})"
        )



def _entries(captures: list[Capture]) -> int:
    return sum(len(m) for c in captures for m in c.frozen.values())
