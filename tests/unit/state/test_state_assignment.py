"""State assignment on restore: keyed state re-sliced by key group, operator state
redistributed, operators matched by state id (``strom.state.assignment``)."""

from __future__ import annotations

import pickle
from typing import Any

import pytest

from strom.datastream.state import ValueStateDescriptor
from strom.state.assignment import StateAssignmentError, assign_state
from strom.state.checkpoint_metadata import (
    ByteStreamStateHandle,
    CheckpointMetadata,
    OperatorStateEntry,
    SubtaskStateEntry,
)
from strom.state.checkpoint_storage import read_state
from strom.state.heap_backend import HeapKeyedStateBackend
from strom.state.key_groups import (
    assign_to_key_group,
    compute_key_group_range_for_operator_index,
    compute_operator_index_for_key_group,
)
from strom.state.namespaces import VOID_NAMESPACE
from strom.state.snapshots import OperatorStateSnapshot

MAX_P = 128
KEYS = [f"key-{i}" for i in range(400)]
COUNT = ValueStateDescriptor("count")


def handle(obj: Any) -> ByteStreamStateHandle:
    return ByteStreamStateHandle(pickle.dumps(obj))


def keyed_backends(parallelism: int) -> list[HeapKeyedStateBackend]:
    """One backend per subtask, each holding ``count = i`` for the keys it owns."""
    backends = [
        HeapKeyedStateBackend(
            MAX_P, compute_key_group_range_for_operator_index(MAX_P, parallelism, i))
        for i in range(parallelism)
    ]
    for i, key in enumerate(KEYS):
        owner = compute_operator_index_for_key_group(
            MAX_P, parallelism, assign_to_key_group(key, MAX_P))
        backend = backends[owner]
        backend.set_current_key(key)
        backend.get_partitioned_state(VOID_NAMESPACE, COUNT).update(i)
    return backends


def subtask_entry(backend: HeapKeyedStateBackend | None,
                  operator: OperatorStateSnapshot | None) -> SubtaskStateEntry:
    if backend is None:
        return SubtaskStateEntry(operator=None if operator is None else handle(operator))
    kg = backend.key_group_range
    return SubtaskStateEntry(
        keyed=handle(backend.snapshot()),
        operator=None if operator is None else handle(operator),
        key_group_start=kg.start,
        key_group_end=kg.end,
    )


def metadata_at_p2() -> CheckpointMetadata:
    backends = keyed_backends(2)
    operator_states = [
        OperatorStateSnapshot(list_states={"offsets": [0, 1, 2]}, union_states={"u": ["a"]},
                              broadcast_states={"rules": {"r": 1}}),
        OperatorStateSnapshot(list_states={"offsets": [3, 4]}, union_states={"u": ["b"]},
                              broadcast_states={"rules": {"r": 1}}),
    ]
    return CheckpointMetadata(
        checkpoint_id=7,
        job_id="ab" * 16,
        timestamp_ms=1,
        operators=[
            OperatorStateEntry("counter-uid", "Counter", 2, MAX_P, {
                i: subtask_entry(backends[i], None) for i in range(2)}),
            OperatorStateEntry("source-uid", "Source", 2, MAX_P, {
                i: subtask_entry(None, operator_states[i]) for i in range(2)}),
            OperatorStateEntry("stateless", "Map", 2, MAX_P, {
                i: SubtaskStateEntry() for i in range(2)}),
        ],
    )


def program(p: int, source_p: int | None = None) -> list[tuple[Any, int, int, list[str]]]:
    return [("vertex-keyed", p, MAX_P, ["counter-uid"]),
            ("vertex-source", source_p or p, MAX_P, ["source-uid", "stateless"])]


@pytest.mark.parametrize("new_p", [1, 2, 3, 4])
def test_every_key_is_restored_exactly_once(new_p: int) -> None:
    assigned = assign_state(metadata_at_p2(), program(new_p), False)
    found: dict[str, list[int]] = {}
    for index in range(new_p):
        own = compute_key_group_range_for_operator_index(MAX_P, new_p, index)
        restored = assigned[("vertex-keyed", index)]["counter-uid"]
        assert restored.checkpoint_id == 7 and restored.operator is None
        # only the old subtasks whose key groups overlap this subtask's are handed over
        old_ranges = [compute_key_group_range_for_operator_index(MAX_P, 2, i) for i in range(2)]
        overlapping = [r for r in old_ranges if r.start <= own.end and own.start <= r.end]
        assert len(restored.keyed) == len(overlapping)
        backend = HeapKeyedStateBackend(MAX_P, own)
        backend.restore(pickle.loads(read_state(h)) for h in restored.keyed)
        for key in backend.keys("count", VOID_NAMESPACE):
            backend.set_current_key(key)
            found.setdefault(key, []).append(
                backend.get_partitioned_state(VOID_NAMESPACE, COUNT).value())
    assert found == {key: [i] for i, key in enumerate(KEYS)}


def operator_shares(new_p: int) -> list[OperatorStateSnapshot | None]:
    assigned = assign_state(metadata_at_p2(), program(new_p), False)
    shares: list[OperatorStateSnapshot | None] = []
    for index in range(new_p):
        restored = assigned[("vertex-source", index)]["source-uid"]
        assert restored.keyed == ()
        shares.append(restored.operator)
    return shares


def test_operator_state_redistribution_at_p1_p3_p4() -> None:
    (one,) = operator_shares(1)
    assert one is not None
    assert one.list_states == {"offsets": [0, 1, 2, 3, 4]}
    assert one.union_states == {"u": ["a", "b"]}
    assert one.broadcast_states == {"rules": {"r": 1}}
    for new_p in (3, 4):
        shares = operator_shares(new_p)
        assert all(s is not None for s in shares)
        lists = [s.list_states["offsets"] for s in shares if s is not None]
        assert [e for share in lists for e in share] == [0, 1, 2, 3, 4]  # each element once, order kept
        assert max(map(len, lists)) - min(map(len, lists)) <= 1  # an even split
        assert all(s.union_states == {"u": ["a", "b"]} for s in shares if s is not None)
        assert all(s.broadcast_states == {"rules": {"r": 1}} for s in shares if s is not None)


def test_same_parallelism_keeps_each_subtasks_list_state() -> None:
    shares = operator_shares(2)
    assert [s.list_states["offsets"] for s in shares if s is not None] == [[0, 1, 2], [3, 4]]


def test_every_subtask_is_listed_and_knows_it_is_restored() -> None:
    assigned = assign_state(
        metadata_at_p2(), [*program(3), ("vertex-new", 2, MAX_P, ["new-operator"])], False)
    assert set(assigned) == {(v, i) for v in ("vertex-keyed", "vertex-source") for i in range(3)
                             } | {("vertex-new", 0), ("vertex-new", 1)}
    for index in range(3):
        # an operator checkpointed without state is restored with nothing in it
        stateless = assigned[("vertex-source", index)]["stateless"]
        assert stateless.checkpoint_id == 7 and stateless.keyed == ()
        assert stateless.operator is None
    assert assigned[("vertex-new", 0)] == {}  # not in the checkpoint: starts fresh


def test_state_of_an_operator_missing_from_the_new_program_fails_the_restore() -> None:
    program_without_counter = [("vertex-source", 2, MAX_P, ["source-uid"])]
    with pytest.raises(StateAssignmentError) as failure:
        assign_state(metadata_at_p2(), program_without_counter, False)
    message = str(failure.value)
    assert message.startswith("Failed to rollback to checkpoint/savepoint 7")
    assert "Cannot map checkpoint/savepoint state for operator counter-uid ('Counter')" in message
    assert "--allowNonRestoredState" in message
    assigned = assign_state(metadata_at_p2(), program_without_counter, True)
    assert {state_id for by_id in assigned.values() for state_id in by_id} == {"source-uid"}
    # an operator without state may disappear without -n
    assign_state(metadata_at_p2(), [("v", 2, MAX_P, ["counter-uid", "source-uid"])], False)


def test_max_parallelism_must_stay_and_bound_the_parallelism() -> None:
    changed = [("vertex-keyed", 2, 256, ["counter-uid"]), ("v", 2, MAX_P, ["source-uid"])]
    with pytest.raises(StateAssignmentError, match=r"maximum parallelism \(128\) of the "
                       r"restored state is not identical to the configured maximum "
                       r"parallelism \(256\)"):
        assign_state(metadata_at_p2(), changed, False)
    too_wide = [("vertex-keyed", 129, MAX_P, ["counter-uid"]), ("v", 2, MAX_P, ["source-uid"])]
    with pytest.raises(StateAssignmentError, match="lower than the configured parallelism"):
        assign_state(metadata_at_p2(), too_wide, False)
