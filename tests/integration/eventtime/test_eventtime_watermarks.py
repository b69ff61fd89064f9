"""Watermarks through the runtime: generation at the sources, the minimum over inputs,
idleness, custom generators and ``assign_timestamps_and_watermarks`` (reference §1.4, §5.9).

Jobs that must interleave data and periodic watermarks run in the background: their sources
wait on latches (``TestingSource.AWAIT``) while the test moves the manual clock and waits
until the periodic emits due at the new time ran (the ``advance`` fixture)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from strom.common import Duration, Watermark, WatermarkGenerator, WatermarkStrategy
from strom.common.time import Time
from strom.datastream import (
    KeyedCoProcessFunction,
    KeyedProcessFunction,
    ProcessFunction,
    StreamExecutionEnvironment,
)
from strom.datastream.window import TumblingEventTimeWindows
from strom.testing import CollectSink, TestingSource
from strom.testing.sync import Latch, wait_until

LONG_MIN = -(2**63)
LONG_MAX = 2**63 - 1


class WatermarkProbe(ProcessFunction):
    """Emits (value, watermark the operator had when the value arrived)."""

    def process_element(self, value: Any, ctx: ProcessFunction.Context) -> Iterable[Any]:
        yield value, ctx.timer_service().current_watermark()


class TimerProbe(KeyedProcessFunction):
    """Per record ``(key, ts)``: emits ``("elem", key, ts)`` and registers an event-time timer
    at ``ts``; each timer emits ``("timer", key, ts, watermark when it fired)``."""

    def process_element(self, value: Any, ctx: KeyedProcessFunction.Context) -> Iterable[Any]:
        ctx.timer_service().register_event_time_timer(value[1])
        yield "elem", value[0], value[1]

    def on_timer(self, timestamp: int, ctx: KeyedProcessFunction.OnTimerContext) -> Iterable[Any]:
        yield "timer", ctx.get_current_key(), timestamp, ctx.timer_service().current_watermark()


class CoTimerProbe(KeyedCoProcessFunction):
    """:class:`TimerProbe` for two inputs."""

    def process_element1(self, value: Any, ctx: Any) -> Iterable[Any]:
        ctx.timer_service().register_event_time_timer(value[1])
        yield "elem", value[0], value[1]

    def process_element2(self, value: Any, ctx: Any) -> Iterable[Any]:
        return self.process_element1(value, ctx)

    def on_timer(self, timestamp: int, ctx: Any) -> Iterable[Any]:
        yield "timer", ctx.get_current_key(), timestamp, ctx.timer_service().current_watermark()


class EveryEventWatermarks(WatermarkGenerator):
    """Punctuated: a watermark at each record's timestamp."""

    def on_event(self, event: Any, event_timestamp: int, output: Any) -> None:
        output.emit_watermark(Watermark(event_timestamp))

    def on_periodic_emit(self, output: Any) -> None:
        pass


class MarkerWatermarks(WatermarkGenerator):
    """Punctuated: a watermark at the timestamp of each record whose value is ``"!"``."""

    def on_event(self, event: Any, event_timestamp: int, output: Any) -> None:
        if event == "!":
            output.emit_watermark(Watermark(event_timestamp))

    def on_periodic_emit(self, output: Any) -> None:
        pass


class CountingPeriodicWatermarks(WatermarkGenerator):
    """Periodic: on each periodic emit, the number of records seen so far times 1000."""

    def __init__(self) -> None:
        self.seen = 0

    def on_event(self, event: Any, event_timestamp: int, output: Any) -> None:
        self.seen += 1

    def on_periodic_emit(self, output: Any) -> None:
        output.emit_watermark(Watermark(self.seen * 1000))


def timers(sink: CollectSink) -> list[Any]:
    return sorted(r for r in sink.results if r[0] == "timer")


def elements(sink: CollectSink) -> list[Any]:
    return sorted(r for r in sink.results if r[0] == "elem")


def keyed_pair(ts: int, key: str) -> tuple[tuple[str, int], int]:
    """A timestamped element ``(key, ts)`` of a TestingSource."""
    return (key, ts), ts


# ---------------------------------------------------------------------------- generation


def test_bounded_out_of_orderness_emits_max_minus_bound_minus_one(
    strom_env_manual_clock: StreamExecutionEnvironment, advance: Callable[[int], None],
    jobs: Any,
) -> None:
    env = strom_env_manual_clock
    env.get_config().set_auto_watermark_interval(100)
    l1, l2 = Latch(), Latch()
    data = [("a", 1000), ("b", 3000), TestingSource.AWAIT(l1), ("c", 2600),
            TestingSource.AWAIT(l2), ("d", 4000)]
    sink = CollectSink()
    strategy = WatermarkStrategy.for_bounded_out_of_orderness(Duration.of_millis(500))
    env.from_source(TestingSource(data, timestamped=True), strategy, "src") \
        .process(WatermarkProbe()).sink_to(sink)
    client = jobs.start(env)
    wait_until(lambda: len(sink.results) == 2, what="the first two records")
    assert sink.results == [("a", LONG_MIN), ("b", LONG_MIN)]  # no periodic emit yet

    advance(100)  # 3000 - 500 - 1
    l1.trigger()
    wait_until(lambda: len(sink.results) == 3, what="record c")
    advance(100)  # c (2600) is out of order: the watermark stays
    l2.trigger()
    jobs.finish(client)
    assert sink.results == [("a", LONG_MIN), ("b", LONG_MIN), ("c", 2499), ("d", 2499)]
    assert sink.timestamps == [1000, 3000, 2600, 4000]


def test_monotonous_timestamps_watermark_is_max_minus_one(
    strom_env_manual_clock: StreamExecutionEnvironment, advance: Callable[[int], None],
    jobs: Any,
) -> None:
    env = strom_env_manual_clock
    env.get_config().set_auto_watermark_interval(50)
    latch = Latch()
    data = [("a", 1000), ("b", 1700), TestingSource.AWAIT(latch), ("c", 1800)]
    sink = CollectSink()
    env.from_source(TestingSource(data, timestamped=True),
                    WatermarkStrategy.for_monotonous_timestamps(), "src") \
        .process(WatermarkProbe()).sink_to(sink)
    client = jobs.start(env)
    wait_until(lambda: len(sink.results) == 2, what="the first two records")
    advance(50)
    latch.trigger()
    jobs.finish(client)
    assert sink.results == [("a", LONG_MIN), ("b", LONG_MIN), ("c", 1699)]


def test_end_of_bounded_input_emits_the_max_watermark(
    strom_env: StreamExecutionEnvironment,
) -> None:
    """Even with no watermarks at all, the end of the input fires every event-time timer."""
    sink = CollectSink()
    data = [keyed_pair(10**15, "x"), keyed_pair(5, "y")]
    strom_env.from_source(TestingSource(data, timestamped=True),
                          WatermarkStrategy.no_watermarks(), "src") \
        .key_by(lambda v: v[0]).process(TimerProbe()).sink_to(sink)
    strom_env.execute()
    assert timers(sink) == [("timer", "x", 10**15, LONG_MAX), ("timer", "y", 5, LONG_MAX)]


# ---------------------------------------------------------------------------- several inputs


def _two_sources(env: StreamExecutionEnvironment, latches: list[Latch]) -> tuple[Any, Any]:
    l1, l2, l3 = latches
    a = [keyed_pair(1000, "x"), TestingSource.AWAIT(l1), keyed_pair(3000, "x"),
         TestingSource.AWAIT(l3)]
    b = [keyed_pair(2000, "y"), TestingSource.AWAIT(l2), keyed_pair(4000, "y")]
    strategy = WatermarkStrategy.for_generator(EveryEventWatermarks)
    first = env.from_source(TestingSource(a, timestamped=True), strategy, "a")
    second = env.from_source(TestingSource(b, timestamped=True), strategy, "b")
    return first, second


def _drive_min_watermark(sink: CollectSink, latches: list[Latch], client: Any,
                         jobs: Any) -> None:
    l1, l2, l3 = latches
    x1000 = ("timer", "x", 1000, 1000)
    wait_until(lambda: timers(sink) == [x1000], what="timer x@1000 (watermark min(1000, 2000))")
    assert elements(sink) == [("elem", "x", 1000), ("elem", "y", 2000)]

    l1.trigger()  # a: 3000, b: 2000
    y2000 = ("timer", "y", 2000, 2000)
    wait_until(lambda: len(timers(sink)) == 2, what="timer y@2000")
    assert timers(sink) == [x1000, y2000]

    l2.trigger()  # a: 3000, b: 4000 then ends (MAX)
    x3000 = ("timer", "x", 3000, 3000)
    wait_until(lambda: len(timers(sink)) == 3, what="timer x@3000")
    assert timers(sink) == [x1000, x3000, y2000]

    l3.trigger()  # a ends: MAX
    jobs.finish(client)
    assert timers(sink) == [x1000, x3000, y2000, ("timer", "y", 4000, LONG_MAX)]


def test_union_watermark_is_the_minimum_of_its_inputs(
    strom_env: StreamExecutionEnvironment, jobs: Any
) -> None:
    latches = [Latch(), Latch(), Latch()]
    a, b = _two_sources(strom_env, latches)
    sink = CollectSink()
    a.union(b).key_by(lambda v: v[0]).process(TimerProbe()).sink_to(sink)
    client = jobs.start(strom_env)
    _drive_min_watermark(sink, latches, client, jobs)


def test_connected_streams_watermark_is_the_minimum_of_both_inputs(
    strom_env: StreamExecutionEnvironment, jobs: Any
) -> None:
    latches = [Latch(), Latch(), Latch()]
    a, b = _two_sources(strom_env, latches)
    sink = CollectSink()
    a.connect(b).key_by(lambda v: v[0], lambda v: v[0]).process(CoTimerProbe()).sink_to(sink)
    client = jobs.start(strom_env)
    _drive_min_watermark(sink, latches, client, jobs)


def test_idle_source_does_not_hold_back_the_watermark(
    strom_env_manual_clock: StreamExecutionEnvironment, advance: Callable[[int], None],
    jobs: Any,
) -> None:
    env = strom_env_manual_clock
    env.get_config().set_auto_watermark_interval(100)
    l1, l2, idle_latch = Latch(), Latch(), Latch()
    busy = [keyed_pair(1000, "x"), TestingSource.AWAIT(l1), keyed_pair(5000, "x"),
            TestingSource.AWAIT(l2)]
    quiet = [keyed_pair(500, "y"), TestingSource.AWAIT(idle_latch)]
    a = env.from_source(TestingSource(busy, timestamped=True),
                        WatermarkStrategy.for_monotonous_timestamps(), "busy")
    b = env.from_source(TestingSource(quiet, timestamped=True),
                        WatermarkStrategy.for_monotonous_timestamps()
                        .with_idleness(Duration.of_millis(1000)), "quiet")
    sink = CollectSink()
    a.union(b).key_by(lambda v: v[0]).process(TimerProbe()).sink_to(sink)
    client = jobs.start(env)
    wait_until(lambda: len(elements(sink)) == 2, what="the first records of both sources")

    advance(100)  # busy: 999, quiet: 499 (records since the last check: active)
    l1.trigger()
    wait_until(lambda: len(elements(sink)) == 3, what="record x@5000")
    advance(1100)  # t=1200 busy: 4999, quiet: no records since t=100, the idle clock starts
    assert timers(sink) == []
    advance(1100)  # t=2300: quiet has had no records for 1100 ms > 1000 ms: idle
    wait_until(lambda: len(timers(sink)) == 2, what="the timers the idle source held back")
    assert timers(sink) == [("timer", "x", 1000, 4999), ("timer", "y", 500, 4999)]

    l2.trigger()
    idle_latch.trigger()
    jobs.finish(client)
    assert timers(sink) == [("timer", "x", 1000, 4999), ("timer", "x", 5000, LONG_MAX),
                            ("timer", "y", 500, 4999)]


def test_a_finished_split_does_not_hold_back_the_watermark(
    strom_env_manual_clock: StreamExecutionEnvironment, advance: Callable[[int], None],
    jobs: Any,
) -> None:
    """Two splits read by one reader: once the first is read to its end only the second one
    decides the watermark (Flink releases a finished split's output)."""
    env = strom_env_manual_clock
    env.get_config().set_auto_watermark_interval(100)
    latch = Latch()
    # dealt round-robin: split 0 = [a, PAUSE, PAUSE], split 1 = [b, AWAIT, c]
    data = [("a", 1000), ("b", 2000), TestingSource.PAUSE, TestingSource.AWAIT(latch),
            TestingSource.PAUSE, ("c", 5000)]
    sink = CollectSink()
    env.from_source(TestingSource(data, splits=2, timestamped=True),
                    WatermarkStrategy.for_monotonous_timestamps(), "src") \
        .set_parallelism(1).process(WatermarkProbe()).set_parallelism(1).sink_to(sink)
    client = jobs.start(env)
    wait_until(lambda: len(sink.results) == 2, what="records a and b")
    advance(100)
    latch.trigger()
    jobs.finish(client)
    assert sorted(sink.results) == [("a", LONG_MIN), ("b", LONG_MIN), ("c", 1999)]


# ---------------------------------------------------------------------------- custom generators


def test_punctuated_generator_watermark_follows_its_record(
    strom_env: StreamExecutionEnvironment,
) -> None:
    """A watermark emitted in ``on_event`` goes downstream right after that record: records
    before it in the same batch do not see it, records after it do."""
    data = [("a", 1000), ("!", 2000), ("b", 1500), ("c", 2500), ("!", 3000), ("d", 2800)]
    sink = CollectSink()
    strom_env.from_source(TestingSource(data, timestamped=True),
                          WatermarkStrategy.for_generator(MarkerWatermarks), "src") \
        .process(WatermarkProbe()).sink_to(sink)
    strom_env.execute()
    assert sink.results == [("a", LONG_MIN), ("!", LONG_MIN), ("b", 2000), ("c", 2000),
                            ("!", 2000), ("d", 3000)]


def test_punctuated_generator_with_idleness_keeps_record_order(
    strom_env: StreamExecutionEnvironment,
) -> None:
    data = [("a", 1000), ("!", 2000), ("b", 1500)]
    sink = CollectSink()
    strategy = WatermarkStrategy.for_generator(MarkerWatermarks) \
        .with_idleness(Duration.of_seconds(60))
    strom_env.from_source(TestingSource(data, timestamped=True), strategy, "src") \
        .process(WatermarkProbe()).sink_to(sink)
    strom_env.execute()
    assert sink.results == [("a", LONG_MIN), ("!", LONG_MIN), ("b", 2000)]


def test_custom_periodic_generator_emits_only_on_the_clock(
    strom_env_manual_clock: StreamExecutionEnvironment, advance: Callable[[int], None],
    jobs: Any,
) -> None:
    env = strom_env_manual_clock
    env.get_config().set_auto_watermark_interval(100)
    l1, l2 = Latch(), Latch()
    data = [("a", 1), ("b", 2), TestingSource.AWAIT(l1), ("c", 3), TestingSource.AWAIT(l2),
            ("d", 4)]
    sink = CollectSink()
    env.from_source(TestingSource(data, timestamped=True),
                    WatermarkStrategy.for_generator(lambda: CountingPeriodicWatermarks()), "src") \
        .process(WatermarkProbe()).sink_to(sink)
    client = jobs.start(env)
    wait_until(lambda: len(sink.results) == 2, what="records a and b")
    advance(100)
    l1.trigger()
    wait_until(lambda: len(sink.results) == 3, what="record c")
    advance(99)  # not yet the next interval
    l2.trigger()
    jobs.finish(client)
    assert sink.results == [("a", LONG_MIN), ("b", LONG_MIN), ("c", 2000), ("d", 2000)]


# ---------------------------------------------------------------------------- mid-stream


def test_assign_timestamps_and_watermarks_mid_stream(
    strom_env: StreamExecutionEnvironment,
) -> None:
    """Records without timestamps get them mid-stream; windows use them."""
    data = [("a", 1000), ("b", 1500), ("a", 2500), ("a", 1999), ("b", 4000)]
    sink = CollectSink()
    (strom_env.from_source(TestingSource(data), WatermarkStrategy.no_watermarks(), "src")
        .map(lambda v: (v[0], v[1], 1))
        .assign_timestamps_and_watermarks(
            WatermarkStrategy.for_bounded_out_of_orderness(Duration.of_seconds(1))
            .with_timestamp_assigner(lambda v, ts: v[1]))
        .key_by(lambda v: v[0])
        .window(TumblingEventTimeWindows.of(Time.seconds(1)))
        .reduce(lambda x, y: (x[0], max(x[1], y[1]), x[2] + y[2]))
        .sink_to(sink))
    strom_env.execute()
    assert sorted(zip(sink.results, sink.timestamps)) == [
        (("a", 1999, 2), 1999), (("a", 2500, 1), 2999), (("b", 1500, 1), 1999),
        (("b", 4000, 1), 4999),
    ]


def test_assign_timestamps_and_watermarks_replaces_upstream_watermarks(
    strom_env_manual_clock: StreamExecutionEnvironment, advance: Callable[[int], None],
    jobs: Any,
) -> None:
    """The source's own watermarks (from the record timestamps, 10x larger) never reach the
    operators after ``assign_timestamps_and_watermarks``; only the new strategy's do."""
    env = strom_env_manual_clock
    env.get_config().set_auto_watermark_interval(100)
    latch = Latch()
    data = [(("a", 100), 1000), (("b", 300), 3000), TestingSource.AWAIT(latch),
            (("c", 200), 2000)]
    sink = CollectSink()
    (env.from_source(TestingSource(data, timestamped=True),
                     WatermarkStrategy.for_monotonous_timestamps(), "src")
        .assign_timestamps_and_watermarks(
            WatermarkStrategy.for_monotonous_timestamps()
            .with_timestamp_assigner(lambda v, ts: v[1]))
        .process(WatermarkProbe())
        .sink_to(sink))
    client = jobs.start(env)
    wait_until(lambda: len(sink.results) == 2, what="records a and b")
    advance(100)
    latch.trigger()
    jobs.finish(client)
    assert sink.results == [(("a", 100), LONG_MIN), (("b", 300), LONG_MIN), (("c", 200), 299)]
    assert sink.timestamps == [100, 300, 200]
