"""Conformance: state time-to-live with a fake processing-time clock (ttl = 10 ms)."""

from __future__ import annotations

from typing import Any

import pytest
from backend_conformance import AverageAggregate, FakeClock

from strom.common.time import Time
from strom.datastream.state import (
    AggregatingStateDescriptor,
    ListStateDescriptor,
    MapStateDescriptor,
    ReducingStateDescriptor,
    StateDescriptor,
    StateTtlConfig,
    ValueStateDescriptor,
)
from strom.state.namespaces import VOID_NAMESPACE

V = VOID_NAMESPACE
TTL = 10


def ttl_state(
    backend: Any,
    descriptor: StateDescriptor,
    *,
    read: bool = False,
    return_expired: bool = False,
    configure: Any = None,
) -> Any:
    builder = StateTtlConfig.new_builder(Time.milliseconds(TTL))
    if read:
        builder.update_ttl_on_read_and_write()
    if return_expired:
        # Background (incremental) cleanup runs before each access, as in Flink, and could
        # clean the expired entry before the read that would return it.
        builder.return_expired_if_not_cleaned_up().disable_cleanup_in_background()
    if configure is not None:
        configure(builder)
    descriptor.enable_time_to_live(builder.build())
    backend.set_current_key("k")
    return backend.get_partitioned_state(V, descriptor)


def test_value_expires_after_ttl(backend: Any, clock: FakeClock) -> None:
    state = ttl_state(backend, ValueStateDescriptor("v"))
    state.update("x")
    clock.now = 5
    assert state.value() == "x"  # reading does not extend (OnCreateAndWrite)
    clock.now = 9
    assert state.value() == "x"
    clock.now = 10
    assert state.value() is None
    assert list(backend.keys("v", V)) == []  # removed on read


def test_write_refreshes_the_timestamp(backend: Any, clock: FakeClock) -> None:
    state = ttl_state(backend, ValueStateDescriptor("v"))
    state.update(1)
    clock.now = 8
    state.update(2)
    clock.now = 17
    assert state.value() == 2
    clock.now = 18
    assert state.value() is None


def test_on_read_and_write_refreshes_on_read(backend: Any, clock: FakeClock) -> None:
    state = ttl_state(backend, ValueStateDescriptor("v"), read=True)
    state.update("x")
    clock.now = 5
    assert state.value() == "x"
    clock.now = 14
    assert state.value() == "x"
    clock.now = 24
    assert state.value() is None


def test_return_expired_if_not_cleaned_up(backend: Any, clock: FakeClock) -> None:
    state = ttl_state(backend, ValueStateDescriptor("v"), return_expired=True)
    state.update("x")
    clock.now = 10
    assert state.value() == "x"  # expired but still stored: returned, and cleaned up now
    assert state.value() is None


def test_background_cleanup_runs_before_the_read(backend: Any, clock: FakeClock) -> None:
    descriptor = ValueStateDescriptor("v")
    descriptor.enable_time_to_live(
        StateTtlConfig.new_builder(Time.milliseconds(TTL))
        .return_expired_if_not_cleaned_up()
        .build()
    )
    backend.set_current_key("k")
    state = backend.get_partitioned_state(V, descriptor)
    state.update("x")
    clock.now = 10
    assert state.value() is None  # the default incremental cleanup got there first


def test_disabled_update_type_never_expires(backend: Any, clock: FakeClock) -> None:
    descriptor = ValueStateDescriptor("v")
    descriptor.enable_time_to_live(
        StateTtlConfig.new_builder(Time.milliseconds(TTL))
        .set_update_type(StateTtlConfig.UpdateType.Disabled)
        .build()
    )
    backend.set_current_key("k")
    state = backend.get_partitioned_state(V, descriptor)
    state.update("x")
    clock.now = 1_000_000
    assert state.value() == "x"
    assert backend.raw_value_map("v") == {"k": "x"}  # stored like state without TTL


def test_list_elements_expire_individually(backend: Any, clock: FakeClock) -> None:
    state = ttl_state(backend, ListStateDescriptor("l"))
    state.add("a")
    clock.now = 5
    state.add_all(["b", "c"])
    clock.now = 9
    assert list(state.get()) == ["a", "b", "c"]
    clock.now = 10
    assert list(state.get()) == ["b", "c"]
    state.add("d")
    clock.now = 15
    assert list(state) == ["d"]
    clock.now = 20
    assert list(state.get()) == []
    assert list(backend.keys("l", V)) == []


def test_list_update_and_return_expired(backend: Any, clock: FakeClock) -> None:
    state = ttl_state(backend, ListStateDescriptor("l"), return_expired=True)
    state.update(["a", "b"])
    clock.now = 5
    state.add("c")
    clock.now = 10
    assert list(state.get()) == ["a", "b", "c"]
    assert list(state.get()) == ["c"]
    with pytest.raises(ValueError, match="cannot add None"):
        state.add(None)


def test_list_on_read_refreshes_every_element(backend: Any, clock: FakeClock) -> None:
    state = ttl_state(backend, ListStateDescriptor("l"), read=True)
    state.add_all(["a", "b"])
    clock.now = 9
    assert list(state.get()) == ["a", "b"]
    clock.now = 18
    assert list(state.get()) == ["a", "b"]
    clock.now = 28
    assert list(state.get()) == []


def test_map_entries_expire_individually(backend: Any, clock: FakeClock) -> None:
    state = ttl_state(backend, MapStateDescriptor("m"))
    state.put("x", 1)
    clock.now = 5
    state.put_all({"y": 2})
    state["z"] = 3
    clock.now = 10
    assert state.get("x") is None
    assert not state.contains("x")
    assert "y" in state
    assert sorted(state.items()) == [("y", 2), ("z", 3)]
    assert sorted(state.keys()) == ["y", "z"]
    assert sorted(state.values()) == [2, 3]
    assert not state.is_empty()
    state.remove("z")
    clock.now = 15
    assert state.is_empty()
    assert list(backend.keys("m", V)) == []


def test_map_return_expired_and_read_refresh(backend: Any, clock: FakeClock) -> None:
    state = ttl_state(backend, MapStateDescriptor("m"), read=True, return_expired=True)
    state.put("x", 1)
    state.put("y", 2)
    clock.now = 9
    assert state.get("y") == 2  # refreshes y only
    clock.now = 10
    assert state.contains("x")  # expired, returned once, removed
    assert not state.contains("x")
    assert state.items() == [("y", 2)]
    clock.now = 29
    assert state.get("y") == 2  # expired at 28 (items() at 10 refreshed it to 18)
    assert state.get("y") is None


def test_reducing_state_ttl(backend: Any, clock: FakeClock) -> None:
    state = ttl_state(backend, ReducingStateDescriptor("r", lambda a, b: a + b))
    state.add(1)
    clock.now = 5
    state.add(2)
    clock.now = 14
    assert state.get() == 3
    clock.now = 15
    state.add(10)  # the expired sum is not reused
    assert state.get() == 10


def test_reducing_state_return_expired_reuses_expired_value(backend: Any, clock: FakeClock) -> None:
    state = ttl_state(
        backend, ReducingStateDescriptor("r", lambda a, b: a + b), return_expired=True
    )
    state.add(1)
    clock.now = 10
    state.add(2)
    assert state.get() == 3


def test_aggregating_state_ttl(backend: Any, clock: FakeClock) -> None:
    state = ttl_state(backend, AggregatingStateDescriptor("a", AverageAggregate()))
    state.add(2)
    state.add(4)
    clock.now = 9
    assert state.get() == 3.0
    clock.now = 10
    assert state.get() is None
    state.add(7)
    assert state.get() == 7.0


def test_ttl_merge_ignores_expired_sources(backend: Any, clock: FakeClock) -> None:
    state = ttl_state(backend, ReducingStateDescriptor("r", lambda a, b: a + b))
    state.set_current_namespace("old")
    state.add(100)
    clock.now = 10
    for ns, value in (("s1", 1), ("t", 2)):
        state.set_current_namespace(ns)
        state.add(value)
    state.merge_namespaces("t", ["old", "s1"])
    state.set_current_namespace("t")
    assert state.get() == 3
    clock.now = 19  # the merge stamped the result at 10
    assert state.get() == 3
    assert list(backend.keys("r", "old")) == []

    agg = ttl_state(backend, AggregatingStateDescriptor("a", AverageAggregate()))
    agg.set_current_namespace("s")
    agg.add(4)
    agg.merge_namespaces("t", ["s"])
    agg.set_current_namespace("t")
    assert agg.get() == 4.0

    lst = ttl_state(backend, ListStateDescriptor("l"))
    lst.set_current_namespace("s")
    lst.add("early")  # stamped 19
    clock.now = 25
    lst.add("late")
    lst.merge_namespaces("t", ["s"])  # keeps each element's own timestamp
    lst.set_current_namespace("t")
    clock.now = 29
    assert list(lst.get()) == ["late"]


def test_incremental_cleanup_on_access(backend: Any, clock: FakeClock) -> None:
    state = ttl_state(
        backend,
        ValueStateDescriptor("v"),
        configure=lambda b: b.disable_cleanup_in_background().cleanup_incrementally(2, False),
    )
    for key in range(6):
        backend.set_current_key(key)
        state.update(key)
    clock.now = 10
    backend.set_current_key("fresh")
    state.update("new")  # checks 2 entries, both expired, before the write
    assert len(list(backend.keys("v", V))) == 5
    counts = []
    for _ in range(5):
        state.value()
        counts.append(len(list(backend.keys("v", V))))
    assert counts[-1] == 1 and list(backend.keys("v", V)) == ["fresh"]
    assert all(a - b <= 2 for a, b in zip([5, *counts], counts)), counts
    assert state.value() == "new"


def test_default_background_cleanup_checks_five_entries(backend: Any, clock: FakeClock) -> None:
    state = ttl_state(backend, ValueStateDescriptor("v"))
    for key in range(12):
        backend.set_current_key(key)
        state.update(key)
    clock.now = 10
    backend.set_current_key("reader")
    state.value()
    assert len(list(backend.keys("v", V))) == 7


def test_no_background_cleanup_when_disabled(backend: Any, clock: FakeClock) -> None:
    state = ttl_state(
        backend, ValueStateDescriptor("v"), configure=lambda b: b.disable_cleanup_in_background()
    )
    for key in range(3):
        backend.set_current_key(key)
        state.update(key)
    clock.now = 10
    backend.set_current_key("reader")
    state.value()
    assert sorted(backend.keys("v", V)) == [0, 1, 2]


def test_cleanup_for_every_record(backend: Any, clock: FakeClock) -> None:
    state = ttl_state(
        backend,
        ListStateDescriptor("l"),
        configure=lambda b: b.disable_cleanup_in_background().cleanup_incrementally(1, True),
    )
    for key in range(3):
        backend.set_current_key(key)
        state.add(key)
    clock.now = 10
    for other in ("x", "y", "z"):
        backend.set_current_key(other)  # no state access at all
    assert list(backend.keys("l", V)) == []


def test_full_snapshot_cleanup(backend_factory: Any) -> None:
    from strom.state.key_groups import KeyGroupRange

    results = {}
    for full_snapshot in (False, True):
        clock = FakeClock()
        backend = backend_factory(128, KeyGroupRange(0, 127), clock)

        def configure(b: Any, full: bool = full_snapshot) -> None:
            b.disable_cleanup_in_background().return_expired_if_not_cleaned_up()
            if full:
                b.cleanup_full_snapshot()

        value = ttl_state(backend, ValueStateDescriptor("v"), configure=configure)
        items = ttl_state(backend, MapStateDescriptor("m"), configure=configure)
        backend.set_current_key("old")
        value.update("old")
        items.put("old", 1)
        clock.now = 5
        backend.set_current_key("new")
        value.update("new")
        items.put("new", 2)
        backend.set_current_key("old")
        items.put("new", 3)
        clock.now = 12
        snapshot = backend.snapshot()

        restored = backend_factory(128, KeyGroupRange(0, 127), clock)
        restored.restore([snapshot])
        value = ttl_state(restored, ValueStateDescriptor("v"), configure=configure)
        items = ttl_state(restored, MapStateDescriptor("m"), configure=configure)
        seen = {}
        for key in ("old", "new"):
            restored.set_current_key(key)
            seen[key] = (value.value(), sorted(items.items()))
        results[full_snapshot] = seen
    # Without snapshot cleanup the expired entries travel along (returned once: visibility
    # ReturnExpiredIfNotCleanedUp); with it, they are gone.
    assert results[False] == {
        "old": ("old", [("new", 3), ("old", 1)]),
        "new": ("new", [("new", 2)]),
    }
    assert results[True] == {"old": (None, [("new", 3)]), "new": ("new", [("new", 2)])}


def test_timestamps_survive_snapshot_and_restore(backend_factory: Any) -> None:
    from strom.state.key_groups import KeyGroupRange

    clock = FakeClock()
    backend = backend_factory(128, KeyGroupRange(0, 127), clock)
    state = ttl_state(backend, ValueStateDescriptor("v"))
    state.update("x")
    clock.now = 6
    snapshot = backend.snapshot()
    restored = backend_factory(128, KeyGroupRange(0, 127), clock)
    restored.restore([snapshot])
    state = ttl_state(restored, ValueStateDescriptor("v"))
    clock.now = 9
    assert state.value() == "x"
    clock.now = 10
    assert state.value() is None


def test_restored_ttl_flag_must_match(backend_factory: Any) -> None:
    from strom.state.key_groups import KeyGroupRange

    backend = backend_factory(128, KeyGroupRange(0, 127), FakeClock())
    ttl_state(backend, ValueStateDescriptor("v")).update(1)
    restored = backend_factory(128, KeyGroupRange(0, 127), FakeClock())
    restored.restore([backend.snapshot()])
    with pytest.raises(ValueError, match="restored from a snapshot as value state with TTL"):
        restored.get_partitioned_state(V, ValueStateDescriptor("v"))
