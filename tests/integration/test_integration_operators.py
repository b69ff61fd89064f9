"""Stateless operators end to end at parallelism 1 and 2: map, flat_map, filter, process with
side outputs, union, connect with CoMap/CoFlatMap/CoProcess, project."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from dataflow_helpers import run_and_collect, source

from strom.common import Row
from strom.datastream import (
    CoFlatMapFunction,
    CoMapFunction,
    CoProcessFunction,
    FilterFunction,
    FlatMapFunction,
    MapFunction,
    OutputTag,
    ProcessFunction,
    StreamExecutionEnvironment,
)
from strom.testing import CollectSink


def test_map_filter_flat_map_with_lambdas(strom_env: StreamExecutionEnvironment) -> None:
    ds = (source(strom_env, list(range(10)), splits=2)
          .map(lambda x: x * 10)
          .filter(lambda x: x % 20 == 0)
          .flat_map(lambda x: [x, x + 1]))
    assert sorted(run_and_collect(strom_env, ds)) == [0, 1, 20, 21, 40, 41, 60, 61, 80, 81]


def test_function_objects(strom_env: StreamExecutionEnvironment) -> None:
    class Double(MapFunction):
        def map(self, value: Any) -> Any:
            return value * 2

    class Even(FilterFunction):
        def filter(self, value: Any) -> bool:
            return value % 4 == 0

    class Split(FlatMapFunction):
        def flat_map(self, value: Any) -> Iterator[Any]:
            yield from str(value)

    ds = source(strom_env, [1, 2, 6, 7]).map(Double()).filter(Even()).flat_map(Split())
    assert sorted(run_and_collect(strom_env, ds)) == ["1", "2", "4"]


def test_flat_map_with_a_generator_function(strom_env: StreamExecutionEnvironment) -> None:
    def words(line: str) -> Iterator[str]:
        for word in line.split():
            if word != "skip":
                yield word

    ds = source(strom_env, ["a b", "skip c", "", "d"], splits=2).flat_map(words)
    assert sorted(run_and_collect(strom_env, ds)) == ["a", "b", "c", "d"]


def test_flat_map_returning_none_raises_as_pyflink_does(
    strom_env: StreamExecutionEnvironment,
) -> None:
    def forgot_return(x: int) -> Any:
        if x != 2:
            return [x]

    source(strom_env, [1, 2, 3]).flat_map(forgot_return).name("forgetful") \
        .sink_to(CollectSink())
    with pytest.raises(TypeError, match="'NoneType' object is not iterable") as info:
        strom_env.execute()
    message = str(info.value)
    assert "forgot_return" in message and "'forgetful'" in message
    assert "the record 2" in message and "did you forget a return?" in message
    assert any("operator 'forgetful'" in note for note in info.value.__notes__)


def test_flat_map_may_return_empty_iterables(strom_env: StreamExecutionEnvironment) -> None:
    ds = source(strom_env, [1, 2, 3]).flat_map(lambda x: () if x == 2 else [x])
    assert sorted(run_and_collect(strom_env, ds)) == [1, 3]


def test_order_is_kept_within_one_pipeline(strom_env: StreamExecutionEnvironment) -> None:
    strom_env.set_parallelism(1)
    ds = source(strom_env, list(range(3000))).map(lambda x: x + 1)
    assert run_and_collect(strom_env, ds) == list(range(1, 3001))


class Classify(ProcessFunction):
    ODD = OutputTag("odd")
    BIG = OutputTag("big")

    def process_element(self, value: Any, ctx: ProcessFunction.Context) -> Iterator[Any]:
        if value % 2:
            yield Classify.ODD, f"odd {value}"
        else:
            yield value
        if value > 7:
            yield Classify.BIG, value


def test_process_with_side_outputs(strom_env: StreamExecutionEnvironment) -> None:
    main = source(strom_env, list(range(10)), splits=3).process(Classify())
    odd_sink, big_sink, main_sink = CollectSink(), CollectSink(), CollectSink()
    main.get_side_output(Classify.ODD).sink_to(odd_sink)
    main.get_side_output(Classify.BIG).map(lambda v: -v).sink_to(big_sink)
    main.sink_to(main_sink)
    strom_env.execute()
    assert sorted(main_sink.results) == [0, 2, 4, 6, 8]
    assert sorted(odd_sink.results) == ["odd 1", "odd 3", "odd 5", "odd 7", "odd 9"]
    assert sorted(big_sink.results) == [-9, -8]


def test_a_side_output_nobody_reads_is_dropped(strom_env: StreamExecutionEnvironment) -> None:
    ds = source(strom_env, [1, 2, 3, 4]).process(Classify())
    assert sorted(run_and_collect(strom_env, ds)) == [2, 4]


def test_process_function_sees_timestamps_and_watermark(
    strom_env: StreamExecutionEnvironment,
) -> None:
    class Stamp(ProcessFunction):
        def process_element(self, value: Any, ctx: ProcessFunction.Context) -> Iterator[Any]:
            yield value, ctx.timestamp(), ctx.timer_service().current_watermark()

    ds = source(strom_env, [("a", 5), ("b", 7)], timestamped=True).process(Stamp())
    assert sorted(run_and_collect(strom_env, ds)) == [
        ("a", 5, -(2**63)), ("b", 7, -(2**63))]


def test_union_of_three_streams(strom_env: StreamExecutionEnvironment) -> None:
    a = source(strom_env, [1, 2], "a")
    b = source(strom_env, [3], "b")
    c = strom_env.from_collection([4, 5])
    ds = a.union(b, c).map(lambda x: x * 2)
    assert sorted(run_and_collect(strom_env, ds)) == [2, 4, 6, 8, 10]


def test_union_with_itself_duplicates(strom_env: StreamExecutionEnvironment) -> None:
    a = source(strom_env, [1, 2])
    assert sorted(run_and_collect(strom_env, a.union(a))) == [1, 1, 2, 2]


class Tagging(CoMapFunction):
    def map1(self, value: Any) -> Any:
        return ("left", value)

    def map2(self, value: Any) -> Any:
        return ("right", value)


def test_connect_with_co_map(strom_env: StreamExecutionEnvironment) -> None:
    left = source(strom_env, [1, 2], "left")
    right = strom_env.from_collection(["x"])
    ds = left.connect(right).map(Tagging())
    assert sorted(run_and_collect(strom_env, ds)) == [("left", 1), ("left", 2), ("right", "x")]


def test_connect_with_co_flat_map(strom_env: StreamExecutionEnvironment) -> None:
    class Explode(CoFlatMapFunction):
        def flat_map1(self, value: Any) -> Iterator[Any]:
            yield from range(value)

        def flat_map2(self, value: Any) -> Iterator[Any]:
            yield value.upper()

    ds = source(strom_env, [2, 3], "n").connect(source(strom_env, ["a"], "s")).flat_map(Explode())
    assert sorted(run_and_collect(strom_env, ds), key=str) == [0, 0, 1, 1, 2, "A"]


def test_connect_with_co_process_and_side_output(strom_env: StreamExecutionEnvironment) -> None:
    rejected = OutputTag("rejected")

    class Route(CoProcessFunction):
        def process_element1(self, value: Any, ctx: Any) -> Iterator[Any]:
            yield f"1:{value}"

        def process_element2(self, value: Any, ctx: Any) -> Iterator[Any]:
            if value < 0:
                yield rejected, value
            else:
                yield f"2:{value}"

    out = source(strom_env, ["a"], "one").connect(source(strom_env, [5, -1], "two")) \
        .process(Route())
    side = CollectSink()
    out.get_side_output(rejected).sink_to(side)
    assert sorted(run_and_collect(strom_env, out)) == ["1:a", "2:5"]
    assert side.results == [-1]


def test_project_keeps_the_given_fields_in_order(strom_env: StreamExecutionEnvironment) -> None:
    ds = source(strom_env, [(1, "a", True), (2, "b", False)]).project(2, 0)
    assert sorted(run_and_collect(strom_env, ds)) == [(False, 2), (True, 1)]


def test_rows_travel_unchanged(strom_env: StreamExecutionEnvironment) -> None:
    ds = source(strom_env, [Row(name="a", n=1), Row(name="b", n=2)]).map(
        lambda r: Row(name=r.name.upper(), n=r.n + 1))
    results = sorted(run_and_collect(strom_env, ds), key=lambda r: r.name)
    assert results == [Row(name="A", n=2), Row(name="B", n=3)]
    assert results[0].name == "A"


def test_from_collection_runs_non_parallel_and_feeds_a_parallel_map(
    strom_env: StreamExecutionEnvironment,
) -> None:
    ds = strom_env.from_collection([(1, "Hi"), (2, "Hello")]).map(lambda t: t[1])
    assert sorted(run_and_collect(strom_env, ds)) == ["Hello", "Hi"]


def test_empty_input_finishes(strom_env: StreamExecutionEnvironment) -> None:
    ds = source(strom_env, []).map(lambda x: x)
    assert run_and_collect(strom_env, ds) == []


def test_keyed_flat_map_returning_none_raises(strom_env: StreamExecutionEnvironment) -> None:
    source(strom_env, [1, 2]).key_by(lambda x: x % 2).flat_map(lambda x: None) \
        .name("keyed forgetful").sink_to(CollectSink())
    with pytest.raises(TypeError, match=r"'NoneType' object is not iterable.*did you forget"):
        strom_env.execute()
