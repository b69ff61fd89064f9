"""Type information (``Types``) and the text Flink prints for typed values.

``Types.X()`` factories return :class:`TypeInformation` values as in PyFlink's
``pyflink.common.typeinfo``. strom does not need them for serialization (records are
Python objects), but they decide how values are printed and encoded as text, because
PyFlink hands typed records to Java, whose ``toString`` formats them.

:func:`to_java_string` produces that text. What was verified, and where:

* ``print()`` — ``flink-python/pyflink/datastream/data_stream.py``, ``_align_output_type``:
  a stream without a type (``PICKLED_BYTE_ARRAY``) is mapped to ``str(value)`` in Python
  (strings stay as they are); a stream typed ``ROW``/``ROW_NAMED`` is mapped in Python to
  ``'{}[{}]'.format(row_kind, ','.join(str(v) for v in values))``, i.e. ``+I[a,1]`` with a
  bare comma and Python ``str()`` of each field; every other type reaches Java's print sink,
  which prints ``toString()``. So for print the separator is ``","`` (reference §1.10 item
  1); the ``", "`` of reference §1.10 item 2 is Java's ``Row.toString`` (test sinks, the
  string encoder of a file sink, rows nested inside tuples, lists or maps).
  ``flink-python/pyflink/examples/datastream/basic_operations.py`` shows only untyped output
  (``(1, '{"name": ...}')``, ``('Germany', 123)``), i.e. Python ``str()`` of tuples.
* Java ``toString`` rules reproduced here: ``Tuple.toString`` is ``(a,1)`` (no spaces);
  ``Row.toString`` is ``+I[a, 1]``; arrays (``Arrays.toString``) and lists are ``[1, 2]``;
  maps are ``{a=1, b=2}``; ``null`` for ``None``; booleans ``true``/``false``;
  ``Double.toString``/``Float.toString`` (``1.0``, ``1.0E10``, ``NaN``, ``Infinity``);
  ``java.sql.Timestamp`` ``2021-01-09 12:00:00.011``; ``Instant`` ``2021-01-09T12:00:00Z``.

``to_java_string(v, t)`` gives print's text (``row_style="print"``, the default);
``row_style="java"`` gives Java's ``toString`` for top-level rows too, which is what
``Encoder.simple_string_encoder`` writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from strom.common._type_classes import (
    BasicArrayTypeInfo,
    BasicType,
    BasicTypeInfo,
    ListTypeInfo,
    LocalTimeTypeInfo,
    MapTypeInfo,
    ObjectArrayTypeInfo,
    PickledBytesTypeInfo,
    PrimitiveArrayTypeInfo,
    RowTypeInfo,
    SqlTimeTypeInfo,
    TupleTypeInfo,
    TypeInformation,
)

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
    "Types",
    "to_java_string",
]


# -- the factory ----------------------------------------------------------------------

_BASIC = {t: BasicTypeInfo(t) for t in BasicType}
_SQL_DATE = SqlTimeTypeInfo("Date")
_SQL_TIME = SqlTimeTypeInfo("Time")
_SQL_TIMESTAMP = SqlTimeTypeInfo("Timestamp")
_LOCAL_DATE = LocalTimeTypeInfo(LocalTimeTypeInfo.TimeType.LOCAL_DATE)
_LOCAL_TIME = LocalTimeTypeInfo(LocalTimeTypeInfo.TimeType.LOCAL_TIME)
_LOCAL_DATE_TIME = LocalTimeTypeInfo(LocalTimeTypeInfo.TimeType.LOCAL_DATE_TIME)
_PICKLED = PickledBytesTypeInfo()

_PRIMITIVE_ELEMENTS = frozenset(
    _BASIC[t]
    for t in (
        BasicType.BOOLEAN,
        BasicType.BYTE,
        BasicType.SHORT,
        BasicType.INT,
        BasicType.LONG,
        BasicType.FLOAT,
        BasicType.DOUBLE,
        BasicType.CHAR,
    )
)
_BASIC_ARRAY_ELEMENTS = _PRIMITIVE_ELEMENTS | {_BASIC[BasicType.STRING]}


class Types:
    """Factories of :class:`TypeInformation`, named as in PyFlink.

    >>> Types.ROW_NAMED(["name", "age"], [Types.STRING(), Types.INT()])
    RowTypeInfo(name: String, age: Integer)
    """

    @staticmethod
    def STRING() -> TypeInformation:
        return _BASIC[BasicType.STRING]

    @staticmethod
    def BYTE() -> TypeInformation:
        return _BASIC[BasicType.BYTE]

    @staticmethod
    def BOOLEAN() -> TypeInformation:
        return _BASIC[BasicType.BOOLEAN]

    @staticmethod
    def SHORT() -> TypeInformation:
        return _BASIC[BasicType.SHORT]

    @staticmethod
    def INT() -> TypeInformation:
        return _BASIC[BasicType.INT]

    @staticmethod
    def LONG() -> TypeInformation:
        return _BASIC[BasicType.LONG]

    @staticmethod
    def FLOAT() -> TypeInformation:
        return _BASIC[BasicType.FLOAT]

    @staticmethod
    def DOUBLE() -> TypeInformation:
        return _BASIC[BasicType.DOUBLE]

    @staticmethod
    def CHAR() -> TypeInformation:
        return _BASIC[BasicType.CHAR]

    @staticmethod
    def BIG_INT() -> TypeInformation:
        return _BASIC[BasicType.BIG_INT]

    @staticmethod
    def BIG_DEC() -> TypeInformation:
        return _BASIC[BasicType.BIG_DEC]

    @staticmethod
    def INSTANT() -> TypeInformation:
        return _BASIC[BasicType.INSTANT]

    @staticmethod
    def SQL_DATE() -> TypeInformation:
        return _SQL_DATE

    @staticmethod
    def SQL_TIME() -> TypeInformation:
        return _SQL_TIME

    @staticmethod
    def SQL_TIMESTAMP() -> TypeInformation:
        return _SQL_TIMESTAMP

    @staticmethod
    def LOCAL_DATE() -> TypeInformation:
        return _LOCAL_DATE

    @staticmethod
    def LOCAL_TIME() -> TypeInformation:
        return _LOCAL_TIME

    @staticmethod
    def LOCAL_DATE_TIME() -> TypeInformation:
        return _LOCAL_DATE_TIME

    @staticmethod
    def PICKLED_BYTE_ARRAY() -> TypeInformation:
        return _PICKLED

    @staticmethod
    def ROW(field_types: Sequence[TypeInformation]) -> RowTypeInfo:
        return RowTypeInfo(field_types)

    @staticmethod
    def ROW_NAMED(
        field_names: Sequence[str], field_types: Sequence[TypeInformation]
    ) -> RowTypeInfo:
        return RowTypeInfo(field_types, field_names)

    @staticmethod
    def TUPLE(field_types: Sequence[TypeInformation]) -> TupleTypeInfo:
        return TupleTypeInfo(field_types)

    @staticmethod
    def PRIMITIVE_ARRAY(element_type: TypeInformation) -> PrimitiveArrayTypeInfo:
        if element_type not in _PRIMITIVE_ELEMENTS:
            raise TypeError(
                f"PRIMITIVE_ARRAY needs a primitive element type (BOOLEAN, BYTE, SHORT, INT, "
                f"LONG, FLOAT, DOUBLE or CHAR), got {element_type!r}; use BASIC_ARRAY or "
                "OBJECT_ARRAY for other element types."
            )
        return PrimitiveArrayTypeInfo(element_type)

    @staticmethod
    def BASIC_ARRAY(element_type: TypeInformation) -> BasicArrayTypeInfo:
        if element_type not in _BASIC_ARRAY_ELEMENTS:
            raise TypeError(
                f"BASIC_ARRAY needs a basic element type (BOOLEAN, BYTE, SHORT, INT, LONG, "
                f"FLOAT, DOUBLE, CHAR or STRING), got {element_type!r}; use OBJECT_ARRAY for "
                "other element types."
            )
        return BasicArrayTypeInfo(element_type)

    @staticmethod
    def OBJECT_ARRAY(element_type: TypeInformation) -> ObjectArrayTypeInfo:
        return ObjectArrayTypeInfo(element_type)

    @staticmethod
    def MAP(key_type_info: TypeInformation, value_type_info: TypeInformation) -> MapTypeInfo:
        return MapTypeInfo(key_type_info, value_type_info)

    @staticmethod
    def LIST(element_type_info: TypeInformation) -> ListTypeInfo:
        return ListTypeInfo(element_type_info)


def to_java_string(
    value: Any,
    type_info: TypeInformation | None = None,
    *,
    row_style: Literal["print", "java"] = "print",
) -> str:
    """The text PyFlink shows for ``value`` of type ``type_info`` (see the module notes).

    ``type_info=None`` (or ``PICKLED_BYTE_ARRAY``): Python ``str(value)``, strings as is
    (``None`` → ``None``, as PyFlink's ``str()`` mapping prints it).
    Otherwise Java's ``toString``: ``None`` → ``null``, ``True`` → ``true``, ``1.0E10``,
    tuples ``(a,1)``, lists ``[1, 2]``, maps ``{a=1, b=2}``. A top-level row prints as
    ``+I[a,1]`` with ``row_style="print"`` (PyFlink's ``print()``) and as ``+I[a, 1]`` with
    ``row_style="java"`` (``Row.toString``, used by the string encoder).

    >>> to_java_string(("a", 1), Types.TUPLE([Types.STRING(), Types.INT()]))
    '(a,1)'
    >>> from strom.common.types import Row
    >>> to_java_string(Row("a", 1), Types.ROW([Types.STRING(), Types.INT()]))
    '+I[a,1]'
    """
    if type_info is None or type_info is _PICKLED:
        return value if isinstance(value, str) else str(value)
    if value is None:
        return "null"
    if row_style == "print" and isinstance(type_info, RowTypeInfo):
        return type_info.format_print(value)
    return type_info.format_value(value)
