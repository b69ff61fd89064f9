"""Timers of KeyedProcessFunction and KeyedCoProcessFunction through the runtime: event time
(order, deduplication, deletion, the on-timer context), processing time on the manual clock,
and side outputs (reference §1.5, §5.11)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from strom.common import WatermarkStrategy
from strom.datastream import (
    KeyedCoProcessFunction,
    KeyedProcessFunction,
    OutputTag,
    StreamExecutionEnvironment,
    TimeDomain,
)
from strom.testing import CollectSink, TestingSource
from strom.testing.sync import Latch, wait_until

LONG_MAX = 2**63 - 1


class EventTimers(KeyedProcessFunction):
    """Values are ``(key, command, t)``: ``"reg"`` registers an event-time timer at ``t``,
    ``"del"`` deletes it, ``"chain"`` registers ``t`` and each firing registers the next ms
    until three fired. Each firing emits ``(key, timestamp, ctx.timestamp(), domain,
    watermark >= timestamp)``."""

    def process_element(self, value: Any, ctx: KeyedProcessFunction.Context) -> None:
        _, command, t = value
        if command == "del":
            ctx.timer_service().delete_event_time_timer(t)
        else:
            ctx.timer_service().register_event_time_timer(t)

    def on_timer(self, timestamp: int, ctx: KeyedProcessFunction.OnTimerContext) -> Iterable[Any]:
        key = ctx.get_current_key()
        if key == "chain" and timestamp < 7002:
            ctx.timer_service().register_event_time_timer(timestamp + 1)
        yield (key, timestamp, ctx.timestamp(), ctx.time_domain(),
               ctx.timer_service().current_watermark() >= timestamp)


def test_event_time_timers_fire_in_order_deduplicated_and_deletable(
    strom_env: StreamExecutionEnvironment,
) -> None:
    data = [
        (("a", "reg", 3000), 100), (("a", "reg", 1000), 200), (("a", "reg", 3000), 300),
        (("a", "reg", 2000), 400), (("b", "reg", 1000), 500), (("b", "reg", 5000), 600),
        (("b", "del", 5000), 700), (("b", "del", 9999), 800), (("c", "reg", 1000), 900),
        (("chain", "reg", 7000), 1000),
    ]
    sink = CollectSink()
    strom_env.from_source(TestingSource(data, timestamped=True),
                          WatermarkStrategy.for_monotonous_timestamps(), "src") \
        .key_by(lambda v: v[0]).process(EventTimers()).sink_to(sink)
    strom_env.execute()

    def fired(key: str) -> list[Any]:
        return [(r, ts) for r, ts in zip(sink.results, sink.timestamps) if r[0] == key]

    e = TimeDomain.EVENT_TIME
    assert fired("a") == [(("a", 1000, 1000, e, True), 1000), (("a", 2000, 2000, e, True), 2000),
                          (("a", 3000, 3000, e, True), 3000)]
    assert fired("b") == [(("b", 1000, 1000, e, True), 1000)]
    assert fired("c") == [(("c", 1000, 1000, e, True), 1000)]
    assert fired("chain") == [(("chain", t, t, e, True), t) for t in (7000, 7001, 7002)]
    assert len(sink.results) == 8


class ProcessingTimers(KeyedProcessFunction):
    """``(key, delay)`` registers a processing-time timer ``delay`` ms from now (a negative
    delay deletes the one at ``now - delay``)."""

    def process_element(self, value: Any, ctx: KeyedProcessFunction.Context) -> Iterable[Any]:
        now = ctx.timer_service().current_processing_time()
        key, delay = value
        if delay < 0:
            ctx.timer_service().delete_processing_time_timer(now - delay)
        else:
            ctx.timer_service().register_processing_time_timer(now + delay)
        yield "seen", key, now

    def on_timer(self, timestamp: int, ctx: KeyedProcessFunction.OnTimerContext) -> Iterable[Any]:
        yield ("fired", ctx.get_current_key(), timestamp, ctx.time_domain(),
               ctx.timer_service().current_processing_time())


def test_processing_time_timers_fire_when_the_clock_moves(
    strom_env_manual_clock: StreamExecutionEnvironment, advance: Callable[[int], None],
    jobs: Any,
) -> None:
    env = strom_env_manual_clock
    latch = Latch()
    data = [("a", 1000), ("b", 1500), ("a", 1000), ("c", 1200), ("c", -1200),
            TestingSource.AWAIT(latch)]
    sink = CollectSink()
    env.from_source(TestingSource(data), WatermarkStrategy.no_watermarks(), "src") \
        .key_by(lambda v: v[0]).process(ProcessingTimers()).sink_to(sink)
    client = jobs.start(env)

    def fired() -> list[Any]:
        return sorted(r for r in sink.results if r[0] == "fired")

    wait_until(lambda: len(sink.results) == 5, what="all records seen")
    advance(999)
    assert fired() == []
    advance(1)
    p = TimeDomain.PROCESSING_TIME
    wait_until(lambda: len(fired()) == 1, what="timer a@1000")
    assert fired() == [("fired", "a", 1000, p, 1000)]
    advance(1000)  # c's timer at 1200 was deleted
    wait_until(lambda: len(fired()) == 2, what="timer b@1500")
    assert fired() == [("fired", "a", 1000, p, 1000), ("fired", "b", 1500, p, 2000)]
    latch.trigger()
    jobs.finish(client)
    assert len(fired()) == 2
    assert all(ts is None for r, ts in zip(sink.results, sink.timestamps) if r[0] == "fired")


class TimestampInProcessingTimer(KeyedProcessFunction):
    def process_element(self, value: Any, ctx: KeyedProcessFunction.Context) -> Iterable[Any]:
        ctx.timer_service().register_processing_time_timer(500)
        yield "seen"

    def on_timer(self, timestamp: int, ctx: KeyedProcessFunction.OnTimerContext) -> Iterable[Any]:
        yield ctx.timestamp()


def test_on_timer_context_timestamp_of_a_processing_time_timer(
    strom_env_manual_clock: StreamExecutionEnvironment, advance: Callable[[int], None],
    jobs: Any,
) -> None:
    env = strom_env_manual_clock
    latch = Latch()
    sink = CollectSink()
    env.from_source(TestingSource(["k", TestingSource.AWAIT(latch)]),
                    WatermarkStrategy.no_watermarks(), "src") \
        .key_by(lambda v: v).process(TimestampInProcessingTimer()).sink_to(sink)
    client = jobs.start(env)
    wait_until(lambda: len(sink.results) == 1, what="the record")
    advance(500)
    wait_until(lambda: len(sink.results) == 2, what="the processing-time timer")
    latch.trigger()
    jobs.finish(client)
    assert sink.results == ["seen", 500]


class SideOutputs(KeyedProcessFunction):
    LATE = OutputTag("late")
    TIMERS = OutputTag("timers")

    def process_element(self, value: Any, ctx: KeyedProcessFunction.Context) -> Iterable[Any]:
        key, t = value
        if t < 0:
            yield self.LATE, (key, t)
            return
        ctx.timer_service().register_event_time_timer(t)
        yield key, t

    def on_timer(self, timestamp: int, ctx: KeyedProcessFunction.OnTimerContext) -> Iterable[Any]:
        yield "fired", ctx.get_current_key(), timestamp
        yield self.TIMERS, (ctx.get_current_key(), timestamp)


def test_side_outputs_from_process_element_and_on_timer(
    strom_env: StreamExecutionEnvironment,
) -> None:
    data = [(("a", 10), 10), (("b", -1), 11), (("b", 20), 20), (("a", -2), 21)]
    main, late, fired = CollectSink(), CollectSink(), CollectSink()
    stream = strom_env.from_source(TestingSource(data, timestamped=True),
                                   WatermarkStrategy.for_monotonous_timestamps(), "src") \
        .key_by(lambda v: v[0]).process(SideOutputs())
    stream.sink_to(main)
    stream.get_side_output(SideOutputs.LATE).sink_to(late)
    stream.get_side_output(SideOutputs.TIMERS).sink_to(fired)
    strom_env.execute()
    assert sorted(zip(main.results, main.timestamps)) == [
        (("a", 10), 10), (("b", 20), 20), (("fired", "a", 10), 10), (("fired", "b", 20), 20)]
    assert sorted(zip(late.results, late.timestamps)) == [(("a", -2), 21), (("b", -1), 11)]
    assert sorted(zip(fired.results, fired.timestamps)) == [(("a", 10), 10), (("b", 20), 20)]


class CoTimers(KeyedCoProcessFunction):
    """Input 1 registers event-time timers, input 2 processing-time timers (100 ms on)."""

    def process_element1(self, value: Any, ctx: Any) -> None:
        ctx.timer_service().register_event_time_timer(value[1])

    def process_element2(self, value: Any, ctx: Any) -> Iterable[Any]:
        ctx.timer_service().register_processing_time_timer(
            ctx.timer_service().current_processing_time() + 100)
        yield "tick", value[0], None

    def on_timer(self, timestamp: int, ctx: Any) -> Iterable[Any]:
        yield ctx.get_current_key(), timestamp, ctx.time_domain()


def test_keyed_co_process_function_timers_in_both_domains(
    strom_env_manual_clock: StreamExecutionEnvironment, advance: Callable[[int], None],
    jobs: Any,
) -> None:
    env = strom_env_manual_clock
    latch = Latch()
    events = env.from_source(
        TestingSource([(("a", 50), 50), (("b", 70), 70)], timestamped=True),
        WatermarkStrategy.for_monotonous_timestamps(), "events")
    ticks = env.from_source(TestingSource([("a", 0), ("c", 0), TestingSource.AWAIT(latch)]),
                            WatermarkStrategy.no_watermarks(), "ticks")
    sink = CollectSink()
    events.connect(ticks).key_by(lambda v: v[0], lambda v: v[0]) \
        .process(CoTimers()).sink_to(sink)
    client = jobs.start(env)

    def fired() -> list[Any]:
        return sorted(r for r in sink.results if r[0] != "tick")

    wait_until(lambda: len(sink.results) == 2, what="both ticks")
    advance(100)
    p, e = TimeDomain.PROCESSING_TIME, TimeDomain.EVENT_TIME
    wait_until(lambda: len(fired()) == 2, what="both processing-time timers")
    assert fired() == [("a", 100, p), ("c", 100, p)]  # the ticks input holds the watermark
    latch.trigger()
    jobs.finish(client)
    assert fired() == [("a", 50, e), ("a", 100, p), ("b", 70, e), ("c", 100, p)]
