"""Incremental checkpoints of the rocksdb backend and the shared state registry."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import pytest
from backend_conformance import OPEN_ROCKSDB_BACKENDS, FakeClock

from strom.datastream.state import ListStateDescriptor, ValueStateDescriptor
from strom.state.backends import checkpoint_keyed_state
from strom.state.checkpoint_metadata import (
    ByteStreamStateHandle,
    CheckpointMetadata,
    FileStateHandle,
    OperatorStateEntry,
    SubtaskStateEntry,
)
from strom.state.checkpoint_storage import CheckpointStorage
from strom.state.heap_backend import HeapKeyedStateBackend
from strom.state.key_groups import (
    KeyGroupRange,
    assign_to_key_group,
    compute_key_group_range_for_operator_index,
)
from strom.state.namespaces import VOID_NAMESPACE
from strom.state.rocksdb_backend import RocksDBKeyedStateBackend
from strom.state.rocksdb_incremental import (
    IncrementalKeyedSnapshot,
    LocalIncrementalSnapshot,
    canonical_snapshot,
    upload_incremental_snapshot,
    upload_keyed_state,
    write_incremental_handle,
)
from strom.state.shared_state import SharedStateRegistry, discard_shared_state, shared_state_of
from strom.state.snapshots import KeyedStateSnapshot

V = VOID_NAMESPACE
MAX_P = 128
FULL = KeyGroupRange(0, MAX_P - 1)


def rocks(key_groups: KeyGroupRange = FULL) -> RocksDBKeyedStateBackend:
    backend = RocksDBKeyedStateBackend(MAX_P, key_groups, FakeClock())
    OPEN_ROCKSDB_BACKENDS.append(backend)
    return backend


def write(backend: Any, keys: range, tag: str) -> None:
    value = backend.get_partitioned_state(V, ValueStateDescriptor("v"))
    lst = backend.get_partitioned_state(("w", 1), ListStateDescriptor("l"))
    for key in keys:
        backend.set_current_key(key)
        value.update((tag, key))
        lst.add(key)
        backend.get_timer_service("t").register_event_time_timer(("w", 1), key)


def checkpoint(backend: Any, storage: CheckpointStorage, cid: int) -> IncrementalKeyedSnapshot:
    local = backend.snapshot_incremental(cid)
    snapshot = upload_incremental_snapshot(
        local, storage.checkpoint_location(cid), storage.shared_dir)
    backend.notify_checkpoint_complete(cid)
    return pickle.loads(pickle.dumps(snapshot))


def values(backend: Any, keys: range) -> list[Any]:
    state = backend.get_partitioned_state(V, ValueStateDescriptor("v"))
    out = []
    for key in keys:
        backend.set_current_key(key)
        out.append(state.value())
    return out


@pytest.fixture
def storage(tmp_path: Path) -> CheckpointStorage:
    storage = CheckpointStorage(str(tmp_path / "checkpoints"), "job")
    storage.initialize()
    return storage


def test_second_checkpoint_uploads_only_new_files(storage: CheckpointStorage) -> None:
    backend = rocks()
    write(backend, range(500), "first")
    first = checkpoint(backend, storage, 1)
    assert first.uploaded and set(first.uploaded) == set(first.shared)
    write(backend, range(500, 600), "second")
    second = checkpoint(backend, storage, 2)
    new = set(second.uploaded)
    assert new and new < set(second.shared)
    for name in set(second.shared) - new:  # referenced, not uploaded again
        assert second.shared[name] == first.shared[name]
    assert second.incremental_size_bytes() < second.size_bytes()
    assert all(url.startswith(storage.shared_dir or "") for url in second.shared_urls())


def test_unconfirmed_checkpoint_is_not_a_base(storage: CheckpointStorage) -> None:
    backend = rocks()
    write(backend, range(100), "a")
    local = backend.snapshot_incremental(1)
    upload_incremental_snapshot(local, storage.checkpoint_location(1), storage.shared_dir)
    backend.notify_checkpoint_aborted(1)
    never_uploaded = backend.snapshot_incremental(7)
    assert Path(never_uploaded.directory).is_dir()
    backend.notify_checkpoint_aborted(7)  # aborted before its upload ran
    assert not Path(never_uploaded.directory).exists()
    write(backend, range(100, 200), "b")
    second = checkpoint(backend, storage, 2)
    assert set(second.uploaded) == set(second.shared)


def test_restore_at_the_same_parallelism_opens_the_files(storage: CheckpointStorage) -> None:
    backend = rocks()
    write(backend, range(300), "x")
    checkpoint(backend, storage, 1)
    write(backend, range(300, 400), "y")
    snapshot = checkpoint(backend, storage, 2)
    write(backend, range(400, 450), "after")  # not in the checkpoint
    restored = rocks()
    restored.restore([snapshot])
    assert values(restored, range(400)) == [("x", k) for k in range(300)] + [
        ("y", k) for k in range(300, 400)]
    assert values(restored, range(400, 450)) == [None] * 50
    assert restored.get_timer_service("t").num_event_time_timers() == 400
    # the first checkpoint after a restore uploads everything (the restored files may be
    # another job's), the next one only what is new
    full = checkpoint(restored, storage, 3)
    assert set(full.uploaded) == set(full.shared) == set(snapshot.shared)
    assert not full.shared_urls() & snapshot.shared_urls()
    assert checkpoint(restored, storage, 4).uploaded == ()


def test_restore_at_another_parallelism_keeps_own_key_groups(
    storage: CheckpointStorage,
) -> None:
    old = [rocks(compute_key_group_range_for_operator_index(MAX_P, 2, i)) for i in range(2)]
    keys = range(400)
    for key in keys:
        owner = assign_to_key_group(key, MAX_P) * 2 // MAX_P
        write(old[owner], range(key, key + 1), "v")
    snapshots = [checkpoint(b, storage, 1) for b in old]
    new = [rocks(compute_key_group_range_for_operator_index(MAX_P, 3, i)) for i in range(3)]
    for index, backend in enumerate(new):
        backend.restore(snapshots)
        mine = sorted(k for k in keys if assign_to_key_group(k, MAX_P) * 3 // MAX_P == index)
        assert sorted(backend.keys("v", V)) == mine
        assert sorted(backend.keys("l", ("w", 1))) == mine
        assert values(backend, range(0)) == []
        assert values(backend, mine[:5]) == [("v", k) for k in mine[:5]]
        timers = backend.get_timer_service("t").event_time_timers()
        assert sorted(t.key for t in timers) == mine


def test_registry_counts_references() -> None:
    registry = SharedStateRegistry()
    registry.register_checkpoint(1, ["a", "b"])
    registry.register_checkpoint(2, ["b", "c"])
    registry.register_checkpoint(2, ["b", "c"])  # twice counts once
    assert registry.reference_count("b") == 2
    assert registry.release_checkpoint(1) == ["a"]
    assert registry.release_checkpoint(1) == []
    assert registry.files() == {"b", "c"}
    assert registry.release_checkpoint(2) == ["b", "c"]
    assert registry.checkpoints() == [] and registry.files() == frozenset()


def _metadata(cid: int, handles: list[Any]) -> CheckpointMetadata:
    subtasks = {i: SubtaskStateEntry(h, None, 0, 127, None) for i, h in enumerate(handles)}
    return CheckpointMetadata(
        checkpoint_id=cid, job_id="job", timestamp_ms=0, format="native",
        operators=[OperatorStateEntry("op", "op", len(handles), MAX_P, subtasks, None)])


def test_subsumed_checkpoints_delete_only_unshared_files(storage: CheckpointStorage) -> None:
    backend = rocks()
    registry = SharedStateRegistry()
    write(backend, range(300), "a")
    first = checkpoint(backend, storage, 1)
    handle = write_incremental_handle(storage.checkpoint_location(1), first)
    registry.register_checkpoint(1, shared_state_of(_metadata(1, [handle])))
    write(backend, range(300, 350), "b")
    backend._db.compact_range(None, None)  # merges the files: the first ones are obsolete
    second = checkpoint(backend, storage, 2)
    handle = write_incremental_handle(storage.checkpoint_location(2), second)
    registry.register_checkpoint(2, shared_state_of(_metadata(2, [handle, None])))
    assert registry.files() == first.shared_urls() | second.shared_urls()
    obsolete = registry.release_checkpoint(1)  # checkpoint 2 subsumes checkpoint 1
    assert set(obsolete) == first.shared_urls() - second.shared_urls() != set()
    discard_shared_state(obsolete)
    remaining = {str(p) for p in Path(storage.shared_dir.removeprefix("file://")).iterdir()}
    assert remaining == {u.removeprefix("file://") for u in second.shared_urls()}
    restored = rocks()
    restored.restore([second])
    assert values(restored, range(0, 350, 50)) == [("a", k) for k in range(0, 300, 50)] + [
        ("b", 300)]


def test_shared_state_of_skips_canonical_state_files() -> None:
    read: list[Any] = []

    def reader(handle: Any) -> bytes:
        read.append(handle)
        return pickle.dumps({"canonical": True})

    metadata = _metadata(1, [FileStateHandle("file:///x/keyed-1", 10**9),
                             ByteStreamStateHandle(b"not a pickle")])
    assert shared_state_of(metadata, reader) == frozenset()
    assert read == [ByteStreamStateHandle(b"not a pickle")]


def test_canonical_form_of_an_incremental_snapshot_restores_into_hashmap(
    storage: CheckpointStorage,
) -> None:
    backend = rocks()
    write(backend, range(200), "c")
    snapshot = checkpoint(backend, storage, 1)
    heap = HeapKeyedStateBackend(MAX_P, FULL, FakeClock())
    heap.restore([canonical_snapshot(snapshot)])
    assert values(heap, range(0, 200, 40)) == [("c", k) for k in range(0, 200, 40)]
    assert heap.get_timer_service("t").num_event_time_timers() == 200
    assert sorted(heap.keys("l", ("w", 1))) == list(range(200))


def test_upload_keyed_state_handles_both_forms(storage: CheckpointStorage) -> None:
    backend = rocks()
    write(backend, range(50), "u")
    location = storage.checkpoint_location(1)
    incremental = upload_keyed_state(backend.snapshot_incremental(1), location,
                                     storage.shared_dir, "op-keyed")
    canonical = upload_keyed_state(backend.snapshot(), location, storage.shared_dir, "op-keyed")
    metadata = _metadata(1, [incremental, canonical])
    urls = shared_state_of(metadata)
    assert urls and all("/shared/" in url for url in urls)
    from strom.state.checkpoint_storage import read_state

    for handle in (incremental, canonical):
        restored = rocks()
        restored.restore([pickle.loads(read_state(handle))])
        assert values(restored, range(0, 50, 10)) == [("u", k) for k in range(0, 50, 10)]


def test_checkpoint_keyed_state_picks_the_snapshot_kind(storage: CheckpointStorage) -> None:
    backend = rocks()
    write(backend, range(10), "k")
    local = checkpoint_keyed_state(backend, 1, incremental=True)
    assert isinstance(local, LocalIncrementalSnapshot)
    for canonical in (checkpoint_keyed_state(backend, 2),
                      checkpoint_keyed_state(backend, 3, incremental=True, savepoint=True)):
        assert callable(canonical)  # the deferred part, for the upload thread
        assert sorted(canonical().key_groups) != []
    heap = HeapKeyedStateBackend(MAX_P, FULL, FakeClock())
    write(heap, range(10), "k")
    taken = checkpoint_keyed_state(heap, 4, incremental=True)
    snapshot = taken() if callable(taken) else taken
    assert sorted(snapshot.states) == ["l", "v"]


def test_without_a_shared_directory_incremental_state_is_stored_canonical() -> None:
    from strom.state.checkpoint_storage import InMemoryCheckpointLocation, read_state

    backend = rocks()
    write(backend, range(30), "m")
    handle = upload_keyed_state(backend.snapshot_incremental(1),
                                InMemoryCheckpointLocation("chk-1"), None, "op-keyed")
    stored = pickle.loads(read_state(handle))
    assert isinstance(stored, KeyedStateSnapshot)
    heap = HeapKeyedStateBackend(MAX_P, FULL, FakeClock())
    heap.restore([stored])
    assert values(heap, range(0, 30, 10)) == [("m", k) for k in range(0, 30, 10)]
