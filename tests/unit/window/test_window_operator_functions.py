"""The window operator with count and global windows, every kind of window function,
all-window functions, side outputs from window functions, many keys, and batch mode."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest

from strom.common.time import Time
from strom.common.watermark_strategy import LONG_MAX
from strom.datastream.functions import (
    AggregateFunction,
    AllWindowFunction,
    ProcessAllWindowFunction,
    ProcessWindowFunction,
    RuntimeContext,
    WindowFunction,
)
from strom.datastream.output_tag import OutputTag
from strom.datastream.window import (
    CountSlidingWindowAssigner,
    CountTrigger,
    CountTumblingWindowAssigner,
    CountWindow,
    EventTimeSessionWindows,
    GlobalWindows,
    NeverTrigger,
    PurgingTrigger,
    TimeWindow,
    TumblingEventTimeWindows,
)
from strom.runtime.window_functions import (
    aggregate_window_function,
    iterable_window_function,
    reduce_window_function,
)
from strom.runtime.window_logic import WindowOperatorLogic
from strom.state.namespaces import VOID_NAMESPACE

SESSION_DATA = [("a", 1), ("a", 2), ("b", 3), ("a", 6), ("b", 8), ("b", 9), ("a", 15)]


class SumWindowFunction(WindowFunction[Any, Any, Any, Any]):
    def apply(self, key: Any, window: Any, inputs: Iterable[Any]) -> Iterable[Any]:
        return [(key, sum(i[0] for i in inputs))]


def _feed_keyed(harness: Any, data: list[tuple[Any, ...]], key_field: int) -> None:
    for value in data:
        harness.element(value[key_field], value, value[1] if key_field == 0 else None)


def test_count_tumbling_window(make_harness: Any) -> None:
    harness = make_harness(
        CountTumblingWindowAssigner.of(3), iterable_window_function(SumWindowFunction())
    )
    _feed_keyed(
        harness,
        [(1, "hi"), (2, "hello"), (3, "hi"), (4, "hello"), (5, "hi"), (6, "hello"), (6, "hello")],
        key_field=1,
    )
    harness.end_of_input()
    assert harness.output == [(("hi", 9), LONG_MAX), (("hello", 12), LONG_MAX)]


def test_count_sliding_window(make_harness: Any) -> None:
    harness = make_harness(
        CountSlidingWindowAssigner.of(2, 1), iterable_window_function(SumWindowFunction())
    )
    _feed_keyed(
        harness,
        [(1, "hi"), (2, "hello"), (3, "hi"), (4, "hello"), (5, "hi"), (6, "hello")],
        key_field=1,
    )
    harness.end_of_input()
    assert harness.values() == [("hi", 4), ("hello", 6), ("hi", 8), ("hello", 10)]


def test_count_windows_keep_their_counter_in_keyed_state_and_get_no_timers(
    make_harness: Any,
) -> None:
    seen: list[CountWindow] = []

    def record(key: Any, window: CountWindow, inputs: Iterable[Any]) -> Iterable[Any]:
        seen.append(window)
        return [len(list(inputs))]

    harness = make_harness(CountTumblingWindowAssigner.of(2), iterable_window_function(record))
    for i in range(5):
        harness.element("x", (i, "x"))
        harness.element("y", (i, "y"))
    assert seen == [CountWindow(0), CountWindow(0), CountWindow(1), CountWindow(1)]
    assert harness.end_of_input() == 0


def test_global_window_with_purging_count_trigger(make_harness: Any) -> None:
    def count(key: Any, window: Any, inputs: Iterable[Any]) -> Iterable[Any]:
        return [(key, len(list(inputs)))]

    harness = make_harness(
        GlobalWindows.create(),
        iterable_window_function(count),
        trigger=PurgingTrigger.of(CountTrigger.of(2)),
    )
    for _ in range(7):
        harness.element("hi", ("hi", 1), 1)
    harness.end_of_input()
    assert harness.values() == [("hi", 2), ("hi", 2), ("hi", 2)]


def test_global_window_with_count_trigger_keeps_contents(make_harness: Any) -> None:
    def count(key: Any, window: Any, inputs: Iterable[Any]) -> Iterable[Any]:
        return [len(list(inputs))]

    harness = make_harness(
        GlobalWindows.create(), iterable_window_function(count), trigger=CountTrigger.of(2)
    )
    for _ in range(5):
        harness.element("hi", ("hi", 1), 1)
    assert harness.values() == [2, 4]


def test_global_window_default_trigger_never_fires(make_harness: Any) -> None:
    harness = make_harness(GlobalWindows.create(), iterable_window_function(SumWindowFunction()))
    assert isinstance(harness.logic._trigger, NeverTrigger)
    harness.element("k", (1, "k"))
    assert harness.end_of_input() == 0
    assert harness.output == []


def _session(make_harness: Any, window_function: Any) -> Any:
    harness = make_harness(EventTimeSessionWindows.with_gap(Time.milliseconds(2)), window_function)
    for value in SESSION_DATA:
        harness.element(value[0], value, value[1])
    harness.end_of_input()
    return harness


def test_reduce_passthrough(make_harness: Any) -> None:
    harness = _session(make_harness, reduce_window_function(lambda a, b: (b[0], a[1] + b[1])))
    assert sorted(harness.values()) == [("a", 3), ("a", 6), ("a", 15), ("b", 3), ("b", 17)]


def test_reduce_with_process_window_function(make_harness: Any) -> None:
    class Describe(ProcessWindowFunction[Any, Any, Any, Any]):
        def process(
            self, key: Any, context: ProcessWindowFunction.Context, elements: Iterable[Any]
        ) -> Iterable[Any]:
            yield (
                f"current window start at {context.window().start}, "
                f"reduce result {next(iter(elements))}"
            )

    harness = _session(
        make_harness, reduce_window_function(lambda a, b: (b[0], a[1] + b[1]), Describe())
    )
    assert sorted(harness.values()) == sorted(
        [
            "current window start at 1, reduce result ('a', 3)",
            "current window start at 15, reduce result ('a', 15)",
            "current window start at 3, reduce result ('b', 3)",
            "current window start at 6, reduce result ('a', 6)",
            "current window start at 8, reduce result ('b', 17)",
        ]
    )


class EvenMinusOdd(AggregateFunction[Any, Any, Any]):
    def create_accumulator(self) -> Any:
        return "", {0: 0, 1: 0}

    def add(self, value: Any, accumulator: Any) -> Any:
        counts = dict(accumulator[1])
        counts[value[1] % 2] += 1
        return value[0], counts

    def get_result(self, accumulator: Any) -> Any:
        return accumulator[0], accumulator[1][0] - accumulator[1][1]

    def merge(self, acc_a: Any, acc_b: Any) -> Any:
        return acc_a[0], {0: acc_a[1][0] + acc_b[1][0], 1: acc_a[1][1] + acc_b[1][1]}


class SumTimestamps(AggregateFunction[Any, Any, Any]):
    def create_accumulator(self) -> Any:
        return 0, ""

    def add(self, value: Any, accumulator: Any) -> Any:
        return value[1] + accumulator[0], value[0]

    def get_result(self, accumulator: Any) -> Any:
        return accumulator[1], accumulator[0]

    def merge(self, acc_a: Any, acc_b: Any) -> Any:
        return acc_a[0] + acc_b[0], acc_a[1]


def test_aggregate_passthrough(make_harness: Any) -> None:
    harness = _session(make_harness, aggregate_window_function(EvenMinusOdd()))
    assert sorted(harness.values()) == [("a", -1), ("a", 0), ("a", 1), ("b", -1), ("b", 0)]


def test_aggregate_with_process_window_function(make_harness: Any) -> None:
    class Describe(ProcessWindowFunction[Any, Any, Any, Any]):
        def process(
            self, key: Any, context: ProcessWindowFunction.Context, elements: Iterable[Any]
        ) -> Iterable[Any]:
            result = next(iter(elements))
            yield f"key {result[0]} timestamp sum {result[1]}"

    harness = _session(make_harness, aggregate_window_function(SumTimestamps(), Describe()))
    assert sorted(harness.values()) == [
        "key a timestamp sum 15",
        "key a timestamp sum 3",
        "key a timestamp sum 6",
        "key b timestamp sum 17",
        "key b timestamp sum 3",
    ]


def test_aggregate_with_window_function_gets_one_value(make_harness: Any) -> None:
    def apply(key: Any, window: TimeWindow, inputs: Iterable[Any]) -> Iterable[Any]:
        values = list(inputs)
        return [(key, window.start, values)]

    harness = make_harness(
        TumblingEventTimeWindows.of(Time.milliseconds(5)),
        aggregate_window_function(SumTimestamps(), apply),
    )
    for ts in (1, 2, 7):
        harness.element("k", ("k", ts), ts)
    harness.end_of_input()
    assert harness.values() == [("k", 0, [("k", 3)]), ("k", 5, [("k", 7)])]


ALL = 0  # the constant key of a window_all stream


def _all_session(make_harness: Any, window_function: Any) -> Any:
    harness = make_harness(EventTimeSessionWindows.with_gap(Time.milliseconds(2)), window_function)
    for value in SESSION_DATA:
        harness.element(ALL, value, value[1])
    harness.end_of_input()
    return harness


def test_window_all_process(make_harness: Any) -> None:
    class CountAll(ProcessAllWindowFunction[Any, Any, Any]):
        def process(
            self, context: ProcessAllWindowFunction.Context, elements: Iterable[Any]
        ) -> Iterable[Any]:
            return [(context.window().start, context.window().end, len(list(elements)))]

    harness = make_harness(
        TumblingEventTimeWindows.of(Time.milliseconds(5)),
        iterable_window_function(CountAll(), keyed=False),
    )
    for key, ts in [
        ("hi", 1),
        ("hello", 2),
        ("hi", 3),
        ("hello", 4),
        ("hello", 5),
        ("hi", 8),
        ("hi", 9),
        ("hi", 15),
    ]:
        harness.element(ALL, (key, ts), ts)
    harness.end_of_input()
    assert harness.values() == [(0, 5, 4), (5, 10, 3), (15, 20, 1)]


def test_window_all_reduce_and_reduce_process(make_harness: Any) -> None:
    harness = _all_session(
        make_harness, reduce_window_function(lambda a, b: (a[0], a[1] + b[1]), keyed=False)
    )
    assert harness.values() == [("a", 6), ("a", 23), ("a", 15)]

    class Describe(ProcessAllWindowFunction[Any, Any, Any]):
        def process(
            self, context: ProcessAllWindowFunction.Context, elements: Iterable[Any]
        ) -> Iterable[Any]:
            yield (
                f"current window start at {context.window().start}, "
                f"reduce result {next(iter(elements))}"
            )

    harness = _all_session(
        make_harness,
        reduce_window_function(lambda a, b: (a[0], a[1] + b[1]), Describe(), keyed=False),
    )
    assert harness.values() == [
        "current window start at 1, reduce result ('a', 6)",
        "current window start at 6, reduce result ('a', 23)",
        "current window start at 15, reduce result ('a', 15)",
    ]


def test_window_all_aggregate_and_apply(make_harness: Any) -> None:
    harness = _all_session(make_harness, aggregate_window_function(EvenMinusOdd(), keyed=False))
    assert sorted(harness.values()) == [("a", -1), ("b", -1), ("b", 1)]

    class Describe(AllWindowFunction[Any, Any, Any]):
        def apply(self, window: Any, inputs: Iterable[Any]) -> Iterable[Any]:
            result = next(iter(inputs))
            return [f"key {result[0]} timestamp sum {result[1]}"]

    harness = _all_session(
        make_harness, aggregate_window_function(SumTimestamps(), Describe(), keyed=False)
    )
    assert harness.values() == [
        "key b timestamp sum 6",
        "key b timestamp sum 23",
        "key a timestamp sum 15",
    ]


def test_window_function_kind_must_match_the_stream() -> None:
    with pytest.raises(TypeError, match="keyed window function; a window_all stream"):
        iterable_window_function(SumWindowFunction(), keyed=False)
    with pytest.raises(TypeError, match="all-window function; a keyed window stream"):
        reduce_window_function(
            lambda a, b: a,
            ProcessAllWindowFunction.__new__(
                type("P", (ProcessAllWindowFunction,), {"process": lambda self, c, e: []})
            ),
        )
    with pytest.raises(TypeError, match="window function must be"):
        iterable_window_function(42)
    with pytest.raises(TypeError, match="AggregateFunction"):
        aggregate_window_function(lambda a, b: a)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="ReduceFunction or a callable"):
        reduce_window_function(42)


def test_window_functions_are_opened_and_closed_with_the_runtime_context(make_harness: Any) -> None:
    events: list[Any] = []

    class Tracked(WindowFunction[Any, Any, Any, Any]):
        def open(self, runtime_context: RuntimeContext) -> None:
            events.append(("open", runtime_context.get_task_name()))

        def close(self) -> None:
            events.append("close")

        def apply(self, key: Any, window: Any, inputs: Iterable[Any]) -> Iterable[Any]:
            return []

    harness = make_harness(
        TumblingEventTimeWindows.of(Time.milliseconds(5)), iterable_window_function(Tracked())
    )
    harness.logic.close()
    assert events == [("open", "Window"), "close"]


def test_tagged_results_go_to_the_side_output(make_harness: Any) -> None:
    tag = OutputTag("small")

    def split(key: Any, window: Any, inputs: Iterable[Any]) -> Iterable[Any]:
        total = sum(v[1] for v in inputs)
        yield (key, total)
        if total < 5:
            yield tag, (key, "small")

    harness = make_harness(
        TumblingEventTimeWindows.of(Time.milliseconds(5)), iterable_window_function(split)
    )
    for key, ts in [("a", 1), ("a", 2), ("b", 4), ("b", 3)]:
        harness.element(key, (key, ts), ts)
    harness.end_of_input()
    assert sorted(harness.output) == [(("a", 3), 4), (("b", 7), 4)]
    assert harness.side_output == [(tag, ("a", "small"), 4)]


def test_many_keys_fire_from_timers(make_harness: Any) -> None:
    harness = make_harness(
        TumblingEventTimeWindows.of(Time.milliseconds(5)),
        reduce_window_function(lambda a, b: (a[0], a[1] + b[1])),
    )
    timers = harness.timers
    keys = 500
    for key in range(keys):
        harness.element(key, (key, 1), 1)
        harness.element(key, (key, 1), 3)
        harness.element(key, (key, 1), 7)
    # one timer per key and window: the trigger's and the cleanup timer share max_timestamp
    assert timers.num_event_time_timers() == 2 * keys
    assert harness.watermark(3) == 0
    assert harness.output == []
    assert harness.watermark(4) == keys
    assert timers.num_event_time_timers() == keys
    assert sorted(harness.output) == [((key, 2), 4) for key in range(keys)]
    assert harness.watermark(8) == 0
    assert harness.end_of_input() == keys
    assert timers.num_event_time_timers() == 0
    assert len(harness.output) == 2 * keys
    # every window's contents went with its cleanup timer
    assert list(harness.backend.keys("window-contents", TimeWindow(0, 5))) == []
    assert list(harness.backend.keys("window-contents", TimeWindow(5, 10))) == []


def test_batch_mode_fires_each_key_at_its_end(make_harness: Any) -> None:
    harness = make_harness(
        TumblingEventTimeWindows.of(Time.milliseconds(5)),
        reduce_window_function(lambda a, b: (a[0], a[1] + b[1])),
        is_batch=True,
    )
    for key in ("a", "b"):  # keys arrive one after the other; the runtime ends each with MAX
        for ts in (1, 2, 6):
            harness.element(key, (key, ts), ts)
        harness.end_of_input()
    assert harness.output == [(("a", 3), 4), (("a", 6), 9), (("b", 3), 4), (("b", 6), 9)]
    assert harness.logic.num_late_records_dropped == 0


def test_operator_validates_its_configuration(make_harness: Any) -> None:
    from strom.datastream.window import EventTimeTrigger

    class NoMerge(EventTimeTrigger):
        def can_merge(self) -> bool:
            return False

    with pytest.raises(ValueError, match="needs a trigger that can merge"):
        make_harness(
            EventTimeSessionWindows.with_gap(Time.milliseconds(5)),
            iterable_window_function(SumWindowFunction()),
            trigger=NoMerge(),
        )
    with pytest.raises(ValueError, match="allowed_lateness must be an int >= 0"):
        make_harness(
            TumblingEventTimeWindows.of(Time.milliseconds(5)),
            iterable_window_function(SumWindowFunction()),
            allowed_lateness=-1,
        )
    with pytest.raises(TypeError, match="InternalWindowFunction"):
        WindowOperatorLogic(
            assigner=TumblingEventTimeWindows.of(Time.milliseconds(5)),
            trigger=EventTimeTrigger(),
            window_function=SumWindowFunction(),  # type: ignore[arg-type]
            allowed_lateness=0,
            late_data_tag=None,
            backend=None,  # type: ignore[arg-type]
            timer_service=None,  # type: ignore[arg-type]
            runtime_context=None,  # type: ignore[arg-type]
            emit=print,
            emit_side=print,
            processing_time=lambda: 0,
        )


@pytest.mark.parametrize("lateness", [0, 3])
@pytest.mark.parametrize("incremental", ["reduce", "aggregate"])
def test_cleaned_up_windows_leave_no_state_behind(
    make_harness: Any, lateness: int, incremental: str
) -> None:
    # Windows that fired and were cleaned up drop their namespace from the contents state,
    # and windows opened afterwards still collect (no write goes to a dropped map).
    function = (reduce_window_function(lambda a, b: (a[0], a[1] + b[1]))
                if incremental == "reduce" else aggregate_window_function(EvenMinusOdd()))
    harness = make_harness(TumblingEventTimeWindows.of(Time.milliseconds(5)), function,
                           allowed_lateness=lateness)
    for key in ("a", "b", "c"):
        for ts in (1, 3, 7):
            harness.element(key, (key, ts), ts)
    harness.watermark(6)  # [0, 5) fires
    harness.element("a", ("a", 2), 2)  # late: re-fires [0, 5) within the lateness, else dropped
    harness.watermark(9)  # [0, 5) is cleaned up by now in both cases
    for key in ("a", "b"):
        harness.element(key, (key, 12), 12)
    harness.end_of_input()
    namespaces = harness.logic._window_state.namespaces
    assert list(namespaces) == [VOID_NAMESPACE] and not namespaces[VOID_NAMESPACE]
    assert harness.timers.num_event_time_timers() == 0
    fired = [(value[0], ts) for value, ts in harness.output]
    assert sorted(fired) == sorted(
        [(k, 4) for k in "abc"] + [("a", 4)] * (lateness > 0) + [(k, 9) for k in "abc"]
        + [("a", 14), ("b", 14)]
    )
