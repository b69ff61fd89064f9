"""Reading savepoints and checkpoints from Python (``strom.state.savepoint``), written the way
the checkpoint coordinator writes them: state files plus ``_metadata``."""

from __future__ import annotations

import dataclasses
import pickle
from pathlib import Path
from typing import Any

import pytest
from backend_conformance import AverageAggregate

from strom.common.time import Time
from strom.datastream.state import (
    AggregatingStateDescriptor,
    ListStateDescriptor,
    MapStateDescriptor,
    ReducingStateDescriptor,
    StateTtlConfig,
    ValueStateDescriptor,
)
from strom.datastream.window import TimeWindow
from strom.state import savepoint
from strom.state.checkpoint_metadata import (
    CheckpointMetadata,
    OperatorStateEntry,
    SubtaskStateEntry,
)
from strom.state.checkpoint_storage import CheckpointStorage
from strom.state.heap_backend import HeapKeyedStateBackend
from strom.state.key_groups import (
    assign_to_key_group,
    compute_key_group_range_for_operator_index,
    compute_operator_index_for_key_group,
)
from strom.state.namespaces import VOID_NAMESPACE
from strom.state.snapshots import OperatorStateSnapshot

MAX_P = 128
JOB_ID = "3f2a1c" + "0" * 26
KEYS = [f"user-{i}" for i in range(300)]
WINDOW = TimeWindow(0, 1_000)


def ttl_value() -> ValueStateDescriptor:
    descriptor = ValueStateDescriptor("last_seen")
    descriptor.enable_time_to_live(StateTtlConfig.new_builder(Time.hours(1)).build())
    return descriptor


def fill(backend: HeapKeyedStateBackend, key: str, i: int) -> None:
    backend.set_current_key(key)
    v = VOID_NAMESPACE
    backend.get_partitioned_state(v, ValueStateDescriptor("count")).update(i)
    backend.get_partitioned_state(v, ListStateDescriptor("events")).add_all([i, i + 1])
    backend.get_partitioned_state(v, MapStateDescriptor("tags")).put("n", i)
    backend.get_partitioned_state(v, ReducingStateDescriptor("sum", lambda a, b: a + b)).add(i)
    backend.get_partitioned_state(v, AggregatingStateDescriptor("avg", AverageAggregate())).add(i)
    backend.get_partitioned_state(v, ttl_value()).update(f"seen {i}")
    backend.get_partitioned_state(WINDOW, ReducingStateDescriptor(
        "window-contents", lambda a, b: a + b)).add(10 * i)


def write_savepoint(tmp_path: Path, parallelism: int = 2, backend_type: str = "hashmap") -> str:
    backends = [
        HeapKeyedStateBackend(
            MAX_P, compute_key_group_range_for_operator_index(MAX_P, parallelism, i))
        for i in range(parallelism)
    ]
    for i, key in enumerate(KEYS):
        owner = compute_operator_index_for_key_group(
            MAX_P, parallelism, assign_to_key_group(key, MAX_P))
        fill(backends[owner], key, i)
    storage = CheckpointStorage(str(tmp_path / "checkpoints"), JOB_ID)
    location = storage.savepoint_location(str(tmp_path / "savepoints"))
    keyed_subtasks = {}
    for index, backend in enumerate(backends):
        snapshot = dataclasses.replace(backend.snapshot(), backend_type=backend_type)
        kg = backend.key_group_range
        keyed_subtasks[index] = SubtaskStateEntry(
            keyed=location.write_state(f"keyed-{index}", pickle.dumps(snapshot)),
            key_group_start=kg.start, key_group_end=kg.end)
    operator_subtasks = {
        index: SubtaskStateEntry(operator=location.write_state(
            f"op-{index}", pickle.dumps(OperatorStateSnapshot(
                list_states={"splits": [f"split-{index}"]},
                broadcast_states={"rules": {"r": index}}))))
        for index in range(parallelism)
    }
    metadata = CheckpointMetadata(
        checkpoint_id=3, job_id=JOB_ID, timestamp_ms=1, kind="savepoint", operators=[
            OperatorStateEntry("counter", "Keyed Process", parallelism, MAX_P, keyed_subtasks),
            OperatorStateEntry("source", "Source: numbers", parallelism, MAX_P,
                               operator_subtasks),
        ])
    return location.write_metadata(metadata)


def test_operators_are_listed_with_their_state_names(tmp_path: Path) -> None:
    reader = savepoint.read(write_savepoint(tmp_path))
    assert reader.kind == "savepoint" and reader.checkpoint_id == 3
    counter, source = reader.operators()
    assert (counter.state_id, counter.name, counter.parallelism, counter.max_parallelism) == (
        "counter", "Keyed Process", 2, MAX_P)
    assert counter.keyed_states == {
        "count": "value", "events": "list", "tags": "map", "sum": "reducing",
        "avg": "aggregating", "last_seen": "value with TTL", "window-contents": "reducing"}
    assert counter.operator_states == {}
    assert source.state_names == ["splits", "rules"]
    assert source.operator_states == {"splits": "list", "rules": "broadcast"}


@pytest.mark.parametrize("backend_type", ["hashmap", "rocksdb"])
def test_keyed_state_of_every_kind(tmp_path: Path, backend_type: str) -> None:
    """Both backends write the canonical format; the reader does not care which did."""
    reader = savepoint.read(write_savepoint(tmp_path, backend_type=backend_type))
    expected = {key: i for i, key in enumerate(KEYS)}

    def state(name: str) -> dict[Any, Any]:
        pairs = list(reader.keyed_state("counter", name))
        assert len(pairs) == len(KEYS)  # every key once, from whichever subtask had it
        return dict(pairs)

    assert state("count") == expected
    assert state("events") == {k: [i, i + 1] for k, i in expected.items()}
    assert state("tags") == {k: {"n": i} for k, i in expected.items()}
    assert state("sum") == expected
    assert state("avg") == {k: (i, 1) for k, i in expected.items()}  # the accumulator
    assert state("last_seen") == {k: f"seen {i}" for k, i in expected.items()}


def test_window_state_is_read_with_its_namespace(tmp_path: Path) -> None:
    reader = savepoint.read(write_savepoint(tmp_path))
    entries = sorted(reader.window_state("counter", "window-contents"))
    assert entries == sorted((k, WINDOW, 10 * i) for i, k in enumerate(KEYS))
    with pytest.raises(ValueError, match=r"only under windows .* window_state\(state_id"):
        list(reader.keyed_state("counter", "window-contents"))


def test_operator_state_as_restored_at_parallelism_one(tmp_path: Path) -> None:
    reader = savepoint.read(write_savepoint(tmp_path, parallelism=3))
    state = reader.operator_state("source")
    assert state.list_states == {"splits": ["split-0", "split-1", "split-2"]}
    assert state.broadcast_states == {"rules": {"r": 0}}
    assert reader.operator_state("counter") == OperatorStateSnapshot()


def test_the_directory_or_the_metadata_file_and_clear_errors(tmp_path: Path) -> None:
    pointer = write_savepoint(tmp_path)
    assert savepoint.read(pointer + "/_metadata").operators()[0].state_id == "counter"
    reader = savepoint.read(pointer)
    with pytest.raises(KeyError, match=r"no state of operator 'nope'.*\['counter', 'source'\]"):
        reader.operator_state("nope")
    with pytest.raises(KeyError, match=r"no keyed state 'nope'; its keyed states are"):
        list(reader.keyed_state("counter", "nope"))
    with pytest.raises(FileNotFoundError):
        savepoint.read(str(tmp_path / "missing"))


def test_native_snapshots_ask_for_a_savepoint(tmp_path: Path) -> None:
    storage = CheckpointStorage(str(tmp_path / "checkpoints"), JOB_ID)
    location = storage.checkpoint_location(9)
    handle = location.write_state("native", pickle.dumps({"sst_files": ["000001.sst"]}))
    pointer = location.write_metadata(CheckpointMetadata(
        checkpoint_id=9, job_id=JOB_ID, timestamp_ms=1, format="native", operators=[
            OperatorStateEntry("counter", "Keyed Process", 1, MAX_P, {
                0: SubtaskStateEntry(keyed=handle, key_group_start=0,
                                     key_group_end=MAX_P - 1)})]))
    reader = savepoint.read(pointer)
    assert reader.kind == "checkpoint"
    with pytest.raises(ValueError, match=r"native format .* Take a savepoint"):
        list(reader.keyed_state("counter", "count"))
