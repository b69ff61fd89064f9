"""How every partitioner splits a batch over its output channels."""

from __future__ import annotations

import random
from typing import Any

import pytest

from strom.datastream import Partitioner
from strom.graph.partitioning import (
    BroadcastPartitioning,
    CustomPartitioning,
    ForwardPartitioning,
    GlobalPartitioning,
    HashPartitioning,
    Partitioning,
    RebalancePartitioning,
    RescalePartitioning,
    ShufflePartitioning,
)
from strom.network.partitioners import ChannelSelector, create_channel_selector
from strom.state.key_groups import assign_to_key_group, compute_operator_index_for_key_group


def per_channel(parts: list[Any], n: int) -> list[list[Any]]:
    assert len(parts) == n
    return [[] if p is None else list(p[0]) for p in parts]


@pytest.mark.parametrize("partitioning", [RebalancePartitioning(), RescalePartitioning()])
def test_round_robin_continues_across_batches(partitioning: Partitioning) -> None:
    n = 3
    selector = create_channel_selector(partitioning, n)
    start = selector.next_channel  # type: ignore[attr-defined]
    assert 0 <= start < n
    rng = random.Random(7)
    received: list[list[int]] = [[] for _ in range(n)]
    record = 0
    for _ in range(40):
        size = rng.randrange(0, 9)
        values = list(range(record, record + size))
        timestamps = [v * 10 for v in values]
        for channel, part in enumerate(selector.split(values, timestamps)):
            if part is not None:
                vals, ts, keys = part
                assert ts == [v * 10 for v in vals] and keys is None
                received[channel].extend(vals)
        record += size
    for channel in range(n):
        assert received[channel] == [i for i in range(record) if (start + i) % n == channel]


def test_round_robin_starts_at_a_random_channel() -> None:
    starts = {create_channel_selector(RebalancePartitioning(), 8)  # type: ignore[attr-defined]
              .next_channel for _ in range(200)}
    assert len(starts) > 1


def test_round_robin_over_one_channel_passes_the_batch_through() -> None:
    selector = create_channel_selector(RebalancePartitioning(), 1)
    values = [1, 2, 3]
    [(vals, ts, keys)] = selector.split(values, None)  # type: ignore[misc]
    assert vals is values and ts is None and keys is None


@pytest.mark.parametrize("partitioning", [ForwardPartitioning(), GlobalPartitioning()])
def test_forward_and_global_send_everything_to_the_first_channel(
    partitioning: Partitioning,
) -> None:
    selector = create_channel_selector(partitioning, 3)
    assert per_channel(selector.split([1, 2, 3], [1, 2, 3]), 3) == [[1, 2, 3], [], []]


def test_broadcast_sends_every_record_to_every_channel() -> None:
    selector = create_channel_selector(BroadcastPartitioning(), 4)
    assert selector.broadcast
    parts = selector.split(["a", "b"], [1, 2])
    assert all(p == (["a", "b"], [1, 2], None) for p in parts)
    assert len(parts) == 4


def test_shuffle_sends_every_record_to_exactly_one_channel() -> None:
    selector = create_channel_selector(ShufflePartitioning(), 4)
    values = list(range(1000))
    parts = selector.split(values, [v + 1 for v in values])
    channels = per_channel(parts, 4)
    assert sorted(v for c in channels for v in c) == values
    assert all(len(c) > 150 for c in channels)  # uniform-ish
    for part in parts:
        assert part is not None and part[1] == [v + 1 for v in part[0]]


@pytest.mark.parametrize(("n", "max_parallelism"), [(2, 128), (3, 128), (5, 7)])
def test_hash_routes_keys_to_the_subtask_owning_their_key_group(
    n: int, max_parallelism: int,
) -> None:
    selector = create_channel_selector(
        HashPartitioning(key_selector=lambda v: v[0], max_parallelism=max_parallelism), n)
    values = [(f"k{i % 37}", i) for i in range(500)]
    parts = selector.split(values, list(range(500)))
    for channel, part in enumerate(parts):
        if part is None:
            continue
        vals, ts, keys = part
        assert keys == [v[0] for v in vals]
        assert ts == [v[1] for v in vals]
        for key in keys:
            expected = compute_operator_index_for_key_group(
                max_parallelism, n, assign_to_key_group(key, max_parallelism))
            assert expected == channel
    # the routing stays the same on the next batch (cached or not)
    again = selector.split(values, None)
    assert per_channel(again, n) == per_channel(parts, n)


def test_hash_over_one_channel_still_extracts_the_keys() -> None:
    selector = create_channel_selector(
        HashPartitioning(key_selector=lambda v: v % 3, max_parallelism=128), 1)
    [(vals, ts, keys)] = selector.split([1, 2, 3], None)  # type: ignore[misc]
    assert vals == [1, 2, 3] and keys == [1, 2, 0] and ts is None


def test_hash_accepts_unhashable_keys_and_key_selector_objects() -> None:
    from strom.datastream import KeySelector

    class ByList(KeySelector):
        def get_key(self, value: Any) -> Any:
            return [value % 2]

    selector = create_channel_selector(HashPartitioning(key_selector=ByList(),
                                                        max_parallelism=128), 2)
    channels = per_channel(selector.split([1, 2, 3, 4], None), 2)
    assert sorted(v for c in channels for v in c) == [1, 2, 3, 4]
    odd_channel = next(i for i, c in enumerate(channels) if 1 in c)
    assert 3 in channels[odd_channel]


def test_custom_partitioner_function_and_object() -> None:
    class Mod(Partitioner):
        def partition(self, key: Any, num_partitions: int) -> int:
            return int(key % num_partitions)

    for partitioner in (Mod(), lambda key, n: key % n):
        selector = create_channel_selector(
            CustomPartitioning(partitioner=partitioner, key_selector=lambda v: v * 2), 3)
        assert per_channel(selector.split([0, 1, 2, 3, 4], None), 3) == [[0, 3], [2], [1, 4]]


@pytest.mark.parametrize("bad", [3, -1, "0", None])
def test_custom_partitioner_returning_an_invalid_channel_fails(bad: Any) -> None:
    selector = create_channel_selector(
        CustomPartitioning(partitioner=lambda k, n: bad, key_selector=lambda v: v), 3)
    with pytest.raises(ValueError, match=r"Custom partitioner returned .* it must return an int "
                                         r"in 0\.\.2 \(num_partitions=3\)"):
        selector.split([1], None)


def test_unknown_partitioning_is_refused() -> None:
    with pytest.raises(TypeError, match="unknown partitioning"):
        create_channel_selector(Partitioning(), 2)


def test_selectors_are_channel_selectors() -> None:
    for partitioning in (ForwardPartitioning(), RebalancePartitioning(), ShufflePartitioning(),
                         BroadcastPartitioning(), GlobalPartitioning()):
        selector = create_channel_selector(partitioning, 2)
        assert isinstance(selector, ChannelSelector) and selector.n == 2


def test_hash_routes_equal_odd_keys_to_one_channel() -> None:
    # each NaN a new object; dicts and sets in other orders: equal keys, one channel
    values = ["nan", "NaN", {"a": 1, "b": 2}, {"b": 2, "a": 1}, ["x", "y"], ["x", "y"]] * 3

    def key(v: Any) -> Any:
        return float(v) if isinstance(v, str) else (set(v) if isinstance(v, list) else v)

    selector = create_channel_selector(HashPartitioning(key_selector=key,
                                                        max_parallelism=128), 4)
    channels = per_channel(selector.split(values, None), 4)
    for group in (("nan", "NaN"), ({"a": 1, "b": 2},), (["x", "y"],)):
        holding = {i for i, c in enumerate(channels) if any(v in group for v in c)}
        assert len(holding) == 1, group
