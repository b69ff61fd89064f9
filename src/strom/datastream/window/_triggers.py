"""Triggers: when a window's pane is evaluated (fired) and when it is purged.

A trigger keeps no state in its own fields: one instance serves every key and window, so all
it remembers goes through ``ctx.get_partitioned_state(descriptor)`` (scoped to the current key
and window) and all its wake-ups are timers registered through the context.
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, Generic, TypeAlias, TypeVar

from strom.datastream.state import ReducingStateDescriptor
from strom.datastream.window._time import to_millis

if TYPE_CHECKING:
    from strom.datastream.state import State, StateDescriptor
    from strom.datastream.window._windows import Window

__all__ = [
    "ContinuousEventTimeTrigger",
    "ContinuousProcessingTimeTrigger",
    "CountTrigger",
    "EventTimeTrigger",
    "NeverTrigger",
    "OnMergeContext",
    "ProcessingTimeTrigger",
    "PurgingTrigger",
    "Trigger",
    "TriggerContext",
    "TriggerResult",
]

T = TypeVar("T")
W = TypeVar("W", bound="Window")


class TriggerResult(enum.Enum):
    """What the window operator does with a pane after a trigger call.

    ``CONTINUE`` does nothing; ``FIRE`` evaluates the window function and keeps the contents;
    ``PURGE`` discards the contents without evaluating; ``FIRE_AND_PURGE`` does both. A fire on
    a window without contents produces nothing.
    """

    CONTINUE = (False, False)
    FIRE_AND_PURGE = (True, True)
    FIRE = (True, False)
    PURGE = (False, True)

    def __init__(self, fire: bool, purge: bool) -> None:
        self._fire = fire
        self._purge = purge

    def is_fire(self) -> bool:
        return self._fire

    def is_purge(self) -> bool:
        return self._purge


class TriggerContext(ABC):
    """What a trigger may touch: the clocks, timers and state of the current key and window."""

    @abstractmethod
    def get_current_processing_time(self) -> int: ...

    @abstractmethod
    def get_metric_group(self) -> Any: ...

    @abstractmethod
    def get_current_watermark(self) -> int: ...

    @abstractmethod
    def register_processing_time_timer(self, time: int) -> None:
        """Call :meth:`Trigger.on_processing_time` for this window once the clock reaches
        ``time``."""

    @abstractmethod
    def register_event_time_timer(self, time: int) -> None:
        """Call :meth:`Trigger.on_event_time` for this window once the watermark reaches
        ``time``."""

    @abstractmethod
    def delete_processing_time_timer(self, time: int) -> None: ...

    @abstractmethod
    def delete_event_time_timer(self, time: int) -> None: ...

    @abstractmethod
    def get_partitioned_state(self, state_descriptor: StateDescriptor) -> State:
        """The state named by ``state_descriptor``, scoped to the current key and window."""


class OnMergeContext(TriggerContext):
    """The context of :meth:`Trigger.on_merge`: it can also merge state of the merged windows
    into the resulting window."""

    @abstractmethod
    def merge_partitioned_state(self, state_descriptor: StateDescriptor) -> None:
        """Merge this state of all merged windows into the resulting window (the state must be
        a list, reducing or aggregating state)."""


class Trigger(ABC, Generic[T, W]):
    """Decides when a pane (the elements of one key in one window) is evaluated.

    Each method returns a :class:`TriggerResult`. With a merging assigner (session windows)
    the trigger must return ``True`` from :meth:`can_merge` and implement :meth:`on_merge`.
    :meth:`clear` must delete the timers and state the trigger created for the window.
    """

    TriggerContext: TypeAlias = TriggerContext
    OnMergeContext: TypeAlias = OnMergeContext

    @abstractmethod
    def on_element(self, element: T, timestamp: int, window: W, ctx: TriggerContext
                   ) -> TriggerResult:
        """Called for every element added to a pane."""

    @abstractmethod
    def on_processing_time(self, time: int, window: W, ctx: TriggerContext) -> TriggerResult:
        """Called when a processing-time timer of this window fires."""

    @abstractmethod
    def on_event_time(self, time: int, window: W, ctx: TriggerContext) -> TriggerResult:
        """Called when an event-time timer of this window fires."""

    def can_merge(self) -> bool:
        """True if the trigger supports merging windows (then :meth:`on_merge` must work)."""
        return False

    def on_merge(self, window: W, ctx: OnMergeContext) -> None:
        """Called when windows were merged into ``window``; re-register timers here."""
        raise TypeError(
            f"{type(self).__name__} does not support merging windows (can_merge() is False); "
            "use a trigger that implements on_merge with session windows"
        )

    @abstractmethod
    def clear(self, window: W, ctx: TriggerContext) -> None:
        """Delete the timers and state this trigger holds for ``window``."""


def _min(a: int, b: int) -> int:
    return a if a <= b else b


def _add(a: int, b: int) -> int:
    return a + b


def _positive_millis(value: Any, what: str) -> int:
    millis = to_millis(value, what)
    if millis <= 0:
        raise ValueError(f"{what} must be positive, got {millis} ms")
    return millis


class EventTimeTrigger(Trigger[Any, Any]):
    """Fires once the watermark passes the end of the window (the default trigger of event-time
    assigners). An element for a window the watermark has already passed fires it at once."""

    def on_element(self, element: Any, timestamp: int, window: Any, ctx: TriggerContext
                   ) -> TriggerResult:
        max_timestamp = window.max_timestamp()
        if max_timestamp <= ctx.get_current_watermark():
            return TriggerResult.FIRE
        ctx.register_event_time_timer(max_timestamp)
        return TriggerResult.CONTINUE

    def on_processing_time(self, time: int, window: Any, ctx: TriggerContext) -> TriggerResult:
        return TriggerResult.CONTINUE

    def on_event_time(self, time: int, window: Any, ctx: TriggerContext) -> TriggerResult:
        return TriggerResult.FIRE if time == window.max_timestamp() else TriggerResult.CONTINUE

    def can_merge(self) -> bool:
        return True

    def on_merge(self, window: Any, ctx: OnMergeContext) -> None:
        max_timestamp = window.max_timestamp()
        if max_timestamp > ctx.get_current_watermark():
            ctx.register_event_time_timer(max_timestamp)

    def clear(self, window: Any, ctx: TriggerContext) -> None:
        ctx.delete_event_time_timer(window.max_timestamp())

    @staticmethod
    def create() -> EventTimeTrigger:
        return EventTimeTrigger()

    def __repr__(self) -> str:
        return "EventTimeTrigger()"


class ProcessingTimeTrigger(Trigger[Any, Any]):
    """Fires once the processing-time clock passes the end of the window (the default trigger
    of processing-time assigners)."""

    def on_element(self, element: Any, timestamp: int, window: Any, ctx: TriggerContext
                   ) -> TriggerResult:
        ctx.register_processing_time_timer(window.max_timestamp())
        return TriggerResult.CONTINUE

    def on_processing_time(self, time: int, window: Any, ctx: TriggerContext) -> TriggerResult:
        return TriggerResult.FIRE

    def on_event_time(self, time: int, window: Any, ctx: TriggerContext) -> TriggerResult:
        return TriggerResult.CONTINUE

    def can_merge(self) -> bool:
        return True

    def on_merge(self, window: Any, ctx: OnMergeContext) -> None:
        max_timestamp = window.max_timestamp()
        if max_timestamp > ctx.get_current_processing_time():
            ctx.register_processing_time_timer(max_timestamp)

    def clear(self, window: Any, ctx: TriggerContext) -> None:
        ctx.delete_processing_time_timer(window.max_timestamp())

    @staticmethod
    def create() -> ProcessingTimeTrigger:
        return ProcessingTimeTrigger()

    def __repr__(self) -> str:
        return "ProcessingTimeTrigger()"


class ContinuousEventTimeTrigger(Trigger[Any, Any]):
    """Fires every ``interval`` of event time (aligned to multiples of the interval) while the
    window is open, and once more at the end of the window."""

    def __init__(self, interval: int) -> None:
        self.interval = _positive_millis(interval, "ContinuousEventTimeTrigger interval")
        self.state_desc = ReducingStateDescriptor("fire-time", _min, None)

    @staticmethod
    def of(interval: Any) -> ContinuousEventTimeTrigger:
        """``interval``: a :class:`~strom.common.time.Time` (or milliseconds)."""
        return ContinuousEventTimeTrigger(
            _positive_millis(interval, "ContinuousEventTimeTrigger interval")
        )

    def on_element(self, element: Any, timestamp: int, window: Any, ctx: TriggerContext
                   ) -> TriggerResult:
        if window.max_timestamp() <= ctx.get_current_watermark():
            return TriggerResult.FIRE
        ctx.register_event_time_timer(window.max_timestamp())
        fire_time = ctx.get_partitioned_state(self.state_desc)
        if fire_time.get() is None:  # type: ignore[attr-defined]
            self.register_next_fire_timestamp(timestamp - timestamp % self.interval, window, ctx,
                                              fire_time)
        return TriggerResult.CONTINUE

    def on_processing_time(self, time: int, window: Any, ctx: TriggerContext) -> TriggerResult:
        return TriggerResult.CONTINUE

    def on_event_time(self, time: int, window: Any, ctx: TriggerContext) -> TriggerResult:
        if time == window.max_timestamp():
            return TriggerResult.FIRE
        fire_time = ctx.get_partitioned_state(self.state_desc)
        if fire_time.get() == time:  # type: ignore[attr-defined]
            fire_time.clear()
            self.register_next_fire_timestamp(time, window, ctx, fire_time)
            return TriggerResult.FIRE
        return TriggerResult.CONTINUE

    def can_merge(self) -> bool:
        return True

    def on_merge(self, window: Any, ctx: OnMergeContext) -> None:
        ctx.merge_partitioned_state(self.state_desc)
        next_fire = ctx.get_partitioned_state(self.state_desc).get()  # type: ignore[attr-defined]
        if next_fire is not None:
            ctx.register_event_time_timer(next_fire)

    def clear(self, window: Any, ctx: TriggerContext) -> None:
        fire_time = ctx.get_partitioned_state(self.state_desc)
        timestamp = fire_time.get()  # type: ignore[attr-defined]
        if timestamp is not None:
            ctx.delete_event_time_timer(timestamp)
            fire_time.clear()

    def register_next_fire_timestamp(self, time: int, window: Any, ctx: TriggerContext,
                                     fire_timestamp_state: Any) -> None:
        """Record and register the next firing: ``time + interval``, at most the window's
        end."""
        next_fire = min(time + self.interval, window.max_timestamp())
        fire_timestamp_state.add(next_fire)
        ctx.register_event_time_timer(next_fire)

    def __repr__(self) -> str:
        return f"ContinuousEventTimeTrigger({self.interval})"


class ContinuousProcessingTimeTrigger(Trigger[Any, Any]):
    """Fires every ``interval`` of processing time (aligned to multiples of the interval)."""

    def __init__(self, interval: int) -> None:
        self.interval = _positive_millis(interval, "ContinuousProcessingTimeTrigger interval")
        self.state_desc = ReducingStateDescriptor("fire-time", _min, None)

    @staticmethod
    def of(interval: Any) -> ContinuousProcessingTimeTrigger:
        """``interval``: a :class:`~strom.common.time.Time` (or milliseconds)."""
        return ContinuousProcessingTimeTrigger(
            _positive_millis(interval, "ContinuousProcessingTimeTrigger interval")
        )

    def on_element(self, element: Any, timestamp: int, window: Any, ctx: TriggerContext
                   ) -> TriggerResult:
        fire_time = ctx.get_partitioned_state(self.state_desc)
        if fire_time.get() is None:  # type: ignore[attr-defined]
            now = ctx.get_current_processing_time()
            self.register_next_fire_timestamp(now - now % self.interval, window, ctx, fire_time)
        return TriggerResult.CONTINUE

    def on_processing_time(self, time: int, window: Any, ctx: TriggerContext) -> TriggerResult:
        fire_time = ctx.get_partitioned_state(self.state_desc)
        if fire_time.get() == time:  # type: ignore[attr-defined]
            fire_time.clear()
            self.register_next_fire_timestamp(time, window, ctx, fire_time)
            return TriggerResult.FIRE
        return TriggerResult.CONTINUE

    def on_event_time(self, time: int, window: Any, ctx: TriggerContext) -> TriggerResult:
        return TriggerResult.CONTINUE

    def can_merge(self) -> bool:
        return True

    def on_merge(self, window: Any, ctx: OnMergeContext) -> None:
        ctx.merge_partitioned_state(self.state_desc)
        next_fire = ctx.get_partitioned_state(self.state_desc).get()  # type: ignore[attr-defined]
        if next_fire is not None:
            ctx.register_processing_time_timer(next_fire)

    def clear(self, window: Any, ctx: TriggerContext) -> None:
        fire_time = ctx.get_partitioned_state(self.state_desc)
        timestamp = fire_time.get()  # type: ignore[attr-defined]
        if timestamp is not None:
            ctx.delete_processing_time_timer(timestamp)
            fire_time.clear()

    def register_next_fire_timestamp(self, time: int, window: Any, ctx: TriggerContext,
                                     fire_timestamp_state: Any) -> None:
        """Record and register the next firing: ``time + interval``, at most the window's
        end."""
        next_fire = min(time + self.interval, window.max_timestamp())
        fire_timestamp_state.add(next_fire)
        ctx.register_processing_time_timer(next_fire)

    def __repr__(self) -> str:
        return f"ContinuousProcessingTimeTrigger({self.interval})"


class PurgingTrigger(Trigger[Any, Any]):
    """Wraps a trigger and turns each of its fires into ``FIRE_AND_PURGE``."""

    def __init__(self, nested_trigger: Trigger[Any, Any]) -> None:
        if not isinstance(nested_trigger, Trigger):
            raise TypeError(
                f"PurgingTrigger.of needs a Trigger to wrap, got {type(nested_trigger).__name__}"
            )
        self.nested_trigger = nested_trigger

    @staticmethod
    def of(nested_trigger: Trigger[Any, Any]) -> PurgingTrigger:
        return PurgingTrigger(nested_trigger)

    @staticmethod
    def _purging(result: TriggerResult) -> TriggerResult:
        return TriggerResult.FIRE_AND_PURGE if result.is_fire() else result

    def on_element(self, element: Any, timestamp: int, window: Any, ctx: TriggerContext
                   ) -> TriggerResult:
        return self._purging(self.nested_trigger.on_element(element, timestamp, window, ctx))

    def on_event_time(self, time: int, window: Any, ctx: TriggerContext) -> TriggerResult:
        return self._purging(self.nested_trigger.on_event_time(time, window, ctx))

    def on_processing_time(self, time: int, window: Any, ctx: TriggerContext) -> TriggerResult:
        return self._purging(self.nested_trigger.on_processing_time(time, window, ctx))

    def can_merge(self) -> bool:
        return self.nested_trigger.can_merge()

    def on_merge(self, window: Any, ctx: OnMergeContext) -> None:
        self.nested_trigger.on_merge(window, ctx)

    def clear(self, window: Any, ctx: TriggerContext) -> None:
        self.nested_trigger.clear(window, ctx)

    def __repr__(self) -> str:
        return f"PurgingTrigger({self.nested_trigger!r})"


class CountTrigger(Trigger[Any, Any]):
    """Fires when the pane holds ``window_size`` more elements than at its last fire (the
    default trigger of count windows)."""

    def __init__(self, window_size: int) -> None:
        if isinstance(window_size, bool) or not isinstance(window_size, int) or window_size <= 0:
            raise ValueError(f"CountTrigger needs a positive element count, got {window_size!r}")
        self._window_size = window_size
        self._count_state_descriptor = ReducingStateDescriptor("count", _add, None)

    @staticmethod
    def of(window_size: int) -> CountTrigger:
        return CountTrigger(window_size)

    def on_element(self, element: Any, timestamp: int, window: Any, ctx: TriggerContext
                   ) -> TriggerResult:
        count = ctx.get_partitioned_state(self._count_state_descriptor)
        count.add(1)  # type: ignore[attr-defined]
        if count.get() >= self._window_size:  # type: ignore[attr-defined]
            count.clear()
            return TriggerResult.FIRE
        return TriggerResult.CONTINUE

    def on_processing_time(self, time: int, window: Any, ctx: TriggerContext) -> TriggerResult:
        return TriggerResult.CONTINUE

    def on_event_time(self, time: int, window: Any, ctx: TriggerContext) -> TriggerResult:
        return TriggerResult.CONTINUE

    def can_merge(self) -> bool:
        return True

    def on_merge(self, window: Any, ctx: OnMergeContext) -> None:
        ctx.merge_partitioned_state(self._count_state_descriptor)

    def clear(self, window: Any, ctx: TriggerContext) -> None:
        ctx.get_partitioned_state(self._count_state_descriptor).clear()

    def __repr__(self) -> str:
        return f"CountTrigger({self._window_size})"


class NeverTrigger(Trigger[Any, Any]):
    """Never fires (the default trigger of :class:`GlobalWindows`); set a trigger of your own."""

    def on_element(self, element: Any, timestamp: int, window: Any, ctx: TriggerContext
                   ) -> TriggerResult:
        return TriggerResult.CONTINUE

    def on_processing_time(self, time: int, window: Any, ctx: TriggerContext) -> TriggerResult:
        return TriggerResult.CONTINUE

    def on_event_time(self, time: int, window: Any, ctx: TriggerContext) -> TriggerResult:
        return TriggerResult.CONTINUE

    def on_merge(self, window: Any, ctx: OnMergeContext) -> None:
        return None

    def clear(self, window: Any, ctx: TriggerContext) -> None:
        return None

    def __repr__(self) -> str:
        return "NeverTrigger()"
