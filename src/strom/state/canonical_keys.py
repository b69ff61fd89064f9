"""Keys that a Python dict cannot group by themselves: unhashable values and NaN.

PyFlink compares keys by their serialized form, so ``key_by(lambda x: [x[0]])`` or a dict key
works there, and Flink groups all NaN keys together (``Double.equals``). strom keeps keys as
Python objects in dicts (keyed state, timers, reduce tables), where a list raises
``unhashable type`` and ``nan != nan`` makes every NaN a key of its own.

Such a key is replaced, inside the keyed operator, by a :class:`CanonicalKey`: a hashable
stand-in that compares by a canonical form of the value (lists and tuples element by
element, dicts and sets ignoring order, every NaN alike) and hashes across processes exactly
as :func:`~strom.state.key_groups.stable_hash` hashes the value, so it stays in the value's
key group. User functions see the original value (:func:`user_key`).

Only odd keys pay: :func:`group_keys` returns the batch unchanged after a C-level check of
its types when keys are strings, integers, bytes, NaN-free floats or flat tuples of those.
"""

from __future__ import annotations

import math
import pickle
from itertools import chain
from typing import Any

from strom.common.types import Row

__all__ = ["CanonicalKey", "group_key", "group_keys", "user_key"]

# Types whose values are hashable and equal to themselves: no check needed.
_PLAIN = frozenset({str, int, bytes, bool, type(None)})
_NUMBERS = frozenset({int, float, bool})
_join = "".join

# Tags of the canonical forms; compared only within one process (forms are rebuilt when a
# CanonicalKey is unpickled), so plain objects serve.
_NAN = object()
_TUPLE = object()
_LIST = object()
_DICT = object()
_SET = object()
_ROW = object()
_OTHER = object()


def _canonical(value: Any) -> Any:
    """A hashable form of ``value``; two values group together when their forms are equal."""
    kind = type(value)
    if kind in _PLAIN:
        return value
    if isinstance(value, float):
        return _NAN if value != value else value
    if isinstance(value, tuple):
        return (_TUPLE, *map(_canonical, value))
    if isinstance(value, list):
        return (_LIST, *map(_canonical, value))
    if isinstance(value, dict):
        return (_DICT, frozenset((_canonical(k), _canonical(v)) for k, v in value.items()))
    if isinstance(value, set | frozenset):
        return (_SET, frozenset(map(_canonical, value)))
    if isinstance(value, Row):
        fields = tuple(value._fields) if value._fields is not None else None
        return (_ROW, fields, value.get_row_kind(), *map(_canonical, value._values))
    try:
        hash(value)
    except TypeError:
        stable_key = getattr(value, "__stable_key__", None)
        if stable_key is not None:
            return (_OTHER, kind, _canonical(stable_key()))
        return (_OTHER, kind, pickle.dumps(value, protocol=5))
    return value


def _needs_canonical(key: Any) -> bool:
    """For a hashable ``key``: whether it holds a NaN (which is not equal to itself)."""
    kind = type(key)
    if kind in _PLAIN:
        return False
    if isinstance(key, float):
        return key != key
    if isinstance(key, tuple | frozenset):
        return any(map(_needs_canonical, key))
    if isinstance(key, Row):
        return any(map(_needs_canonical, key._values))
    return False


class CanonicalKey:
    """The grouping stand-in for an unhashable or NaN-holding key ``value``.

    Equal when the canonical forms are equal; ``stable_hash`` of it is ``stable_hash(value)``
    (through ``__stable_key__``), so its key group is the one the partitioner chose for the
    value. Pickles as its value.
    """

    __slots__ = ("_hash", "canonical", "value")

    def __init__(self, value: Any) -> None:
        self.value = value
        self.canonical = _canonical(value)
        self._hash = hash(self.canonical)

    def __eq__(self, other: object) -> bool:
        return type(other) is CanonicalKey and self.canonical == other.canonical

    def __hash__(self) -> int:
        return self._hash

    def __stable_key__(self) -> Any:
        return self.value

    def __reduce__(self) -> tuple[Any, ...]:
        return (CanonicalKey, (self.value,))

    def __repr__(self) -> str:
        return f"CanonicalKey({self.value!r})"


def group_key(key: Any) -> Any:
    """``key`` itself when a dict can group it, else its :class:`CanonicalKey`."""
    try:
        hash(key)
    except TypeError:
        return CanonicalKey(key)
    return CanonicalKey(key) if _needs_canonical(key) else key


def group_keys(keys: list[Any]) -> list[Any]:
    """The batch's keys as a dict can group them: the same list when every key groups as
    itself (the common case, checked per batch at C speed), else a list with
    :class:`CanonicalKey` stand-ins for the odd ones."""
    if not keys:
        return keys
    if type(keys[0]) is str:
        try:
            _join(keys)  # the cheapest check of the most common batch: join takes only strings
            return keys
        except TypeError:
            pass  # a batch of mixed kinds
    kinds = set(map(type, keys))
    if kinds <= _PLAIN:
        return keys
    if kinds == {tuple} and _PLAIN.issuperset(map(type, chain.from_iterable(keys))):
        return keys
    if kinds <= _NUMBERS and not any(map(math.isnan, keys)):
        return keys
    try:
        distinct = dict.fromkeys(keys)
    except TypeError:  # an unhashable key
        return [group_key(k) for k in keys]
    if any(map(_needs_canonical, distinct)):
        return [group_key(k) for k in keys]
    return keys


def user_key(key: Any) -> Any:
    """The key as the user's key selector returned it (unwraps a :class:`CanonicalKey`)."""
    return key.value if type(key) is CanonicalKey else key
