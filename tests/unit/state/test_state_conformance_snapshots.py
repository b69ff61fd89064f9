"""Conformance: snapshot -> restore round trips and rescaling by key group."""

from __future__ import annotations

import pickle
from typing import Any

import pytest
from backend_conformance import AverageAggregate, FakeClock

from strom.datastream.state import (
    AggregatingStateDescriptor,
    ListStateDescriptor,
    MapStateDescriptor,
    ReducingStateDescriptor,
    ValueStateDescriptor,
)
from strom.state.key_groups import (
    KeyGroupRange,
    assign_to_key_group,
    compute_key_group_range_for_operator_index,
)
from strom.state.namespaces import VOID_NAMESPACE
from strom.state.snapshots import KeyedStateSnapshot
from strom.state.timers import Timer

V = VOID_NAMESPACE
MAX_P = 128
FULL = KeyGroupRange(0, MAX_P - 1)


def descriptors() -> dict[str, Any]:
    return {
        "value": ValueStateDescriptor("value"),
        "list": ListStateDescriptor("list"),
        "map": MapStateDescriptor("map"),
        "reducing": ReducingStateDescriptor("reducing", lambda a, b: a + b),
        "aggregating": AggregatingStateDescriptor("aggregating", AverageAggregate()),
    }


def write_key(backend: Any, key: Any) -> None:
    """Give ``key`` an entry in every kind of state, in two namespaces, and two timers."""
    backend.set_current_key(key)
    d = descriptors()
    backend.get_partitioned_state(V, d["value"]).update(("v", key))
    lst = backend.get_partitioned_state(V, d["list"])
    lst.add_all([key, "x"])
    backend.get_partitioned_state(V, d["map"]).put_all({"k": key, "n": 1})
    backend.get_partitioned_state(("w", 1), d["reducing"]).add(2)
    backend.get_partitioned_state(("w", 1), d["reducing"]).add(3)
    backend.get_partitioned_state(("w", 2), d["aggregating"]).add(4)
    backend.raw_value_map("raw")[key] = [key]
    timers = backend.get_timer_service("user")
    timers.register_event_time_timer(("w", 1), 100)
    timers.register_processing_time_timer(V, 200)


def read_key(backend: Any, key: Any) -> tuple[Any, ...]:
    backend.set_current_key(key)
    d = descriptors()
    return (
        backend.get_partitioned_state(V, d["value"]).value(),
        list(backend.get_partitioned_state(V, d["list"]).get()),
        sorted(backend.get_partitioned_state(V, d["map"]).items()),
        backend.get_partitioned_state(("w", 1), d["reducing"]).get(),
        backend.get_partitioned_state(("w", 2), d["aggregating"]).get(),
        backend.raw_value_map("raw").get(key),
    )


def expected(key: Any) -> tuple[Any, ...]:
    return (("v", key), [key, "x"], [("k", key), ("n", 1)], 5, 4.0, [key])


def test_round_trip_of_every_state_kind(backend_factory: Any) -> None:
    source = backend_factory(MAX_P, FULL, FakeClock())
    keys = ["a", 1, (2, "b"), 3.5, ("t", None), b"bytes"]
    for key in keys:
        write_key(source, key)
    snapshot = source.snapshot()
    assert isinstance(snapshot, KeyedStateSnapshot)
    assert snapshot.max_parallelism == MAX_P
    assert set(snapshot.states) == {"value", "list", "map", "reducing", "aggregating", "raw"}
    snapshot = pickle.loads(pickle.dumps(snapshot))

    target = backend_factory(MAX_P, FULL, FakeClock())
    target.restore([snapshot])
    for key in keys:
        assert read_key(target, key) == expected(key)
    timers = target.get_timer_service("user")
    assert sorted(map(tuple, timers.event_time_timers()), key=repr) == sorted(
        [(100, k, ("w", 1)) for k in keys], key=repr
    )
    assert timers.num_processing_time_timers() == len(keys)
    assert sorted(target.keys("reducing", ("w", 1)), key=repr) == sorted(keys, key=repr)


def test_snapshot_is_isolated_from_later_changes(backend: Any, backend_factory: Any) -> None:
    lst = backend.get_partitioned_state(V, ListStateDescriptor("l"))
    backend.set_current_key("k")
    lst.add([1])
    snapshot = backend.snapshot()
    lst.add([2])
    lst.get()[0].append("mutated")
    restored = backend_factory(MAX_P, FULL, FakeClock())
    restored.restore([snapshot])
    restored.set_current_key("k")
    assert list(restored.get_partitioned_state(V, ListStateDescriptor("l")).get()) == [[1]]


def test_restored_state_not_yet_used_is_kept_in_the_next_snapshot(backend_factory: Any) -> None:
    first = backend_factory(MAX_P, FULL, FakeClock())
    write_key(first, "k")
    second = backend_factory(MAX_P, FULL, FakeClock())
    second.restore([first.snapshot()])
    assert sorted(second.keys("list", V)) == ["k"]  # readable before registration
    third = backend_factory(MAX_P, FULL, FakeClock())
    third.restore([second.snapshot()])
    assert read_key(third, "k") == expected("k")


def test_restore_into_already_used_raw_map_keeps_the_same_dict(backend_factory: Any) -> None:
    first = backend_factory(MAX_P, FULL, FakeClock())
    first.raw_value_map("sum")["a"] = 1
    second = backend_factory(MAX_P, FULL, FakeClock())
    raw = second.raw_value_map("sum")
    second.restore([first.snapshot()])
    assert raw == {"a": 1}


def test_restore_checks(backend_factory: Any) -> None:
    source = backend_factory(MAX_P, FULL, FakeClock())
    write_key(source, "k")
    snapshot = source.snapshot()
    wrong_max = backend_factory(256, KeyGroupRange(0, 255), FakeClock())
    with pytest.raises(ValueError, match="max parallelism 128 into a backend with max"):
        wrong_max.restore([snapshot])
    target = backend_factory(MAX_P, FULL, FakeClock())
    target.restore([snapshot])
    with pytest.raises(ValueError, match="restored from a snapshot as list state"):
        target.get_partitioned_state(V, ValueStateDescriptor("list"))
    with pytest.raises(TypeError, match="KeyedStateSnapshot"):
        target.restore([{"not": "a snapshot"}])
    used = backend_factory(MAX_P, FULL, FakeClock())
    used.get_partitioned_state(V, MapStateDescriptor("list"))
    with pytest.raises(ValueError, match="cannot restore state 'list' as list state"):
        used.restore([snapshot])


def test_snapshot_rejects_keys_outside_the_key_group_range(backend_factory: Any) -> None:
    key = "k"
    kg = assign_to_key_group(key, MAX_P)
    other = KeyGroupRange(kg + 1, kg + 1) if kg < MAX_P - 1 else KeyGroupRange(0, 0)
    backend = backend_factory(MAX_P, other, FakeClock())
    backend.raw_value_map("raw")[key] = 1
    with pytest.raises(ValueError, match=f"key 'k' belongs to key group {kg}, outside"):
        backend.snapshot()


def test_empty_backend_snapshot(backend: Any, backend_factory: Any) -> None:
    snapshot = backend.snapshot()
    assert snapshot.is_empty() and snapshot.size_bytes() == 0
    backend_factory(MAX_P, FULL, FakeClock()).restore([snapshot])


def _backends(factory: Any, parallelism: int) -> list[Any]:
    return [
        factory(
            MAX_P, compute_key_group_range_for_operator_index(MAX_P, parallelism, i), FakeClock()
        )
        for i in range(parallelism)
    ]


def _owner(key: Any, parallelism: int) -> int:
    kg = assign_to_key_group(key, MAX_P)
    return kg * parallelism // MAX_P


def test_rescale_two_to_three_and_back(backend_factory: Any) -> None:
    keys = [f"key-{i}" for i in range(150)] + list(range(50))
    old = _backends(backend_factory, 2)
    for key in keys:
        write_key(old[_owner(key, 2)], key)
    snapshots = [b.snapshot() for b in old]
    assert all(not s.is_empty() for s in snapshots)

    new = _backends(backend_factory, 3)
    for b in new:
        b.restore(snapshots)
    for index, b in enumerate(new):
        mine = {k for k in keys if _owner(k, 3) == index}
        assert mine, "the test keys should cover every new subtask"
        assert set(b.keys("value", V)) == mine
        assert set(b.keys("list", V)) == mine
        assert set(b.keys("reducing", ("w", 1))) == mine
        assert set(b.keys("aggregating", ("w", 2))) == mine
        assert set(b.raw_value_map("raw")) == mine
        timers = b.get_timer_service("user")
        assert {t.key for t in timers.event_time_timers()} == mine
        assert timers.num_processing_time_timers() == len(mine)
        for key in mine:
            assert read_key(b, key) == expected(key)

    back = _backends(backend_factory, 2)
    new_snapshots = [b.snapshot() for b in new]
    for b in back:
        b.restore(new_snapshots)
    for index, b in enumerate(back):
        mine = {k for k in keys if _owner(k, 2) == index}
        assert set(b.raw_value_map("raw")) == mine
        for key in mine:
            assert read_key(b, key) == expected(key)
        fired = list(b.get_timer_service("user").advance_watermark(100))
        assert {t.key for t in fired} == mine
        assert all(t == Timer(100, t.key, ("w", 1)) for t in fired)
