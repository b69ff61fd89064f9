"""Every partitioner end to end (who got what, via the subtask index), partition_custom, and
print() with PyFlink's prefixes and value formats."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from dataflow_helpers import TagSubtask, run_and_collect, source

from strom.common import Row, Types
from strom.datastream import Partitioner, StreamExecutionEnvironment


def subtasks_of(results: list[tuple[int, Any]]) -> dict[int, list[Any]]:
    grouped: dict[int, list[Any]] = {}
    for subtask, value in results:
        grouped.setdefault(subtask, []).append(value)
    return grouped


def test_rebalance_spreads_records_round_robin(strom_env: StreamExecutionEnvironment) -> None:
    p = strom_env.get_parallelism()
    ds = strom_env.from_collection(list(range(10))).rebalance().map(TagSubtask())
    grouped = subtasks_of(run_and_collect(strom_env, ds))
    assert sorted(v for vs in grouped.values() for v in vs) == list(range(10))
    assert sorted(len(vs) for vs in grouped.values()) == [10 // p] * p
    for values in grouped.values():  # consecutive records alternate between subtasks
        assert all(b - a == p for a, b in itertools.pairwise(values))


def test_broadcast_gives_every_subtask_everything(strom_env: StreamExecutionEnvironment) -> None:
    p = strom_env.get_parallelism()
    ds = strom_env.from_collection([1, 2, 3]).broadcast().map(TagSubtask())
    grouped = subtasks_of(run_and_collect(strom_env, ds))
    assert grouped == {i: [1, 2, 3] for i in range(p)}


def test_global_sends_everything_to_the_first_subtask(
    strom_env: StreamExecutionEnvironment,
) -> None:
    ds = source(strom_env, list(range(6)), splits=2).global_().map(TagSubtask())
    grouped = subtasks_of(run_and_collect(strom_env, ds))
    assert list(grouped) == [0]
    assert sorted(grouped[0]) == list(range(6))


def test_shuffle_delivers_each_record_once(strom_env: StreamExecutionEnvironment) -> None:
    p = strom_env.get_parallelism()
    ds = source(strom_env, list(range(400))).shuffle().map(TagSubtask())
    grouped = subtasks_of(run_and_collect(strom_env, ds))
    assert sorted(v for vs in grouped.values() for v in vs) == list(range(400))
    assert set(grouped) == set(range(p))


def test_forward_keeps_each_subtasks_records_in_its_subtask(
    strom_env: StreamExecutionEnvironment,
) -> None:
    p = strom_env.get_parallelism()
    elements = list(range(8))
    ds = source(strom_env, elements, splits=p).map(TagSubtask()).name("source tag") \
        .forward().map(lambda t: t).disable_chaining()
    results = run_and_collect(strom_env, ds)
    # split i (elements[i::p]) is read by source subtask i and stays there
    assert subtasks_of(results) == {i: elements[i::p] for i in range(p)}


def test_rescale_two_to_four_feeds_local_subsets() -> None:
    from strom.testing import MiniClusterFixture

    with MiniClusterFixture(parallelism=2, slots=4):
        env = StreamExecutionEnvironment.get_execution_environment()
        elements = list(range(40))
        ds = source(env, elements, splits=2).rescale().map(TagSubtask()).set_parallelism(4)
        grouped = subtasks_of(run_and_collect(env, ds))
    evens, odds = set(elements[0::2]), set(elements[1::2])
    # source subtask 0 (even elements) feeds map 0 and 1; source subtask 1 feeds 2 and 3
    assert set(grouped[0]) | set(grouped[1]) == evens
    assert set(grouped[2]) | set(grouped[3]) == odds
    assert all(len(grouped[i]) == 10 for i in range(4))


def test_partition_custom_routes_by_the_partitioners_answer(
    strom_env: StreamExecutionEnvironment,
) -> None:
    p = strom_env.get_parallelism()

    class ByRemainder(Partitioner):
        def partition(self, key: Any, num_partitions: int) -> int:
            return int(key % num_partitions)

    for partitioner in (ByRemainder(), lambda key, n: key % n):
        env = StreamExecutionEnvironment.get_execution_environment()
        ds = source(env, list(range(12)), splits=2).partition_custom(
            partitioner, lambda x: x // 2).map(TagSubtask())
        for subtask, value in run_and_collect(env, ds):
            assert subtask == (value // 2) % p


# ---------------------------------------------------------------- print()
def printed(capfd: pytest.CaptureFixture[str]) -> list[str]:
    return sorted(capfd.readouterr().out.splitlines())


def test_print_at_parallelism_one_has_no_prefix(capfd: pytest.CaptureFixture[str]) -> None:
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(1)
    env.from_collection(["x", "y"]).print()
    env.execute()
    assert printed(capfd) == ["x", "y"]


def test_print_at_parallelism_one_with_identifier(capfd: pytest.CaptureFixture[str]) -> None:
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(1)
    env.from_collection(["x"]).print("id")
    env.execute()
    assert printed(capfd) == ["id> x"]


def test_print_in_parallel_prefixes_the_subtask_number(
    capfd: pytest.CaptureFixture[str],
) -> None:
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(2)
    source(env, ["a", "b"], splits=2).print()
    env.execute()
    assert printed(capfd) == ["1> a", "2> b"]


def test_print_in_parallel_with_identifier(capfd: pytest.CaptureFixture[str]) -> None:
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(2)
    source(env, ["a", "b"], splits=2).print("id")
    env.execute()
    assert printed(capfd) == ["id:1> a", "id:2> b"]


def test_print_formats_values_by_type(capfd: pytest.CaptureFixture[str]) -> None:
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(1)
    env.from_collection([("a", 1)]).print("pickled")
    env.from_collection([("a", 1)], type_info=Types.TUPLE([Types.STRING(), Types.INT()])) \
        .print("tuple")
    env.from_collection([Row("a", 1)], type_info=Types.ROW([Types.STRING(), Types.INT()])) \
        .print("row")
    env.from_collection([1]).map(lambda x: Row("b", x),
                                 output_type=Types.ROW([Types.STRING(), Types.INT()])) \
        .print("mapped row")
    env.execute()
    assert printed(capfd) == [
        "mapped row> +I[b,1]", "pickled> ('a', 1)", "row> +I[a,1]", "tuple> (a,1)"]


def test_print_with_the_test_fixture(strom_env: StreamExecutionEnvironment,
                                     capfd: pytest.CaptureFixture[str]) -> None:
    p = strom_env.get_parallelism()
    source(strom_env, [1, 2], splits=p).print()
    strom_env.execute()
    expected = ["1", "2"] if p == 1 else ["1> 1", "2> 2"]
    assert printed(capfd) == expected
