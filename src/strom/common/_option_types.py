"""Value types of configuration options: how a value is read from its string form, written
back, and described in an error message; and the constraints an option puts on its values.

Flink stores configuration values as strings; an option's :class:`OptionType` turns them
into typed values with Flink's syntax (``"200 ms"``, ``"32 kb"``, ``"k1:v1,k2:v2"``,
case-insensitive ``"true"``) and back. A :class:`Constraint` narrows the values an option
accepts (a range, a power of two, a value that is planned but not available yet).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from strom.common.time import Duration, Time

__all__ = [
    "BOOL",
    "DURATION",
    "FLOAT",
    "INT",
    "MAP",
    "MEMORY_SIZE",
    "STRING",
    "Constraint",
    "OptionType",
    "at_least",
    "enum_type",
    "format_duration_ms",
    "format_map",
    "format_memory_size",
    "in_range",
    "not_available_yet",
    "parse_bool",
    "parse_duration_ms",
    "parse_float",
    "parse_int",
    "parse_map",
    "parse_memory_size",
    "power_of_two_at_least",
]

T = TypeVar("T")

_JAVA_INT_MIN = -(2**31)
_JAVA_INT_MAX = 2**31 - 1


@dataclass(frozen=True)
class OptionType(Generic[T]):
    """How values of one type are parsed from and formatted to their stored string form.

    ``parse`` raises ``ValueError`` on malformed text; ``coerce`` turns a Python value given
    in code (``config.set(option, 5)``) into the option's value type or raises ``TypeError``;
    ``expected`` completes the sentence "expected ..." in error messages.
    """

    name: str
    parse: Callable[[str], T]
    format: Callable[[T], str]
    coerce: Callable[[Any], T]
    expected: str


# -- scalars ----------------------------------------------------------------------------

_INT_RE = re.compile(r"[+-]?\d+")


def parse_int(text: str) -> int:
    """A Java ``int``: optional sign and decimal digits, surrounding blanks ignored."""
    stripped = text.strip()
    if not _INT_RE.fullmatch(stripped):
        raise ValueError(f"not an integer: {text!r}")
    value = int(stripped)
    if not _JAVA_INT_MIN <= value <= _JAVA_INT_MAX:
        raise ValueError(f"integer out of range: {text!r}")
    return value


def _coerce_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("an int")
    if not _JAVA_INT_MIN <= value <= _JAVA_INT_MAX:
        raise TypeError("an int within Java's int range")
    return value


def parse_float(text: str) -> float:
    """A decimal or scientific number (``0.5``, ``1e3``, ``NaN``, ``Infinity``)."""
    stripped = text.strip()
    if not stripped or "_" in stripped:
        raise ValueError(f"not a number: {text!r}")
    if stripped.lower() in ("infinity", "+infinity", "-infinity"):
        stripped = stripped.lower().replace("infinity", "inf")
    return float(stripped)


def _coerce_float(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError("a number")
    return float(value)


def parse_bool(text: str) -> bool:
    """``"true"`` or ``"false"``, in any case."""
    lowered = text.strip().lower()
    if lowered == "true":
        return True
    if lowered == "false":
        return False
    raise ValueError(f"not a boolean: {text!r}")


def _format_bool(value: bool) -> str:
    return "true" if value else "false"


def _coerce_bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError("a bool")
    return value


def _coerce_str(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("a str")
    return value


# -- durations --------------------------------------------------------------------------

_NANOS_PER_UNIT: dict[str, int] = {}
_time_labels: tuple[tuple[tuple[str, ...], int], ...] = (
    (("d", "day", "days"), 86_400_000_000_000),
    (("h", "hour", "hours"), 3_600_000_000_000),
    (("min", "m", "minute", "minutes"), 60_000_000_000),
    (("s", "sec", "secs", "second", "seconds"), 1_000_000_000),
    (("ms", "milli", "millis", "millisecond", "milliseconds"), 1_000_000),
    (("µs", "micro", "micros", "microsecond", "microseconds"), 1_000),
    (("ns", "nano", "nanos", "nanosecond", "nanoseconds"), 1),
)
for _labels, _nanos in _time_labels:
    for _label in _labels:
        _NANOS_PER_UNIT[_label] = _nanos

_AMOUNT_RE = re.compile(r"\s*(\d+)\s*(\S*)\s*")


def parse_duration_ms(text: str) -> int:
    """Flink's duration syntax (``TimeUtils.parseDuration``) to whole milliseconds.

    A number and an optional unit, blanks between allowed, unit case-insensitive:
    ``d|day(s)``, ``h|hour(s)``, ``min|m|minute(s)``, ``s|sec(s)|second(s)``,
    ``ms|milli(s)|millisecond(s)``, ``µs|micro(s)|...``, ``ns|nano(s)|...``.
    A bare number is milliseconds. Sub-millisecond amounts are floored.

    >>> parse_duration_ms("10 s"), parse_duration_ms("200ms"), parse_duration_ms("1 min")
    (10000, 200, 60000)
    """
    match = _AMOUNT_RE.fullmatch(text)
    if match is None:
        raise ValueError(f"not a duration: {text!r}")
    amount, unit = int(match.group(1)), match.group(2).lower()
    if not unit:
        return amount
    nanos = _NANOS_PER_UNIT.get(unit)
    if nanos is None:
        raise ValueError(f"unknown time unit {unit!r} in {text!r}")
    return amount * nanos // 1_000_000


def format_duration_ms(millis: int) -> str:
    """Milliseconds in the largest unit that divides them: ``"200 ms"``, ``"10 s"``,
    ``"1 min"``, ``"2 h"``, ``"1 d"`` (Flink's ``formatWithHighestUnit``)."""
    for label, unit_ms in (("d", 86_400_000), ("h", 3_600_000), ("min", 60_000), ("s", 1000)):
        if millis != 0 and millis % unit_ms == 0:
            return f"{millis // unit_ms} {label}"
    return f"{millis} ms"


def _coerce_duration_ms(value: Any) -> int:
    if isinstance(value, Duration | Time):
        value = value.to_milliseconds()
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise TypeError("a non-negative number of milliseconds as an int, a Duration or a Time")
    return value


# -- memory sizes -----------------------------------------------------------------------

_BYTES_PER_UNIT: dict[str, int] = {}
_memory_labels: tuple[tuple[tuple[str, ...], int], ...] = (
    (("b", "bytes"), 1),
    (("k", "kb", "kibibytes"), 1 << 10),
    (("m", "mb", "mebibytes"), 1 << 20),
    (("g", "gb", "gibibytes"), 1 << 30),
    (("t", "tb", "tebibytes"), 1 << 40),
)
for _labels, _factor in _memory_labels:
    for _label in _labels:
        _BYTES_PER_UNIT[_label] = _factor


def parse_memory_size(text: str) -> int:
    """Flink's memory size syntax (``MemorySize.parse``) to bytes, units base 1024:
    ``b|bytes``, ``k|kb``, ``m|mb``, ``g|gb``, ``t|tb``; a bare number is bytes.

    >>> parse_memory_size("32 kb"), parse_memory_size("128mb")
    (32768, 134217728)
    """
    match = _AMOUNT_RE.fullmatch(text)
    if match is None:
        raise ValueError(f"not a memory size: {text!r}")
    amount, unit = int(match.group(1)), match.group(2).lower()
    if not unit:
        return amount
    factor = _BYTES_PER_UNIT.get(unit)
    if factor is None:
        raise ValueError(f"unknown memory unit {unit!r} in {text!r}")
    return amount * factor


def format_memory_size(num_bytes: int) -> str:
    """Bytes in the largest unit that divides them: ``"32 kb"``, ``"100 bytes"``."""
    for label, factor in (("tb", 1 << 40), ("gb", 1 << 30), ("mb", 1 << 20), ("kb", 1 << 10)):
        if num_bytes != 0 and num_bytes % factor == 0:
            return f"{num_bytes // factor} {label}"
    return f"{num_bytes} bytes"


def _coerce_memory(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise TypeError("a non-negative number of bytes as an int")
    return value


# -- maps -------------------------------------------------------------------------------


def _tokenize(text: str, separators: str) -> list[tuple[str, str]]:
    """Split ``text`` into ``(token, separator_after)`` pairs (``""`` after the last token).

    Separators inside single or double quotes do not split; a doubled quote inside a quoted
    token is a literal quote. Quotes are removed, unquoted tokens are stripped.
    """
    pairs: list[tuple[str, str]] = []
    current: list[str] = []
    quoted = False
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in "'\"" and not quoted and not "".join(current).strip():
            quote, i, current, quoted = ch, i + 1, [], True
            while True:
                if i >= n:
                    raise ValueError(f"unterminated quote in {text!r}")
                if text[i] == quote:
                    if i + 1 < n and text[i + 1] == quote:
                        current.append(quote)
                        i += 2
                        continue
                    i += 1
                    break
                current.append(text[i])
                i += 1
            continue
        if ch in separators:
            token = "".join(current)
            pairs.append((token if quoted else token.strip(), ch))
            current, quoted = [], False
        elif quoted and not ch.isspace():
            raise ValueError(f"unexpected {ch!r} after a quoted token in {text!r}")
        elif not quoted:
            current.append(ch)
        i += 1
    token = "".join(current)
    pairs.append((token if quoted else token.strip(), ""))
    return pairs


def parse_map(text: str) -> dict[str, str]:
    """Flink's map syntax: ``"k1:v1,k2:v2"``; keys or values containing ``,`` or ``:`` are
    quoted (``"'a,b':1"``). An empty text is an empty map.

    >>> parse_map("k1:v1,k2:v2")
    {'k1': 'v1', 'k2': 'v2'}
    """
    if not text.strip():
        return {}
    result: dict[str, str] = {}
    entry: list[str] = []
    for token, separator in _tokenize(text, ",:"):
        entry.append(token)
        if separator == ":":
            continue
        if len(entry) != 2 or not entry[0]:
            raise ValueError(f"map entry {':'.join(entry)!r} is not 'key:value' in {text!r}")
        result[entry[0]] = entry[1]
        entry = []
    return result


def _quote_if_needed(token: str) -> str:
    if any(ch in token for ch in ",:'\"") or token != token.strip():
        return "'" + token.replace("'", "''") + "'"
    return token


def format_map(mapping: Mapping[str, str]) -> str:
    """The inverse of :func:`parse_map`."""
    return ",".join(f"{_quote_if_needed(k)}:{_quote_if_needed(v)}" for k, v in mapping.items())


def _coerce_map(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise TypeError("a dict of str to str")
    return {str(k): str(v) for k, v in value.items()}


# -- enums ------------------------------------------------------------------------------


def enum_type(choices: type[enum.Enum] | Sequence[str]) -> OptionType[Any]:
    """An option type for one of a fixed set of names, matched case-insensitively.

    Given an ``Enum`` class the value is the member; given names the value is the
    canonical spelling of the name.
    """
    if isinstance(choices, type) and issubclass(choices, enum.Enum):
        enum_cls: type[enum.Enum] = choices
        members = {m.name.lower(): m for m in enum_cls}
        names = [m.name for m in enum_cls]

        def parse_member(text: str) -> Any:
            member = members.get(text.strip().lower())
            if member is None:
                raise ValueError(f"not one of {names}: {text!r}")
            return member

        def coerce_member(value: Any) -> Any:
            if isinstance(value, enum_cls):
                return value
            if isinstance(value, str):
                try:
                    return parse_member(value)
                except ValueError:
                    pass
            raise TypeError(f"a {enum_cls.__name__} or one of {', '.join(names)}")

        return OptionType(
            enum_cls.__name__,
            parse_member,
            lambda m: m.name,
            coerce_member,
            "one of " + ", ".join(names),
        )
    canonical = {name.lower(): name for name in choices}
    listed = ", ".join(choices)

    def parse_name(text: str) -> str:
        name = canonical.get(text.strip().lower())
        if name is None:
            raise ValueError(f"not one of {listed}: {text!r}")
        return name

    def coerce_name(value: Any) -> str:
        if isinstance(value, enum.Enum):
            value = value.name
        if isinstance(value, str) and value.strip().lower() in canonical:
            return canonical[value.strip().lower()]
        raise TypeError(f"one of {listed}")

    return OptionType("enum", parse_name, str, coerce_name, f"one of {listed}")


INT: OptionType[int] = OptionType("int", parse_int, str, _coerce_int, "an integer such as '4'")
FLOAT: OptionType[float] = OptionType(
    "float", parse_float, repr, _coerce_float, "a number such as '0.5'"
)
BOOL: OptionType[bool] = OptionType(
    "bool", parse_bool, _format_bool, _coerce_bool, "'true' or 'false'"
)
STRING: OptionType[str] = OptionType("str", str, str, _coerce_str, "a string")
DURATION: OptionType[int] = OptionType(
    "duration",
    parse_duration_ms,
    format_duration_ms,
    _coerce_duration_ms,
    "a duration such as '200 ms' or '10 s'",
)
MEMORY_SIZE: OptionType[int] = OptionType(
    "memory size",
    parse_memory_size,
    format_memory_size,
    _coerce_memory,
    "a memory size such as '32 kb' or '128 mb'",
)
MAP: OptionType[dict[str, str]] = OptionType(
    "map", parse_map, format_map, _coerce_map, "a map such as 'k1:v1,k2:v2'"
)


# -- constraints ------------------------------------------------------------------------


@dataclass(frozen=True)
class Constraint:
    """A condition on an option's parsed value.

    ``accepts(value)`` says whether the value is allowed; ``explain(value)`` completes the
    sentence "Invalid value for 'key': got '...'; ..." for a value it does not accept, and
    says what is allowed instead.
    """

    accepts: Callable[[Any], bool]
    explain: Callable[[Any], str]


def _integer_words(low: int | None, high: int | None) -> str:
    if low is not None and high is not None:
        return f"an integer from {low} to {high}"
    if low is not None:
        return f"an integer >= {low}"
    return f"an integer <= {high}"


def in_range(
    low: int | None = None, high: int | None = None, special: Mapping[int, str] | None = None
) -> Constraint:
    """Integers from ``low`` to ``high`` (either end open when ``None``), plus the
    ``special`` values, each with what it means.

    >>> c = in_range(1, special={-1: "the default"})
    >>> c.accepts(4), c.accepts(-1), c.accepts(0)
    (True, True, False)
    >>> c.explain(0)
    'expected an integer >= 1, or -1 (the default).'
    """
    extras = dict(special or {})
    words = _integer_words(low, high) + "".join(
        f", or {value} ({meaning})" for value, meaning in extras.items()
    )

    def accepts(value: Any) -> bool:
        if value in extras:
            return True
        return (low is None or value >= low) and (high is None or value <= high)

    return Constraint(accepts, lambda _value: f"expected {words}.")


def at_least(low: int) -> Constraint:
    """Integers ``>= low``."""
    return in_range(low)


def power_of_two_at_least(low: int, describe: Callable[[int], str] = str) -> Constraint:
    """Powers of two ``>= low`` (``describe`` writes a value in the option's syntax)."""

    def accepts(value: Any) -> bool:
        return bool(value >= low and value & (value - 1) == 0)

    return Constraint(accepts, lambda _value: f"expected a power of two >= {describe(low)}.")


def not_available_yet(planned: Mapping[Any, str], instead: str) -> Constraint:
    """Values strom will support but does not yet: ``planned`` maps each to a description
    (used as "<description> is planned but not available in strom yet"); ``instead`` says
    what to use for now.

    >>> c = not_available_yet({"rocksdb": "the RocksDB state backend"}, "use 'hashmap'")
    >>> c.accepts("hashmap"), c.accepts("rocksdb")
    (True, False)
    >>> c.explain("rocksdb")
    "the RocksDB state backend is planned but not available in strom yet; use 'hashmap'."
    """

    def explain(value: Any) -> str:
        return f"{planned[value]} is planned but not available in strom yet; {instead}."

    return Constraint(lambda value: value not in planned, explain)
