"""Windows, assigners and triggers on their own: formulas, validation, public surface."""

from __future__ import annotations

import io
import pickle
from typing import Any

import pytest

import strom.datastream.window as window_module
from strom.common.time import Duration, Time
from strom.common.watermark_strategy import LONG_MAX
from strom.datastream.window import (
    ContinuousEventTimeTrigger,
    ContinuousProcessingTimeTrigger,
    CountSlidingWindowAssigner,
    CountTrigger,
    CountTumblingWindowAssigner,
    CountWindow,
    CountWindowSerializer,
    DynamicEventTimeSessionWindows,
    DynamicProcessingTimeSessionWindows,
    EventTimeSessionWindows,
    EventTimeTrigger,
    GlobalWindow,
    GlobalWindows,
    GlobalWindowSerializer,
    MergingWindowAssigner,
    NeverTrigger,
    ProcessingTimeSessionWindows,
    ProcessingTimeTrigger,
    PurgingTrigger,
    SessionWindowTimeGapExtractor,
    SlidingEventTimeWindows,
    SlidingProcessingTimeWindows,
    TimeWindow,
    TimeWindowSerializer,
    Trigger,
    TriggerResult,
    TumblingEventTimeWindows,
    TumblingProcessingTimeWindows,
    WindowAssigner,
)

PYFLINK_NAMES = {
    "Window",
    "TimeWindow",
    "CountWindow",
    "GlobalWindow",
    "TumblingProcessingTimeWindows",
    "TumblingEventTimeWindows",
    "SlidingProcessingTimeWindows",
    "SlidingEventTimeWindows",
    "ProcessingTimeSessionWindows",
    "EventTimeSessionWindows",
    "DynamicProcessingTimeSessionWindows",
    "DynamicEventTimeSessionWindows",
    "WindowAssigner",
    "MergingWindowAssigner",
    "CountTumblingWindowAssigner",
    "CountSlidingWindowAssigner",
    "TriggerResult",
    "Trigger",
    "EventTimeTrigger",
    "ProcessingTimeTrigger",
    "ContinuousEventTimeTrigger",
    "ContinuousProcessingTimeTrigger",
    "NeverTrigger",
    "PurgingTrigger",
    "CountTrigger",
    "TimeWindowSerializer",
    "CountWindowSerializer",
    "SessionWindowTimeGapExtractor",
    "GlobalWindows",
}


class _Ctx(WindowAssigner.WindowAssignerContext):
    def __init__(self, now: int = 0) -> None:
        self.now = now

    def get_current_processing_time(self) -> int:
        return self.now

    def get_runtime_context(self) -> Any:
        raise AssertionError("time assigners need no runtime context")


def _windows(
    assigner: WindowAssigner[Any, Any], ts: int | None, now: int = 0
) -> list[tuple[int, int]]:
    return sorted((w.start, w.end) for w in assigner.assign_windows("x", ts, _Ctx(now)))


def test_public_surface_has_pyflink_names() -> None:
    assert PYFLINK_NAMES <= set(window_module.__all__)
    for name in window_module.__all__:
        assert hasattr(window_module, name), name


# ----------------------------------------------------------------------------- windows


def test_time_window_value_semantics() -> None:
    w = TimeWindow(0, 5)
    assert repr(w) == "TimeWindow(start=0, end=5)"
    assert w.max_timestamp() == 4
    assert w == TimeWindow(0, 5) and hash(w) == hash(TimeWindow(0, 5))
    assert w != TimeWindow(0, 6) and w != CountWindow(0)
    assert sorted([TimeWindow(3, 4), TimeWindow(0, 9), TimeWindow(0, 5)]) == [
        TimeWindow(0, 5),
        TimeWindow(0, 9),
        TimeWindow(3, 4),
    ]
    assert TimeWindow(0, 5) <= TimeWindow(0, 5) < TimeWindow(0, 6)
    assert pickle.loads(pickle.dumps(w)) == w


def test_time_window_intersects_inclusively_and_cover() -> None:
    assert TimeWindow(0, 5).intersects(TimeWindow(5, 9))  # touching windows merge
    assert not TimeWindow(0, 5).intersects(TimeWindow(6, 9))
    assert TimeWindow(0, 5).cover(TimeWindow(8, 13)) == TimeWindow(0, 13)


def test_window_start_with_offset() -> None:
    start = TimeWindow.get_window_start_with_offset
    assert start(7, 0, 5) == 5
    assert start(5, 0, 5) == 5
    assert start(-1, 0, 5) == -5
    assert start(7, 1, 5) == 6
    # days starting at midnight UTC+8: offset -8h
    day, hour = 86_400_000, 3_600_000
    assert start(day + 20 * hour, -8 * hour, day) == day + 16 * hour


def test_merge_windows_reports_groups_of_two_or_more() -> None:
    merges: list[tuple[set[TimeWindow], TimeWindow]] = []
    TimeWindow.merge_windows(
        [TimeWindow(8, 13), TimeWindow(0, 5), TimeWindow(4, 9), TimeWindow(20, 25)],
        lambda group, result: merges.append((set(group), result)),
    )
    assert merges == [({TimeWindow(0, 5), TimeWindow(4, 9), TimeWindow(8, 13)}, TimeWindow(0, 13))]


def test_count_and_global_windows() -> None:
    assert CountWindow(3) == CountWindow(3) and CountWindow(3) != CountWindow(4)
    assert repr(CountWindow(3)) == "CountWindow(id=3)"
    assert CountWindow(3).max_timestamp() == LONG_MAX
    assert GlobalWindow.get() is GlobalWindow.get() == GlobalWindow()
    assert GlobalWindow.get().max_timestamp() == LONG_MAX
    assert pickle.loads(pickle.dumps(GlobalWindow.get())) is GlobalWindow.get()
    assert pickle.loads(pickle.dumps(CountWindow(7))) == CountWindow(7)


def test_serializers_round_trip() -> None:
    for serializer, window in [
        (TimeWindowSerializer(), TimeWindow(-5, 1_700_000_000_000)),
        (CountWindowSerializer(), CountWindow(42)),
        (GlobalWindowSerializer(), GlobalWindow.get()),
    ]:
        buffer = io.BytesIO()
        serializer.serialize(window, buffer)  # type: ignore[attr-defined]
        buffer.seek(0)
        assert serializer.deserialize(buffer) == window  # type: ignore[attr-defined]
    with pytest.raises(EOFError, match="16 bytes"):
        TimeWindowSerializer().deserialize(io.BytesIO(b"\x00" * 3))


# ----------------------------------------------------------------------------- assigners


def test_tumbling_event_time_assignment() -> None:
    assigner = TumblingEventTimeWindows.of(Time.milliseconds(5))
    assert _windows(assigner, 1) == [(0, 5)]
    assert _windows(assigner, 5) == [(5, 10)]
    assert _windows(assigner, -3) == [(-5, 0)]
    assert _windows(TumblingEventTimeWindows.of(Time.milliseconds(5), Time.milliseconds(1)), 0) == [
        (-4, 1)
    ]
    assert assigner.is_event_time()
    assert isinstance(assigner.get_default_trigger(None), EventTimeTrigger)
    assert repr(assigner) == "TumblingEventTimeWindows(5, 0)"


def test_sliding_event_time_assignment() -> None:
    assigner = SlidingEventTimeWindows.of(Time.milliseconds(5), Time.milliseconds(2))
    assert _windows(assigner, 1) == [(-2, 3), (0, 5)]
    assert _windows(assigner, 4) == [(0, 5), (2, 7), (4, 9)]
    assert _windows(assigner, 15) == [(12, 17), (14, 19)]


def test_processing_time_assigners_use_the_clock() -> None:
    assert _windows(TumblingProcessingTimeWindows.of(Time.seconds(1)), None, now=2500) == [
        (2000, 3000)
    ]
    assert _windows(
        SlidingProcessingTimeWindows.of(Time.seconds(2), Time.seconds(1)), None, now=2500
    ) == [(1000, 3000), (2000, 4000)]
    assert _windows(ProcessingTimeSessionWindows.with_gap(Time.seconds(1)), None, now=7) == [
        (7, 1007)
    ]
    dynamic = ProcessingTimeSessionWindows.with_dynamic_gap(lambda element: 3)
    assert isinstance(dynamic, DynamicProcessingTimeSessionWindows)
    assert _windows(dynamic, None, now=7) == [(7, 10)]
    for assigner in (
        TumblingProcessingTimeWindows.of(Time.seconds(1)),
        ProcessingTimeSessionWindows.with_gap(Time.seconds(1)),
    ):
        assert not assigner.is_event_time()
        assert isinstance(assigner.get_default_trigger(None), ProcessingTimeTrigger)


def test_session_assigners() -> None:
    assigner = EventTimeSessionWindows.with_gap(Time.milliseconds(5))
    assert isinstance(assigner, MergingWindowAssigner)
    assert _windows(assigner, 3) == [(3, 8)]

    class Gap(SessionWindowTimeGapExtractor):
        def extract(self, element: Any) -> int:
            return 4

    dynamic = EventTimeSessionWindows.with_dynamic_gap(Gap())
    assert isinstance(dynamic, DynamicEventTimeSessionWindows)
    assert _windows(dynamic, 3) == [(3, 7)]
    with pytest.raises(ValueError, match=r"positive int of milliseconds.*returned 0"):
        DynamicEventTimeSessionWindows.with_dynamic_gap(lambda e: 0).assign_windows("x", 1, _Ctx())
    with pytest.raises(TypeError, match="SessionWindowTimeGapExtractor or a callable"):
        EventTimeSessionWindows.with_dynamic_gap(5)


def test_global_windows() -> None:
    assigner = GlobalWindows.create()
    assert list(assigner.assign_windows("x", None, _Ctx())) == [GlobalWindow.get()]
    assert isinstance(assigner.get_default_trigger(None), NeverTrigger)
    assert not assigner.is_event_time()


def test_event_time_assigners_reject_missing_timestamps() -> None:
    for assigner in (
        TumblingEventTimeWindows.of(Time.seconds(1)),
        SlidingEventTimeWindows.of(Time.seconds(2), Time.seconds(1)),
        EventTimeSessionWindows.with_gap(Time.seconds(1)),
    ):
        with pytest.raises(ValueError, match="assign_timestamps_and_watermarks"):
            assigner.assign_windows("x", None, _Ctx())


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: TumblingEventTimeWindows.of(Time.milliseconds(0)), "positive size, got 0"),
        (
            lambda: TumblingEventTimeWindows.of(Time.milliseconds(5), Time.milliseconds(5)),
            "abs\\(offset\\) < size",
        ),
        (
            lambda: TumblingProcessingTimeWindows.of(Time.milliseconds(5), Time.milliseconds(-7)),
            "abs\\(offset\\) < size",
        ),
        (
            lambda: SlidingEventTimeWindows.of(Time.milliseconds(0), Time.milliseconds(2)),
            "positive size and slide",
        ),
        (
            lambda: SlidingProcessingTimeWindows.of(Time.milliseconds(5), Time.milliseconds(0)),
            "positive size and slide",
        ),
        (
            lambda: SlidingEventTimeWindows.of(
                Time.milliseconds(5), Time.milliseconds(2), Time.milliseconds(2)
            ),
            "abs\\(offset\\) < slide",
        ),
        (lambda: EventTimeSessionWindows.with_gap(Time.milliseconds(0)), "positive session gap"),
        (
            lambda: ProcessingTimeSessionWindows.with_gap(Time.milliseconds(-1)),
            "positive session gap",
        ),
        (lambda: CountTumblingWindowAssigner.of(0), "positive number of elements"),
        (lambda: CountSlidingWindowAssigner.of(2, 0), "positive number of elements"),
        (lambda: CountSlidingWindowAssigner.of(2, 3), "slide <= size"),
        (lambda: CountTrigger.of(0), "positive element count"),
        (lambda: ContinuousEventTimeTrigger.of(Time.milliseconds(0)), "must be positive"),
        (lambda: ContinuousProcessingTimeTrigger.of(Time.milliseconds(-5)), "must be positive"),
    ],
)
def test_invalid_arguments_fail_with_clear_errors(make: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make()


def test_time_arguments_accept_time_duration_and_millis_only() -> None:
    assert repr(TumblingEventTimeWindows.of(Duration.of_seconds(1))) == (
        "TumblingEventTimeWindows(1000, 0)"
    )
    assert repr(TumblingEventTimeWindows.of(250)) == "TumblingEventTimeWindows(250, 0)"
    with pytest.raises(TypeError, match="must be a Time"):
        TumblingEventTimeWindows.of("5s")
    with pytest.raises(TypeError, match="needs a Trigger"):
        PurgingTrigger.of(CountTrigger)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- triggers


def test_trigger_result_flags() -> None:
    assert [
        (r.is_fire(), r.is_purge())
        for r in (
            TriggerResult.CONTINUE,
            TriggerResult.FIRE,
            TriggerResult.PURGE,
            TriggerResult.FIRE_AND_PURGE,
        )
    ] == [(False, False), (True, False), (False, True), (True, True)]


def test_trigger_merge_support() -> None:
    assert EventTimeTrigger.create().can_merge()
    assert ProcessingTimeTrigger.create().can_merge()
    assert CountTrigger.of(2).can_merge()
    assert PurgingTrigger.of(EventTimeTrigger()).can_merge()
    assert not NeverTrigger().can_merge()

    class NoMerge(Trigger[Any, Any]):
        def on_element(self, element: Any, timestamp: int, window: Any, ctx: Any) -> TriggerResult:
            return TriggerResult.CONTINUE

        def on_processing_time(self, time: int, window: Any, ctx: Any) -> TriggerResult:
            return TriggerResult.CONTINUE

        def on_event_time(self, time: int, window: Any, ctx: Any) -> TriggerResult:
            return TriggerResult.CONTINUE

        def clear(self, window: Any, ctx: Any) -> None:
            return None

    assert not NoMerge().can_merge()
    with pytest.raises(TypeError, match="does not support merging"):
        NoMerge().on_merge(TimeWindow(0, 1), None)  # type: ignore[arg-type]
