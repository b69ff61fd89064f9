"""The rocksdb backend beyond the conformance suite: canonical snapshots shared with hashmap,
deferred snapshots, where the DB lives, its memory budget."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from backend_conformance import OPEN_ROCKSDB_BACKENDS, AverageAggregate, FakeClock

from strom.common.time import Time
from strom.datastream.state import (
    AggregatingStateDescriptor,
    ListStateDescriptor,
    MapStateDescriptor,
    ReducingStateDescriptor,
    StateTtlConfig,
    ValueStateDescriptor,
)
from strom.state.backends import create_keyed_state_backend
from strom.state.canonical_keys import CanonicalKey
from strom.state.heap_backend import HeapKeyedStateBackend
from strom.state.key_groups import KeyGroupRange
from strom.state.namespaces import VOID_NAMESPACE
from strom.state.rocksdb_backend import RocksDBKeyedStateBackend, RocksDBOptions
from strom.state.snapshots import decode_key_group

V = VOID_NAMESPACE
FULL = KeyGroupRange(0, 127)


def rocks(options: RocksDBOptions | None = None, clock: Any = None) -> RocksDBKeyedStateBackend:
    backend = RocksDBKeyedStateBackend(128, FULL, clock or FakeClock(), options)
    OPEN_ROCKSDB_BACKENDS.append(backend)
    return backend


def fill(backend: Any) -> None:
    ttl = StateTtlConfig.new_builder(Time.milliseconds(1000)).build()
    ttl_value = ValueStateDescriptor("ttl")
    ttl_value.enable_time_to_live(ttl)
    for i, key in enumerate(["a", 7, ("t", 1), CanonicalKey([1, 2]), b"raw"]):
        backend.set_current_key(key)
        backend.get_partitioned_state(V, ValueStateDescriptor("v")).update({"i": i})
        backend.get_partitioned_state(V, ListStateDescriptor("l")).add_all([i, "x"])
        backend.get_partitioned_state(V, MapStateDescriptor("m")).put_all({"k": i, "n": None})
        backend.get_partitioned_state(("w", 1), ReducingStateDescriptor(
            "r", lambda a, b: a + b)).add(i)
        backend.get_partitioned_state(("w", 2), AggregatingStateDescriptor(
            "g", AverageAggregate())).add(i)
        backend.get_partitioned_state(V, ttl_value).update(i)
        backend.get_timer_service("t").register_event_time_timer(("w", 1), 100 + i)


def payloads(snapshot: Any) -> dict[int, Any]:
    return {kg: decode_key_group(blob) for kg, blob in snapshot.key_groups.items()}


def test_hashmap_snapshot_restores_into_rocksdb_and_back() -> None:
    heap = HeapKeyedStateBackend(128, FULL, FakeClock())
    fill(heap)
    from_heap = heap.snapshot()
    backend = rocks()
    backend.restore([from_heap])
    from_rocks = backend.snapshot()
    assert from_rocks.backend_type == "rocksdb"
    assert from_rocks.states == from_heap.states
    # the same canonical payloads, key group by key group (TTL timestamps included)
    assert payloads(from_rocks) == payloads(from_heap)
    back = HeapKeyedStateBackend(128, FULL, FakeClock())
    back.restore([from_rocks])
    assert payloads(back.snapshot()) == payloads(from_heap)
    backend.set_current_key(CanonicalKey([1, 2]))
    assert backend.get_partitioned_state(V, ValueStateDescriptor("v")).value() == {"i": 3}


def test_rocksdb_snapshot_equals_hashmap_snapshot_of_the_same_writes() -> None:
    heap = HeapKeyedStateBackend(128, FULL, FakeClock())
    backend = rocks()
    fill(heap)
    fill(backend)
    assert payloads(backend.snapshot()) == payloads(heap.snapshot())


def test_deferred_snapshot_sees_the_state_of_its_synchronous_part() -> None:
    backend = rocks()
    state = backend.get_partitioned_state(V, ValueStateDescriptor("v"))
    for key in range(100):
        backend.set_current_key(key)
        state.update(key)
    deferred = backend.snapshot_deferred()
    for key in range(100):  # the task goes on writing before the upload thread reads
        backend.set_current_key(key)
        state.update(-1) if key % 2 else state.clear()
    backend.set_current_key("new")
    state.update("new")
    snapshot = deferred()
    restored = rocks()
    restored.restore([snapshot])
    assert sorted(restored.keys("v", V)) == list(range(100))
    restored.set_current_key(41)
    assert restored.get_partitioned_state(V, ValueStateDescriptor("v")).value() == 41
    # the checkpoint the deferred part read is gone
    assert sorted(os.listdir(backend.directory)) == ["db"]


def test_db_lives_under_localdir_and_dispose_removes_it(tmp_path: Path) -> None:
    backend = create_keyed_state_backend(
        "rocksdb", 128, FULL, FakeClock(),
        {"state.backend.rocksdb.localdir": str(tmp_path / "rocks")})
    assert isinstance(backend, RocksDBKeyedStateBackend)
    directory = Path(backend.directory)
    assert directory.parent == tmp_path / "rocks" and (directory / "db").is_dir()
    backend.raw_value_map("sum")["a"] = 1
    backend.dispose()
    assert not directory.exists()
    assert list(backend.keys("sum", V)) == []


def test_options_from_config() -> None:
    assert RocksDBOptions.from_config({"io.tmp.dirs": "/a,/b"}).local_dir == "/a"
    options = RocksDBOptions.from_config({
        "state.backend.rocksdb.localdir": "/x",
        "io.tmp.dirs": "/a",
        "state.backend.rocksdb.memory.fixed-per-slot": "8 mb",
        "state.backend.rocksdb.memory.write-buffer-ratio": "0.25",
    })
    assert options == RocksDBOptions("/x", 8 * 1024 * 1024, 0.25)
    assert RocksDBOptions.from_config({}).memory_budget == 64 * 1024 * 1024
    unmanaged = RocksDBOptions.from_config({"state.backend.rocksdb.memory.managed": "false"})
    assert unmanaged.memory_budget is None
    with pytest.raises(Exception, match="fixed-per-slot"):
        RocksDBOptions.from_config({"state.backend.rocksdb.memory.fixed-per-slot": "1 kb"})


def _rss_bytes() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS in /proc/self/status")


@pytest.mark.slow
def test_more_state_than_the_memory_budget(tmp_path: Path) -> None:
    """200 MB of keyed state in a backend with an 8 MB budget: all of it reads back, and
    the process does not hold it in memory."""
    budget = 8 * 1024 * 1024
    backend = rocks(RocksDBOptions(str(tmp_path), budget))
    state = backend.get_partitioned_state(V, ValueStateDescriptor("blob"))
    value_size, keys = 4096, 50_000  # ~200 MB, incompressible
    data_size = value_size * keys
    seeds = os.urandom(value_size * 2)
    rss_before = _rss_bytes()
    for key in range(keys):
        backend.set_current_key(key)
        offset = key % value_size
        state.update(seeds[offset : offset + value_size - 8] + key.to_bytes(8, "big"))
    for key in range(keys):
        backend.set_current_key(key)
        offset = key % value_size
        value = state.value()
        assert value[-8:] == key.to_bytes(8, "big")
        assert value[:-8] == seeds[offset : offset + value_size - 8]
    grown = _rss_bytes() - rss_before
    print(f"rss grew {grown / 2**20:.1f} MiB for {data_size / 2**20:.0f} MiB of state")
    assert grown < data_size // 4, (
        f"RSS grew by {grown / 2**20:.0f} MiB for {data_size / 2**20:.0f} MiB of state")


def test_values_read_are_copies_until_written_back() -> None:
    backend = rocks()
    backend.set_current_key("k")
    value = backend.get_partitioned_state(V, ValueStateDescriptor("v"))
    value.update([1])
    value.value().append(2)  # as in Flink's RocksDB backend: a deserialized copy
    assert value.value() == [1]
    changed = value.value()
    changed.append(2)
    value.update(changed)
    assert value.value() == [1, 2]


def test_missing_rocksdict_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from strom.state import rocksdb_backend

    monkeypatch.setattr(rocksdb_backend, "rocksdict", None)
    with pytest.raises(RuntimeError, match=r"needs the 'rocksdict' package.*'hashmap'"):
        create_keyed_state_backend("rocksdb", 128, FULL, FakeClock(),
                                   {"state.backend.rocksdb.localdir": str(tmp_path)})
    assert list(tmp_path.iterdir()) == []  # no directory left behind


def test_ttl_cleanup_does_not_drop_rows_refreshed_after_its_pass_began() -> None:
    clock = FakeClock()
    backend = rocks(clock=clock)
    config = (StateTtlConfig.new_builder(Time.milliseconds(10))
              .disable_cleanup_in_background().cleanup_incrementally(1, False).build())
    descriptor = ValueStateDescriptor("v")
    descriptor.enable_time_to_live(config)
    state = backend.get_partitioned_state(V, descriptor)
    for key in range(5):
        backend.set_current_key(key)
        state.update(key)
    backend.set_current_key("reader")
    state.value()  # the cleanup pass starts: its view holds the rows as written at 0
    clock.now = 5
    for key in range(5):  # refreshed: they expire at 15 now
        backend.set_current_key(key)
        state.update(key)
    clock.now = 12
    backend.set_current_key("reader")
    for _ in range(12):
        state.value()
    assert sorted(backend.keys("v", V)) == [0, 1, 2, 3, 4]
    clock.now = 15
    for _ in range(12):
        state.value()
    assert list(backend.keys("v", V)) == []
