"""Java's ``toString`` text for numbers and temporal values, computed in Python.

Used by :func:`strom.common.typeinfo.to_java_string`, so that typed values print the way
PyFlink's Java-side print sink and string encoder print them. Pure functions, no strom
imports.
"""

from __future__ import annotations

import datetime as _dt
import math
import struct
from decimal import Decimal

__all__ = [
    "java_double_string",
    "java_float_string",
    "java_instant_string",
    "java_local_date_time_string",
    "java_local_time_string",
    "java_sql_time_string",
    "java_sql_timestamp_string",
]

_EPOCH = _dt.datetime(1970, 1, 1)


def _format_shortest(digits: str, exponent: int, negative: bool) -> str:
    """Java's layout of a shortest decimal ``0.<digits> * 10**(exponent+1)``.

    ``digits`` has no leading or trailing zeros; ``exponent`` is the power of ten of the
    first digit (``1.5e3`` → digits ``"15"``, exponent ``3``). Between 10^-3 and 10^7 Java
    writes plain decimals with at least one fractional digit, elsewhere ``d.dddE±n``.
    """
    sign = "-" if negative else ""
    if -3 <= exponent < 7:
        if exponent >= 0:
            int_part = digits[: exponent + 1].ljust(exponent + 1, "0")
            frac_part = digits[exponent + 1 :] or "0"
        else:
            int_part = "0"
            frac_part = "0" * (-exponent - 1) + digits
        return f"{sign}{int_part}.{frac_part}"
    return f"{sign}{digits[0]}.{digits[1:] or '0'}E{exponent}"


def _shortest_parts(text: str) -> tuple[str, int]:
    """Digits (without leading/trailing zeros) and first-digit exponent of a decimal text."""
    _sign, digit_tuple, exp = Decimal(text).as_tuple()
    assert isinstance(exp, int)
    digits = "".join(map(str, digit_tuple)).lstrip("0")
    stripped = digits.rstrip("0")
    exp += len(digits) - len(stripped)
    return stripped, exp + len(stripped) - 1


def _special(value: float) -> str | None:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0.0:
        return "-0.0" if math.copysign(1.0, value) < 0 else "0.0"
    return None


def java_double_string(value: float) -> str:
    """``Double.toString(value)``: ``1.0``, ``0.5``, ``1.0E10``, ``1.0E-5``, ``NaN``."""
    value = float(value)
    special = _special(value)
    if special is not None:
        return special
    # repr() is the shortest text that reads back as the same double, as Java (JDK 19+) picks.
    digits, exponent = _shortest_parts(repr(abs(value)))
    return _format_shortest(digits, exponent, value < 0)


def _to_float32(value: float) -> float:
    try:
        return float(struct.unpack("<f", struct.pack("<f", value))[0])
    except OverflowError:
        return math.copysign(math.inf, value)


def java_float_string(value: float) -> str:
    """``Float.toString((float) value)``: the shortest text that identifies the 32-bit float
    (``0.1`` stays ``0.1``, not ``0.10000000149011612``)."""
    f32 = _to_float32(float(value))
    special = _special(f32)
    if special is not None:
        return special
    magnitude = abs(f32)
    for precision in range(1, 10):
        text = f"{magnitude:.{precision - 1}e}"
        if _to_float32(float(text)) == magnitude:
            break
    digits, exponent = _shortest_parts(text)
    return _format_shortest(digits, exponent, f32 < 0)


def _fraction(nanos: int) -> str:
    """ISO fraction as Java prints it: 3, 6 or 9 digits, nothing when zero."""
    if nanos == 0:
        return ""
    if nanos % 1_000_000 == 0:
        return f".{nanos // 1_000_000:03d}"
    if nanos % 1_000 == 0:
        return f".{nanos // 1_000:06d}"
    return f".{nanos:09d}"


def java_instant_string(seconds: int, nanos: int) -> str:
    """``Instant.toString()``: ``2021-01-09T12:00:00.011Z``."""
    try:
        moment = _EPOCH + _dt.timedelta(seconds=seconds)
    except OverflowError:
        return f"Instant<{seconds}, {nanos}>"
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T"
        f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}{_fraction(nanos)}Z"
    )


def java_sql_timestamp_string(value: _dt.datetime) -> str:
    """``java.sql.Timestamp.toString()``: ``2021-01-09 12:00:00.011`` (at least ``.0``)."""
    nanos = value.microsecond * 1000
    frac = f"{nanos:09d}".rstrip("0") or "0"
    return (
        f"{value.year:04d}-{value.month:02d}-{value.day:02d} "
        f"{value.hour:02d}:{value.minute:02d}:{value.second:02d}.{frac}"
    )


def java_sql_time_string(value: _dt.time) -> str:
    """``java.sql.Time.toString()``: ``hh:mm:ss``."""
    return f"{value.hour:02d}:{value.minute:02d}:{value.second:02d}"


def java_local_time_string(value: _dt.time) -> str:
    """``LocalTime.toString()``: ``HH:mm``, ``HH:mm:ss`` or with a 3/6/9 digit fraction."""
    out = f"{value.hour:02d}:{value.minute:02d}"
    nanos = value.microsecond * 1000
    if value.second or nanos:
        out += f":{value.second:02d}" + _fraction(nanos)
    return out


def java_local_date_time_string(value: _dt.datetime) -> str:
    """``LocalDateTime.toString()``: ``2021-01-09T12:00`` style."""
    return f"{value.date().isoformat()}T{java_local_time_string(value.time())}"
