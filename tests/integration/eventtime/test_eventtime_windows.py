"""Windows through the runtime: event-time, processing-time, count and global windows, their
triggers, allowed lateness and late data, and every kind of window function (reference §1.6,
§5.10). The pure window logic has unit tests in tests/unit/window; these run real jobs.

Mid-stream watermarks come from a punctuated generator (a watermark at every record's
timestamp), so they are deterministic without any clock."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from strom.common import Watermark, WatermarkGenerator, WatermarkStrategy
from strom.common.time import Time
from strom.datastream import (
    AggregateFunction,
    AllWindowFunction,
    OutputTag,
    ProcessAllWindowFunction,
    ProcessWindowFunction,
    StreamExecutionEnvironment,
    WindowFunction,
)
from strom.datastream.window import (
    ContinuousEventTimeTrigger,
    CountTrigger,
    EventTimeSessionWindows,
    GlobalWindows,
    PurgingTrigger,
    SlidingEventTimeWindows,
    TumblingEventTimeWindows,
    TumblingProcessingTimeWindows,
)
from strom.state.key_groups import (
    assign_to_key_group,
    compute_default_max_parallelism,
    compute_operator_index_for_key_group,
)
from strom.testing import CollectSink, TestingSource
from strom.testing.cluster import processing_time_deadlines
from strom.testing.sync import Latch, wait_until

LONG_MAX = 2**63 - 1


class EveryEventWatermarks(WatermarkGenerator):
    """Punctuated: a watermark at each record's timestamp."""

    def on_event(self, event: Any, event_timestamp: int, output: Any) -> None:
        output.emit_watermark(Watermark(event_timestamp))

    def on_periodic_emit(self, output: Any) -> None:
        pass


PUNCTUATED = WatermarkStrategy.for_generator(EveryEventWatermarks)


def source(env: StreamExecutionEnvironment, data: list[tuple[str, int, int]],
           strategy: WatermarkStrategy = PUNCTUATED) -> Any:
    """``(key, value, timestamp)`` triples as a stream of ``(key, value)`` with timestamps.

    One source subtask: a second one would have no split and hold the watermark back until it
    ends, which makes mid-stream firings depend on timing (as in Flink)."""
    elements = [((k, v), ts) for k, v, ts in data]
    return env.from_source(TestingSource(elements, timestamped=True), strategy, "src") \
        .set_parallelism(1)


def add(a: tuple[str, int], b: tuple[str, int]) -> tuple[str, int]:
    return a[0], a[1] + b[1]


def collected(sink: CollectSink) -> list[tuple[Any, int | None]]:
    return sorted(zip(sink.results, sink.timestamps))


class WithWindow(ProcessWindowFunction):
    """Emits ``(key, window start, window end, sorted values)``."""

    def process(self, key: Any, context: ProcessWindowFunction.Context,
                elements: Iterable[Any]) -> Iterable[Any]:
        w = context.window()
        yield key, w.start, w.end, sorted(v for _, v in elements)


class Average(AggregateFunction):
    def create_accumulator(self) -> tuple[int, int]:
        return 0, 0

    def add(self, value: tuple[str, int], accumulator: tuple[int, int]) -> tuple[int, int]:
        return accumulator[0] + value[1], accumulator[1] + 1

    def get_result(self, accumulator: tuple[int, int]) -> float:
        return accumulator[0] / accumulator[1]

    def merge(self, a: tuple[int, int], b: tuple[int, int]) -> tuple[int, int]:
        return a[0] + b[0], a[1] + b[1]


class KeyAndWindowEnd(ProcessWindowFunction):
    """Wraps an incremental result: ``(key, window end, result)``."""

    def process(self, key: Any, context: ProcessWindowFunction.Context,
                elements: Iterable[Any]) -> Iterable[Any]:
        (result,) = list(elements)
        yield key, context.window().end, result


DATA = [("a", 1, 100), ("b", 10, 200), ("a", 2, 900), ("a", 3, 1100), ("b", 20, 1500),
        ("a", 4, 2500)]


# ---------------------------------------------------------------------------- event time


def test_tumbling_reduce_outputs_carry_the_window_max_timestamp(
    strom_env: StreamExecutionEnvironment,
) -> None:
    sink = CollectSink()
    source(strom_env, DATA).key_by(lambda v: v[0]) \
        .window(TumblingEventTimeWindows.of(Time.seconds(1))).reduce(add).sink_to(sink)
    strom_env.execute()
    assert collected(sink) == [(("a", 3), 999), (("a", 3), 1999), (("a", 4), 2999),
                               (("b", 10), 999), (("b", 20), 1999)]


def test_tumbling_reduce_with_process_window_function(
    strom_env: StreamExecutionEnvironment,
) -> None:
    sink = CollectSink()
    source(strom_env, DATA).key_by(lambda v: v[0]) \
        .window(TumblingEventTimeWindows.of(Time.seconds(1))) \
        .reduce(add, KeyAndWindowEnd()).sink_to(sink)
    strom_env.execute()
    assert collected(sink) == [(("a", 1000, ("a", 3)), 999), (("a", 2000, ("a", 3)), 1999),
                               (("a", 3000, ("a", 4)), 2999), (("b", 1000, ("b", 10)), 999),
                               (("b", 2000, ("b", 20)), 1999)]


def test_sliding_aggregate_with_and_without_process_window_function(
    strom_env: StreamExecutionEnvironment,
) -> None:
    plain, wrapped = CollectSink(), CollectSink()
    windowed = source(strom_env, DATA).key_by(lambda v: v[0]) \
        .window(SlidingEventTimeWindows.of(Time.seconds(2), Time.seconds(1)))
    windowed.aggregate(Average()).sink_to(plain)
    source(strom_env, DATA).key_by(lambda v: v[0]) \
        .window(SlidingEventTimeWindows.of(Time.seconds(2), Time.seconds(1))) \
        .aggregate(Average(), KeyAndWindowEnd()).sink_to(wrapped)
    strom_env.execute()
    # a: [-1000,1000) {1,2}, [0,2000) {1,2,3}, [1000,3000) {3,4}, [2000,4000) {4}
    # b: [-1000,1000) {10}, [0,2000) {10,20}, [1000,3000) {20}
    assert collected(plain) == [(1.5, 999), (2.0, 1999), (3.5, 2999), (4.0, 3999),
                                (10.0, 999), (15.0, 1999), (20.0, 2999)]
    assert collected(wrapped) == [
        (("a", 1000, 1.5), 999), (("a", 2000, 2.0), 1999), (("a", 3000, 3.5), 2999),
        (("a", 4000, 4.0), 3999), (("b", 1000, 10.0), 999), (("b", 2000, 15.0), 1999),
        (("b", 3000, 20.0), 2999)]


def test_session_windows_with_static_gap(strom_env: StreamExecutionEnvironment) -> None:
    data = [("a", 1, 0), ("a", 2, 400), ("b", 7, 450), ("a", 3, 1500), ("a", 4, 1000),
            ("b", 8, 3000)]
    sink = CollectSink()
    source(strom_env, data).key_by(lambda v: v[0]) \
        .window(EventTimeSessionWindows.with_gap(Time.milliseconds(500))) \
        .process(WithWindow()).sink_to(sink)
    strom_env.execute()
    # a@1000 arrives after the watermark passed 900 (the end of [0, 900)): that session has
    # fired already, so a@1000 and a@1500 make a new session [1000, 2000)
    assert collected(sink) == [(("a", 0, 900, [1, 2]), 899), (("a", 1000, 2000, [3, 4]), 1999),
                               (("b", 450, 950, [7]), 949), (("b", 3000, 3500, [8]), 3499)]


def test_session_windows_with_dynamic_gap(strom_env: StreamExecutionEnvironment) -> None:
    # the gap of each record is its value
    data = [("a", 200, 0), ("a", 1000, 150), ("a", 50, 1100), ("a", 10, 5000)]
    sink = CollectSink()
    source(strom_env, data, WatermarkStrategy.for_monotonous_timestamps()) \
        .key_by(lambda v: v[0]) \
        .window(EventTimeSessionWindows.with_dynamic_gap(lambda v: v[1])) \
        .process(WithWindow()).sink_to(sink)
    strom_env.execute()
    assert collected(sink) == [(("a", 0, 1150, [50, 200, 1000]), 1149),
                               (("a", 5000, 5010, [10]), 5009)]


def test_apply_window_function(strom_env: StreamExecutionEnvironment) -> None:
    class Count(WindowFunction):
        def apply(self, key: Any, window: Any, inputs: Iterable[Any]) -> Iterable[Any]:
            yield key, window.start, len(list(inputs))

    sink = CollectSink()
    source(strom_env, DATA).key_by(lambda v: v[0]) \
        .window(TumblingEventTimeWindows.of(Time.seconds(2))).apply(Count()).sink_to(sink)
    strom_env.execute()
    assert collected(sink) == [(("a", 0, 3), 1999), (("a", 2000, 1), 3999),
                               (("b", 0, 2), 1999)]


def test_continuous_event_time_trigger_fires_as_the_watermark_passes_each_interval(
    strom_env: StreamExecutionEnvironment,
) -> None:
    data = [("a", 1, 500), ("a", 2, 2500), ("a", 3, 4100), ("a", 4, 9000)]
    sink = CollectSink()
    source(strom_env, data).key_by(lambda v: v[0]) \
        .window(TumblingEventTimeWindows.of(Time.seconds(10))) \
        .trigger(ContinuousEventTimeTrigger.of(Time.seconds(2))) \
        .reduce(add).sink_to(sink)
    strom_env.execute()
    # fires at watermark 2000 (after a@2500 arrived), 4000, 6000 and 8000 (both passed by
    # the watermark 9000) and at the window's end
    assert sink.results == [("a", 3), ("a", 6), ("a", 10), ("a", 10), ("a", 10)]
    assert sink.timestamps == [9999] * 5


def test_allowed_lateness_fires_late_and_sends_too_late_data_to_the_side_output(
    strom_env: StreamExecutionEnvironment,
) -> None:
    late = OutputTag("late")
    data = [("a", 1, 100), ("a", 2, 1200), ("a", 3, 300), ("a", 4, 1600), ("a", 5, 200)]
    main, side = CollectSink(), CollectSink()
    windowed = source(strom_env, data).key_by(lambda v: v[0]) \
        .window(TumblingEventTimeWindows.of(Time.seconds(1))) \
        .allowed_lateness(500).side_output_late_data(late).reduce(add)
    windowed.sink_to(main)
    windowed.get_side_output(late).sink_to(side)
    strom_env.execute()
    # a@300 arrives at watermark 1200 < 999 + 500: the window fires again with it; a@200
    # arrives at watermark 1600 >= 999 + 500: the window is gone, a@200 goes to the side
    assert list(zip(main.results, main.timestamps)) == [(("a", 1), 999), (("a", 4), 999),
                                                        (("a", 6), 1999)]
    assert list(zip(side.results, side.timestamps)) == [(("a", 5), 200)]


def test_late_data_is_dropped_without_a_side_output(strom_env: StreamExecutionEnvironment) -> None:
    data = [("a", 1, 100), ("a", 2, 1200), ("a", 3, 300)]
    sink = CollectSink()
    source(strom_env, data).key_by(lambda v: v[0]) \
        .window(TumblingEventTimeWindows.of(Time.seconds(1))).reduce(add).sink_to(sink)
    strom_env.execute()
    assert collected(sink) == [(("a", 1), 999), (("a", 2), 1999)]


def test_window_all_reduce_and_process(strom_env: StreamExecutionEnvironment) -> None:
    class Describe(ProcessAllWindowFunction):
        def process(self, context: Any, elements: Iterable[Any]) -> Iterable[Any]:
            yield context.window().start, sorted(v for _, v in elements)

    class Total(AllWindowFunction):
        def apply(self, window: Any, inputs: Iterable[Any]) -> Iterable[Any]:
            yield window.end, sum(v for _, v in inputs)

    reduced, processed, applied = CollectSink(), CollectSink(), CollectSink()
    stream = source(strom_env, DATA)
    stream.window_all(TumblingEventTimeWindows.of(Time.seconds(1))) \
        .reduce(lambda a, b: ("all", a[1] + b[1])).sink_to(reduced)
    stream.window_all(TumblingEventTimeWindows.of(Time.seconds(1))) \
        .process(Describe()).sink_to(processed)
    stream.window_all(TumblingEventTimeWindows.of(Time.seconds(2))) \
        .apply(Total()).sink_to(applied)
    strom_env.execute()
    assert collected(reduced) == [(("a", 4), 2999), (("all", 13), 999), (("all", 23), 1999)]
    assert collected(processed) == [((0, [1, 2, 10]), 999), ((1000, [3, 20]), 1999),
                                    ((2000, [4]), 2999)]
    assert collected(applied) == [((2000, 36), 1999), ((4000, 4), 3999)]


# ---------------------------------------------------------------------------- count and global


def test_count_tumbling_windows_fire_only_when_full(strom_env: StreamExecutionEnvironment) -> None:
    data = [("a", v, v) for v in range(1, 8)] + [("b", 10, 1), ("b", 20, 2)]
    sink = CollectSink()
    source(strom_env, data).key_by(lambda v: v[0]).count_window(3).reduce(add).sink_to(sink)
    strom_env.execute()
    assert collected(sink) == [(("a", 6), LONG_MAX), (("a", 15), LONG_MAX)]


def test_count_sliding_windows(strom_env: StreamExecutionEnvironment) -> None:
    data = [("a", v, v) for v in range(1, 8)]
    sink = CollectSink()
    source(strom_env, data).key_by(lambda v: v[0]).count_window(3, 2).reduce(add).sink_to(sink)
    strom_env.execute()
    # windows of 3 records starting every 2nd record: {1,2,3}, {3,4,5}, {5,6,7}; {7} never fills
    assert sorted(sink.results) == [("a", 6), ("a", 12), ("a", 18)]


def test_global_windows_with_a_purging_count_trigger(
    strom_env: StreamExecutionEnvironment,
) -> None:
    data = [("a", v, v) for v in range(1, 6)]
    purged, kept = CollectSink(), CollectSink()
    keyed = source(strom_env, data).key_by(lambda v: v[0])
    keyed.window(GlobalWindows.create()).trigger(PurgingTrigger.of(CountTrigger.of(2))) \
        .reduce(add).sink_to(purged)
    source(strom_env, data).key_by(lambda v: v[0]).window(GlobalWindows.create()) \
        .trigger(CountTrigger.of(2)).reduce(add).sink_to(kept)
    strom_env.execute()
    assert purged.results == [("a", 3), ("a", 7)]
    assert kept.results == [("a", 3), ("a", 10)]
    assert purged.timestamps == [LONG_MAX, LONG_MAX]


# ---------------------------------------------------------------------------- processing time


def owners(keys: set[str], parallelism: int) -> int:
    """How many subtasks of a keyed operator with ``parallelism`` hold ``keys``."""
    max_parallelism = compute_default_max_parallelism(parallelism)
    return len({compute_operator_index_for_key_group(
        max_parallelism, parallelism, assign_to_key_group(k, max_parallelism)) for k in keys})


def test_processing_time_tumbling_windows_on_the_manual_clock(
    strom_env_manual_clock: StreamExecutionEnvironment, advance: Callable[[int], None],
    jobs: Any, strom_parallelism: int,
) -> None:
    env = strom_env_manual_clock
    l1, l2 = Latch(), Latch()
    data = [("a", 1), ("b", 2), ("a", 3), TestingSource.AWAIT(l1), ("a", 4),
            TestingSource.AWAIT(l2), ("a", 5)]
    sink = CollectSink()
    env.from_source(TestingSource(data), WatermarkStrategy.no_watermarks(), "src") \
        .key_by(lambda v: v[0]).window(TumblingProcessingTimeWindows.of(Time.seconds(1))) \
        .process(WithWindow()).sink_to(sink)
    client = jobs.start(env)
    # the records before a latch reach each window subtask as one batch: once a subtask has
    # registered the window's timer, it has all of them
    subtasks = owners({"a", "b"}, strom_parallelism)
    wait_until(lambda: processing_time_deadlines().count(999) == subtasks,
               what="the windows [0, 1000)")
    advance(1000)
    wait_until(lambda: len(sink.results) == 2, what="the windows [0, 1000)")
    l1.trigger()
    wait_until(lambda: 1999 in processing_time_deadlines(), what="the window [1000, 2000)")
    advance(1000)
    wait_until(lambda: len(sink.results) == 3, what="the window [1000, 2000)")
    # a@5 is in the window [2000, 3000), which is still open when the input ends: in
    # STREAMING mode processing-time windows do not fire at the end of the input
    l2.trigger()
    jobs.finish(client)
    assert collected(sink) == [(("a", 0, 1000, [1, 3]), 999), (("a", 1000, 2000, [4]), 1999),
                               (("b", 0, 1000, [2]), 999)]
