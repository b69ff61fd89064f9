"""Window assigners: which windows an element belongs to, and each assigner's default trigger."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Iterable
from typing import TYPE_CHECKING, Any, Generic, TypeAlias, TypeVar

from strom.common.watermark_strategy import LONG_MIN
from strom.datastream.state import ValueStateDescriptor
from strom.datastream.window._time import to_millis
from strom.datastream.window._triggers import (
    CountTrigger,
    EventTimeTrigger,
    NeverTrigger,
    ProcessingTimeTrigger,
    Trigger,
)
from strom.datastream.window._windows import (
    CountWindow,
    CountWindowSerializer,
    GlobalWindow,
    GlobalWindowSerializer,
    TimeWindow,
    TimeWindowSerializer,
)

if TYPE_CHECKING:
    from strom.datastream.functions import RuntimeContext

__all__ = [
    "CountSlidingWindowAssigner",
    "CountTumblingWindowAssigner",
    "DynamicEventTimeSessionWindows",
    "DynamicProcessingTimeSessionWindows",
    "EventTimeSessionWindows",
    "GlobalWindows",
    "MergingWindowAssigner",
    "ProcessingTimeSessionWindows",
    "SessionWindowTimeGapExtractor",
    "SlidingEventTimeWindows",
    "SlidingProcessingTimeWindows",
    "TumblingEventTimeWindows",
    "TumblingProcessingTimeWindows",
    "WindowAssigner",
]

T = TypeVar("T")
W = TypeVar("W")


class WindowAssignerContext(ABC):
    """What an assigner may ask while assigning: the processing time, and the runtime context
    (whose keyed state is scoped to the current key)."""

    @abstractmethod
    def get_current_processing_time(self) -> int: ...

    @abstractmethod
    def get_runtime_context(self) -> RuntimeContext: ...


class MergeCallback(ABC, Generic[W]):
    """Receives the merges a :class:`MergingWindowAssigner` decides on."""

    @abstractmethod
    def merge(self, to_be_merged: Iterable[W], merge_result: W) -> None:
        """The windows ``to_be_merged`` become the single window ``merge_result``."""


class WindowAssigner(ABC, Generic[T, W]):
    """Assigns zero or more windows to each element. Elements are grouped by key and window;
    the trigger decides when each such pane is evaluated."""

    WindowAssignerContext: TypeAlias = WindowAssignerContext

    @abstractmethod
    def assign_windows(self, element: T, timestamp: int | None, context: WindowAssignerContext
                       ) -> Collection[W]:
        """The windows ``element`` (with event timestamp ``timestamp``) belongs to."""

    @abstractmethod
    def get_default_trigger(self, env: Any = None) -> Trigger[T, Any]:
        """The trigger used when the program sets none."""

    @abstractmethod
    def get_window_serializer(self) -> Any:
        """A serializer (``serialize(window, stream)`` / ``deserialize(stream)``) for the
        windows this assigner creates."""

    @abstractmethod
    def is_event_time(self) -> bool:
        """True if windows follow event time (then watermarks end them, and lateness applies)."""


class MergingWindowAssigner(WindowAssigner[T, W]):
    """An assigner whose windows can merge (session windows)."""

    MergeCallback: TypeAlias = MergeCallback

    @abstractmethod
    def merge_windows(self, windows: Iterable[W], callback: MergeCallback[W]) -> None:
        """Decide which of ``windows`` merge and report each merge to ``callback``."""


class SessionWindowTimeGapExtractor(ABC):
    """Extracts the session gap of an element for dynamic session windows."""

    @abstractmethod
    def extract(self, element: Any) -> int:
        """The session gap in milliseconds that ``element`` opens (must be > 0)."""


class _CallableGapExtractor(SessionWindowTimeGapExtractor):
    def __init__(self, fn: Callable[[Any], int]) -> None:
        self._fn = fn

    def extract(self, element: Any) -> int:
        return self._fn(element)


def _gap_extractor(extractor: Any) -> SessionWindowTimeGapExtractor:
    if isinstance(extractor, SessionWindowTimeGapExtractor):
        return extractor
    if callable(extractor):
        return _CallableGapExtractor(extractor)
    raise TypeError(
        "with_dynamic_gap needs a SessionWindowTimeGapExtractor or a callable "
        f"element -> gap in ms, got {type(extractor).__name__}"
    )


def _require_timestamp(timestamp: int | None, assigner: str) -> int:
    if timestamp is None or timestamp <= LONG_MIN:
        raise ValueError(
            f"{assigner}: record has no timestamp (got {timestamp!r}). Event-time windows need "
            "timestamps: did you forget to call "
            "'data_stream.assign_timestamps_and_watermarks(...)', or did you mean a "
            "processing-time window?"
        )
    return timestamp


def _tumbling_args(assigner: str, size: Any, offset: Any) -> tuple[int, int]:
    size_ms = to_millis(size, f"{assigner} size")
    offset_ms = 0 if offset is None else to_millis(offset, f"{assigner} offset")
    if size_ms <= 0:
        raise ValueError(f"{assigner} needs a positive size, got {size_ms} ms")
    if abs(offset_ms) >= size_ms:
        raise ValueError(
            f"{assigner} needs abs(offset) < size, got offset {offset_ms} ms and size "
            f"{size_ms} ms"
        )
    return size_ms, offset_ms


def _sliding_args(assigner: str, size: Any, slide: Any, offset: Any) -> tuple[int, int, int]:
    size_ms = to_millis(size, f"{assigner} size")
    slide_ms = to_millis(slide, f"{assigner} slide")
    offset_ms = 0 if offset is None else to_millis(offset, f"{assigner} offset")
    if size_ms <= 0 or slide_ms <= 0:
        raise ValueError(
            f"{assigner} needs a positive size and slide, got size {size_ms} ms and slide "
            f"{slide_ms} ms"
        )
    if abs(offset_ms) >= slide_ms:
        raise ValueError(
            f"{assigner} needs abs(offset) < slide, got offset {offset_ms} ms and slide "
            f"{slide_ms} ms"
        )
    return size_ms, slide_ms, offset_ms


def _session_gap(assigner: str, gap: Any) -> int:
    gap_ms = to_millis(gap, f"{assigner} gap")
    if gap_ms <= 0:
        raise ValueError(f"{assigner} needs a positive session gap, got {gap_ms} ms")
    return gap_ms


def _dynamic_gap(extractor: SessionWindowTimeGapExtractor, element: Any) -> int:
    gap = extractor.extract(element)
    if isinstance(gap, bool) or not isinstance(gap, int) or gap <= 0:
        raise ValueError(
            f"the session gap extractor must return a positive int of milliseconds, it "
            f"returned {gap!r} for element {element!r}"
        )
    return gap


class TumblingEventTimeWindows(WindowAssigner[Any, TimeWindow]):
    """Fixed-size, non-overlapping windows by element timestamp:
    ``start = ts - (ts - offset + size) % size``.

    >>> TumblingEventTimeWindows.of(Time.minutes(1))  # doctest: +SKIP
    """

    def __init__(self, size: int, offset: int = 0) -> None:
        self._size, self._offset = _tumbling_args("TumblingEventTimeWindows", size, offset)

    @staticmethod
    def of(size: Any, offset: Any = None) -> TumblingEventTimeWindows:
        """Windows of ``size`` (a ``Time``), shifted by ``offset`` (e.g. ``Time.hours(-8)`` for
        days that start at midnight in UTC+8)."""
        return TumblingEventTimeWindows(*_tumbling_args("TumblingEventTimeWindows", size, offset))

    def assign_windows(self, element: Any, timestamp: int | None, context: WindowAssignerContext
                       ) -> Collection[TimeWindow]:
        ts = _require_timestamp(timestamp, "TumblingEventTimeWindows")
        start = ts - (ts - self._offset + self._size) % self._size
        return (TimeWindow(start, start + self._size),)

    def get_default_trigger(self, env: Any = None) -> Trigger[Any, Any]:
        return EventTimeTrigger()

    def get_window_serializer(self) -> TimeWindowSerializer:
        return TimeWindowSerializer()

    def is_event_time(self) -> bool:
        return True

    def __repr__(self) -> str:
        return f"TumblingEventTimeWindows({self._size}, {self._offset})"


class TumblingProcessingTimeWindows(WindowAssigner[Any, TimeWindow]):
    """Fixed-size, non-overlapping windows by the processing time at which elements arrive."""

    def __init__(self, size: int, offset: int = 0) -> None:
        self._size, self._offset = _tumbling_args("TumblingProcessingTimeWindows", size, offset)

    @staticmethod
    def of(size: Any, offset: Any = None) -> TumblingProcessingTimeWindows:
        return TumblingProcessingTimeWindows(
            *_tumbling_args("TumblingProcessingTimeWindows", size, offset)
        )

    def assign_windows(self, element: Any, timestamp: int | None, context: WindowAssignerContext
                       ) -> Collection[TimeWindow]:
        now = context.get_current_processing_time()
        start = now - (now - self._offset + self._size) % self._size
        return (TimeWindow(start, start + self._size),)

    def get_default_trigger(self, env: Any = None) -> Trigger[Any, Any]:
        return ProcessingTimeTrigger()

    def get_window_serializer(self) -> TimeWindowSerializer:
        return TimeWindowSerializer()

    def is_event_time(self) -> bool:
        return False

    def __repr__(self) -> str:
        return f"TumblingProcessingTimeWindows({self._size}, {self._offset})"


class SlidingEventTimeWindows(WindowAssigner[Any, TimeWindow]):
    """Windows of ``size`` starting every ``slide`` by element timestamp; an element belongs
    to ``size / slide`` windows (rounded)."""

    def __init__(self, size: int, slide: int, offset: int = 0) -> None:
        self._size, self._slide, self._offset = _sliding_args(
            "SlidingEventTimeWindows", size, slide, offset
        )

    @staticmethod
    def of(size: Any, slide: Any, offset: Any = None) -> SlidingEventTimeWindows:
        return SlidingEventTimeWindows(
            *_sliding_args("SlidingEventTimeWindows", size, slide, offset)
        )

    def assign_windows(self, element: Any, timestamp: int | None, context: WindowAssignerContext
                       ) -> Collection[TimeWindow]:
        ts = _require_timestamp(timestamp, "SlidingEventTimeWindows")
        size = self._size
        last_start = ts - (ts - self._offset + self._slide) % self._slide
        return [TimeWindow(s, s + size) for s in range(last_start, ts - size, -self._slide)]

    def get_default_trigger(self, env: Any = None) -> Trigger[Any, Any]:
        return EventTimeTrigger()

    def get_window_serializer(self) -> TimeWindowSerializer:
        return TimeWindowSerializer()

    def is_event_time(self) -> bool:
        return True

    def __repr__(self) -> str:
        return f"SlidingEventTimeWindows({self._size}, {self._slide}, {self._offset})"


class SlidingProcessingTimeWindows(WindowAssigner[Any, TimeWindow]):
    """Windows of ``size`` starting every ``slide`` by arrival processing time."""

    def __init__(self, size: int, slide: int, offset: int = 0) -> None:
        self._size, self._slide, self._offset = _sliding_args(
            "SlidingProcessingTimeWindows", size, slide, offset
        )

    @staticmethod
    def of(size: Any, slide: Any, offset: Any = None) -> SlidingProcessingTimeWindows:
        return SlidingProcessingTimeWindows(
            *_sliding_args("SlidingProcessingTimeWindows", size, slide, offset)
        )

    def assign_windows(self, element: Any, timestamp: int | None, context: WindowAssignerContext
                       ) -> Collection[TimeWindow]:
        now = context.get_current_processing_time()
        size = self._size
        last_start = now - (now - self._offset + self._slide) % self._slide
        return [TimeWindow(s, s + size) for s in range(last_start, now - size, -self._slide)]

    def get_default_trigger(self, env: Any = None) -> Trigger[Any, Any]:
        return ProcessingTimeTrigger()

    def get_window_serializer(self) -> TimeWindowSerializer:
        return TimeWindowSerializer()

    def is_event_time(self) -> bool:
        return False

    def __repr__(self) -> str:
        return f"SlidingProcessingTimeWindows({self._size}, {self._slide}, {self._offset})"


class _SessionWindows(MergingWindowAssigner[Any, TimeWindow]):
    def merge_windows(self, windows: Iterable[TimeWindow], callback: MergeCallback[TimeWindow]
                      ) -> None:
        TimeWindow.merge_windows(windows, callback)

    def get_window_serializer(self) -> TimeWindowSerializer:
        return TimeWindowSerializer()


class EventTimeSessionWindows(_SessionWindows):
    """Sessions by element timestamp: each element opens ``[ts, ts + gap)`` and windows that
    overlap or touch merge."""

    def __init__(self, session_gap: int) -> None:
        self._session_gap = _session_gap("EventTimeSessionWindows", session_gap)

    @staticmethod
    def with_gap(size: Any) -> EventTimeSessionWindows:
        return EventTimeSessionWindows(_session_gap("EventTimeSessionWindows", size))

    @staticmethod
    def with_dynamic_gap(extractor: Any) -> DynamicEventTimeSessionWindows:
        """Sessions whose gap ``extractor.extract(element)`` (ms) each element decides; a plain
        callable is accepted too."""
        return DynamicEventTimeSessionWindows(extractor)

    def assign_windows(self, element: Any, timestamp: int | None, context: WindowAssignerContext
                       ) -> Collection[TimeWindow]:
        ts = _require_timestamp(timestamp, "EventTimeSessionWindows")
        return (TimeWindow(ts, ts + self._session_gap),)

    def get_default_trigger(self, env: Any = None) -> Trigger[Any, Any]:
        return EventTimeTrigger()

    def is_event_time(self) -> bool:
        return True

    def __repr__(self) -> str:
        return f"EventTimeSessionWindows({self._session_gap})"


class ProcessingTimeSessionWindows(_SessionWindows):
    """Sessions by arrival processing time with a fixed gap."""

    def __init__(self, session_gap: int) -> None:
        self._session_gap = _session_gap("ProcessingTimeSessionWindows", session_gap)

    @staticmethod
    def with_gap(size: Any) -> ProcessingTimeSessionWindows:
        return ProcessingTimeSessionWindows(_session_gap("ProcessingTimeSessionWindows", size))

    @staticmethod
    def with_dynamic_gap(extractor: Any) -> DynamicProcessingTimeSessionWindows:
        return DynamicProcessingTimeSessionWindows(extractor)

    def assign_windows(self, element: Any, timestamp: int | None, context: WindowAssignerContext
                       ) -> Collection[TimeWindow]:
        now = context.get_current_processing_time()
        return (TimeWindow(now, now + self._session_gap),)

    def get_default_trigger(self, env: Any = None) -> Trigger[Any, Any]:
        return ProcessingTimeTrigger()

    def is_event_time(self) -> bool:
        return False

    def __repr__(self) -> str:
        return f"ProcessingTimeSessionWindows({self._session_gap})"


class DynamicEventTimeSessionWindows(_SessionWindows):
    """Event-time sessions whose gap each element decides through an extractor."""

    def __init__(self, session_window_time_gap_extractor: Any) -> None:
        self._extractor = _gap_extractor(session_window_time_gap_extractor)

    @staticmethod
    def with_dynamic_gap(extractor: Any) -> DynamicEventTimeSessionWindows:
        return DynamicEventTimeSessionWindows(extractor)

    def assign_windows(self, element: Any, timestamp: int | None, context: WindowAssignerContext
                       ) -> Collection[TimeWindow]:
        ts = _require_timestamp(timestamp, "DynamicEventTimeSessionWindows")
        return (TimeWindow(ts, ts + _dynamic_gap(self._extractor, element)),)

    def get_default_trigger(self, env: Any = None) -> Trigger[Any, Any]:
        return EventTimeTrigger()

    def is_event_time(self) -> bool:
        return True

    def __repr__(self) -> str:
        return f"DynamicEventTimeSessionWindows({self._extractor!r})"


class DynamicProcessingTimeSessionWindows(_SessionWindows):
    """Processing-time sessions whose gap each element decides through an extractor."""

    def __init__(self, session_window_time_gap_extractor: Any) -> None:
        self._extractor = _gap_extractor(session_window_time_gap_extractor)

    @staticmethod
    def with_dynamic_gap(extractor: Any) -> DynamicProcessingTimeSessionWindows:
        return DynamicProcessingTimeSessionWindows(extractor)

    def assign_windows(self, element: Any, timestamp: int | None, context: WindowAssignerContext
                       ) -> Collection[TimeWindow]:
        now = context.get_current_processing_time()
        return (TimeWindow(now, now + _dynamic_gap(self._extractor, element)),)

    def get_default_trigger(self, env: Any = None) -> Trigger[Any, Any]:
        return ProcessingTimeTrigger()

    def is_event_time(self) -> bool:
        return False

    def __repr__(self) -> str:
        return f"DynamicProcessingTimeSessionWindows({self._extractor!r})"


class GlobalWindows(WindowAssigner[Any, GlobalWindow]):
    """Puts every element into the one :class:`GlobalWindow`. Its default trigger never fires,
    so set a trigger (e.g. ``PurgingTrigger.of(CountTrigger.of(n))``)."""

    @staticmethod
    def create() -> GlobalWindows:
        return GlobalWindows()

    def assign_windows(self, element: Any, timestamp: int | None, context: WindowAssignerContext
                       ) -> Collection[GlobalWindow]:
        return (GlobalWindow.get(),)

    def get_default_trigger(self, env: Any = None) -> Trigger[Any, Any]:
        return NeverTrigger()

    def get_window_serializer(self) -> GlobalWindowSerializer:
        return GlobalWindowSerializer()

    def is_event_time(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "GlobalWindows()"


def _positive_count(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{what} must be a positive number of elements, got {value!r}")
    return value


def _next_count(context: WindowAssignerContext, descriptor: ValueStateDescriptor) -> int:
    """The number of elements of the current key seen before this one (then counts this one)."""
    state = context.get_runtime_context().get_state(descriptor)
    count = state.value()
    current = 0 if count is None else count
    state.update(current + 1)
    return current


class CountTumblingWindowAssigner(WindowAssigner[Any, CountWindow]):
    """Windows of ``window_size`` consecutive elements per key: the n-th element of a key (from
    0) goes to ``CountWindow(n // window_size)``; a :class:`CountTrigger` fires it when full."""

    def __init__(self, window_size: int) -> None:
        self._window_size = _positive_count(window_size, "CountTumblingWindowAssigner size")
        self._count_descriptor = ValueStateDescriptor("tumble-count-assigner", None)

    @staticmethod
    def of(window_size: int) -> CountTumblingWindowAssigner:
        return CountTumblingWindowAssigner(window_size)

    def assign_windows(self, element: Any, timestamp: int | None, context: WindowAssignerContext
                       ) -> Collection[CountWindow]:
        return (CountWindow(_next_count(context, self._count_descriptor) // self._window_size),)

    def get_default_trigger(self, env: Any = None) -> Trigger[Any, Any]:
        return CountTrigger(self._window_size)

    def get_window_serializer(self) -> CountWindowSerializer:
        return CountWindowSerializer()

    def is_event_time(self) -> bool:
        return False

    def __repr__(self) -> str:
        return f"CountTumblingWindowAssigner({self._window_size})"


class CountSlidingWindowAssigner(WindowAssigner[Any, CountWindow]):
    """Windows of ``window_size`` elements per key, a new one every ``window_slide`` elements.

    Window ``i`` holds the elements numbered ``i*slide .. i*slide + size - 1`` of its key and
    fires (once, through :class:`CountTrigger`) when it holds ``size`` elements, so partial
    windows are never emitted (PyFlink's semantics; e.g. size 2, slide 1 over 1, 3, 5 sums to
    4 and 8).
    """

    def __init__(self, window_size: int, window_slide: int) -> None:
        self._window_size = _positive_count(window_size, "CountSlidingWindowAssigner size")
        self._window_slide = _positive_count(window_slide, "CountSlidingWindowAssigner slide")
        if self._window_slide > self._window_size:
            raise ValueError(
                "CountSlidingWindowAssigner needs slide <= size (a larger slide would skip "
                f"elements), got size {window_size} and slide {window_slide}"
            )
        self._count_descriptor = ValueStateDescriptor("slide-count-assigner", None)

    @staticmethod
    def of(window_size: int, window_slide: int) -> CountSlidingWindowAssigner:
        return CountSlidingWindowAssigner(window_size, window_slide)

    def assign_windows(self, element: Any, timestamp: int | None, context: WindowAssignerContext
                       ) -> Collection[CountWindow]:
        count = _next_count(context, self._count_descriptor)
        size, slide = self._window_size, self._window_slide
        window_id = count // slide
        windows = []
        while window_id >= 0 and window_id * slide + size > count:
            windows.append(CountWindow(window_id))
            window_id -= 1
        return windows

    def get_default_trigger(self, env: Any = None) -> Trigger[Any, Any]:
        return CountTrigger(self._window_size)

    def get_window_serializer(self) -> CountWindowSerializer:
        return CountWindowSerializer()

    def is_event_time(self) -> bool:
        return False

    def __repr__(self) -> str:
        return f"CountSlidingWindowAssigner({self._window_size}, {self._window_slide})"
