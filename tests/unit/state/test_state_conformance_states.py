"""Conformance: every state kind, namespaces, merging and state registration."""

from __future__ import annotations

from typing import Any

import pytest
from backend_conformance import AverageAggregate

from strom.common.time import Time
from strom.datastream.functions import ReduceFunction
from strom.datastream.state import (
    AggregatingState,
    AggregatingStateDescriptor,
    ListState,
    ListStateDescriptor,
    MapState,
    MapStateDescriptor,
    ReducingState,
    ReducingStateDescriptor,
    StateTtlConfig,
    ValueState,
    ValueStateDescriptor,
)
from strom.state.namespaces import VOID_NAMESPACE

V = VOID_NAMESPACE


def test_value_state_is_per_key(backend: Any) -> None:
    state = backend.get_partitioned_state(V, ValueStateDescriptor("v"))
    assert isinstance(state, ValueState)
    backend.set_current_key("a")
    assert state.value() is None
    state.update(1)
    backend.set_current_key("b")
    assert state.value() is None
    state.update(2)
    backend.set_current_key("a")
    assert state.value() == 1
    assert backend.get_current_key() == "a"
    state.update(None)
    assert state.value() is None
    backend.set_current_key("b")
    state.clear()
    assert state.value() is None
    assert list(backend.keys("v", V)) == []


def test_list_state(backend: Any) -> None:
    state = backend.get_partitioned_state(V, ListStateDescriptor("l"))
    assert isinstance(state, ListState)
    backend.set_current_key(7)
    assert list(state.get()) == []
    state.add(1)
    state.add_all([2, 3])
    state.add_all([])
    assert list(state.get()) == [1, 2, 3]
    assert list(state) == [1, 2, 3]
    result = state.get()
    result.append(99)  # type: ignore[attr-defined]
    assert list(state.get()) == [1, 2, 3], "get() must not expose the stored list"
    state.update([4])
    assert list(state.get()) == [4]
    backend.set_current_key(8)
    assert list(state.get()) == []
    backend.set_current_key(7)
    state.update([])
    assert list(state.get()) == []
    assert list(backend.keys("l", V)) == []


def test_list_state_rejects_none(backend: Any) -> None:
    state = backend.get_partitioned_state(V, ListStateDescriptor("l"))
    backend.set_current_key("k")
    with pytest.raises(ValueError, match="cannot add None"):
        state.add(None)
    with pytest.raises(ValueError, match="containing None"):
        state.add_all([1, None])
    with pytest.raises(ValueError, match="update\\(None\\)"):
        state.update(None)
    assert list(state.get()) == []


def test_list_state_add_while_iterating(backend: Any) -> None:
    state = backend.get_partitioned_state(V, ListStateDescriptor("l"))
    backend.set_current_key("k")
    state.add_all([1, 2])
    for value in state.get():
        state.add(value * 10)
    assert list(state.get()) == [1, 2, 10, 20]


def test_map_state(backend: Any) -> None:
    state = backend.get_partitioned_state(V, MapStateDescriptor("m"))
    assert isinstance(state, MapState)
    backend.set_current_key("k")
    assert state.is_empty()
    assert state.get("x") is None
    assert not state.contains("x")
    state.put("x", 1)
    state.put_all({"y": 2, "z": None})
    state["w"] = 4
    assert state["x"] == 1
    assert "z" in state and state.get("z") is None
    assert "q" not in state
    assert sorted(state.keys()) == ["w", "x", "y", "z"]
    assert sorted(state) == ["w", "x", "y", "z"]
    assert sorted(state.items(), key=lambda kv: kv[0]) == [
        ("w", 4),
        ("x", 1),
        ("y", 2),
        ("z", None),
    ]
    assert sorted(v for v in state.values() if v is not None) == [1, 2, 4]
    del state["w"]
    state.remove("missing")
    for key in state.keys():  # removing while iterating over keys() is allowed
        state.remove(key)
    assert state.is_empty()
    assert state.items() == [] and state.keys() == [] and state.values() == []
    assert list(backend.keys("m", V)) == []


def test_map_state_is_per_key(backend: Any) -> None:
    state = backend.get_partitioned_state(V, MapStateDescriptor("m"))
    backend.set_current_key(1)
    state.put("a", 1)
    backend.set_current_key(2)
    assert state.is_empty()
    state.put("a", 2)
    backend.set_current_key(1)
    assert state.get("a") == 1
    state.clear()
    assert state.is_empty()
    backend.set_current_key(2)
    assert state.get("a") == 2


class Max(ReduceFunction):
    def reduce(self, value1: int, value2: int) -> int:
        return max(value1, value2)


@pytest.mark.parametrize(
    ("fn", "expected"), [(lambda a, b: a + b, 6), (Max(), 3), (lambda a, b: f"{a}{b}", None)]
)
def test_reducing_state(backend: Any, fn: Any, expected: Any) -> None:
    state = backend.get_partitioned_state(V, ReducingStateDescriptor("r", fn))
    assert isinstance(state, ReducingState)
    backend.set_current_key("k")
    assert state.get() is None
    values = [1, 3, 2] if expected is not None else ["a", "b", "c"]
    for v in values:
        state.add(v)
    assert state.get() == (expected if expected is not None else "abc")
    state.add(None)  # Flink: adding null clears
    assert state.get() is None


def test_reducing_state_reduce_order(backend: Any) -> None:
    calls: list[tuple[Any, Any]] = []

    def record(a: Any, b: Any) -> Any:
        calls.append((a, b))
        return b

    state = backend.get_partitioned_state(V, ReducingStateDescriptor("r", record))
    backend.set_current_key("k")
    state.add("old")
    state.add("new")
    assert calls == [("old", "new")]


def test_aggregating_state(backend: Any) -> None:
    state = backend.get_partitioned_state(V, AggregatingStateDescriptor("a", AverageAggregate()))
    assert isinstance(state, AggregatingState)
    backend.set_current_key("k")
    assert state.get() is None
    state.add(1)
    state.add(4)
    assert state.get() == 2.5
    backend.set_current_key("other")
    assert state.get() is None
    backend.set_current_key("k")
    state.clear()
    assert state.get() is None


def test_namespaces_are_independent(backend: Any) -> None:
    state = backend.get_partitioned_state("w1", ValueStateDescriptor("v"))
    backend.set_current_key("k")
    state.update("in-w1")
    state.set_current_namespace("w2")
    assert state.value() is None
    state.update("in-w2")
    assert backend.get_partitioned_state(V, ValueStateDescriptor("v")).value() is None
    state.set_current_namespace("w1")
    assert state.value() == "in-w1"
    assert list(backend.keys("v", "w1")) == ["k"]
    assert list(backend.keys("v", "w2")) == ["k"]
    state.clear()
    assert list(backend.keys("v", "w1")) == []
    assert list(backend.keys("v", "nowhere")) == []
    assert list(backend.keys("unknown-state", "w1")) == []


def test_keys_lists_every_key_of_a_namespace(backend: Any) -> None:
    state = backend.get_partitioned_state(("w", 1), ListStateDescriptor("l"))
    for key in ["a", "b", "c"]:
        backend.set_current_key(key)
        state.add(key)
    keys = backend.keys("l", ("w", 1))
    backend.set_current_key("b")
    state.clear()  # changing state while iterating keys() is allowed
    assert sorted(keys) == ["a", "b", "c"]
    assert sorted(backend.keys("l", ("w", 1))) == ["a", "c"]


def test_get_partitioned_state_switches_namespace_of_the_cached_state(backend: Any) -> None:
    descriptor = ValueStateDescriptor("v")
    backend.set_current_key("k")
    first = backend.get_partitioned_state("w1", descriptor)
    first.update(1)
    second = backend.get_partitioned_state("w2", descriptor)
    assert second is first
    assert second.get_current_namespace() == "w2"
    assert second.value() is None
    third = backend.get_partitioned_state("w1", ValueStateDescriptor("v"))  # equal, not same
    assert third is first and third.value() == 1


def test_same_name_other_kind_is_an_error(backend: Any) -> None:
    backend.get_partitioned_state(V, ValueStateDescriptor("s"))
    with pytest.raises(ValueError, match="already registered as value state without TTL"):
        backend.get_partitioned_state(V, ListStateDescriptor("s"))
    ttl = ValueStateDescriptor("s")
    ttl.enable_time_to_live(StateTtlConfig.new_builder(Time.seconds(1)).build())
    with pytest.raises(ValueError, match="cannot also be used as value state with TTL"):
        backend.get_partitioned_state(V, ttl)


def test_unknown_descriptor_is_a_type_error(backend: Any) -> None:
    with pytest.raises(TypeError, match="needs a ValueStateDescriptor"):
        backend.get_partitioned_state(V, object())


# ------------------------------------------------------------------ merge_namespaces


def _fill(backend: Any, descriptor: Any, contents: dict[Any, list[Any]]) -> Any:
    state = backend.get_partitioned_state(V, descriptor)
    for ns, values in contents.items():
        state.set_current_namespace(ns)
        for v in values:
            state.add(v)
    return state


def test_merge_list_namespaces(backend: Any) -> None:
    backend.set_current_key("k")
    state = _fill(backend, ListStateDescriptor("l"), {"t": [1], "s1": [2, 3], "s2": [4]})
    backend.set_current_key("other")
    state.set_current_namespace("s1")
    state.add(100)
    backend.set_current_key("k")
    state.merge_namespaces("t", ["s1", "s2", "empty"])
    state.set_current_namespace("t")
    assert list(state.get()) == [1, 2, 3, 4]
    for ns in ("s1", "s2"):
        state.set_current_namespace(ns)
        assert list(state.get()) == []
    assert list(backend.keys("l", "s1")) == ["other"]
    backend.set_current_key("other")
    state.set_current_namespace("s1")
    assert list(state.get()) == [100]


def test_merge_into_absent_target(backend: Any) -> None:
    backend.set_current_key("k")
    state = _fill(backend, ReducingStateDescriptor("r", lambda a, b: a + b), {"s1": [1], "s2": [2]})
    state.set_current_namespace("t")
    state.merge_namespaces("t", ["s1", "s2"])
    assert state.get() == 3  # the cached current namespace sees the new target
    assert list(backend.keys("r", "s1")) == [] and list(backend.keys("r", "s2")) == []
    state.merge_namespaces("t2", ["nothing"])
    state.set_current_namespace("t2")
    assert state.get() is None
    assert list(backend.keys("r", "t2")) == []


def test_merge_reducing_order(backend: Any) -> None:
    backend.set_current_key("k")
    state = _fill(
        backend,
        ReducingStateDescriptor("r", lambda a, b: f"({a}+{b})"),
        {"t": ["T"], "s1": ["A"], "s2": ["B"]},
    )
    state.merge_namespaces("t", ["s1", "s2"])
    state.set_current_namespace("t")
    assert state.get() == "(T+(A+B))"


def test_merge_aggregating_namespaces(backend: Any) -> None:
    backend.set_current_key("k")
    state = _fill(
        backend,
        AggregatingStateDescriptor("a", AverageAggregate()),
        {"t": [1], "s1": [2, 3], "s2": [6]},
    )
    state.set_current_namespace("s1")  # the current namespace is a source that disappears
    state.merge_namespaces("t", ["s1", "s2"])
    assert state.get() is None
    state.add(8)
    state.set_current_namespace("t")
    assert state.get() == 3.0
    state.set_current_namespace("s1")
    assert state.get() == 8.0


# ------------------------------------------------------------------ raw_value_map


def test_raw_value_map_is_the_value_state(backend: Any) -> None:
    raw = backend.raw_value_map("sum")
    assert backend.raw_value_map("sum") is raw
    raw["a"] = 5
    state = backend.get_partitioned_state(V, ValueStateDescriptor("sum"))
    backend.set_current_key("a")
    assert state.value() == 5
    state.update(6)
    assert raw == {"a": 6}
    assert list(backend.keys("sum", V)) == ["a"]


def test_raw_value_map_conflicts(backend: Any) -> None:
    backend.get_partitioned_state(V, ListStateDescriptor("l"))
    with pytest.raises(ValueError, match="raw map needs value state without TTL"):
        backend.raw_value_map("l")
    backend.raw_value_map("r")
    with pytest.raises(ValueError, match="already registered"):
        backend.get_partitioned_state(V, MapStateDescriptor("r"))


def test_dispose_drops_everything(backend: Any) -> None:
    raw = backend.raw_value_map("sum")
    raw["a"] = 1
    timers = backend.get_timer_service("t")
    backend.set_current_key("a")
    timers.register_event_time_timer(V, 5)
    backend.dispose()
    assert raw == {}
    assert list(backend.keys("sum", V)) == []
    assert backend.get_timer_service("t").num_event_time_timers() == 0
