"""BATCH execution of event-time programs: windows and timers fire at the end of the input,
nothing is late, a rolling reduce emits only each key's final value (reference §1.4, §5.9)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest

from strom.common import Watermark, WatermarkGenerator, WatermarkStrategy
from strom.common.time import Time
from strom.datastream import (
    KeyedProcessFunction,
    RuntimeExecutionMode,
    StreamExecutionEnvironment,
    TimeDomain,
)
from strom.datastream.window import EventTimeSessionWindows, TumblingEventTimeWindows
from strom.testing import CollectSink, TestingSource

LONG_MIN = -(2**63)
LONG_MAX = 2**63 - 1


class EveryEventWatermarks(WatermarkGenerator):
    def on_event(self, event: Any, event_timestamp: int, output: Any) -> None:
        output.emit_watermark(Watermark(event_timestamp))

    def on_periodic_emit(self, output: Any) -> None:
        pass


def source(env: StreamExecutionEnvironment, data: list[tuple[str, int, int]]) -> Any:
    elements = [((k, v), ts) for k, v, ts in data]
    return env.from_source(TestingSource(elements, timestamped=True),
                           WatermarkStrategy.for_generator(EveryEventWatermarks), "src") \
        .set_parallelism(1)


def add(a: tuple[str, int], b: tuple[str, int]) -> tuple[str, int]:
    return a[0], a[1] + b[1]


def run_windows(env: StreamExecutionEnvironment, data: list[tuple[str, int, int]],
                assigner: Any) -> list[Any]:
    sink = CollectSink()
    source(env, data).key_by(lambda v: v[0]).window(assigner).reduce(add).sink_to(sink)
    env.execute()
    return sorted(zip(sink.results, sink.timestamps))


DATA = [("a", 1, 100), ("b", 10, 200), ("a", 2, 900), ("a", 3, 1100), ("b", 20, 1500),
        ("a", 4, 2500), ("b", 30, 5000), ("a", 5, 5100), ("a", 6, 5400)]


@pytest.mark.parametrize("assigner", [
    TumblingEventTimeWindows.of(Time.seconds(1)),
    EventTimeSessionWindows.with_gap(Time.milliseconds(700)),
], ids=["tumbling", "session"])
def test_event_time_windows_give_the_same_results_as_streaming(
    strom_env: StreamExecutionEnvironment, assigner: Any,
) -> None:
    streaming = run_windows(strom_env, DATA, assigner)
    strom_env.set_runtime_mode(RuntimeExecutionMode.BATCH)
    batch = run_windows(strom_env, DATA, assigner)
    assert batch == streaming
    assert len(batch) >= 5


def test_batch_windows_fire_at_the_end_and_nothing_is_late(
    strom_env: StreamExecutionEnvironment,
) -> None:
    # streaming drops a@300 (the watermark 1200 passed its window); BATCH has no late data
    data = [("a", 1, 100), ("a", 2, 1200), ("a", 3, 300)]
    strom_env.set_runtime_mode(RuntimeExecutionMode.BATCH)
    assert run_windows(strom_env, data, TumblingEventTimeWindows.of(Time.seconds(1))) == [
        (("a", 2), 1999), (("a", 4), 999)]


class Timers(KeyedProcessFunction):
    """Registers an event-time timer at ``ts + 10`` and a processing-time timer far in the
    future; reports the watermark it sees in both methods."""

    def process_element(self, value: Any, ctx: KeyedProcessFunction.Context) -> Iterable[Any]:
        timestamp = ctx.timestamp()
        assert timestamp is not None
        ctx.timer_service().register_event_time_timer(timestamp + 10)
        ctx.timer_service().register_processing_time_timer(10**15)
        yield "elem", value[0], ctx.timer_service().current_watermark()

    def on_timer(self, timestamp: int, ctx: KeyedProcessFunction.OnTimerContext) -> Iterable[Any]:
        yield ("timer", ctx.get_current_key(), timestamp, ctx.time_domain(),
               ctx.timer_service().current_watermark())


def test_batch_timers_fire_at_the_end_of_input(strom_env: StreamExecutionEnvironment) -> None:
    strom_env.set_runtime_mode(RuntimeExecutionMode.BATCH)
    sink = CollectSink()
    source(strom_env, [("a", 1, 100), ("b", 2, 50), ("a", 3, 300)]) \
        .key_by(lambda v: v[0]).process(Timers()).sink_to(sink)
    strom_env.execute()
    e, p = TimeDomain.EVENT_TIME, TimeDomain.PROCESSING_TIME
    assert sorted(sink.results) == [
        ("elem", "a", LONG_MIN), ("elem", "a", LONG_MIN), ("elem", "b", LONG_MIN),
        ("timer", "a", 110, e, LONG_MAX), ("timer", "a", 310, e, LONG_MAX),
        ("timer", "a", 10**15, p, LONG_MAX), ("timer", "b", 60, e, LONG_MAX),
        ("timer", "b", 10**15, p, LONG_MAX),
    ]


def test_batch_rolling_reduce_emits_only_final_values(
    strom_env: StreamExecutionEnvironment,
) -> None:
    data = [("a", 1), ("b", 10), ("a", 2), ("a", 3), ("b", 20)]
    streaming, batch = CollectSink(), CollectSink()
    strom_env.from_source(TestingSource(data), WatermarkStrategy.no_watermarks(), "src") \
        .key_by(lambda v: v[0]).reduce(add).sink_to(streaming)
    strom_env.execute()
    strom_env.set_runtime_mode(RuntimeExecutionMode.BATCH)
    strom_env.from_source(TestingSource(data), WatermarkStrategy.no_watermarks(), "src") \
        .key_by(lambda v: v[0]).reduce(add).sink_to(batch)
    strom_env.execute()
    assert sorted(streaming.results) == [("a", 1), ("a", 3), ("a", 6), ("b", 10), ("b", 30)]
    assert sorted(batch.results) == [("a", 6), ("b", 30)]
