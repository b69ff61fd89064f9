"""The ``TypeInformation`` classes behind ``Types`` (re-exported by ``strom.common.typeinfo``).

Each class knows Java's ``toString`` text of its values (``format_value``); see
``strom.common.typeinfo`` for what that text is and how it was verified. ``mismatch`` says
why a Python value cannot be a value of the type (the runtime checks declared output types
with it); it is lenient where PyFlink's coders are (``None`` is Java's null, a tuple may
stand for a row, an int for a float).
"""

from __future__ import annotations

import datetime as _dt
import decimal
import numbers
from collections.abc import Mapping, Sequence
from enum import Enum
from typing import Any, Literal

from strom.common._java_text import (
    java_double_string,
    java_float_string,
    java_local_date_time_string,
    java_local_time_string,
    java_sql_time_string,
    java_sql_timestamp_string,
)
from strom.common.types import Row, RowKind

__all__ = [
    "BasicArrayTypeInfo",
    "BasicType",
    "BasicTypeInfo",
    "ListTypeInfo",
    "LocalTimeTypeInfo",
    "MapTypeInfo",
    "ObjectArrayTypeInfo",
    "PickledBytesTypeInfo",
    "PrimitiveArrayTypeInfo",
    "RowTypeInfo",
    "SqlTimeTypeInfo",
    "TupleTypeInfo",
    "TypeInformation",
]


class TypeInformation:
    """The type of the records of a stream (or of one field). Immutable; equal when they
    describe the same type."""

    __slots__ = ()

    def _key(self) -> tuple[Any, ...]:
        return ()

    def get_arity(self) -> int:
        """Number of direct fields: 1 for atomic types, the field count for rows/tuples."""
        return 1

    def format_value(self, value: Any) -> str:
        """Java's ``toString`` of ``value`` as this type (``None`` is ``null``)."""
        return "null" if value is None else str(value)

    def mismatch(self, value: Any) -> str | None:
        """Why ``value`` cannot be a value of this type, or None when it can."""
        return None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TypeInformation):
            return NotImplemented
        return type(self) is type(other) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._key()))

    def __repr__(self) -> str:
        return type(self).__name__

    def __str__(self) -> str:
        return repr(self)


def _fmt(type_info: TypeInformation, value: Any) -> str:
    return "null" if value is None else type_info.format_value(value)


def _got(value: Any) -> str:
    shown = repr(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return f"got {type(value).__name__} {shown}"


def _fields(n: int) -> str:
    return "1 field" if n == 1 else f"{n} fields"


#: how many elements of a list, array or map are checked
_CHECKED_ELEMENTS = 8


# -- atomic types ---------------------------------------------------------------------


class BasicType(Enum):
    """Basic types, valued by their Java class name (which is also their ``repr``)."""

    STRING = "String"
    BYTE = "Byte"
    BOOLEAN = "Boolean"
    SHORT = "Short"
    INT = "Integer"
    LONG = "Long"
    FLOAT = "Float"
    DOUBLE = "Double"
    CHAR = "Character"
    BIG_INT = "BigInteger"
    BIG_DEC = "BigDecimal"
    INSTANT = "Instant"


def _int_text(value: Any) -> str:
    return str(int(value)) if isinstance(value, bool) else str(value)


def _signed_byte_text(value: Any) -> str:
    number = int(value)
    return str(number - 256 if number > 127 else number)


_BASIC_FORMATTERS: dict[BasicType, Any] = {
    BasicType.STRING: str,
    BasicType.BOOLEAN: lambda v: "true" if v else "false",
    BasicType.BYTE: _signed_byte_text,
    BasicType.SHORT: _int_text,
    BasicType.INT: _int_text,
    BasicType.LONG: _int_text,
    BasicType.BIG_INT: _int_text,
    BasicType.FLOAT: java_float_string,
    BasicType.DOUBLE: java_double_string,
    BasicType.CHAR: str,
    BasicType.BIG_DEC: str,  # Decimal's text follows the same rules as BigDecimal.toString
    BasicType.INSTANT: str,  # strom.common.Instant prints ISO-8601 like java.time.Instant
}

_INTEGRAL = (numbers.Integral,)
_BASIC_PYTHON_TYPES: dict[BasicType, tuple[tuple[type, ...], str]] = {
    BasicType.STRING: ((str,), "a str"),
    BasicType.CHAR: ((str,), "a str"),
    BasicType.BOOLEAN: ((bool,), "a bool"),
    BasicType.BYTE: (_INTEGRAL, "an int"),
    BasicType.SHORT: (_INTEGRAL, "an int"),
    BasicType.INT: (_INTEGRAL, "an int"),
    BasicType.LONG: (_INTEGRAL, "an int"),
    BasicType.BIG_INT: (_INTEGRAL, "an int"),
    BasicType.FLOAT: ((numbers.Real,), "a float"),
    BasicType.DOUBLE: ((numbers.Real,), "a float"),
    BasicType.BIG_DEC: ((decimal.Decimal, numbers.Integral), "a Decimal"),
}


class BasicTypeInfo(TypeInformation):
    """Strings, booleans, numbers, characters, ``BigInteger``/``BigDecimal`` and ``Instant``."""

    __slots__ = ("_basic_type", "_format")

    def __init__(self, basic_type: BasicType) -> None:
        self._basic_type = basic_type
        self._format = _BASIC_FORMATTERS[basic_type]

    def mismatch(self, value: Any) -> str | None:
        expected = _BASIC_PYTHON_TYPES.get(self._basic_type)
        if value is None or expected is None or isinstance(value, expected[0]):
            return None
        return f"expected {expected[1]} for {self._basic_type.value}, {_got(value)}"

    @property
    def basic_type(self) -> BasicType:
        return self._basic_type

    def _key(self) -> tuple[Any, ...]:
        return (self._basic_type,)

    def format_value(self, value: Any) -> str:
        return "null" if value is None else str(self._format(value))

    def __repr__(self) -> str:
        return self._basic_type.value

    def __reduce__(self) -> tuple[Any, ...]:
        return (BasicTypeInfo, (self._basic_type,))


class SqlTimeTypeInfo(TypeInformation):
    """``java.sql`` Date (``datetime.date``), Time (``datetime.time``) and Timestamp
    (``datetime.datetime``)."""

    __slots__ = ("_name",)

    def __init__(self, name: Literal["Date", "Time", "Timestamp"]) -> None:
        self._name = name

    def _key(self) -> tuple[Any, ...]:
        return (self._name,)

    def format_value(self, value: Any) -> str:
        if value is None:
            return "null"
        if self._name == "Timestamp" and isinstance(value, _dt.datetime):
            return java_sql_timestamp_string(value)
        if self._name == "Time" and isinstance(value, _dt.time):
            return java_sql_time_string(value)
        if self._name == "Date" and isinstance(value, _dt.date):
            return f"{value.year:04d}-{value.month:02d}-{value.day:02d}"
        return str(value)

    def __repr__(self) -> str:
        return self._name

    def __reduce__(self) -> tuple[Any, ...]:
        return (SqlTimeTypeInfo, (self._name,))

    @staticmethod
    def DATE() -> SqlTimeTypeInfo:
        return SqlTimeTypeInfo("Date")

    @staticmethod
    def TIME() -> SqlTimeTypeInfo:
        return SqlTimeTypeInfo("Time")

    @staticmethod
    def TIMESTAMP() -> SqlTimeTypeInfo:
        return SqlTimeTypeInfo("Timestamp")


class LocalTimeTypeInfo(TypeInformation):
    """``java.time`` LocalDate, LocalTime and LocalDateTime (Python ``date``, ``time``,
    ``datetime``): ``LocalTimeTypeInfo(LocalTimeTypeInfo.TimeType.LOCAL_DATE)``."""

    class TimeType(Enum):
        LOCAL_DATE = 0
        LOCAL_TIME = 1
        LOCAL_DATE_TIME = 2

    __slots__ = ("_name", "_time_type")

    def __init__(self, time_type: LocalTimeTypeInfo.TimeType) -> None:
        if not isinstance(time_type, LocalTimeTypeInfo.TimeType):
            raise TypeError(
                f"LocalTimeTypeInfo takes a LocalTimeTypeInfo.TimeType (LOCAL_DATE, LOCAL_TIME "
                f"or LOCAL_DATE_TIME), got {time_type!r}."
            )
        self._time_type = time_type
        self._name = _LOCAL_TIME_NAMES[time_type]

    def _key(self) -> tuple[Any, ...]:
        return (self._time_type,)

    def format_value(self, value: Any) -> str:
        if value is None:
            return "null"
        if self._name == "LocalDateTime" and isinstance(value, _dt.datetime):
            return java_local_date_time_string(value)
        if self._name == "LocalTime" and isinstance(value, _dt.time):
            return java_local_time_string(value)
        if self._name == "LocalDate" and isinstance(value, _dt.date):
            return f"{value.year:04d}-{value.month:02d}-{value.day:02d}"
        return str(value)

    def __repr__(self) -> str:
        return self._name

    def __reduce__(self) -> tuple[Any, ...]:
        return (LocalTimeTypeInfo, (self._time_type,))


_LOCAL_TIME_NAMES = {
    LocalTimeTypeInfo.TimeType.LOCAL_DATE: "LocalDate",
    LocalTimeTypeInfo.TimeType.LOCAL_TIME: "LocalTime",
    LocalTimeTypeInfo.TimeType.LOCAL_DATE_TIME: "LocalDateTime",
}


class PickledBytesTypeInfo(TypeInformation):
    """Opaque Python objects (PyFlink's default when no type is given); printed with
    Python's ``str()``."""

    __slots__ = ()

    def format_value(self, value: Any) -> str:
        return "null" if value is None else str(value)

    def __repr__(self) -> str:
        return "PickledByteArrayTypeInfo"


# -- composite types ------------------------------------------------------------------


def _check_types(types: Sequence[Any], what: str) -> list[TypeInformation]:
    checked = list(types)
    for i, t in enumerate(checked):
        if not isinstance(t, TypeInformation):
            raise TypeError(
                f"{what} field {i} must be a TypeInformation such as Types.STRING(), got {t!r}"
            )
    return checked


class RowTypeInfo(TypeInformation):
    """Rows with typed, named fields (names default to ``f0``, ``f1``, ...)."""

    __slots__ = ("_field_names", "_types")

    def __init__(self, field_types: Sequence[TypeInformation],
                 field_names: Sequence[str] | None = None) -> None:
        self._types = _check_types(field_types, "Row")
        if field_names is None:
            names = [f"f{i}" for i in range(len(self._types))]
        else:
            names = [str(n) for n in field_names]
            if len(names) != len(self._types):
                raise ValueError(
                    f"ROW_NAMED needs as many names as types, got {len(names)} names {names} "
                    f"and {len(self._types)} types"
                )
            if len(set(names)) != len(names):
                raise ValueError(f"Row field names must be unique, got {names}")
        self._field_names = names

    def get_field_names(self) -> list[str]:
        return list(self._field_names)

    def get_field_index(self, field_name: str) -> int:
        """Position of ``field_name``, or -1."""
        try:
            return self._field_names.index(field_name)
        except ValueError:
            return -1

    def get_field_types(self) -> list[TypeInformation]:
        return list(self._types)

    def get_arity(self) -> int:
        return len(self._types)

    def _key(self) -> tuple[Any, ...]:
        return (tuple(self._types), tuple(self._field_names))

    def mismatch(self, value: Any) -> str | None:
        if value is None or isinstance(value, Mapping):
            return None
        if not isinstance(value, (Row, tuple, list)):
            return f"expected a Row of {_fields(len(self._types))}, {_got(value)}"
        return _fields_mismatch(self._types, list(value) if isinstance(value, Row) else value,
                                "Row")

    def _values_of(self, value: Any) -> tuple[RowKind, Sequence[Any]]:
        if isinstance(value, Row):
            return value.get_row_kind(), list(value)
        if isinstance(value, Mapping):
            return RowKind.INSERT, [value.get(n) for n in self._field_names]
        return RowKind.INSERT, list(value)

    def format_value(self, value: Any) -> str:
        """Java's ``Row.toString``: ``+I[a, 1]``."""
        if value is None:
            return "null"
        kind, values = self._values_of(value)
        inner = ", ".join(_fmt(t, v) for t, v in zip(self._types, values))
        return f"{kind.short_string()}[{inner}]"

    def format_print(self, value: Any) -> str:
        """What PyFlink's ``print()`` shows for a row of this type: ``+I[a,1]`` (Python
        ``str()`` of each field, joined by a bare comma)."""
        if value is None:
            return "null"
        kind, values = self._values_of(value)
        return f"{kind.short_string()}[{','.join(str(v) for v in values)}]"

    def __repr__(self) -> str:
        inner = ", ".join(f"{n}: {t!r}" for n, t in zip(self._field_names, self._types))
        return f"RowTypeInfo({inner})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (RowTypeInfo, (self._types, self._field_names))


def _fields_mismatch(types: list[TypeInformation], values: Sequence[Any], what: str
                     ) -> str | None:
    if len(values) != len(types):
        return f"expected a {what} of {_fields(len(types))}, {_got(values)} ({_fields(len(values))})"
    for i, (t, v) in enumerate(zip(types, values)):
        problem = t.mismatch(v)
        if problem is not None:
            return f"field {i}: {problem}"
    return None


class TupleTypeInfo(TypeInformation):
    """Python tuples of typed fields (Java ``TupleN``)."""

    __slots__ = ("_types",)

    def __init__(self, field_types: Sequence[TypeInformation]) -> None:
        self._types = _check_types(field_types, "Tuple")

    def get_field_types(self) -> list[TypeInformation]:
        return list(self._types)

    def get_arity(self) -> int:
        return len(self._types)

    def _key(self) -> tuple[Any, ...]:
        return tuple(self._types)

    def mismatch(self, value: Any) -> str | None:
        if value is None:
            return None
        if not isinstance(value, (tuple, list)):
            return f"expected a tuple of {_fields(len(self._types))}, {_got(value)}"
        return _fields_mismatch(self._types, value, "tuple")

    def format_value(self, value: Any) -> str:
        """Java's ``Tuple.toString``: ``(a,1)``."""
        if value is None:
            return "null"
        return "(" + ",".join(_fmt(t, v) for t, v in zip(self._types, value)) + ")"

    def __repr__(self) -> str:
        return "TupleTypeInfo({})".format(", ".join(repr(t) for t in self._types))

    def __reduce__(self) -> tuple[Any, ...]:
        return (TupleTypeInfo, (self._types,))


class _ElementTypeInfo(TypeInformation):
    """A sequence whose elements all have one type; printed ``[1, 2]``."""

    __slots__ = ("_element_type",)

    def __init__(self, element_type: TypeInformation) -> None:
        if not isinstance(element_type, TypeInformation):
            raise TypeError(
                f"{type(self).__name__} needs a TypeInformation element type, got {element_type!r}"
            )
        self._element_type = element_type

    def get_element_type(self) -> TypeInformation:
        return self._element_type

    def mismatch(self, value: Any) -> str | None:
        if value is None:
            return None
        if isinstance(value, (str, Mapping)) or not isinstance(value, (Sequence, bytearray)):
            return f"expected a list, {_got(value)}"
        if isinstance(value, (bytes, bytearray)):
            return None
        element = self._element_type
        for i, v in enumerate(value[:_CHECKED_ELEMENTS]):
            problem = element.mismatch(v)
            if problem is not None:
                return f"element {i}: {problem}"
        return None

    def _key(self) -> tuple[Any, ...]:
        return (self._element_type,)

    def format_value(self, value: Any) -> str:
        if value is None:
            return "null"
        element = self._element_type
        return "[" + ", ".join(_fmt(element, v) for v in value) + "]"

    def __repr__(self) -> str:
        return f"{type(self).__name__}<{self._element_type!r}>"

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self._element_type,))


class PrimitiveArrayTypeInfo(_ElementTypeInfo):
    """Arrays of a primitive type (``int[]``); ``bytes`` for ``PRIMITIVE_ARRAY(BYTE())``."""

    __slots__ = ()


class BasicArrayTypeInfo(_ElementTypeInfo):
    """Arrays of a boxed basic type (``Integer[]``, ``String[]``); elements may be null."""

    __slots__ = ()


class ObjectArrayTypeInfo(_ElementTypeInfo):
    """Arrays of any element type (``Row[]``, ``int[][]``)."""

    __slots__ = ()


class ListTypeInfo(_ElementTypeInfo):
    """Lists (``java.util.List``)."""

    __slots__ = ()


class MapTypeInfo(TypeInformation):
    """Dicts (``java.util.Map``), printed ``{a=1, b=2}``."""

    __slots__ = ("_key_type", "_value_type")

    def __init__(self, key_type_info: TypeInformation, value_type_info: TypeInformation) -> None:
        _check_types([key_type_info, value_type_info], "Map")
        self._key_type = key_type_info
        self._value_type = value_type_info

    def get_key_type(self) -> TypeInformation:
        return self._key_type

    def get_value_type(self) -> TypeInformation:
        return self._value_type

    def mismatch(self, value: Any) -> str | None:
        if value is None:
            return None
        if not isinstance(value, Mapping):
            return f"expected a dict, {_got(value)}"
        for i, (k, v) in enumerate(value.items()):
            if i >= _CHECKED_ELEMENTS:
                break
            problem = self._key_type.mismatch(k) or self._value_type.mismatch(v)
            if problem is not None:
                return f"entry {k!r}: {problem}"
        return None

    def _key(self) -> tuple[Any, ...]:
        return (self._key_type, self._value_type)

    def format_value(self, value: Any) -> str:
        if value is None:
            return "null"
        kt, vt = self._key_type, self._value_type
        return "{" + ", ".join(f"{_fmt(kt, k)}={_fmt(vt, v)}" for k, v in value.items()) + "}"

    def __repr__(self) -> str:
        return f"MapTypeInfo<{self._key_type!r}, {self._value_type!r}>"

    def __reduce__(self) -> tuple[Any, ...]:
        return (MapTypeInfo, (self._key_type, self._value_type))
