"""Time amounts and points: ``Duration``, ``Time`` and ``Instant`` (PyFlink's ``pyflink.common.time``).

All three are immutable values. ``Duration`` is exact to the nanosecond like
``java.time.Duration``; ``Time`` is the millisecond amount that window assigners and
``StateTtlConfig`` take; ``Instant`` is a point on the UTC time line.
"""

from __future__ import annotations

import functools
from typing import Any

from strom.common._java_text import java_instant_string

__all__ = ["Duration", "Instant", "Time"]

_NANOS_PER_MILLI = 1_000_000
_NANOS_PER_SECOND = 1_000_000_000
_MILLIS_PER_SECOND = 1_000
_MILLIS_PER_MINUTE = 60 * _MILLIS_PER_SECOND
_MILLIS_PER_HOUR = 60 * _MILLIS_PER_MINUTE
_MILLIS_PER_DAY = 24 * _MILLIS_PER_HOUR


def _require_int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int, got {value!r} ({type(value).__name__})")
    return value


def _java_div(a: int, b: int) -> int:
    """Integer division truncating toward zero, as Java's ``/`` on longs."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def _java_rem(a: int, b: int) -> int:
    """Remainder with the sign of the dividend, as Java's ``%`` on longs."""
    return a - b * _java_div(a, b)


@functools.total_ordering
class Duration:
    """An amount of time, exact to the nanosecond (``java.time.Duration``).

    Create with the ``of_*`` factories; read with :meth:`to_milliseconds` (floored, like
    Java's ``toMillis``) or :meth:`to_nanos`. ``str()`` gives Java's ISO-8601 text
    (``PT0.2S``); ``repr()`` gives a constructor call (``Duration.of_millis(200)``).

    >>> Duration.of_seconds(10).to_milliseconds()
    10000
    """

    __slots__ = ("_nanos",)

    def __init__(self, nanos: int = 0) -> None:
        self._nanos = _require_int(nanos, "Duration nanoseconds")

    @staticmethod
    def of_nanos(nanos: int) -> Duration:
        return Duration(_require_int(nanos, "nanos"))

    @staticmethod
    def of_millis(millis: int) -> Duration:
        return Duration(_require_int(millis, "millis") * _NANOS_PER_MILLI)

    @staticmethod
    def of_seconds(seconds: int) -> Duration:
        return Duration(_require_int(seconds, "seconds") * _NANOS_PER_SECOND)

    @staticmethod
    def of_minutes(minutes: int) -> Duration:
        return Duration(_require_int(minutes, "minutes") * 60 * _NANOS_PER_SECOND)

    @staticmethod
    def of_hours(hours: int) -> Duration:
        return Duration(_require_int(hours, "hours") * 3600 * _NANOS_PER_SECOND)

    @staticmethod
    def of_days(days: int) -> Duration:
        return Duration(_require_int(days, "days") * 86400 * _NANOS_PER_SECOND)

    def to_milliseconds(self) -> int:
        """Whole milliseconds, floored (``Duration.of_nanos(1_500_000)`` gives 1)."""
        return self._nanos // _NANOS_PER_MILLI

    def to_nanos(self) -> int:
        return self._nanos

    def is_negative(self) -> bool:
        return self._nanos < 0

    def is_zero(self) -> bool:
        return self._nanos == 0

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Duration):
            return self._nanos == other._nanos
        return NotImplemented

    def __lt__(self, other: object) -> bool:
        if isinstance(other, Duration):
            return self._nanos < other._nanos
        return NotImplemented

    def __hash__(self) -> int:
        return hash(("Duration", self._nanos))

    def __reduce__(self) -> tuple[Any, ...]:
        return (Duration, (self._nanos,))

    def __repr__(self) -> str:
        nanos = self._nanos
        if nanos % _NANOS_PER_MILLI:
            return f"Duration.of_nanos({nanos})"
        return f"Duration.of_millis({nanos // _NANOS_PER_MILLI})"

    def __str__(self) -> str:
        # Java's Duration.toString(): seconds are floored, nanos are the non-negative rest.
        seconds, nanos = divmod(self._nanos, _NANOS_PER_SECOND)
        if seconds == 0 and nanos == 0:
            return "PT0S"
        effective = seconds + 1 if seconds < 0 and nanos > 0 else seconds
        hours = _java_div(effective, 3600)
        minutes = _java_div(_java_rem(effective, 3600), 60)
        secs = _java_rem(effective, 60)
        out = "PT"
        if hours:
            out += f"{hours}H"
        if minutes:
            out += f"{minutes}M"
        if secs == 0 and nanos == 0 and len(out) > 2:
            return out
        if seconds < 0 < nanos:
            out += "-0" if secs == 0 else str(secs)
        else:
            out += str(secs)
        if nanos > 0:
            frac = 2 * _NANOS_PER_SECOND - nanos if seconds < 0 else nanos + _NANOS_PER_SECOND
            out += "." + str(frac)[1:].rstrip("0")
        return out + "S"


@functools.total_ordering
class Time:
    """An amount of time in milliseconds (``org.apache.flink.api.common.time.Time``).

    >>> Time.seconds(5).to_milliseconds()
    5000
    """

    __slots__ = ("_millis",)

    def __init__(self, milliseconds: int) -> None:
        self._millis = _require_int(milliseconds, "Time milliseconds")

    @staticmethod
    def milliseconds(milliseconds: int) -> Time:
        return Time(milliseconds)

    @staticmethod
    def seconds(seconds: int) -> Time:
        return Time(_require_int(seconds, "seconds") * _MILLIS_PER_SECOND)

    @staticmethod
    def minutes(minutes: int) -> Time:
        return Time(_require_int(minutes, "minutes") * _MILLIS_PER_MINUTE)

    @staticmethod
    def hours(hours: int) -> Time:
        return Time(_require_int(hours, "hours") * _MILLIS_PER_HOUR)

    @staticmethod
    def days(days: int) -> Time:
        return Time(_require_int(days, "days") * _MILLIS_PER_DAY)

    def to_milliseconds(self) -> int:
        return self._millis

    def to_duration(self) -> Duration:
        return Duration.of_millis(self._millis)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Time):
            return self._millis == other._millis
        return NotImplemented

    def __lt__(self, other: object) -> bool:
        if isinstance(other, Time):
            return self._millis < other._millis
        return NotImplemented

    def __hash__(self) -> int:
        return hash(("Time", self._millis))

    def __reduce__(self) -> tuple[Any, ...]:
        return (Time, (self._millis,))

    def __repr__(self) -> str:
        return f"Time.milliseconds({self._millis})"

    def __str__(self) -> str:
        return f"{self._millis} ms"


@functools.total_ordering
class Instant:
    """A point on the UTC time line: whole seconds since the epoch plus nanoseconds
    (``java.time.Instant``). ``str()`` gives Java's ISO-8601 text
    (``2021-01-09T12:00:00.011Z``).

    >>> Instant.of_epoch_milli(1500).to_epoch_milli()
    1500
    """

    __slots__ = ("nanos", "seconds")

    def __init__(self, seconds: int, nanos: int = 0) -> None:
        _require_int(seconds, "Instant seconds")
        _require_int(nanos, "Instant nanos")
        extra, nanos = divmod(nanos, _NANOS_PER_SECOND)
        self.seconds = seconds + extra
        self.nanos = nanos

    @staticmethod
    def of_epoch_milli(epoch_milli: int) -> Instant:
        seconds, millis = divmod(_require_int(epoch_milli, "epoch_milli"), _MILLIS_PER_SECOND)
        return Instant(seconds, millis * _NANOS_PER_MILLI)

    @staticmethod
    def of_epoch_second(epoch_second: int, nano_adjustment: int = 0) -> Instant:
        return Instant(epoch_second, nano_adjustment)

    def to_epoch_milli(self) -> int:
        return self.seconds * _MILLIS_PER_SECOND + self.nanos // _NANOS_PER_MILLI

    def _key(self) -> tuple[int, int]:
        return (self.seconds, self.nanos)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Instant):
            return self._key() == other._key()
        return NotImplemented

    def __lt__(self, other: object) -> bool:
        if isinstance(other, Instant):
            return self._key() < other._key()
        return NotImplemented

    def __hash__(self) -> int:
        return hash(("Instant", self.seconds, self.nanos))

    def __reduce__(self) -> tuple[Any, ...]:
        return (Instant, (self.seconds, self.nanos))

    def __repr__(self) -> str:
        return f"Instant<{self.seconds}, {self.nanos}>"

    def __str__(self) -> str:
        return java_instant_string(self.seconds, self.nanos)
