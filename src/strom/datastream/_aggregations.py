"""The built-in rolling aggregations of KeyedStream: sum, min, max, min_by, max_by.

As in Flink, ``sum``/``min``/``max`` update one field of the first element seen for the key
and keep its other fields; ``min_by``/``max_by`` keep the whole element holding the extreme
value (the first one on ties). The field is a position (tuples, lists, rows) or a name
(rows, dicts); plain numbers are aggregated themselves with position 0.
"""

from __future__ import annotations

import numbers
from typing import Any

from strom.common.typeinfo import (
    BasicType,
    BasicTypeInfo,
    PickledBytesTypeInfo,
    RowTypeInfo,
    TupleTypeInfo,
    TypeInformation,
)
from strom.common.types import Row
from strom.datastream.functions import ReduceFunction

__all__ = ["aggregation"]


def _get(value: Any, field: int | str) -> Any:
    if isinstance(value, Row):
        return value[field] if isinstance(field, int) else getattr(value, field)
    if isinstance(value, tuple | list):
        if isinstance(field, str):
            raise TypeError(f"cannot aggregate field {field!r} of a {type(value).__name__}; "
                            "use a position or a Row with named fields")
        return value[field]
    if isinstance(value, dict):
        return value[field]
    if field not in (0, None):
        raise TypeError(f"cannot aggregate field {field!r} of a scalar {value!r}; use position 0")
    return value


def _replace(value: Any, field: int | str, new: Any) -> Any:
    if isinstance(value, Row):
        values = list(value)
        index = field if isinstance(field, int) else list(value._fields or []).index(field)
        values[index] = new
        names = getattr(value, "_fields", None)
        row = Row(**dict(zip(names, values))) if names else Row(*values)
        row.set_row_kind(value.get_row_kind())
        return row
    if isinstance(value, tuple):
        assert isinstance(field, int)
        return (*value[:field], new, *value[field + 1:])
    if isinstance(value, list):
        copy = list(value)
        copy[field] = new  # type: ignore[index]
        return copy
    if isinstance(value, dict):
        copy_d = dict(value)
        copy_d[field] = new
        return copy_d
    return new


class _FieldAggregation(ReduceFunction):
    def __init__(self, kind: str, field: int | str) -> None:
        self.kind = kind
        self.field = field
        #: the field types sum() has accepted (checked once per type, then a set lookup)
        self.numeric_types: set[type] = {int, float}

    def strom_check_first_value(self, value: Any) -> None:
        """Validate the first value of a key, which the rolling reduce keeps without calling
        :meth:`reduce`."""
        if self.kind == "sum":
            self._check_summable(_get(value, self.field))

    def _check_summable(self, field_value: Any) -> None:
        kind = type(field_value)
        if kind in self.numeric_types:
            return
        # Flink sums Byte/Short/Integer/Long/Float/Double and rejects any other class
        if isinstance(field_value, numbers.Number) and kind is not bool:
            self.numeric_types.add(kind)
            return
        raise TypeError(
            f"sum({self.field!r}) cannot add field {self.field!r}: it holds a {kind.__name__} "
            f"({field_value!r:.60}), and sum() adds numbers only (int, float, Decimal, ...), as "
            "in Flink. Map the field to a number first, or combine the values with "
            "reduce(...)."
        ) from None  # raised while the reduce loop handles a new key's KeyError

    def reduce(self, value1: Any, value2: Any) -> Any:
        a, b = _get(value1, self.field), _get(value2, self.field)
        kind = self.kind
        if kind == "sum":
            numeric = self.numeric_types
            if type(a) not in numeric or type(b) not in numeric:
                self._check_summable(a)
                self._check_summable(b)
            return _replace(value1, self.field, a + b)
        if kind == "min":
            return _replace(value1, self.field, b if b < a else a)
        if kind == "max":
            return _replace(value1, self.field, b if b > a else a)
        if kind == "min_by":
            return value2 if b < a else value1
        return value2 if b > a else value1


_NUMERIC_TYPES = frozenset({BasicType.BYTE, BasicType.SHORT, BasicType.INT, BasicType.LONG,
                            BasicType.FLOAT, BasicType.DOUBLE, BasicType.BIG_INT,
                            BasicType.BIG_DEC})


def _field_type(type_info: TypeInformation, field: int | str) -> TypeInformation | None:
    """The declared type of ``field``, when the stream's type says it."""
    if isinstance(type_info, RowTypeInfo | TupleTypeInfo):
        types = type_info.get_field_types()
        if isinstance(field, str):
            if not isinstance(type_info, RowTypeInfo):
                return None
            field = type_info.get_field_index(field)
        return types[field] if 0 <= field < len(types) else None
    return type_info if field == 0 else None


def _check_sum_type(field: int | str, type_info: TypeInformation | None) -> None:
    # Flink refuses sum() on a non-numeric field when the job is built; with a declared type
    # strom does the same (untyped streams are checked per value when the job runs)
    if type_info is None:
        return
    field_type = _field_type(type_info, field)
    if field_type is None:
        return
    if isinstance(field_type, PickledBytesTypeInfo):  # any Python object: checked per value
        return
    if not (isinstance(field_type, BasicTypeInfo) and field_type.basic_type in _NUMERIC_TYPES):
        raise TypeError(
            f"sum({field!r}) cannot add field {field!r}: its declared type is {field_type!r}, "
            "and sum() adds numbers only, as in Flink. Map the field to a number first, or "
            "combine the values with reduce(...)."
        )


def aggregation(kind: str, field: int | str, type_info: TypeInformation | None = None
                ) -> ReduceFunction:
    """The reduce function of a rolling aggregation; ``type_info`` is the stream's declared
    type, if any (``sum`` of a field declared non-numeric fails here, as in Flink)."""
    if not isinstance(field, int | str) or isinstance(field, bool):
        raise TypeError(f"{kind}() takes a field position (int) or name (str), got {field!r}")
    if kind == "sum":
        _check_sum_type(field, type_info)
    return _FieldAggregation(kind, field)
