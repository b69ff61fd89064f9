"""The fast event-time window path gives exactly the general window operator's results.

Random out-of-order input with a punctuated watermark (deterministic), tumbling and sliding
windows, reduce and aggregate, alone or with a ProcessWindowFunction, a WindowFunction or (on
``window_all``) a ProcessAllWindowFunction, with and without allowed lateness and a late-data
side output. Three runs must agree: the fast path, the general window operator (its batch
loop for the built-in EventTimeTrigger) and the general operator element by element (a
trigger that behaves as EventTimeTrigger but is another type).
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from strom.common import Time, Types, WatermarkStrategy
from strom.common.watermark_strategy import Watermark, WatermarkGenerator
from strom.datastream import (
    AggregateFunction,
    OutputTag,
    ProcessAllWindowFunction,
    ProcessWindowFunction,
    StreamExecutionEnvironment,
    WindowFunction,
)
from strom.datastream.state import ValueStateDescriptor
from strom.datastream.window import (
    EventTimeTrigger,
    SlidingEventTimeWindows,
    TumblingEventTimeWindows,
)
from strom.runtime.operators import fast_window
from strom.testing import CollectSink, TestingSource


class EveryEvent(WatermarkGenerator):
    """Watermark after every element: max timestamp seen - 20 - 1."""

    def __init__(self) -> None:
        self.max_ts = -(2**63) + 21

    def on_event(self, event: Any, event_timestamp: int, output: Any) -> None:
        self.max_ts = max(self.max_ts, event_timestamp)
        output.emit_watermark(Watermark(self.max_ts - 20 - 1))

    def on_periodic_emit(self, output: Any) -> None:
        pass


class Average(AggregateFunction):
    def create_accumulator(self) -> list[int]:
        return [0, 0]

    def add(self, value: tuple[str, int, int], acc: list[int]) -> list[int]:
        return [acc[0] + value[2], acc[1] + 1]

    def get_result(self, acc: list[int]) -> tuple[int, int]:
        return (acc[0], acc[1])

    def merge(self, a: list[int], b: list[int]) -> list[int]:
        return [a[0] + b[0], a[1] + b[1]]


FIRES = ValueStateDescriptor("fires", Types.INT())
FIRED = OutputTag("fired")
CLEARED: list[tuple[int, int]] = []  # (window start, fires) per clear() call


class Describe(ProcessWindowFunction):
    """Reads everything its context offers that does not depend on the wall clock; counts its
    fires per (key, window) in window state and reports each fire on a side output."""

    def process(self, key: str, context: ProcessWindowFunction.Context,
                elements: Any) -> Any:
        window = context.window()
        fires = context.window_state().get_state(FIRES)
        count = (fires.value() or 0) + 1
        fires.update(count)
        yield FIRED, (key, window.start, count)  # a side output between main outputs
        for element in elements:
            yield (key, window.start, window.end, context.current_watermark(), count, element)

    def clear(self, context: ProcessWindowFunction.Context) -> None:
        fires = context.window_state().get_state(FIRES)
        CLEARED.append((context.window().start, fires.value()))
        fires.clear()


class Listing(WindowFunction):
    def apply(self, key: str, window: Any, inputs: Any) -> Any:
        return [(key, window.start, list(inputs))]


class DescribeAll(ProcessAllWindowFunction):
    def process(self, context: ProcessAllWindowFunction.Context, elements: Any) -> Any:
        window = context.window()
        return [(window.start, context.current_watermark(), list(elements))]


class PerElementEventTimeTrigger(EventTimeTrigger):
    """EventTimeTrigger under another type: the general operator runs it element by element."""


def events(seed: int) -> list[Any]:
    rnd = random.Random(seed)
    out: list[Any] = []
    for i in range(600):
        out.append(((f"k{rnd.randrange(7)}", i * 3 + rnd.randrange(-120, 10), i), 0))
        if i % 25 == 0:
            out.append(TestingSource.PAUSE)
    return [e if e is TestingSource.PAUSE else (e[0], e[0][1]) for e in out]


def run(parallelism: int, assigner: Any, kind: str, lateness: int,
        trigger: Any = None) -> tuple[list, list, list, list]:
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(parallelism)
    late = OutputTag("late")
    strategy = WatermarkStrategy.for_generator(EveryEvent)
    # one source instance, so every window instance sees one deterministic watermark sequence
    stream = env.from_source(TestingSource(events(parallelism), timestamped=True), strategy,
                             "events").set_parallelism(1)
    if kind.startswith("all"):
        windowed = stream.window_all(assigner)
    else:
        windowed = stream.key_by(lambda e: e[0]).window(assigner)
    if trigger is not None:
        windowed = windowed.trigger(trigger)
    windowed = windowed.allowed_lateness(lateness).side_output_late_data(late)

    def add(a: Any, b: Any) -> Any:
        return (a[0], max(a[1], b[1]), a[2] + b[2])

    functions = {
        "reduce": lambda: windowed.reduce(add),
        "aggregate": lambda: windowed.aggregate(Average()),
        "reduce+process": lambda: windowed.reduce(add, window_function=Describe()),
        "aggregate+process": lambda: windowed.aggregate(Average(), window_function=Describe()),
        "aggregate+apply": lambda: windowed.aggregate(Average(), window_function=Listing()),
        "all+reduce+process": lambda: windowed.reduce(add, window_function=DescribeAll()),
    }
    result = functions[kind]()
    main, side, fires = CollectSink(), CollectSink(), CollectSink()
    result.sink_to(main)
    result.get_side_output(late).sink_to(side)
    result.get_side_output(FIRED).sink_to(fires)
    CLEARED.clear()
    env.execute()
    return (sorted(zip(map(repr, main.results), main.timestamps)),
            sorted(map(repr, side.results)), sorted(map(repr, fires.results)),
            sorted(CLEARED))


@pytest.mark.parametrize("parallelism", [1, 2])
@pytest.mark.parametrize("kind", [
    "reduce", "aggregate", "reduce+process", "aggregate+process", "aggregate+apply",
    "all+reduce+process",
])
@pytest.mark.parametrize("lateness", [0, 30])
@pytest.mark.parametrize("assigner", [
    TumblingEventTimeWindows.of(Time.milliseconds(50)),
    SlidingEventTimeWindows.of(Time.milliseconds(60), Time.milliseconds(20)),
], ids=["tumbling", "sliding"])
def test_fast_path_matches_general_operator(
    monkeypatch: pytest.MonkeyPatch, parallelism: int, kind: str, lateness: int, assigner: Any
) -> None:
    if kind.startswith("all") and parallelism > 1:
        pytest.skip("window_all runs at parallelism 1")
    fast = run(parallelism, assigner, kind, lateness)
    monkeypatch.setattr(fast_window, "ENABLED", False)
    general = run(parallelism, assigner, kind, lateness)
    per_element = run(parallelism, assigner, kind, lateness, PerElementEventTimeTrigger())
    assert fast == general
    assert general == per_element
    assert fast[0], "the windows produced output"
    assert fast[1], "some elements were late (the test exercises lateness)"
    if "process" in kind and not kind.startswith("all"):
        assert fast[3], "the window function's clear() ran"
        assert all(fires >= 1 for _, fires in fast[3])
        assert fast[2], "the window function's side output"
        if lateness:
            assert any(count > 1 for _, _, count in map(eval, fast[2])), (
                "late elements re-fired windows (the test exercises re-fires)")


def test_window_functions_take_the_fast_path() -> None:
    from strom.graph.operator_specs import WindowSpec
    from strom.runtime.window_functions import (
        aggregate_window_function,
        iterable_window_function,
        reduce_window_function,
    )

    assigner = TumblingEventTimeWindows.of(Time.milliseconds(50))

    def spec(function: Any, trigger: Any = None) -> WindowSpec:
        return WindowSpec(key_selector=lambda e: e[0], assigner=assigner,
                          trigger=trigger or EventTimeTrigger(), window_function=function,
                          allowed_lateness=0, late_data_tag=None)

    applies = fast_window.fast_path_applies
    assert applies(spec(reduce_window_function(lambda a, b: a, Describe())))
    assert applies(spec(aggregate_window_function(Average(), Listing())))
    assert applies(spec(reduce_window_function(lambda a, b: a, DescribeAll(), keyed=False)))
    # buffering all elements (process/apply without reduce) is not incremental
    assert not applies(spec(iterable_window_function(Describe())))
    assert not applies(spec(reduce_window_function(lambda a, b: a),
                            PerElementEventTimeTrigger()))
