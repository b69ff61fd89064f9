"""Key groups: how keys map to the parallel instances of a keyed operator.

Flink's rule (``KeyGroupRangeAssignment``): ``key_group = murmur(hash(key)) % max_parallelism``
and ``subtask = key_group * parallelism // max_parallelism``. The hash must be the same in
every process and every run, so CPython's salted ``hash()`` of ``str``/``bytes`` is never used:
:func:`stable_hash` hashes the key's content with MurmurHash3 (``mmh3``, C-backed).
"""

from __future__ import annotations

import math
import pickle
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import mmh3

__all__ = [
    "DEFAULT_LOWER_BOUND_MAX_PARALLELISM",
    "UPPER_BOUND_MAX_PARALLELISM",
    "KeyGroupRange",
    "assign_to_key_group",
    "check_backend_range",
    "compute_default_max_parallelism",
    "compute_key_group_range_for_operator_index",
    "compute_operator_index_for_key_group",
    "key_group_for_hash",
    "stable_hash",
]

DEFAULT_LOWER_BOUND_MAX_PARALLELISM = 128
UPPER_BOUND_MAX_PARALLELISM = 1 << 15

_MASK32 = 0xFFFFFFFF
_pack_double = struct.Struct("<d").pack


def _hash_int(value: int) -> int:
    if -(1 << 63) <= value < (1 << 63):
        return mmh3.hash(value.to_bytes(8, "little", signed=True))
    return mmh3.hash(str(value))


def _hash_tuple(value: tuple[Any, ...]) -> int:
    acc = 0x345678
    for item in value:
        acc = (acc * 1000003) ^ (stable_hash(item) & _MASK32)
        acc &= _MASK32
    return mmh3.hash(acc.to_bytes(4, "little") + len(value).to_bytes(4, "little"))


def _hash_unordered(tag: bytes, hashes: Any, size: int) -> int:
    # sets and dicts: the same for every iteration order (which differs between processes)
    acc = 0
    for h in hashes:
        acc = (acc + (h & _MASK32)) & _MASK32
    return mmh3.hash(tag + acc.to_bytes(4, "little") + size.to_bytes(4, "little"))


def _hash_set(value: set[Any] | frozenset[Any]) -> int:
    return _hash_unordered(b"s", map(stable_hash, value), len(value))


def _hash_dict(value: dict[Any, Any]) -> int:
    return _hash_unordered(b"d", map(_hash_tuple, value.items()), len(value))


def _hash_float(value: float) -> int:
    if value.is_integer():
        return _hash_int(int(value))
    # every NaN alike: Flink groups NaN keys together (Double.equals), whatever their bits
    return mmh3.hash(_pack_double(value if value == value else math.nan))


def _hash_fallback(value: Any) -> int:
    key_fields = getattr(value, "__stable_key__", None)
    if key_fields is not None:
        return stable_hash(key_fields())
    return mmh3.hash(pickle.dumps(value, protocol=5))


_HASHERS: dict[type, Callable[[Any], int]] = {
    str: mmh3.hash,
    bytes: mmh3.hash,
    int: _hash_int,
    bool: lambda v: _hash_int(int(v)),  # True == 1 in Python: they must share a key group
    float: _hash_float,
    tuple: _hash_tuple,
    list: _hash_tuple,  # by content, as equal lists must share a key group
    dict: _hash_dict,
    set: _hash_set,
    frozenset: _hash_set,
    type(None): lambda v: 0,
}


def stable_hash(key: Any) -> int:
    """A 32-bit hash of ``key`` that is identical in every process and run.

    Strings, bytes, numbers, ``None``, tuples, lists, dicts and sets hash by content (dicts
    and sets in any order); other objects hash by their pickled bytes, or by
    ``key.__stable_key__()`` when they define it. Equal keys of mixed numeric types
    (``1`` and ``1.0``) hash alike, as Python's ``==`` treats them alike, and so do all NaNs,
    which Flink groups together.
    """
    hasher = _HASHERS.get(type(key))
    if hasher is not None:
        return hasher(key)
    if isinstance(key, tuple):
        return _hash_tuple(key)
    if isinstance(key, str | bytes):
        return mmh3.hash(key)
    if isinstance(key, int):
        return _hash_int(key)
    if isinstance(key, float):
        return _hash_float(key)
    return _hash_fallback(key)


def key_group_for_hash(key_hash: int, max_parallelism: int) -> int:
    """The key group of an already computed :func:`stable_hash`."""
    return (key_hash & 0x7FFFFFFF) % max_parallelism


def assign_to_key_group(key: Any, max_parallelism: int) -> int:
    """The key group (``0 .. max_parallelism-1``) that ``key`` belongs to."""
    return (stable_hash(key) & 0x7FFFFFFF) % max_parallelism


def compute_operator_index_for_key_group(
    max_parallelism: int, parallelism: int, key_group: int
) -> int:
    """The subtask that owns ``key_group`` (Flink: ``kg * p / maxP``)."""
    return key_group * parallelism // max_parallelism


def compute_default_max_parallelism(parallelism: int) -> int:
    """Flink's default: ``min(max(roundUpToPowerOfTwo(p + p/2), 128), 32768)``."""
    wanted = parallelism + parallelism // 2
    power = 1 << max(0, math.ceil(math.log2(wanted))) if wanted > 0 else 1
    return min(max(power, DEFAULT_LOWER_BOUND_MAX_PARALLELISM), UPPER_BOUND_MAX_PARALLELISM)


@dataclass(frozen=True, slots=True)
class KeyGroupRange:
    """An inclusive range of key groups ``[start, end]``; empty when ``end < start``."""

    start: int
    end: int

    def __contains__(self, key_group: object) -> bool:
        return isinstance(key_group, int) and self.start <= key_group <= self.end

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(range(self.start, self.end + 1))

    def __len__(self) -> int:
        return max(0, self.end - self.start + 1)

    @staticmethod
    def of(start: int, end: int) -> KeyGroupRange:
        return KeyGroupRange(start, end)


def compute_key_group_range_for_operator_index(
    max_parallelism: int, parallelism: int, operator_index: int
) -> KeyGroupRange:
    """The contiguous key groups owned by subtask ``operator_index``.

    ``[ceil(i * maxP / p), floor(((i + 1) * maxP - 1) / p)]``, as Flink computes it.
    """
    if not 0 < parallelism <= max_parallelism:
        raise ValueError(
            f"parallelism must be in 1..max_parallelism ({max_parallelism}), got {parallelism}"
        )
    start = (operator_index * max_parallelism + parallelism - 1) // parallelism
    end = ((operator_index + 1) * max_parallelism - 1) // parallelism
    return KeyGroupRange(start, end)


def check_backend_range(max_parallelism: Any, key_group_range: Any) -> None:
    """Raise a clear error unless a keyed state backend may own ``key_group_range`` of
    ``max_parallelism`` key groups."""
    if isinstance(max_parallelism, bool) or not isinstance(max_parallelism, int):
        raise TypeError(f"max_parallelism must be an int, got {max_parallelism!r}")
    if not 0 < max_parallelism <= UPPER_BOUND_MAX_PARALLELISM:
        raise ValueError(
            f"max_parallelism must be in 1..{UPPER_BOUND_MAX_PARALLELISM}, "
            f"got {max_parallelism}"
        )
    if not isinstance(key_group_range, KeyGroupRange):
        raise TypeError(f"key_group_range must be a KeyGroupRange, got {key_group_range!r}")
    if len(key_group_range) and not (
        0 <= key_group_range.start and key_group_range.end < max_parallelism
    ):
        raise ValueError(
            f"key_group_range {key_group_range} lies outside the key groups "
            f"0..{max_parallelism - 1} of max_parallelism {max_parallelism}"
        )
