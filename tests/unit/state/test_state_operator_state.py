"""Operator state: list, union list and broadcast state, snapshots and redistribution."""

from __future__ import annotations

import pickle

import pytest

from strom.datastream.state import (
    BroadcastState,
    ListState,
    ListStateDescriptor,
    MapStateDescriptor,
    OperatorStateStore,
    ReadOnlyBroadcastState,
)
from strom.state import OperatorStateBackend, OperatorStateSnapshot, redistribute_operator_state


def backend_with(
    offsets: list[int], union: list[str], broadcast: dict[str, int]
) -> OperatorStateBackend:
    backend = OperatorStateBackend()
    backend.get_list_state(ListStateDescriptor("offsets")).update(offsets)
    backend.get_union_list_state(ListStateDescriptor("seen")).add_all(union)
    backend.get_broadcast_state(MapStateDescriptor("rules")).put_all(broadcast)
    return backend


def test_list_state_operations() -> None:
    backend = OperatorStateBackend()
    assert isinstance(backend, OperatorStateStore)
    state = backend.get_list_state(ListStateDescriptor("l"))
    assert isinstance(state, ListState)
    assert backend.get_list_state(ListStateDescriptor("l")) is state
    state.add(1)
    state.add_all([2, 3])
    assert state.get() == [1, 2, 3]
    state.update([9])
    assert list(state) == [9]
    state.clear()
    assert state.get() == []
    with pytest.raises(ValueError, match="cannot add None"):
        state.add(None)
    with pytest.raises(ValueError, match="got None"):
        state.update([None])
    with pytest.raises(ValueError, match="got None"):
        state.add_all([None])


def test_broadcast_state_operations() -> None:
    backend = OperatorStateBackend()
    state = backend.get_broadcast_state(MapStateDescriptor("b"))
    assert isinstance(state, BroadcastState)
    state.put("a", 1)
    state["b"] = 2
    state.put_all({"c": 3})
    del state["c"]
    state.remove("missing")
    assert state.get("a") == 1 and state["b"] == 2 and "b" in state
    assert sorted(state.items()) == [("a", 1), ("b", 2)]
    assert sorted(state.keys()) == ["a", "b"] and sorted(state.values()) == [1, 2]
    assert sorted(state) == ["a", "b"]
    view = backend.get_read_only_broadcast_state(MapStateDescriptor("b"))
    assert isinstance(view, ReadOnlyBroadcastState)
    assert not hasattr(view, "put")
    assert view.get("a") == 1 and view.contains("b") and not view.is_empty()
    assert sorted(view.keys()) == ["a", "b"] and sorted(view.values()) == [1, 2]
    assert sorted(view.items()) == [("a", 1), ("b", 2)] and view["a"] == 1
    with pytest.raises(TypeError, match="read-only here"):
        view.clear()
    state.clear()
    assert view.is_empty()


def test_names_are_unique_across_kinds() -> None:
    backend = OperatorStateBackend()
    backend.get_list_state(ListStateDescriptor("s"))
    with pytest.raises(ValueError, match="exists as list state; it cannot be used as union"):
        backend.get_union_list_state(ListStateDescriptor("s"))
    with pytest.raises(ValueError, match="as broadcast state"):
        backend.get_broadcast_state(MapStateDescriptor("s"))
    with pytest.raises(TypeError, match="needs a ListStateDescriptor"):
        backend.get_list_state(MapStateDescriptor("m"))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="needs a MapStateDescriptor"):
        backend.get_broadcast_state(ListStateDescriptor("m"))  # type: ignore[arg-type]


def test_snapshot_is_a_deep_copy_and_restores() -> None:
    backend = OperatorStateBackend()
    state = backend.get_list_state(ListStateDescriptor("l"))
    state.add({"offset": 1})
    snapshot = pickle.loads(pickle.dumps(backend.snapshot()))
    state.get()[0]["offset"] = 99
    restored = OperatorStateBackend()
    restored.restore(snapshot)
    restored.restore(None)
    # Restored state exists before it is asked for, and is snapshotted again.
    assert restored.snapshot().list_states == {"l": [{"offset": 1}]}
    assert restored.get_list_state(ListStateDescriptor("l")).get() == [{"offset": 1}]
    with pytest.raises(TypeError, match="needs an OperatorStateSnapshot"):
        restored.restore({"l": []})  # type: ignore[arg-type]
    restored.dispose()
    assert restored.snapshot().is_empty()


def test_even_split_union_and_broadcast_on_scale_up() -> None:
    old = [
        backend_with([0, 1, 2, 3], ["a"], {"r": 1}).snapshot(),
        backend_with([4, 5, 6], ["b", "c"], {"r": 1}).snapshot(),
    ]
    new = redistribute_operator_state(old, 3)
    assert [s.list_states["offsets"] for s in new] == [[0, 1, 2], [3, 4], [5, 6]]
    assert [s.union_states["seen"] for s in new] == [["a", "b", "c"]] * 3
    assert [s.broadcast_states["rules"] for s in new] == [{"r": 1}] * 3
    restored = OperatorStateBackend()
    restored.restore(new[1])
    assert restored.get_list_state(ListStateDescriptor("offsets")).get() == [3, 4]
    assert restored.get_union_list_state(ListStateDescriptor("seen")).get() == ["a", "b", "c"]
    assert restored.get_broadcast_state(MapStateDescriptor("rules")).get("r") == 1


def test_scale_down_and_missing_subtask_state() -> None:
    old = [
        backend_with([0], [], {"r": 1}).snapshot(),
        None,
        backend_with([1, 2, 3, 4], ["z"], {"r": 1}).snapshot(),
    ]
    new = redistribute_operator_state(old, 2)
    assert [s.list_states["offsets"] for s in new] == [[0, 1, 2], [3, 4]]
    assert [s.union_states["seen"] for s in new] == [["z"], ["z"]]
    assert [s.broadcast_states["rules"] for s in new] == [{"r": 1}, {"r": 1}]


def test_same_parallelism_keeps_list_state_in_place() -> None:
    old = [backend_with([0, 1, 2], ["a"], {}).snapshot(), backend_with([3], ["b"], {}).snapshot()]
    new = redistribute_operator_state(old, 2)
    assert [s.list_states["offsets"] for s in new] == [[0, 1, 2], [3]]
    assert [s.union_states["seen"] for s in new] == [["a", "b"], ["a", "b"]]


def test_redistribute_checks_and_empty_input() -> None:
    assert redistribute_operator_state([], 2) == [OperatorStateSnapshot(), OperatorStateSnapshot()]
    with pytest.raises(ValueError, match="new_parallelism must be >= 1, got 0"):
        redistribute_operator_state([], 0)
    with pytest.raises(TypeError, match="new_parallelism must be an int"):
        redistribute_operator_state([], "2")  # type: ignore[arg-type]
