"""Conformance: a deferred snapshot holds the state as it was when its synchronous part ran,
whatever the task changes before the asynchronous part encodes it."""

from __future__ import annotations

import functools
import gc
import os
import threading
from typing import Any

import pytest
from backend_conformance import BACKEND_FACTORIES, BackendFactory, FakeClock

from strom.common.time import Time
from strom.datastream.functions import AggregateFunction
from strom.datastream.state import (
    AggregatingStateDescriptor,
    ListStateDescriptor,
    MapStateDescriptor,
    ReducingStateDescriptor,
    StateTtlConfig,
    ValueStateDescriptor,
)
from strom.state.heap_backend import HeapKeyedStateBackend
from strom.state.heap_snapshots import FORK_AVAILABLE
from strom.state.key_groups import KeyGroupRange
from strom.state.namespaces import VOID_NAMESPACE

V = VOID_NAMESPACE
MAX_P = 128
FULL = KeyGroupRange(0, MAX_P - 1)
W1, W2 = ("w", 1), ("w", 2)

FACTORIES: dict[str, BackendFactory] = dict(BACKEND_FACTORIES)
if FORK_AVAILABLE:
    # the same backend, forking for every snapshot (it forks only for big state by default)
    FACTORIES["hashmap-forked"] = functools.partial(HeapKeyedStateBackend, fork_min_entries=0)


@pytest.fixture(params=sorted(FACTORIES))
def backend_factory(request: pytest.FixtureRequest) -> BackendFactory:
    return FACTORIES[request.param]


class ListAccumulator(AggregateFunction):
    """Changes its accumulator in place, as many user functions do."""

    def create_accumulator(self) -> list[int]:
        return []

    def add(self, value: int, accumulator: list[int]) -> list[int]:
        accumulator.append(value)
        return accumulator

    def get_result(self, accumulator: list[int]) -> list[int]:
        return list(accumulator)

    def merge(self, a: list[int], b: list[int]) -> list[int]:
        a.extend(b)
        return a


def extend_in_place(a: list[int], b: list[int]) -> list[int]:
    a.extend(b)
    return a


def ttl(descriptor: Any, full_snapshot: bool = False) -> Any:
    builder = StateTtlConfig.new_builder(Time.milliseconds(1_000))
    if full_snapshot:
        builder = builder.cleanup_full_snapshot()
    descriptor.enable_time_to_live(builder.build())
    return descriptor


def descriptors(with_ttl: bool) -> dict[str, Any]:
    d: dict[str, Any] = {
        "value": ValueStateDescriptor("value"),
        "list": ListStateDescriptor("list"),
        "map": MapStateDescriptor("map"),
        "reducing": ReducingStateDescriptor("reducing", extend_in_place),
        "aggregating": AggregatingStateDescriptor("aggregating", ListAccumulator()),
    }
    return {k: ttl(v) for k, v in d.items()} if with_ttl else d


def deferred_snapshot(backend: Any) -> Any:
    if not hasattr(backend, "snapshot_deferred"):
        pytest.skip(f"{type(backend).__name__} has no snapshot_deferred()")
    return backend.snapshot_deferred()


def restored(backend_factory: Any, snapshot: Any, clock: FakeClock) -> Any:
    target = backend_factory(MAX_P, FULL, clock)
    target.restore([snapshot])
    return target


def write(backend: Any, d: dict[str, Any], key: str) -> None:
    backend.set_current_key(key)
    backend.get_partitioned_state(V, d["value"]).update([1])
    backend.get_partitioned_state(V, d["list"]).add_all([1, [2]])
    backend.get_partitioned_state(V, d["map"]).put_all({"a": 1, "b": [2]})
    backend.get_partitioned_state(W1, d["reducing"]).add([1])
    backend.get_partitioned_state(W1, d["aggregating"]).add(1)
    backend.get_partitioned_state(W2, d["aggregating"]).add(2)


def change(backend: Any, d: dict[str, Any], key: str) -> None:
    """Change every entry of ``key`` in place wherever the API lets a change happen so."""
    backend.set_current_key(key)
    value = backend.get_partitioned_state(V, d["value"])
    v = value.value()
    v.append(99)  # the user changes the object it was handed (the heap's own) ...
    value.update(v)  # ... and stores it back
    lst = backend.get_partitioned_state(V, d["list"])
    elements = lst.get()
    elements[1].append(99)
    lst.update(elements)
    lst.add(3)
    lst.add_all([4])
    m = backend.get_partitioned_state(V, d["map"])
    b = m.get("b")
    b.append(99)
    m.put("b", b)
    m.put("c", 3)
    m.remove("a")
    backend.get_partitioned_state(W1, d["reducing"]).add([99])
    backend.get_partitioned_state(W1, d["aggregating"]).add(99)
    # merging moves W2's accumulator to W1 (and on into the merge function)
    backend.get_partitioned_state(W1, d["aggregating"]).merge_namespaces(W1, [W2])


def read(backend: Any, d: dict[str, Any], key: str) -> tuple[Any, ...]:
    backend.set_current_key(key)
    return (
        backend.get_partitioned_state(V, d["value"]).value(),
        backend.get_partitioned_state(V, d["list"]).get(),
        sorted(backend.get_partitioned_state(V, d["map"]).items()),
        backend.get_partitioned_state(W1, d["reducing"]).get(),
        backend.get_partitioned_state(W1, d["aggregating"]).get(),
        backend.get_partitioned_state(W2, d["aggregating"]).get(),
    )


BEFORE = ([1], [1, [2]], [("a", 1), ("b", [2])], [1], [1], [2])
AFTER = ([1, 99], [1, [2, 99], 3, 4], [("b", [2, 99]), ("c", 3)], [1, 99], [1, 99, 2], None)


@pytest.mark.parametrize("with_ttl", [False, True], ids=["plain", "ttl"])
def test_snapshot_holds_the_values_of_its_synchronous_part(
    backend: Any, backend_factory: Any, clock: FakeClock, with_ttl: bool
) -> None:
    d = descriptors(with_ttl)
    for key in ("k1", "k2"):
        write(backend, d, key)
    finish = deferred_snapshot(backend)
    change(backend, d, "k1")
    backend.set_current_key("k2")
    backend.get_partitioned_state(V, d["value"]).clear()
    backend.set_current_key("k3")
    backend.get_partitioned_state(V, d["value"]).update("new")
    assert read(backend, d, "k1") == AFTER
    snapshot = finish()
    assert finish() is snapshot  # the asynchronous part runs once
    before = restored(backend_factory, snapshot, clock)
    assert read(before, descriptors(with_ttl), "k1") == BEFORE
    assert read(before, descriptors(with_ttl), "k2") == BEFORE
    before.set_current_key("k3")
    assert before.get_partitioned_state(V, descriptors(with_ttl)["value"]).value() is None
    # and the live state kept every change
    assert read(backend, d, "k1") == AFTER
    after = restored(backend_factory, backend.snapshot(), clock)
    assert read(after, descriptors(with_ttl), "k1") == AFTER


def test_state_registered_after_restore_is_copied_on_write(
    backend_factory: Any, clock: FakeClock
) -> None:
    source = backend_factory(MAX_P, FULL, clock)
    write(source, descriptors(False), "k")
    target = restored(backend_factory, source.snapshot(), clock)
    finish = deferred_snapshot(target)  # the states are restored, not yet asked for
    change(target, descriptors(False), "k")
    assert read(restored(backend_factory, finish(), clock), descriptors(False), "k") == BEFORE


def test_raw_value_map_entries_replaced_after_the_synchronous_part(
    backend: Any, backend_factory: Any, clock: FakeClock
) -> None:
    raw = backend.raw_value_map("raw")
    raw.update({"a": 1, "b": 2})
    finish = deferred_snapshot(backend)
    raw["a"] = 10
    del raw["b"]
    raw["c"] = 3
    assert restored(backend_factory, finish(), clock).raw_value_map("raw") == {"a": 1, "b": 2}


def test_timers_registered_or_deleted_after_the_synchronous_part(
    backend: Any, backend_factory: Any, clock: FakeClock
) -> None:
    timers = backend.get_timer_service("user")
    backend.set_current_key("k")
    timers.register_event_time_timer(W1, 100)
    timers.register_event_time_timer(W2, 100)
    timers.register_processing_time_timer(V, 50)
    finish = deferred_snapshot(backend)
    timers.delete_event_time_timer(W1, 100)
    timers.register_event_time_timer(W1, 200)
    timers.register_processing_time_timer(V, 60)
    assert [t.namespace for t in timers.advance_watermark(150)] == [W2]
    restored_timers = restored(backend_factory, finish(), clock).get_timer_service("user")
    assert [tuple(t) for t in restored_timers.event_time_timers()] == [
        (100, "k", W1), (100, "k", W2)]
    assert [tuple(t) for t in restored_timers.processing_time_timers()] == [(50, "k", V)]


def test_ttl_full_snapshot_cleanup_uses_the_time_of_the_synchronous_part(
    backend: Any, backend_factory: Any, clock: FakeClock
) -> None:
    state = backend.get_partitioned_state(V, ttl(ValueStateDescriptor("v"), full_snapshot=True))
    backend.set_current_key("old")
    state.update("old")
    clock.now = 600
    backend.set_current_key("young")
    state.update("young")
    clock.now = 1_200  # "old" has expired, "young" has not
    finish = deferred_snapshot(backend)
    clock.now = 10_000  # both have expired by the time the upload runs
    target = restored(backend_factory, finish(), FakeClock(1_200))
    assert sorted(target.keys("v", V)) == ["young"]


def test_pending_snapshots_are_released_when_done_or_dropped(backend: Any) -> None:
    backend.set_current_key("k")
    state = backend.get_partitioned_state(V, ListStateDescriptor("l"))
    state.add(1)
    if not hasattr(backend, "pending_snapshots"):
        pytest.skip(f"{type(backend).__name__} does not count pending snapshots")
    if getattr(backend, "fork_min_entries", None) == 0:
        pytest.skip("a forked snapshot needs no copies on write")
    finish = deferred_snapshot(backend)
    dropped = deferred_snapshot(backend)
    assert backend.pending_snapshots() == 2
    finish()
    assert backend.pending_snapshots() == 1
    del dropped  # a checkpoint aborted before its upload: the copies go with it
    gc.collect()
    assert backend.pending_snapshots() == 0


def test_asynchronous_part_runs_on_another_thread_while_the_task_writes(
    backend: Any, backend_factory: Any, clock: FakeClock
) -> None:
    d = descriptors(False)
    keys = [f"k{i}" for i in range(500)]
    for key in keys:
        write(backend, d, key)
    finish = deferred_snapshot(backend)
    result: list[Any] = []
    upload = threading.Thread(target=lambda: result.append(finish()))
    upload.start()
    for key in keys:
        change(backend, d, key)
    upload.join(timeout=60)
    assert not upload.is_alive() and len(result) == 1
    before = restored(backend_factory, result[0], clock)
    assert all(read(before, descriptors(False), key) == BEFORE for key in keys)


@pytest.mark.skipif(not FORK_AVAILABLE, reason="forked snapshots need Linux")
def test_forked_snapshot_child_is_reaped_when_done_or_dropped() -> None:
    backend = HeapKeyedStateBackend(MAX_P, FULL, FakeClock(), fork_min_entries=2)
    raw = backend.raw_value_map("raw")
    raw["a"] = 1
    small = backend.snapshot_deferred()  # 1 entry: below the threshold, copied
    assert backend.pending_snapshots() == 1
    small()
    raw["b"] = 2
    finish = backend.snapshot_deferred()
    assert backend.pending_snapshots() == 0  # forked: nothing to copy on write
    dropped = backend.snapshot_deferred()
    pids = [finish._pid, dropped._pid]  # type: ignore[attr-defined]
    raw["a"] = 10
    target = HeapKeyedStateBackend(MAX_P, FULL, FakeClock())
    target.restore([finish()])
    assert target.raw_value_map("raw") == {"a": 1, "b": 2}
    del dropped
    gc.collect()
    for pid in pids:
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # already reaped


@pytest.mark.skipif(not FORK_AVAILABLE, reason="forked snapshots need Linux")
def test_forked_snapshot_reports_the_childs_error() -> None:
    backend = HeapKeyedStateBackend(MAX_P, KeyGroupRange(0, 0), FakeClock(), fork_min_entries=0)
    backend.raw_value_map("raw").update({f"k{i}": i for i in range(50)})
    finish = backend.snapshot_deferred()
    for _ in range(2):  # and again on a second call
        with pytest.raises(ValueError, match=r"outside this backend's key groups 0\.\.0"):
            finish()


@pytest.mark.parametrize("fork_min_entries", [None, 10], ids=["deep-copied", "forked"])
def test_maps_handed_out_to_operators_are_snapshotted_as_of_the_synchronous_part(
    fork_min_entries: int | None,
) -> None:
    """The window fast paths and the rolling reduce change the maps they get from
    ``state.namespaces`` / ``raw_value_map`` themselves, and may call user functions that
    change a stored accumulator in place: the snapshot must not see that."""
    if fork_min_entries is not None and not FORK_AVAILABLE:
        pytest.skip("forked snapshots need Linux")
    backend = HeapKeyedStateBackend(MAX_P, FULL, FakeClock(), fork_min_entries=fork_min_entries)
    contents = backend.get_partitioned_state(
        V, AggregatingStateDescriptor("window-contents", ListAccumulator())).namespaces
    contents[W1] = {"k": [1]}  # as EventTimeWindowAggregator stores an accumulator
    raw = backend.raw_value_map("rolling")
    raw["k"] = [1]
    raw.update({f"other-{i}": (i, "immutable") for i in range(20)})
    finish = backend.snapshot_deferred()
    contents[W1]["k"].append(2)  # ListAccumulator.add on the stored accumulator
    raw["k"].append(2)
    target = HeapKeyedStateBackend(MAX_P, FULL, FakeClock())
    target.restore([finish()])
    target.set_current_key("k")
    window_state = target.get_partitioned_state(
        W1, AggregatingStateDescriptor("window-contents", ListAccumulator()))
    assert window_state.get() == [1]
    assert target.raw_value_map("rolling")["k"] == [1]
    assert contents[W1]["k"] == raw["k"] == [1, 2]  # the live state kept its changes


def test_handed_out_maps_of_immutable_values_are_copied_shallowly() -> None:
    backend = HeapKeyedStateBackend(MAX_P, FULL, FakeClock(), fork_min_entries=None)
    raw = backend.raw_value_map("sums")
    values = {f"k{i}": (i, 2.5, "x") for i in range(100)}
    raw.update(values)
    finish = backend.snapshot_deferred()
    capture = finish._captures[0]  # type: ignore[attr-defined]
    assert all(capture.frozen[V][k] is v for k, v in values.items())  # not copied: immutable
    raw["k0"] = (-1, 0.0, "y")
    target = HeapKeyedStateBackend(MAX_P, FULL, FakeClock())
    target.restore([finish()])
    assert target.raw_value_map("sums") == values


def test_a_snapshot_pickles_its_key_groups_one_at_a_time() -> None:
    """Encoding a GB-sized snapshot in one C call would hold the GIL for the whole copy; its
    key groups go through a generator, where the task thread can take the GIL back."""
    import inspect
    import pickle

    from strom.common import _pickling

    backend = HeapKeyedStateBackend(MAX_P, FULL, FakeClock())
    backend.raw_value_map("raw").update({f"k{i}": i for i in range(500)})
    snapshot = backend.snapshot()
    assert len(snapshot.key_groups) > 1
    _, args = snapshot.__reduce__()
    items = args[4].__reduce__()[3]
    assert inspect.isgenerator(items)
    for encoded in (pickle.dumps(snapshot, protocol=5), _pickling.dumps(snapshot)):
        assert pickle.loads(encoded) == snapshot
