"""Operator (non-keyed) state: list state, union list state and broadcast state.

Sources and sinks keep their positions and pending work here. On restore with another
parallelism, :func:`redistribute_operator_state` applies Flink's rules:

* list state (``get_list_state``): all elements of all old subtasks, in subtask order, are
  split evenly into contiguous runs; the first ``n % p`` new subtasks get one extra element.
  When the parallelism is unchanged, each subtask keeps its own elements.
* union list state (``get_union_list_state``): every new subtask gets all elements.
* broadcast state (``get_broadcast_state``): new subtask ``i`` gets the copy of old subtask
  ``i % n`` among the ``n`` old subtasks that have it (all copies are meant to be equal).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from strom.datastream.state import (
    BroadcastState,
    ListState,
    ListStateDescriptor,
    MapStateDescriptor,
    OperatorStateStore,
    ReadOnlyBroadcastState,
)
from strom.state.snapshots import OperatorStateSnapshot

__all__ = [
    "OperatorBroadcastState",
    "OperatorListState",
    "OperatorStateBackend",
    "ReadOnlyBroadcastStateView",
    "redistribute_operator_state",
]

_SPLIT = "list"
_UNION = "union list"
_BROADCAST = "broadcast"


class OperatorListState(ListState[Any]):
    """A list held by one operator instance (not scoped to a key)."""

    __slots__ = ("_items", "name")

    def __init__(self, name: str, items: list[Any] | None = None) -> None:
        self.name = name
        self._items: list[Any] = [] if items is None else items

    def get(self) -> list[Any]:
        return self._items.copy()

    def add(self, value: Any) -> None:
        if value is None:
            raise ValueError(f"operator ListState {self.name!r}: cannot add None")
        self._items.append(value)

    def add_all(self, values: list[Any]) -> None:
        items = list(values)
        if any(v is None for v in items):
            raise ValueError(f"operator ListState {self.name!r}: add_all got None in {items!r}")
        self._items.extend(items)

    def update(self, values: list[Any]) -> None:
        items = list(values)
        if any(v is None for v in items):
            raise ValueError(f"operator ListState {self.name!r}: update got None in {items!r}")
        self._items = items

    def clear(self) -> None:
        self._items = []

    def __repr__(self) -> str:
        return f"OperatorListState({self.name!r}, {self._items!r})"


class OperatorBroadcastState(BroadcastState[Any, Any]):
    """A map that every parallel instance keeps a copy of."""

    __slots__ = ("_map", "name")

    def __init__(self, name: str, entries: dict[Any, Any] | None = None) -> None:
        self.name = name
        self._map: dict[Any, Any] = {} if entries is None else entries

    def get(self, key: Any) -> Any:
        return self._map.get(key)

    def contains(self, key: Any) -> bool:
        return key in self._map

    def items(self) -> list[tuple[Any, Any]]:
        return list(self._map.items())

    def keys(self) -> list[Any]:
        return list(self._map)

    def values(self) -> list[Any]:
        return list(self._map.values())

    def is_empty(self) -> bool:
        return not self._map

    def put(self, key: Any, value: Any) -> None:
        self._map[key] = value

    def put_all(self, dict_value: dict[Any, Any]) -> None:
        self._map.update(dict_value)

    def remove(self, key: Any) -> None:
        self._map.pop(key, None)

    def clear(self) -> None:
        self._map.clear()

    def __repr__(self) -> str:
        return f"OperatorBroadcastState({self.name!r}, {self._map!r})"


class ReadOnlyBroadcastStateView(ReadOnlyBroadcastState[Any, Any]):
    """Read-only access to an :class:`OperatorBroadcastState` (what the non-broadcast side
    of a broadcast connection gets). ``clear()`` is refused."""

    __slots__ = ("_state",)

    def __init__(self, state: OperatorBroadcastState) -> None:
        self._state = state

    def get(self, key: Any) -> Any:
        return self._state.get(key)

    def contains(self, key: Any) -> bool:
        return self._state.contains(key)

    def items(self) -> list[tuple[Any, Any]]:
        return self._state.items()

    def keys(self) -> list[Any]:
        return self._state.keys()

    def values(self) -> list[Any]:
        return self._state.values()

    def is_empty(self) -> bool:
        return self._state.is_empty()

    def clear(self) -> None:
        raise TypeError(
            f"broadcast state {self._state.name!r} is read-only here; only the broadcast side "
            "(process_broadcast_element) may change it"
        )


class OperatorStateBackend(OperatorStateStore):
    """The operator state of one subtask. Names are unique across the three kinds."""

    def __init__(self) -> None:
        self._lists: dict[str, OperatorListState] = {}
        self._unions: dict[str, OperatorListState] = {}
        self._broadcasts: dict[str, OperatorBroadcastState] = {}

    def _check_free(self, name: str, mode: str) -> None:
        for other_mode, states in (
            (_SPLIT, self._lists),
            (_UNION, self._unions),
            (_BROADCAST, self._broadcasts),
        ):
            if other_mode != mode and name in states:
                raise ValueError(
                    f"operator state {name!r} exists as {other_mode} state; it cannot be used "
                    f"as {mode} state too. Give each state its own name."
                )

    def get_list_state(self, state_descriptor: ListStateDescriptor) -> OperatorListState:
        """List state redistributed by even split on rescaling."""
        return self._list(state_descriptor, _SPLIT, self._lists)

    def get_union_list_state(self, state_descriptor: ListStateDescriptor) -> OperatorListState:
        """List state that every subtask receives whole on restore."""
        return self._list(state_descriptor, _UNION, self._unions)

    def _list(
        self, descriptor: ListStateDescriptor, mode: str, states: dict[str, OperatorListState]
    ) -> OperatorListState:
        if not isinstance(descriptor, ListStateDescriptor):
            raise TypeError(f"{mode} state needs a ListStateDescriptor, got {descriptor!r}")
        name = descriptor.get_name()
        state = states.get(name)
        if state is None:
            self._check_free(name, mode)
            state = states[name] = OperatorListState(name)
        return state

    def get_broadcast_state(self, state_descriptor: MapStateDescriptor) -> OperatorBroadcastState:
        if not isinstance(state_descriptor, MapStateDescriptor):
            raise TypeError(f"broadcast state needs a MapStateDescriptor, got {state_descriptor!r}")
        name = state_descriptor.get_name()
        state = self._broadcasts.get(name)
        if state is None:
            self._check_free(name, _BROADCAST)
            state = self._broadcasts[name] = OperatorBroadcastState(name)
        return state

    def get_read_only_broadcast_state(
        self, state_descriptor: MapStateDescriptor
    ) -> ReadOnlyBroadcastStateView:
        return ReadOnlyBroadcastStateView(self.get_broadcast_state(state_descriptor))

    def snapshot(self) -> OperatorStateSnapshot:
        """Deep copies of all operator state."""
        return OperatorStateSnapshot(
            list_states={n: copy.deepcopy(s._items) for n, s in self._lists.items()},
            union_states={n: copy.deepcopy(s._items) for n, s in self._unions.items()},
            broadcast_states={n: copy.deepcopy(s._map) for n, s in self._broadcasts.items()},
        )

    def restore(self, snapshot: OperatorStateSnapshot | None) -> None:
        """Load ``snapshot`` (already redistributed for this subtask); ``None`` restores
        nothing. Restored states exist (and are snapshotted) even before they are asked for."""
        if snapshot is None:
            return
        if not isinstance(snapshot, OperatorStateSnapshot):
            raise TypeError(f"restore() needs an OperatorStateSnapshot, got {snapshot!r}")
        for mode, source, target in (
            (_SPLIT, snapshot.list_states, self._lists),
            (_UNION, snapshot.union_states, self._unions),
        ):
            for name, items in source.items():
                self._check_free(name, mode)
                target[name] = OperatorListState(name, copy.deepcopy(list(items)))
        for name, entries in snapshot.broadcast_states.items():
            self._check_free(name, _BROADCAST)
            self._broadcasts[name] = OperatorBroadcastState(name, copy.deepcopy(dict(entries)))

    def dispose(self) -> None:
        self._lists.clear()
        self._unions.clear()
        self._broadcasts.clear()


def redistribute_operator_state(
    snapshots: Sequence[OperatorStateSnapshot | None], new_parallelism: int
) -> list[OperatorStateSnapshot]:
    """Turn the snapshots of the old subtasks (index = subtask; ``None`` = no state) into
    one snapshot per new subtask, by Flink's even-split / union / broadcast rules."""
    if isinstance(new_parallelism, bool) or not isinstance(new_parallelism, int):
        raise TypeError(f"new_parallelism must be an int, got {new_parallelism!r}")
    if new_parallelism < 1:
        raise ValueError(f"new_parallelism must be >= 1, got {new_parallelism}")
    old = [OperatorStateSnapshot() if s is None else s for s in snapshots]
    old_parallelism = len(old)
    out: list[OperatorStateSnapshot] = [OperatorStateSnapshot() for _ in range(new_parallelism)]

    if old_parallelism == new_parallelism:
        for index, snap in enumerate(old):
            out[index].list_states.update({n: list(v) for n, v in snap.list_states.items()})
    else:
        for name in _names(s.list_states for s in old):
            everything = [e for snap in old for e in snap.list_states.get(name, ())]
            base, extra = divmod(len(everything), new_parallelism)
            start = 0
            for index in range(new_parallelism):
                size = base + (1 if index < extra else 0)
                out[index].list_states[name] = everything[start : start + size]
                start += size

    for name in _names(s.union_states for s in old):
        everything = [e for snap in old for e in snap.union_states.get(name, ())]
        for snap_out in out:
            snap_out.union_states[name] = list(everything)

    for name in _names(s.broadcast_states for s in old):
        copies = [snap.broadcast_states[name] for snap in old if name in snap.broadcast_states]
        for index, snap_out in enumerate(out):
            snap_out.broadcast_states[name] = dict(copies[index % len(copies)])
    return out


def _names(maps: Any) -> list[str]:
    names: dict[str, None] = {}
    for m in maps:
        names.update(dict.fromkeys(m))
    return list(names)
