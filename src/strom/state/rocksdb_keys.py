"""Byte layout of the ``rocksdb`` backend's RocksDB keys and values.

Every entry of keyed state is one RocksDB row::

    key group (2 bytes, big-endian) | state id (2 bytes, big-endian)
        | length of the key's bytes (4 bytes, big-endian) | key bytes | namespace bytes

The key group comes first, as in Flink, so the rows of a key-group range are one contiguous
range of RocksDB keys: a rescaled restore reads only its own key groups, and a key group's
rows of one state share the 4-byte prefix ``key group | state id``. Key groups are below
``2**15``, so the rows under :data:`META_PREFIX` (``0xffff``) sort after all state: they
hold each state's name, kind and TTL flag, so a native RocksDB checkpoint describes itself.

Keys and namespaces are encoded by :func:`encode_object`: equal keys give equal bytes and the
bytes decode to an equal key. Values are pickled in the backend's stored form (see
:mod:`strom.state.heap_states`), so a canonical snapshot of this backend equals the
``hashmap`` backend's.
"""

from __future__ import annotations

import math
import pickle
import struct
from typing import Any

from strom.common import _pickling
from strom.state.canonical_keys import CanonicalKey

__all__ = [
    "META_PREFIX",
    "decode_object",
    "dumps_value",
    "encode_object",
    "key_group_prefix",
    "loads_value",
    "meta_key",
    "split_row_key",
]

_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")

META_PREFIX = b"\xff\xff"
"""Rows of the backend's own metadata (above every key group)."""

_PLAIN = frozenset({str, int, bytes, bool, type(None)})
_TAG_PLAIN = b"P"
_TAG_CANONICAL = b"C"


def _normalized(value: Any) -> Any:
    """``value`` rebuilt so that its pickle depends only on its canonical form: dict items
    in the order of their keys' bytes, every NaN the same NaN."""
    kind = type(value)
    if kind in _PLAIN:
        return value
    if kind is float:
        return math.nan if value != value else value
    if kind is tuple:
        return tuple(map(_normalized, value))
    if kind is list:
        return list(map(_normalized, value))
    if kind is dict:
        items = [(_normalized(k), _normalized(v)) for k, v in value.items()]
        items.sort(key=lambda kv: _dumps(kv[0]))
        return dict(items)
    return value


def _dumps(value: Any) -> bytes:
    try:
        return pickle.dumps(value, protocol=5)
    except (pickle.PicklingError, AttributeError, TypeError):
        # a class pickle cannot find by name here (the job script's): pickle it by value
        return _pickling.dumps(value, protocol=5)


def encode_object(value: Any) -> bytes:
    """Bytes of a key or namespace: equal values give equal bytes (for keys of plain types,
    tuples of them, and the canonical stand-ins of unhashable keys)."""
    kind = type(value)
    if kind in _PLAIN:
        return _TAG_PLAIN + pickle.dumps(value, protocol=5)
    if kind is CanonicalKey:
        return _TAG_CANONICAL + _dumps(_normalized(value.value))
    return _TAG_PLAIN + _dumps(_normalized(value))


def decode_object(data: bytes) -> Any:
    """The key or namespace :func:`encode_object` encoded."""
    value = _pickling.loads(data[1:])
    if data[:1] == _TAG_CANONICAL:
        return CanonicalKey(value)
    return value


def key_group_prefix(key_group: int, state_id: int) -> bytes:
    """The 4 bytes every row of ``state_id`` in ``key_group`` starts with."""
    return _U16.pack(key_group) + _U16.pack(state_id)


def key_part(key_bytes: bytes) -> bytes:
    """The length-prefixed key bytes that follow the 4-byte prefix."""
    return _U32.pack(len(key_bytes)) + key_bytes


def split_row_key(row: bytes) -> tuple[int, int, bytes, bytes]:
    """``(key group, state id, key bytes, namespace bytes)`` of a state row."""
    length = _U32.unpack_from(row, 4)[0]
    return (
        _U16.unpack_from(row, 0)[0],
        _U16.unpack_from(row, 2)[0],
        row[8 : 8 + length],
        row[8 + length :],
    )


def meta_key(name: str) -> bytes:
    """The metadata row of state ``name``."""
    return META_PREFIX + name.encode("utf-8")


def dumps_value(stored: Any) -> bytes:
    """A stored value's bytes (pickle; cloudpickle for classes of the job script)."""
    return _dumps(stored)


def loads_value(data: bytes) -> Any:
    return _pickling.loads(data)
