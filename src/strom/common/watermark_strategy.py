"""Event time: watermarks, watermark generators and ``WatermarkStrategy``.

Semantics follow Flink's ``org.apache.flink.api.common.eventtime`` (reference §5.9):
timestamps are epoch milliseconds; ``Watermark(t)`` promises no more records with a
timestamp ``<= t``; the bounded-out-of-orderness generator emits
``max_timestamp - max_out_of_orderness - 1`` on each periodic emit and ``LONG_MIN`` before
it has seen a record; idleness follows ``WatermarksWithIdleness``.

The runtime uses a strategy through :meth:`WatermarkStrategy.create_watermark_generator`
(one generator per source split or subtask), :meth:`WatermarkStrategy.create_timestamp_assigner`
and the properties ``idle_timeout_ms``, ``is_no_watermarks`` and ``watermark_alignment``.
"""

from __future__ import annotations

import functools
import inspect
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, runtime_checkable

from strom.common.time import Duration

__all__ = [
    "LONG_MAX",
    "LONG_MIN",
    "BoundedOutOfOrdernessWatermarks",
    "NoWatermarksGenerator",
    "TimestampAssigner",
    "Watermark",
    "WatermarkAlignmentParams",
    "WatermarkGenerator",
    "WatermarkOutput",
    "WatermarkStrategy",
    "WatermarksWithIdleness",
]

LONG_MIN = -(2**63)
LONG_MAX = 2**63 - 1

Clock = Callable[[], float]
"""A zero-argument callable giving the current time in milliseconds."""


@dataclass(frozen=True, order=True, slots=True)
class Watermark:
    """Event time has reached ``timestamp``: no more records with a timestamp ``<=`` it."""

    timestamp: int

    MAX_WATERMARK: ClassVar[Watermark]
    UNINITIALIZED: ClassVar[Watermark]

    def get_timestamp(self) -> int:
        return self.timestamp


Watermark.MAX_WATERMARK = Watermark(LONG_MAX)
Watermark.UNINITIALIZED = Watermark(LONG_MIN)


class TimestampAssigner(ABC):
    """Gives each record its event timestamp (epoch milliseconds)."""

    @abstractmethod
    def extract_timestamp(self, value: Any, record_timestamp: int) -> int:
        """The timestamp of ``value``; ``record_timestamp`` is the one it already carries
        (``LONG_MIN`` when none)."""


class _FunctionTimestampAssigner(TimestampAssigner):
    """A plain function used as a timestamp assigner. ``extract_timestamp`` is the function
    itself for two-argument functions, so the runtime calls it without an extra hop."""

    def __init__(self, function: Callable[..., int]) -> None:
        self.function = function
        if _positional_arity(function) == 1:
            self.extract_timestamp = lambda value, record_timestamp: function(value)  # type: ignore[method-assign]
        else:
            self.extract_timestamp = function  # type: ignore[method-assign]

    def extract_timestamp(self, value: Any, record_timestamp: int) -> int:
        return int(self.function(value, record_timestamp))

    def __repr__(self) -> str:
        return f"TimestampAssigner({self.function!r})"


def _positional_arity(function: Callable[..., Any]) -> int:
    """1 when ``function`` takes exactly one positional argument, else 2."""
    try:
        params = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return 2
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return 2
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return 1 if len(positional) == 1 else 2


@runtime_checkable
class WatermarkOutput(Protocol):
    """Where a generator sends its watermarks and idleness."""

    def emit_watermark(self, watermark: Watermark) -> None:
        """Emit ``watermark``; an idle output becomes active again."""

    def mark_idle(self) -> None:
        """This output will not emit records or watermarks for a while; downstream
        operators leave it out of their minimum watermark."""

    def mark_active(self) -> None:
        """This output takes part in the minimum watermark again."""


class WatermarkGenerator(ABC):
    """Generates watermarks from the records' timestamps: per record in :meth:`on_event`
    (punctuated) and/or on a timer in :meth:`on_periodic_emit` (periodic, every
    ``pipeline.auto-watermark-interval``)."""

    @abstractmethod
    def on_event(self, event: Any, event_timestamp: int, output: WatermarkOutput) -> None:
        """Called for every record, after its timestamp was assigned."""

    @abstractmethod
    def on_periodic_emit(self, output: WatermarkOutput) -> None:
        """Called periodically; may emit a watermark."""

    def on_event_batch(
        self, events: Sequence[Any], timestamps: Sequence[int], output: WatermarkOutput
    ) -> None:
        """:meth:`on_event` for each record of a batch, in order. Generators override it
        when they can do better than a loop."""
        on_event = self.on_event
        for event, timestamp in zip(events, timestamps):
            on_event(event, timestamp, output)


class BoundedOutOfOrdernessWatermarks(WatermarkGenerator):
    """Periodic watermarks trailing the highest timestamp seen by
    ``max_out_of_orderness_ms``: each periodic emit gives
    ``max_timestamp - max_out_of_orderness_ms - 1``, and ``LONG_MIN`` before any record.

    >>> class Out:
    ...     def emit_watermark(self, w): print(w.timestamp)
    >>> gen = BoundedOutOfOrdernessWatermarks(100)
    >>> gen.on_periodic_emit(Out())
    -9223372036854775808
    >>> gen.on_event(None, 1000, Out()); gen.on_periodic_emit(Out())
    899
    """

    __slots__ = ("max_timestamp", "out_of_orderness_ms")

    def __init__(self, max_out_of_orderness_ms: int) -> None:
        if isinstance(max_out_of_orderness_ms, Duration):
            max_out_of_orderness_ms = max_out_of_orderness_ms.to_milliseconds()
        if max_out_of_orderness_ms < 0:
            raise ValueError(
                f"max out-of-orderness must not be negative, got {max_out_of_orderness_ms} ms"
            )
        self.out_of_orderness_ms = int(max_out_of_orderness_ms)
        # Start so that the first watermark is exactly LONG_MIN (no underflow in Java).
        self.max_timestamp = LONG_MIN + self.out_of_orderness_ms + 1

    def on_event(self, event: Any, event_timestamp: int, output: WatermarkOutput) -> None:
        if event_timestamp > self.max_timestamp:
            self.max_timestamp = event_timestamp

    def on_event_batch(
        self, events: Sequence[Any], timestamps: Sequence[int], output: WatermarkOutput
    ) -> None:
        if timestamps:
            highest = max(timestamps)
            if highest > self.max_timestamp:
                self.max_timestamp = highest

    def on_periodic_emit(self, output: WatermarkOutput) -> None:
        output.emit_watermark(Watermark(self.max_timestamp - self.out_of_orderness_ms - 1))


class NoWatermarksGenerator(WatermarkGenerator):
    """Emits no watermarks at all (processing-time jobs)."""

    __slots__ = ()

    def on_event(self, event: Any, event_timestamp: int, output: WatermarkOutput) -> None:
        pass

    def on_event_batch(
        self, events: Sequence[Any], timestamps: Sequence[int], output: WatermarkOutput
    ) -> None:
        pass

    def on_periodic_emit(self, output: WatermarkOutput) -> None:
        pass


class WatermarksWithIdleness(WatermarkGenerator):
    """Wraps a generator and marks the output idle when no record arrived for longer than
    ``idle_timeout_ms`` (Flink's ``WatermarksWithIdleness``).

    Idleness is only checked on periodic emits: the first periodic emit that finds no
    record since the previous one starts the countdown (reading ``clock``); a later one
    that finds still no record and more than the timeout elapsed marks the output idle
    (once) and emits no watermark. While not idle, periodic emits go to the wrapped
    generator. The next record resets the countdown; if the output was idle, strom also
    calls ``output.mark_active()`` right away (Flink reactivates on the next watermark).
    """

    __slots__ = (
        "_clock",
        "_counter",
        "_inactive_since",
        "_is_idle",
        "_last_counter",
        "generator",
        "idle_timeout_ms",
    )

    def __init__(self, generator: WatermarkGenerator, idle_timeout_ms: int, clock: Clock) -> None:
        if idle_timeout_ms <= 0:
            raise ValueError(f"idle timeout must be greater than zero, got {idle_timeout_ms} ms")
        self.generator = generator
        self.idle_timeout_ms = idle_timeout_ms
        self._clock = clock
        self._counter = 0
        self._last_counter = 0
        self._inactive_since: float | None = None
        self._is_idle = False

    @property
    def is_idle(self) -> bool:
        return self._is_idle

    def _activity(self, output: WatermarkOutput) -> None:
        self._counter += 1
        if self._is_idle:
            self._is_idle = False
            output.mark_active()

    def on_event(self, event: Any, event_timestamp: int, output: WatermarkOutput) -> None:
        self.generator.on_event(event, event_timestamp, output)
        self._activity(output)

    def on_event_batch(
        self, events: Sequence[Any], timestamps: Sequence[int], output: WatermarkOutput
    ) -> None:
        if events:
            self.generator.on_event_batch(events, timestamps, output)
            self._activity(output)

    def _check_if_idle(self) -> bool:
        if self._counter != self._last_counter:
            self._last_counter = self._counter
            self._inactive_since = None
            return False
        if self._inactive_since is None:
            self._inactive_since = self._clock()
            return False
        return self._clock() - self._inactive_since > self.idle_timeout_ms

    def on_periodic_emit(self, output: WatermarkOutput) -> None:
        if self._check_if_idle():
            if not self._is_idle:
                output.mark_idle()
                self._is_idle = True
        else:
            self.generator.on_periodic_emit(output)


@dataclass(frozen=True, slots=True)
class WatermarkAlignmentParams:
    """Sources of ``group`` pause splits whose watermark is more than ``max_drift_ms``
    ahead of the group's minimum, re-checked every ``update_interval_ms``."""

    group: str
    max_drift_ms: int
    update_interval_ms: int = 1000


def _monotonic_ms() -> float:
    return time.monotonic() * 1000.0


def _to_ms(value: Duration | int, what: str) -> int:
    if isinstance(value, Duration):
        return value.to_milliseconds()
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be a Duration (or int milliseconds), got {value!r}")
    return value


class WatermarkStrategy:
    """How a source assigns timestamps and generates watermarks. Immutable: every
    ``with_*`` returns a new strategy.

    >>> strategy = (WatermarkStrategy.for_bounded_out_of_orderness(Duration.of_seconds(5))
    ...             .with_timestamp_assigner(lambda event, ts: event[0]))
    >>> strategy.create_timestamp_assigner().extract_timestamp((42, "a"), LONG_MIN)
    42
    """

    __slots__ = ("_alignment", "_assigner", "_description", "_factory", "_idle_ms", "_no_wm")

    def __init__(
        self,
        generator_factory: Callable[[], WatermarkGenerator],
        *,
        description: str = "WatermarkStrategy.for_generator(...)",
        timestamp_assigner: TimestampAssigner | None = None,
        idle_timeout_ms: int | None = None,
        alignment: WatermarkAlignmentParams | None = None,
        no_watermarks: bool = False,
    ) -> None:
        self._factory = generator_factory
        self._description = description
        self._assigner = timestamp_assigner
        self._idle_ms = idle_timeout_ms
        self._alignment = alignment
        self._no_wm = no_watermarks

    def _replace(self, **changes: Any) -> WatermarkStrategy:
        values: dict[str, Any] = {
            "description": self._description,
            "timestamp_assigner": self._assigner,
            "idle_timeout_ms": self._idle_ms,
            "alignment": self._alignment,
            "no_watermarks": self._no_wm,
        }
        values.update(changes)
        return WatermarkStrategy(self._factory, **values)

    # -- factories -------------------------------------------------------------------------

    @staticmethod
    def for_monotonous_timestamps() -> WatermarkStrategy:
        """Timestamps never decrease: watermark = highest timestamp - 1."""
        return WatermarkStrategy(
            functools.partial(BoundedOutOfOrdernessWatermarks, 0),
            description="WatermarkStrategy.for_monotonous_timestamps()",
        )

    @staticmethod
    def for_bounded_out_of_orderness(max_out_of_orderness: Duration) -> WatermarkStrategy:
        """Records are at most ``max_out_of_orderness`` late: watermark = highest
        timestamp - bound - 1."""
        bound_ms = _to_ms(max_out_of_orderness, "max_out_of_orderness")
        if bound_ms < 0:
            raise ValueError(f"max_out_of_orderness must not be negative, got {bound_ms} ms")
        return WatermarkStrategy(
            functools.partial(BoundedOutOfOrdernessWatermarks, bound_ms),
            description=f"WatermarkStrategy.for_bounded_out_of_orderness({bound_ms} ms)",
        )

    @staticmethod
    def no_watermarks() -> WatermarkStrategy:
        """No watermarks: event-time windows and timers never fire before end of input."""
        return WatermarkStrategy(
            NoWatermarksGenerator,
            description="WatermarkStrategy.no_watermarks()",
            no_watermarks=True,
        )

    @staticmethod
    def for_generator(factory: Callable[[], WatermarkGenerator]) -> WatermarkStrategy:
        """A custom generator, periodic or punctuated. ``factory`` is a
        :class:`WatermarkGenerator` subclass or any zero-argument callable returning a new
        generator; it is called once per source split, so generators are never shared."""
        if isinstance(factory, WatermarkGenerator) or not callable(factory):
            raise TypeError(
                "for_generator needs a WatermarkGenerator class or a zero-argument factory "
                f"returning a new generator, got {factory!r}. Every parallel source needs "
                "its own generator, so pass the class (or a lambda), not an instance."
            )
        name = getattr(factory, "__qualname__", repr(factory))
        return WatermarkStrategy(factory, description=f"WatermarkStrategy.for_generator({name})")

    # -- refinements -----------------------------------------------------------------------

    def with_timestamp_assigner(
        self, timestamp_assigner: TimestampAssigner | Callable[..., int]
    ) -> WatermarkStrategy:
        """Assign timestamps with a :class:`TimestampAssigner` or a function
        ``(value, record_timestamp) -> int`` (a one-argument ``value -> int`` works too)."""
        if isinstance(timestamp_assigner, TimestampAssigner):
            assigner = timestamp_assigner
        elif callable(timestamp_assigner):
            assigner = _FunctionTimestampAssigner(timestamp_assigner)
        else:
            raise TypeError(
                "with_timestamp_assigner needs a TimestampAssigner or a function "
                f"(value, record_timestamp) -> int, got {timestamp_assigner!r}"
            )
        return self._replace(timestamp_assigner=assigner)

    def with_idleness(self, idle_timeout: Duration) -> WatermarkStrategy:
        """Mark a split idle after ``idle_timeout`` without records, so it does not hold
        back the watermark downstream."""
        idle_ms = _to_ms(idle_timeout, "idle_timeout")
        if idle_ms <= 0:
            raise ValueError(f"idle_timeout must be greater than zero, got {idle_ms} ms")
        return self._replace(idle_timeout_ms=idle_ms)

    def with_watermark_alignment(
        self,
        watermark_group: str,
        max_allowed_watermark_drift: Duration,
        update_interval: Duration | None = None,
    ) -> WatermarkStrategy:
        """Align the watermarks of all sources in ``watermark_group``: a split more than
        ``max_allowed_watermark_drift`` ahead of the group's minimum pauses. The group
        minimum is refreshed every ``update_interval`` (1 s by default)."""
        if not isinstance(watermark_group, str) or not watermark_group:
            raise ValueError(f"watermark_group must be a non-empty str, got {watermark_group!r}")
        drift_ms = _to_ms(max_allowed_watermark_drift, "max_allowed_watermark_drift")
        if drift_ms <= 0:
            raise ValueError(
                f"max_allowed_watermark_drift must be greater than zero, got {drift_ms} ms"
            )
        interval_ms = (
            1000 if update_interval is None else _to_ms(update_interval, "update_interval")
        )
        if interval_ms <= 0:
            raise ValueError(f"update_interval must be greater than zero, got {interval_ms} ms")
        return self._replace(
            alignment=WatermarkAlignmentParams(watermark_group, drift_ms, interval_ms)
        )

    # -- what the runtime uses -------------------------------------------------------------

    def create_watermark_generator(self, clock: Clock | None = None) -> WatermarkGenerator:
        """A new generator for one source split or subtask, wrapped in
        :class:`WatermarksWithIdleness` when an idle timeout is set (``clock`` gives
        milliseconds; monotonic time by default)."""
        generator = self._factory()
        if not (hasattr(generator, "on_event") and hasattr(generator, "on_periodic_emit")):
            raise TypeError(
                f"The watermark generator factory of {self._description} returned "
                f"{generator!r}, which is not a WatermarkGenerator (it needs on_event and "
                "on_periodic_emit)."
            )
        if self._idle_ms is not None:
            return WatermarksWithIdleness(generator, self._idle_ms, clock or _monotonic_ms)
        return generator

    def create_timestamp_assigner(self) -> TimestampAssigner | None:
        """The assigner set with :meth:`with_timestamp_assigner`, or ``None`` to keep the
        timestamps the records already carry."""
        return self._assigner

    @property
    def idle_timeout_ms(self) -> int | None:
        return self._idle_ms

    @property
    def is_no_watermarks(self) -> bool:
        return self._no_wm

    @property
    def watermark_alignment(self) -> WatermarkAlignmentParams | None:
        return self._alignment

    def __repr__(self) -> str:
        text = self._description
        if self._assigner is not None:
            text += f".with_timestamp_assigner({self._assigner!r})"
        if self._idle_ms is not None:
            text += f".with_idleness({self._idle_ms} ms)"
        if self._alignment is not None:
            a = self._alignment
            text += (
                f".with_watermark_alignment({a.group!r}, {a.max_drift_ms} ms, "
                f"{a.update_interval_ms} ms)"
            )
        return text
