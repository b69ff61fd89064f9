"""A key selector may return any value PyFlink accepts as a key: lists, dicts and sets group
by content, all NaN keys group together (as in Flink), and user functions see the original
key value."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest
from dataflow_helpers import run_and_collect, source

from strom.common import Watermark, WatermarkGenerator, WatermarkStrategy
from strom.common.time import Time
from strom.datastream import (
    KeyedProcessFunction,
    MapFunction,
    ProcessWindowFunction,
    RuntimeContext,
    RuntimeExecutionMode,
    StreamExecutionEnvironment,
)
from strom.datastream.state import ValueStateDescriptor
from strom.datastream.window import TumblingEventTimeWindows
from strom.runtime.operators import fast_window
from strom.testing import TestingSource

DATA = [("x", 1), ("y", 2), ("x", 3), ("z", 4), ("y", 5), ("x", 6)]


def concat(a: tuple[Any, int], b: tuple[Any, int]) -> tuple[Any, int]:
    return a[0], a[1] + b[1]


def last_per_key(results: list[Any]) -> dict[Any, Any]:
    return {r[0]: r for r in results}


@pytest.mark.parametrize("mode", [RuntimeExecutionMode.STREAMING, RuntimeExecutionMode.BATCH])
@pytest.mark.parametrize("key_selector", [
    lambda t: [t[0]],
    lambda t: {"name": t[0], "tags": [t[0]]},
    lambda t: {t[0]},
], ids=["list", "dict", "set"])
def test_unhashable_keys_group_by_content(
    strom_env: StreamExecutionEnvironment, key_selector: Any, mode: RuntimeExecutionMode,
) -> None:
    strom_env.set_runtime_mode(mode)
    ds = source(strom_env, DATA).key_by(key_selector).reduce(concat)
    assert last_per_key(run_and_collect(strom_env, ds)) == {
        "x": ("x", 10), "y": ("y", 7), "z": ("z", 4)}


def test_nan_keys_group_together(strom_env: StreamExecutionEnvironment) -> None:
    # float("nan") parsed per record: a new NaN object each time, none equal to another
    data = [("nan", 1), ("1.5", 2), ("nan", 3), ("NaN", 4), ("1.5", 5)]
    ds = source(strom_env, data).key_by(lambda t: float(t[0])).reduce(concat) \
        .map(lambda t: (t[0].lower(), t[1]))
    assert last_per_key(run_and_collect(strom_env, ds)) == {"nan": ("nan", 8), "1.5": ("1.5", 7)}


def test_nan_inside_a_tuple_key_groups_together(strom_env: StreamExecutionEnvironment) -> None:
    data = [("a", 1), ("a", 2), ("b", 3)]
    ds = source(strom_env, data).key_by(lambda t: (t[0], float("nan"))).reduce(concat)
    assert last_per_key(run_and_collect(strom_env, ds)) == {"a": ("a", 3), "b": ("b", 3)}


class CountPerKey(KeyedProcessFunction):
    """Emits (current key, records of this key so far); a timer at the record's timestamp
    emits ("timer", current key)."""

    def open(self, runtime_context: RuntimeContext) -> None:
        self.count = runtime_context.get_state(ValueStateDescriptor("count", None))

    def process_element(self, value: Any, ctx: Any) -> Iterable[Any]:
        n = (self.count.value() or 0) + 1
        self.count.update(n)
        ctx.timer_service().register_event_time_timer(100)
        yield ctx.get_current_key(), n

    def on_timer(self, timestamp: int, ctx: Any) -> Iterable[Any]:
        yield "timer", ctx.get_current_key()


def test_process_functions_see_the_original_key_and_its_state(
    strom_env: StreamExecutionEnvironment,
) -> None:
    strom_env.set_runtime_mode(RuntimeExecutionMode.BATCH)  # timers fire at the end
    ds = source(strom_env, DATA).key_by(lambda t: {"k": [t[0]]}).process(CountPerKey())
    results = run_and_collect(strom_env, ds)
    counted = [r for r in results if r[0] != "timer"]
    assert sorted(counted, key=repr) == sorted(
        [({"k": ["x"]}, 1), ({"k": ["x"]}, 2), ({"k": ["x"]}, 3), ({"k": ["y"]}, 1),
         ({"k": ["y"]}, 2), ({"k": ["z"]}, 1)], key=repr)
    timers = sorted((r[1] for r in results if r[0] == "timer"), key=repr)
    assert timers == [{"k": ["x"]}, {"k": ["y"]}, {"k": ["z"]}]


def test_keyed_map_state_with_list_keys(strom_env: StreamExecutionEnvironment) -> None:
    class Count(MapFunction):
        def open(self, runtime_context: RuntimeContext) -> None:
            self.count = runtime_context.get_state(ValueStateDescriptor("count", None))

        def map(self, value: Any) -> Any:
            n = (self.count.value() or 0) + 1
            self.count.update(n)
            return value[0], n

    ds = source(strom_env, DATA).key_by(lambda t: [t[0]]).map(Count())
    assert last_per_key(run_and_collect(strom_env, ds)) == {
        "x": ("x", 3), "y": ("y", 2), "z": ("z", 1)}


# ------------------------------------------------------------------ windows


class EveryEventWatermarks(WatermarkGenerator):
    def on_event(self, event: Any, event_timestamp: int, output: Any) -> None:
        output.emit_watermark(Watermark(event_timestamp))

    def on_periodic_emit(self, output: Any) -> None:
        pass


def timed(env: StreamExecutionEnvironment) -> Any:
    elements = [(value, 100 * i) for i, value in enumerate(DATA)]
    return env.from_source(TestingSource(elements, timestamped=True),
                           WatermarkStrategy.for_generator(EveryEventWatermarks), "src") \
        .set_parallelism(1)


class KeyAndCount(ProcessWindowFunction):
    def process(self, key: Any, context: Any, elements: Iterable[Any]) -> Iterable[Any]:
        yield key, len(list(elements))


def test_window_functions_see_the_original_key(strom_env: StreamExecutionEnvironment) -> None:
    windowed = timed(strom_env).key_by(lambda t: [t[0]]) \
        .window(TumblingEventTimeWindows.of(Time.seconds(1)))
    results = run_and_collect(strom_env, windowed.process(KeyAndCount()))
    assert sorted(results) == [(["x"], 3), (["y"], 2), (["z"], 1)]


@pytest.mark.parametrize("fast_path", [True, False], ids=["fast-path", "general"])
def test_window_reduce_groups_unhashable_keys(
    strom_env: StreamExecutionEnvironment, monkeypatch: pytest.MonkeyPatch, fast_path: bool,
) -> None:
    monkeypatch.setattr(fast_window, "ENABLED", fast_path)
    windowed = timed(strom_env).key_by(lambda t: {"k": t[0]}) \
        .window(TumblingEventTimeWindows.of(Time.seconds(1)))
    results = run_and_collect(strom_env, windowed.reduce(concat))
    assert sorted(results) == [("x", 10), ("y", 7), ("z", 4)]


@pytest.mark.parametrize("fast_path", [True, False], ids=["fast-path", "general"])
def test_incremental_window_functions_see_the_original_key(
    strom_env: StreamExecutionEnvironment, monkeypatch: pytest.MonkeyPatch, fast_path: bool,
) -> None:
    monkeypatch.setattr(fast_window, "ENABLED", fast_path)
    windowed = timed(strom_env).key_by(lambda t: [t[0]]) \
        .window(TumblingEventTimeWindows.of(Time.seconds(1)))
    results = run_and_collect(strom_env, windowed.reduce(concat, window_function=KeyAndCount()))
    assert sorted(results) == [(["x"], 1), (["y"], 1), (["z"], 1)]
