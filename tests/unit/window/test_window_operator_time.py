"""The window operator on time windows: the exact outputs of reference §5.10 and PyFlink's
test_window.py, lateness, continuous triggers, processing time with a manual clock."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest

from strom.common.time import Time
from strom.common.watermark_strategy import LONG_MAX
from strom.datastream.functions import ProcessWindowFunction
from strom.datastream.output_tag import OutputTag
from strom.datastream.state import MapStateDescriptor, ValueStateDescriptor
from strom.datastream.window import (
    ContinuousEventTimeTrigger,
    ContinuousProcessingTimeTrigger,
    EventTimeSessionWindows,
    EventTimeTrigger,
    ProcessingTimeSessionWindows,
    PurgingTrigger,
    SessionWindowTimeGapExtractor,
    SlidingEventTimeWindows,
    TimeWindow,
    TumblingEventTimeWindows,
    TumblingProcessingTimeWindows,
)
from strom.runtime.window_functions import iterable_window_function
from strom.runtime.window_logic import MERGING_WINDOW_SET_STATE_NAME
from strom.state.namespaces import VOID_NAMESPACE

DATA = [("hi", 1), ("hi", 2), ("hi", 3), ("hi", 4), ("hi", 5), ("hi", 8), ("hi", 9), ("hi", 15)]


class CountWindowProcessFunction(ProcessWindowFunction[Any, Any, Any, Any]):
    """PyFlink's test function: (key, window start, window end, number of elements)."""

    def process(
        self, key: Any, context: ProcessWindowFunction.Context, elements: Iterable[Any]
    ) -> Iterable[Any]:
        return [(key, context.window().start, context.window().end, len(list(elements)))]


def _count_harness(make_harness: Any, assigner: Any, **kwargs: Any) -> Any:
    return make_harness(assigner, iterable_window_function(CountWindowProcessFunction()), **kwargs)


def _feed(harness: Any, data: list[tuple[str, int]], per_element_watermark: bool = False) -> None:
    for value in data:
        harness.element(value[0], value, value[1])
        if per_element_watermark:
            harness.watermark(value[1])


def test_tumbling_event_time_window(make_harness: Any) -> None:
    harness = _count_harness(make_harness, TumblingEventTimeWindows.of(Time.milliseconds(5)))
    _feed(harness, DATA)
    assert harness.output == []
    harness.end_of_input()
    assert harness.output == [(("hi", 0, 5, 4), 4), (("hi", 5, 10, 3), 9), (("hi", 15, 20, 1), 19)]


def test_tumbling_with_monotonous_watermarks_fires_as_time_passes(make_harness: Any) -> None:
    harness = _count_harness(make_harness, TumblingEventTimeWindows.of(Time.milliseconds(5)))
    for value in DATA:
        harness.element("hi", value, value[1])
        harness.watermark(value[1] - 1)  # for_monotonous_timestamps: max ts - 1
        if value[1] == 8:
            assert harness.values() == [("hi", 0, 5, 4)]
    assert harness.values() == [("hi", 0, 5, 4), ("hi", 5, 10, 3)]
    harness.end_of_input()
    assert harness.values()[-1] == ("hi", 15, 20, 1)


def test_sliding_event_time_window(make_harness: Any) -> None:
    harness = _count_harness(
        make_harness, SlidingEventTimeWindows.of(Time.milliseconds(5), Time.milliseconds(2))
    )
    _feed(harness, DATA)
    harness.end_of_input()
    assert harness.values() == [
        ("hi", -2, 3, 2),
        ("hi", 0, 5, 4),
        ("hi", 2, 7, 4),
        ("hi", 4, 9, 3),
        ("hi", 6, 11, 2),
        ("hi", 8, 13, 2),
        ("hi", 12, 17, 1),
        ("hi", 14, 19, 1),
    ]


def test_event_time_session_window(make_harness: Any) -> None:
    harness = _count_harness(make_harness, EventTimeSessionWindows.with_gap(Time.milliseconds(5)))
    _feed(harness, [v for v in DATA if v[1] != 5])
    harness.end_of_input()
    assert harness.values() == [("hi", 1, 14, 6), ("hi", 15, 20, 1)]


def test_session_window_late_merge_keeps_a_stable_state_window(make_harness: Any) -> None:
    harness = _count_harness(make_harness, EventTimeSessionWindows.with_gap(Time.milliseconds(5)))
    harness.element("hi", ("hi", 0), 0)
    harness.element("hi", ("hi", 8), 8)
    sets = harness.backend.get_partitioned_state(
        VOID_NAMESPACE, MapStateDescriptor(MERGING_WINDOW_SET_STATE_NAME)
    )
    harness.backend.set_current_key("hi")
    assert dict(sets.items()) == {
        TimeWindow(0, 5): TimeWindow(0, 5),
        TimeWindow(8, 13): TimeWindow(8, 13),
    }
    harness.element("hi", ("hi", 4), 4)  # bridges both sessions
    harness.backend.set_current_key("hi")
    mapping = dict(sets.items())
    assert list(mapping) == [TimeWindow(0, 13)]
    assert mapping[TimeWindow(0, 13)] in (TimeWindow(0, 5), TimeWindow(8, 13))
    harness.end_of_input()
    assert harness.values() == [("hi", 0, 13, 3)]
    harness.backend.set_current_key("hi")
    assert dict(sets.items()) == {}


def test_dynamic_gap_session_window(make_harness: Any) -> None:
    class SecondField(SessionWindowTimeGapExtractor):
        def extract(self, element: Any) -> int:
            return element[1]

    harness = _count_harness(make_harness, EventTimeSessionWindows.with_dynamic_gap(SecondField()))
    _feed(harness, [("hi", 1), ("hi", 2), ("hi", 3), ("hi", 4), ("hi", 9), ("hi", 9), ("hi", 15)])
    harness.end_of_input()
    assert harness.values() == [("hi", 1, 8, 4), ("hi", 9, 30, 3)]


def test_session_window_with_purging_trigger(make_harness: Any) -> None:
    harness = _count_harness(
        make_harness,
        EventTimeSessionWindows.with_gap(Time.milliseconds(3)),
        trigger=PurgingTrigger.of(EventTimeTrigger.create()),
    )
    _feed(harness, [v for v in DATA if v[1] != 5])
    harness.end_of_input()
    assert harness.values() == [("hi", 1, 7, 4), ("hi", 8, 12, 2), ("hi", 15, 18, 1)]


def test_late_elements_go_to_the_side_output(make_harness: Any) -> None:
    tag = OutputTag("late-data")
    harness = _count_harness(
        make_harness,
        TumblingEventTimeWindows.of(Time.milliseconds(5)),
        allowed_lateness=0,
        late_data_tag=tag,
    )
    _feed(harness, [("a", 0), ("a", 8), ("a", 4), ("a", 6)], per_element_watermark=True)
    harness.end_of_input()
    assert harness.values() == [("a", 0, 5, 1), ("a", 5, 10, 2)]
    assert harness.side_output == [(tag, ("a", 4), 4)]
    assert harness.logic.num_late_records_dropped == 0


def test_late_elements_without_a_tag_are_dropped_and_counted(make_harness: Any) -> None:
    harness = _count_harness(make_harness, TumblingEventTimeWindows.of(Time.milliseconds(5)))
    _feed(harness, [("a", 0), ("a", 8), ("a", 4), ("a", 6), ("a", 2)], per_element_watermark=True)
    harness.end_of_input()
    assert harness.values() == [("a", 0, 5, 1), ("a", 5, 10, 2)]
    assert harness.side_output == []
    assert harness.logic.num_late_records_dropped == 2


class FiresAndClears(ProcessWindowFunction[Any, Any, Any, Any]):
    """Counts fires per window in window_state and per key in global_state; records clears."""

    def __init__(self) -> None:
        self.fires = ValueStateDescriptor("fires")
        self.total = ValueStateDescriptor("total")
        self.cleared: list[tuple[Any, Any, Any]] = []

    def process(
        self, key: Any, context: ProcessWindowFunction.Context, elements: Iterable[Any]
    ) -> Iterable[Any]:
        fires = context.window_state().get_state(self.fires)
        fires.update((fires.value() or 0) + 1)
        total = context.global_state().get_state(self.total)
        total.update((total.value() or 0) + 1)
        yield (
            key,
            context.window().start,
            sorted(e[1] for e in elements),
            fires.value(),
            total.value(),
        )

    def clear(self, context: ProcessWindowFunction.Context) -> None:
        fires = context.window_state().get_state(self.fires)
        self.cleared.append((context.window(), context.current_watermark(), fires.value()))
        fires.clear()


def test_allowed_lateness_refires_then_cleans_up(make_harness: Any) -> None:
    function = FiresAndClears()
    harness = make_harness(
        TumblingEventTimeWindows.of(Time.milliseconds(5)),
        iterable_window_function(function),
        allowed_lateness=3,
    )
    harness.element("k", ("k", 1), 1)
    harness.element("k", ("k", 2), 2)
    harness.watermark(4)
    assert harness.output == [(("k", 0, [1, 2], 1, 1), 4)]
    harness.element("k", ("k", 3), 3)  # late, but within the allowed lateness: fires at once
    assert harness.output[-1] == (("k", 0, [1, 2, 3], 2, 2), 4)
    assert function.cleared == []
    harness.watermark(7)  # cleanup time 4 + 3
    assert function.cleared == [(TimeWindow(0, 5), 7, 2)]
    harness.element("k", ("k", 0), 0)  # now too late
    assert harness.logic.num_late_records_dropped == 1
    harness.element("k", ("k", 12), 12)
    harness.end_of_input()
    assert harness.output[-1] == (("k", 10, [12], 1, 3), 14)
    assert len(harness.output) == 3
    # the window state was cleared along with the window
    harness.backend.set_current_key("k")
    fires = harness.backend.get_partitioned_state(TimeWindow(0, 5), ValueStateDescriptor("fires"))
    assert fires.value() is None


def test_window_state_is_refused_for_merging_windows(make_harness: Any) -> None:
    harness = make_harness(
        EventTimeSessionWindows.with_gap(Time.milliseconds(5)),
        iterable_window_function(FiresAndClears()),
    )
    harness.element("k", ("k", 1), 1)
    with pytest.raises(TypeError, match=r"per-window state .* not allowed with merging windows"):
        harness.end_of_input()


def test_continuous_event_time_trigger(make_harness: Any) -> None:
    harness = _count_harness(
        make_harness,
        TumblingEventTimeWindows.of(Time.milliseconds(10)),
        trigger=ContinuousEventTimeTrigger.of(Time.milliseconds(3)),
    )
    harness.element("k", ("k", 1), 1)
    harness.element("k", ("k", 2), 2)
    harness.watermark(2)
    assert harness.output == []
    harness.watermark(3)
    assert harness.values() == [("k", 0, 10, 2)]
    harness.element("k", ("k", 5), 5)
    harness.watermark(6)
    harness.watermark(9)
    assert harness.values() == [("k", 0, 10, 2), ("k", 0, 10, 3), ("k", 0, 10, 3)]
    assert [ts for _, ts in harness.output] == [9, 9, 9]
    assert harness.end_of_input() == 0  # everything was cleaned up at 9


def test_processing_time_tumbling_windows_with_a_manual_clock(make_harness: Any) -> None:
    harness = _count_harness(
        make_harness, TumblingProcessingTimeWindows.of(Time.milliseconds(5)), start_time=1
    )
    harness.element("a", ("a", 0))
    harness.advance_time(2)
    harness.element("a", ("a", 0))
    harness.element("b", ("b", 0))
    harness.advance_time(6)
    assert sorted(harness.values()) == [("a", 0, 5, 2), ("b", 0, 5, 1)]
    harness.element("a", ("a", 0))
    assert harness.advance_time(8) == 0
    harness.advance_time(9)
    assert harness.values()[-1] == ("a", 5, 10, 1)
    assert harness.advance_time(100) == 0


def test_processing_time_session_windows(make_harness: Any) -> None:
    harness = _count_harness(
        make_harness, ProcessingTimeSessionWindows.with_gap(Time.milliseconds(3))
    )
    harness.element("a", ("a", 0))  # [0, 3)
    harness.advance_time(1)
    harness.element("a", ("a", 0))  # [1, 4) merges into [0, 4)
    assert harness.advance_time(2) == 0  # the timer of [0, 3) went with the merge
    assert harness.output == []
    harness.advance_time(3)
    assert harness.output == [(("a", 0, 4, 2), 3)]


def test_continuous_processing_time_trigger(make_harness: Any) -> None:
    harness = _count_harness(
        make_harness,
        TumblingProcessingTimeWindows.of(Time.milliseconds(10)),
        trigger=ContinuousProcessingTimeTrigger.of(Time.milliseconds(4)),
        start_time=1,
    )
    harness.element("k", ("k", 0))
    harness.advance_time(2)
    harness.element("k", ("k", 0))
    harness.advance_time(4)
    assert harness.values() == [("k", 0, 10, 2)]
    harness.advance_time(5)
    harness.element("k", ("k", 0))
    harness.advance_time(8)
    harness.advance_time(9)
    assert harness.values() == [("k", 0, 10, 2), ("k", 0, 10, 3), ("k", 0, 10, 3)]
    assert harness.advance_time(LONG_MAX) == 0


def test_continuous_trigger_state_merges_with_sessions(make_harness: Any) -> None:
    harness = _count_harness(
        make_harness,
        EventTimeSessionWindows.with_gap(Time.milliseconds(5)),
        trigger=ContinuousEventTimeTrigger.of(Time.milliseconds(3)),
    )
    harness.element("k", ("k", 1), 1)  # [1, 6), next continuous fire at 3
    harness.element("k", ("k", 4), 4)  # merges into [1, 9); the fire time 3 moves along
    harness.watermark(3)
    assert harness.values() == [("k", 1, 9, 2)]
    harness.element("k", ("k", 7), 7)  # merges into [1, 12)
    harness.watermark(6)
    harness.watermark(11)
    assert harness.values() == [("k", 1, 9, 2)] + [("k", 1, 12, 3)] * 3
    assert harness.timers.num_event_time_timers() == 0
    assert harness.end_of_input() == 0
