"""Batch-at-a-time channel selection for every partitioning.

``split(values, timestamps)`` returns, per output channel, the (values, timestamps, keys)
that go there, or None for channels that get nothing. Round-robin uses strided slices, so
rebalancing a batch costs no per-record Python loop.
"""

from __future__ import annotations

import pickle
import random
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

from strom.graph.partitioning import (
    BroadcastPartitioning,
    CustomPartitioning,
    ForwardPartitioning,
    GlobalPartitioning,
    HashPartitioning,
    Partitioning,
    RebalancePartitioning,
    RescalePartitioning,
    ShufflePartitioning,
)
from strom.state.key_groups import stable_hash

__all__ = ["ChannelSelector", "create_channel_selector", "key_selector_function"]

Part = tuple[list[Any], list[int] | None, list[Any] | None] | None

_KEY_CACHE_LIMIT = 65536


def key_selector_function(selector: Any) -> Callable[[Any], Any]:
    """A plain callable for a ``KeySelector`` object or callable."""
    get_key = getattr(selector, "get_key", None)
    return get_key if get_key is not None else selector


class ChannelSelector(ABC):
    """Splits a batch over ``n`` channels."""

    broadcast = False

    def __init__(self, n: int) -> None:
        self.n = n

    @abstractmethod
    def split(self, values: list[Any], timestamps: list[int] | None) -> list[Part]:
        """Per channel: the (values, timestamps, keys) that go there, or None."""


class _First(ChannelSelector):
    """Forward and global: everything to channel 0."""

    def split(self, values: list[Any], timestamps: list[int] | None) -> list[Part]:
        return [(values, timestamps, None)] + [None] * (self.n - 1)


class _Broadcast(ChannelSelector):
    broadcast = True

    def split(self, values: list[Any], timestamps: list[int] | None) -> list[Part]:
        return [(values, timestamps, None)] * self.n


class _RoundRobin(ChannelSelector):
    """Rebalance and rescale: record i of the stream goes to channel (start + i) % n."""

    def __init__(self, n: int) -> None:
        super().__init__(n)
        self.next_channel = random.randrange(n)

    def split(self, values: list[Any], timestamps: list[int] | None) -> list[Part]:
        n = self.n
        if n == 1:
            return [(values, timestamps, None)]
        parts: list[Part] = [None] * n
        start = self.next_channel
        for offset in range(min(n, len(values))):
            channel = (start + offset) % n
            ts = timestamps[offset::n] if timestamps is not None else None
            parts[channel] = (values[offset::n], ts, None)
        self.next_channel = (start + len(values)) % n
        return parts


class _Shuffle(ChannelSelector):
    def split(self, values: list[Any], timestamps: list[int] | None) -> list[Part]:
        channels = [random.randrange(self.n) for _ in values]
        return _scatter(self.n, channels, values, timestamps, None)


class _Hash(ChannelSelector):
    """key_by: key group → owning subtask. Keys travel with the batch to the keyed operator."""

    def __init__(self, n: int, key_selector: Any, max_parallelism: int) -> None:
        super().__init__(n)
        self.get_key = key_selector_function(key_selector)
        self.max_parallelism = max_parallelism
        self.cache: dict[Any, int] = {}

    def channel_of(self, key: Any) -> int:
        mp = self.max_parallelism
        channel = ((_key_hash(key) & 0x7FFFFFFF) % mp) * self.n // mp
        if len(self.cache) >= _KEY_CACHE_LIMIT:
            self.cache.clear()
        try:
            self.cache[key] = channel
        except TypeError:  # unhashable key: compute every time
            pass
        return channel

    def split(self, values: list[Any], timestamps: list[int] | None) -> list[Part]:
        get_key = self.get_key
        keys = [get_key(v) for v in values]
        if self.n == 1:
            # one channel needs no hash; hash a sample anyway, so that a key strom cannot
            # hash fails at parallelism 1 just as it does at 2 and more
            if keys:
                _key_hash(keys[0])
            return [(values, timestamps, keys)]
        cache_get, channel_of = self.cache.get, self.channel_of
        channels: list[int] = []
        append = channels.append
        for k in keys:
            try:
                c = cache_get(k)
            except TypeError:
                c = None
            append(channel_of(k) if c is None else c)
        return _scatter(self.n, channels, values, timestamps, keys)


def _key_hash(key: Any) -> int:
    """:func:`stable_hash` of a key, failing with advice when the key cannot be hashed."""
    try:
        return stable_hash(key)
    except (pickle.PicklingError, AttributeError, TypeError) as e:
        kind = type(key)
        where = ("a class defined inside a function, which pickle cannot find by name"
                 if "<locals>" in kind.__qualname__ else f"a {kind.__qualname__}")
        raise TypeError(
            f"The key selector returned {key!r}, {where}; strom hashes such a key by its "
            f"pickled bytes so that every process routes it alike, and that failed: {e}. "
            "Define the key's class at module level, give it a __stable_key__() method that "
            "returns a tuple of its fields, or key by a str, int or tuple."
        ) from e


class _Custom(ChannelSelector):
    def __init__(self, n: int, partitioner: Any, key_selector: Any) -> None:
        super().__init__(n)
        self.get_key = key_selector_function(key_selector)
        p = getattr(partitioner, "partition", None)
        self.partition = p if p is not None else partitioner

    def split(self, values: list[Any], timestamps: list[int] | None) -> list[Part]:
        n, get_key, partition = self.n, self.get_key, self.partition
        channels: list[int] = []
        for v in values:
            c = partition(get_key(v), n)
            if not isinstance(c, int) or not 0 <= c < n:
                raise ValueError(
                    f"Custom partitioner returned {c!r} for {v!r}; it must return an int in "
                    f"0..{n - 1} (num_partitions={n})."
                )
            channels.append(c)
        return _scatter(n, channels, values, timestamps, None)


def _scatter(
    n: int, channels: list[int], values: list[Any], timestamps: list[int] | None,
    keys: list[Any] | None,
) -> list[Part]:
    out_values: list[list[Any]] = [[] for _ in range(n)]
    appends = [v.append for v in out_values]
    for c, v in zip(channels, values):
        appends[c](v)
    out_ts: list[list[int]] | None = None
    if timestamps is not None:
        out_ts = [[] for _ in range(n)]
        ts_appends = [t.append for t in out_ts]
        for c, t in zip(channels, timestamps):
            ts_appends[c](t)
    out_keys: list[list[Any]] | None = None
    if keys is not None:
        out_keys = [[] for _ in range(n)]
        key_appends = [k.append for k in out_keys]
        for c, k in zip(channels, keys):
            key_appends[c](k)
    return [
        (out_values[i], out_ts[i] if out_ts else None, out_keys[i] if out_keys else None)
        if out_values[i] else None
        for i in range(n)
    ]


def create_channel_selector(partitioning: Partitioning, n: int) -> ChannelSelector:
    """The runtime selector for an edge's partitioning with ``n`` output channels."""
    if isinstance(partitioning, ForwardPartitioning | GlobalPartitioning):
        return _First(n)
    if isinstance(partitioning, RebalancePartitioning | RescalePartitioning):
        return _RoundRobin(n)
    if isinstance(partitioning, ShufflePartitioning):
        return _Shuffle(n)
    if isinstance(partitioning, BroadcastPartitioning):
        return _Broadcast(n)
    if isinstance(partitioning, HashPartitioning):
        return _Hash(n, partitioning.key_selector, partitioning.max_parallelism)
    if isinstance(partitioning, CustomPartitioning):
        return _Custom(n, partitioning.partitioner, partitioning.key_selector)
    raise TypeError(f"unknown partitioning {partitioning!r}")
