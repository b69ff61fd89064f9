"""The order Flink guarantees: records keep their order per channel (one upstream subtask to
one downstream subtask) and so per key, and a non-parallel source feeding the single
collecting subtask of ``execute_and_collect`` keeps the input order."""

from __future__ import annotations

from typing import Any

from dataflow_helpers import TagSubtask, run_and_collect

from strom.common import Row
from strom.datastream import StreamExecutionEnvironment

# more than one network buffer (1024 records) per channel
MANY = 5000


def test_keyed_stream_is_collected_in_input_order(strom_env: StreamExecutionEnvironment) -> None:
    data = [(1, "a"), (2, "b"), (3, "c"), (4, "d")]
    collected = list(strom_env.from_collection(data).key_by(lambda x: x[0]).execute_and_collect())
    assert collected == [Row(f0=k, f1=(k, v)) for k, v in data]


def test_many_keyed_records_are_collected_in_input_order(
    strom_env: StreamExecutionEnvironment,
) -> None:
    data = [(i % 7, i) for i in range(MANY)]
    keyed = strom_env.from_collection(data).key_by(lambda x: x[0])
    assert [row.f1 for row in keyed.execute_and_collect()] == data


def test_collect_after_a_non_parallel_chain_keeps_the_input_order(
    strom_env: StreamExecutionEnvironment,
) -> None:
    ds = strom_env.from_collection(list(range(MANY))).map(lambda x: x * 2).set_parallelism(1)
    assert list(ds.execute_and_collect()) == [x * 2 for x in range(MANY)]


def test_each_channel_keeps_its_order(strom_env: StreamExecutionEnvironment) -> None:
    # one source subtask -> rebalance -> p map subtasks -> one collecting subtask: the
    # records of each map subtask reach the sink in the order that subtask sent them
    ds = strom_env.from_collection(list(range(MANY))).map(TagSubtask())
    per_subtask: dict[int, list[int]] = {}
    for subtask, value in ds.execute_and_collect():
        per_subtask.setdefault(subtask, []).append(value)
    assert len(per_subtask) == strom_env.get_parallelism()
    for values in per_subtask.values():
        assert values == sorted(values)
    assert sorted(v for vs in per_subtask.values() for v in vs) == list(range(MANY))


def test_each_key_keeps_its_order_through_parallel_operators(
    strom_env: StreamExecutionEnvironment,
) -> None:
    data = [(f"k{i % 13}", i) for i in range(MANY)]
    ds = (strom_env.from_collection(data)
          .key_by(lambda x: x[0]).map(lambda x: x)
          .key_by(lambda x: x[0]).map(lambda x: x))
    per_key: dict[str, list[int]] = {}
    for key, value in run_and_collect(strom_env, ds):
        per_key.setdefault(key, []).append(value)
    expected: dict[str, list[Any]] = {}
    for key, value in data:
        expected.setdefault(key, []).append(value)
    assert per_key == expected
