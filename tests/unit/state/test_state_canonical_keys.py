"""Keys a dict cannot group by themselves (unhashable values, NaN): their stand-ins group
equal keys together, stay in the key group of the value and give the user the value back."""

from __future__ import annotations

import math
import pickle
import struct
from typing import Any

import pytest

from strom.common import Row
from strom.state import HeapKeyedStateBackend
from strom.state.canonical_keys import CanonicalKey, group_key, group_keys, user_key
from strom.state.key_groups import KeyGroupRange, assign_to_key_group, stable_hash

# a NaN with other bits than math.nan: Flink's Double.equals still calls them equal
OTHER_NAN = struct.unpack("<d", struct.pack("<Q", 0x7FF8000000000001))[0]


@pytest.mark.parametrize("keys", [
    ["a", "b", "a"], [1, 2, True, None, b"x"], [("a", 1), ("b", 2)], [1.5, 2, 3.0], [],
    [Row(1, "a")], [frozenset({1})],
], ids=["str", "mixed-plain", "flat-tuples", "floats", "empty", "row", "frozenset"])
def test_keys_that_group_as_themselves_come_back_as_the_same_list(keys: list[Any]) -> None:
    assert group_keys(keys) is keys


@pytest.mark.parametrize(("first", "second"), [
    ([1, "a"], [1, "a"]),
    ({"k": 1, "l": [2]}, {"l": [2], "k": 1}),  # dicts and sets in any order
    ({1, 2, 3}, {3, 2, 1}),
    (float("nan"), OTHER_NAN),
    ((1, float("nan")), (1, OTHER_NAN)),
    ([1], [1.0]),  # as Python's == has it
    (Row(a=[1]), Row(a=[1])),
], ids=["list", "dict", "set", "nan", "tuple-with-nan", "numbers", "row"])
def test_equal_keys_group_together_and_share_a_key_group(first: Any, second: Any) -> None:
    a, b = group_key(first), group_key(second)
    assert a == b and hash(a) == hash(b)
    assert len(dict.fromkeys(group_keys([first, second]))) == 1
    assert stable_hash(first) == stable_hash(second)
    # the stand-in stays in the key group the partitioner chose for the value
    assert assign_to_key_group(a, 128) == assign_to_key_group(first, 128)


@pytest.mark.parametrize(("first", "second"), [
    ([1], (1, [])), ([1], [2]), ({"k": 1}, {"k": 2}), ([1, 2], [2, 1]), (Row(a=[1]), Row(b=[1])),
])
def test_different_keys_stay_apart(first: Any, second: Any) -> None:
    assert group_key(first) != group_key(second)


def test_the_user_gets_the_original_value_back() -> None:
    value = {"k": [1, 2]}
    [key] = group_keys([value])
    assert isinstance(key, CanonicalKey)
    assert user_key(key) is value
    assert user_key("plain") == "plain"
    assert math.isnan(user_key(group_key(float("nan"))))


def test_stand_ins_survive_pickling() -> None:
    key = group_key([1, {"a": float("nan")}])
    copy = pickle.loads(pickle.dumps(key))
    assert copy == key and hash(copy) == hash(key)
    assert stable_hash(copy) == stable_hash([1, {"a": float("nan")}])


def test_a_mixed_batch_wraps_only_the_odd_keys() -> None:
    keys = ["a", [1], float("nan"), 2.5]
    grouped = group_keys(keys)
    assert grouped[0] == "a" and grouped[3] == 2.5
    assert isinstance(grouped[1], CanonicalKey) and isinstance(grouped[2], CanonicalKey)


def test_state_of_stand_in_keys_snapshots_and_restores_into_its_key_groups() -> None:
    from strom.datastream.state import ValueStateDescriptor

    descriptor = ValueStateDescriptor("v", None)
    whole = HeapKeyedStateBackend(128, KeyGroupRange(0, 127))
    state = whole.get_partitioned_state(None, descriptor)
    keys = [[i] for i in range(20)] + [{"k": i} for i in range(20)] + [float("nan")]
    for i, key in enumerate(keys):
        whole.set_current_key(group_key(key))
        state.update(i)
    snapshot = whole.snapshot()
    halves = [HeapKeyedStateBackend(128, KeyGroupRange(0, 63)),
              HeapKeyedStateBackend(128, KeyGroupRange(64, 127))]
    for half in halves:
        half.restore([snapshot])
    for i, key in enumerate(keys):
        owner = halves[assign_to_key_group(key, 128) // 64]
        owner.set_current_key(group_key(key))  # a fresh stand-in, as the next record brings
        assert owner.get_partitioned_state(None, descriptor).value() == i
