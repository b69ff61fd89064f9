"""``Row`` and ``RowKind``, with PyFlink's semantics (``pyflink.common.types``).

Behaviour checked against PyFlink's ``flink-python/pyflink/common/types.py``:

* ``repr`` of a named row is ``Row(name='Alice', age=11)``; of an unnamed row
  ``<Row(1, 'a')>`` (angle brackets, as PyFlink prints it); ``str`` equals ``repr``.
* Equality needs the same field names (or both unnamed), the same row kind and the same
  values; the hash is the hash of the values.
* ``Row("name", "age")`` makes a row "class": calling it with values makes named rows.

One deliberate difference: PyFlink (up to the versions we could read) sorts the names
of ``Row(**kwargs)`` alphabetically; strom keeps them in the order given, which Python
has guaranteed for keyword arguments since 3.7 and which matches ``ROW_NAMED`` types.
``key in row`` looks at the field names of a named row and at the values of an unnamed
one (PyFlink's behaviour since FLINK-35112).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from enum import Enum
from typing import Any

__all__ = ["Row", "RowKind"]


class RowKind(Enum):
    """The kind of change a row stands for in a changelog."""

    INSERT = 0
    UPDATE_BEFORE = 1
    UPDATE_AFTER = 2
    DELETE = 3

    def short_string(self) -> str:
        """``+I``, ``-U``, ``+U`` or ``-D``, as Flink prints row kinds."""
        return _SHORT_STRINGS[self.value]

    def __str__(self) -> str:
        return _SHORT_STRINGS[self.value]


_SHORT_STRINGS = ("+I", "-U", "+U", "-D")


class _FieldNotFound(KeyError, ValueError):
    """Lookup of a field name that the row does not have. A ``KeyError`` for mapping-style
    code, and a ``ValueError`` as PyFlink raises."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def _create_row(fields: Sequence[str] | None, values: Sequence[Any], row_kind: RowKind) -> Row:
    row = Row(*values)
    if fields is not None:
        row._fields = list(fields)
    row._row_kind = row_kind
    return row


class Row:
    """A row of values, optionally with field names, and a :class:`RowKind`.

    >>> row = Row(name="Alice", age=11)
    >>> row
    Row(name='Alice', age=11)
    >>> row.name, row["age"], row[0]
    ('Alice', 11, 'Alice')
    >>> Person = Row("name", "age")
    >>> Person("Bob", 12)
    Row(name='Bob', age=12)
    >>> Row(1, "a")
    <Row(1, 'a')>
    """

    __slots__ = ("_fields", "_row_kind", "_values")

    _fields: list[str] | None
    _row_kind: RowKind
    _values: list[Any]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if args and kwargs:
            raise ValueError(
                "Row takes either positional values or keyword fields, not both; got "
                f"{len(args)} positional and {sorted(kwargs)} keyword arguments."
            )
        if kwargs:
            self._fields = list(kwargs)
            self._values = list(kwargs.values())
        else:
            self._fields = None
            self._values = list(args)
        self._row_kind = RowKind.INSERT

    # -- PyFlink's API -----------------------------------------------------------------

    def as_dict(self, recursive: bool = False) -> dict[str, Any]:
        """Field name to value. With ``recursive``, nested rows (also inside lists and dicts)
        become dicts too. Raises ``TypeError`` for a row without field names."""
        if self._fields is None:
            raise TypeError(
                f"Cannot convert a Row without field names into a dict: {self!r}. Create it "
                "with keyword arguments or call set_field_names() first."
            )
        if not recursive:
            return dict(zip(self._fields, self._values))
        return {name: _as_plain(value) for name, value in zip(self._fields, self._values)}

    def get_row_kind(self) -> RowKind:
        return self._row_kind

    def set_row_kind(self, row_kind: RowKind) -> None:
        if not isinstance(row_kind, RowKind):
            raise TypeError(f"set_row_kind needs a RowKind, got {row_kind!r}")
        self._row_kind = row_kind

    def set_field_names(self, field_names: Sequence[str]) -> None:
        self._fields = list(field_names)

    def get_fields_by_names(self, names: Sequence[str]) -> list[Any]:
        """The values of the named fields, in the order of ``names``."""
        return [self._value_of(name) for name in names]

    def _is_retract_msg(self) -> bool:
        return self._row_kind in (RowKind.UPDATE_BEFORE, RowKind.DELETE)

    def _is_accumulate_msg(self) -> bool:
        return self._row_kind in (RowKind.INSERT, RowKind.UPDATE_AFTER)

    def __stable_key__(self) -> tuple[Any, ...]:
        """The content that key hashing uses (see ``strom.state.key_groups``)."""
        return tuple(self._values)

    # -- access --------------------------------------------------------------------------

    def _value_of(self, name: str) -> Any:
        fields = self._fields
        if fields is not None:
            try:
                return self._values[fields.index(name)]
            except (ValueError, IndexError):
                pass
        raise _FieldNotFound(
            f"Row has no field {name!r}; its fields are {fields if fields is not None else []}"
        )

    def __call__(self, *args: Any) -> Row:
        """Use this row's values as field names: ``Row("name", "age")("Alice", 11)``."""
        if len(args) > len(self._values):
            raise ValueError(
                f"Cannot create a row with fields {self._values}: expected at most "
                f"{len(self._values)} values, got {len(args)}: {args!r}"
            )
        return _create_row(self._values, args, self._row_kind)

    def __getitem__(self, item: Any) -> Any:
        if isinstance(item, int | slice):
            return self._values[item]
        return self._value_of(item)

    def __setitem__(self, key: Any, value: Any) -> None:
        if isinstance(key, int | slice):
            self._values[key] = value
            return
        fields = self._fields
        if fields is None or key not in fields:
            raise _FieldNotFound(
                f"Row has no field {key!r}; its fields are {fields if fields is not None else []}"
            )
        self._values[fields.index(key)] = value

    def __getattr__(self, item: str) -> Any:
        # Only called when normal lookup fails, i.e. for field names.
        if item.startswith("_"):
            raise AttributeError(item)
        fields = object.__getattribute__(self, "_fields")
        if fields is not None and item in fields:
            return self._values[fields.index(item)]
        raise AttributeError(
            f"Row has no field {item!r}; its fields are {fields if fields is not None else []}"
        )

    def __contains__(self, item: object) -> bool:
        if self._fields is not None:
            return item in self._fields
        return item in self._values

    def __iter__(self) -> Iterator[Any]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    # -- identity -------------------------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Row):
            return False
        return (
            self.__class__ is other.__class__
            and self._fields == other._fields
            and self._row_kind == other._row_kind
            and self._values == other._values
        )

    def __hash__(self) -> int:
        return hash(tuple(self._values))

    def __reduce__(self) -> tuple[Any, ...]:
        return (_create_row, (self._fields, tuple(self._values), self._row_kind))

    def __repr__(self) -> str:
        if self._fields is not None:
            inner = ", ".join(f"{k}={v!r}" for k, v in zip(self._fields, self._values))
            return f"Row({inner})"
        return "<Row({})>".format(", ".join(repr(v) for v in self._values))

    __str__ = __repr__


def _as_plain(value: Any) -> Any:
    if isinstance(value, Row):
        return value.as_dict(True)
    if isinstance(value, list):
        return [_as_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _as_plain(v) for k, v in value.items()}
    return value
