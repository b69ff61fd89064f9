"""Keyed state seen by user functions is the state of the key of the record being processed,
for every function on a keyed stream: reduce, map, flat_map, filter, aggregations and window
functions (reduce, aggregate, process)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest
from dataflow_helpers import run_and_collect, source

from strom.common import Watermark, WatermarkGenerator, WatermarkStrategy
from strom.common.time import Time
from strom.datastream import (
    AggregateFunction,
    FilterFunction,
    FlatMapFunction,
    MapFunction,
    ProcessWindowFunction,
    ReduceFunction,
    RuntimeContext,
    RuntimeExecutionMode,
    StreamExecutionEnvironment,
)
from strom.datastream.state import ValueStateDescriptor
from strom.datastream.window import TumblingEventTimeWindows
from strom.runtime.functions import may_use_keyed_state
from strom.runtime.operators import fast_window
from strom.testing import TestingSource

# keys 0 and 1 alternate, so a function reading the other key's state sees a wrong count
ALTERNATING = [(i % 2, i) for i in range(8)]


class _Counting:
    """Counts the records of the current key in a ValueState opened in ``open()``."""

    def open(self, runtime_context: RuntimeContext) -> None:
        self.count = runtime_context.get_state(ValueStateDescriptor("count", None))

    def next_count(self) -> int:
        n = (self.count.value() or 0) + 1
        self.count.update(n)
        return n


class CountingReduce(_Counting, ReduceFunction):
    def reduce(self, value1: Any, value2: Any) -> Any:
        # (key, sum, how many records of this key the state has seen)
        return value1[0], value1[1] + value2[1], self.next_count() + 1


class CountingMap(_Counting, MapFunction):
    def map(self, value: Any) -> Any:
        return value[0], self.next_count()


class CountingFlatMap(_Counting, FlatMapFunction):
    def flat_map(self, value: Any) -> Iterable[Any]:
        yield value[0], self.next_count()


class KeepEverySecond(_Counting, FilterFunction):
    def filter(self, value: Any) -> bool:
        return self.next_count() % 2 == 0


def per_key(results: list[Any]) -> dict[Any, list[Any]]:
    grouped: dict[Any, list[Any]] = {}
    for r in results:
        grouped.setdefault(r[0], []).append(r)
    return grouped


def test_only_functions_with_their_own_open_can_use_keyed_state() -> None:
    class Plain(ReduceFunction):
        def reduce(self, value1: Any, value2: Any) -> Any:
            return value1

    assert may_use_keyed_state(CountingReduce())
    assert not may_use_keyed_state(Plain())
    assert not may_use_keyed_state(lambda a, b: a)


def test_reduce_function_state_is_scoped_to_the_current_key(
    strom_env: StreamExecutionEnvironment,
) -> None:
    ds = source(strom_env, ALTERNATING).key_by(lambda t: t[0]).reduce(CountingReduce())
    assert per_key(run_and_collect(strom_env, ds)) == {
        0: [(0, 0), (0, 2, 2), (0, 6, 3), (0, 12, 4)],
        1: [(1, 1), (1, 4, 2), (1, 9, 3), (1, 16, 4)],
    }


def test_reduce_function_state_is_scoped_to_the_current_key_in_batch(
    strom_env: StreamExecutionEnvironment,
) -> None:
    strom_env.set_runtime_mode(RuntimeExecutionMode.BATCH)
    ds = source(strom_env, ALTERNATING).key_by(lambda t: t[0]).reduce(CountingReduce())
    assert sorted(run_and_collect(strom_env, ds)) == [(0, 12, 4), (1, 16, 4)]


@pytest.mark.parametrize("function", [CountingMap(), CountingFlatMap()],
                         ids=["map", "flat_map"])
def test_map_and_flat_map_state_is_scoped_to_the_current_key(
    strom_env: StreamExecutionEnvironment, function: Any
) -> None:
    keyed = source(strom_env, ALTERNATING).key_by(lambda t: t[0])
    ds = keyed.map(function) if isinstance(function, MapFunction) else keyed.flat_map(function)
    assert per_key(run_and_collect(strom_env, ds)) == {
        0: [(0, 1), (0, 2), (0, 3), (0, 4)],
        1: [(1, 1), (1, 2), (1, 3), (1, 4)],
    }


def test_filter_state_is_scoped_to_the_current_key(strom_env: StreamExecutionEnvironment) -> None:
    ds = source(strom_env, ALTERNATING).key_by(lambda t: t[0]).filter(KeepEverySecond())
    assert per_key(run_and_collect(strom_env, ds)) == {0: [(0, 2), (0, 6)], 1: [(1, 3), (1, 7)]}


# ------------------------------------------------------------------ windows


class EveryEventWatermarks(WatermarkGenerator):
    def on_event(self, event: Any, event_timestamp: int, output: Any) -> None:
        output.emit_watermark(Watermark(event_timestamp))

    def on_periodic_emit(self, output: Any) -> None:
        pass


# two windows of 1 s; keys alternate inside each
TIMED = [((i % 2, i), 100 * i) for i in range(8)] + [((i % 2, i), 200 + 100 * i)
                                                     for i in range(8, 12)]


def timed_source(env: StreamExecutionEnvironment) -> Any:
    return env.from_source(TestingSource(TIMED, timestamped=True),
                           WatermarkStrategy.for_generator(EveryEventWatermarks), "src") \
        .set_parallelism(1)


class CountingAggregate(_Counting, AggregateFunction):
    def create_accumulator(self) -> Any:
        return None

    def add(self, value: Any, accumulator: Any) -> Any:
        return value[0], self.next_count()

    def get_result(self, accumulator: Any) -> Any:
        return accumulator


class CountingProcessWindow(_Counting, ProcessWindowFunction):
    def process(self, key: Any, context: Any, elements: Iterable[Any]) -> Iterable[Any]:
        yield key, self.next_count(), len(list(elements))


@pytest.mark.parametrize("fast_path", [True, False], ids=["fast-path", "general"])
def test_window_reduce_state_is_scoped_to_the_current_key(
    strom_env: StreamExecutionEnvironment, monkeypatch: pytest.MonkeyPatch, fast_path: bool
) -> None:
    monkeypatch.setattr(fast_window, "ENABLED", fast_path)
    windowed = timed_source(strom_env).key_by(lambda t: t[0]) \
        .window(TumblingEventTimeWindows.of(Time.seconds(1)))
    reduced = run_and_collect(strom_env, windowed.reduce(CountingReduce()))
    # the count goes on across windows: state got from the RuntimeContext is the key's
    assert per_key(reduced) == {0: [(0, 12, 4), (0, 18, 5)], 1: [(1, 16, 4), (1, 20, 5)]}


def test_window_aggregate_state_is_scoped_to_the_current_key(
    strom_env: StreamExecutionEnvironment,
) -> None:
    windowed = timed_source(strom_env).key_by(lambda t: t[0]) \
        .window(TumblingEventTimeWindows.of(Time.seconds(1)))
    results = run_and_collect(strom_env, windowed.aggregate(CountingAggregate()))
    assert per_key(results) == {0: [(0, 4), (0, 6)], 1: [(1, 4), (1, 6)]}


def test_process_window_function_state_is_scoped_to_the_current_key(
    strom_env: StreamExecutionEnvironment,
) -> None:
    windowed = timed_source(strom_env).key_by(lambda t: t[0]) \
        .window(TumblingEventTimeWindows.of(Time.seconds(1)))
    results = run_and_collect(strom_env, windowed.process(CountingProcessWindow()))
    assert per_key(results) == {0: [(0, 1, 4), (0, 2, 2)], 1: [(1, 1, 4), (1, 2, 2)]}
