"""What travels through channels: record batches and in-band events.

A batch is columnar at the top level: ``values`` and, where used, parallel ``timestamps``
(epoch ms) and ``keys`` (computed by the hash partitioner for the keyed consumer). There is
no per-record wrapper object.
"""

from __future__ import annotations

from typing import Any

__all__ = ["EndOfPartition", "RecordBatch", "WatermarkEvent", "WatermarkStatusEvent"]


class RecordBatch:
    __slots__ = ("keys", "timestamps", "values")

    def __init__(
        self, values: list[Any], timestamps: list[int] | None = None,
        keys: list[Any] | None = None,
    ) -> None:
        self.values = values
        self.timestamps = timestamps
        self.keys = keys

    def __len__(self) -> int:
        return len(self.values)

    def __repr__(self) -> str:
        return f"RecordBatch({len(self.values)} records)"


class WatermarkEvent:
    __slots__ = ("timestamp",)

    def __init__(self, timestamp: int) -> None:
        self.timestamp = timestamp

    def __repr__(self) -> str:
        return f"Watermark({self.timestamp})"


class WatermarkStatusEvent:
    """The channel's producer became idle (``idle=True``) or active again."""

    __slots__ = ("idle",)

    def __init__(self, idle: bool) -> None:
        self.idle = idle


class EndOfPartition:
    """The producer finished: nothing more comes on this channel."""

    __slots__ = ()


END_OF_PARTITION = EndOfPartition()
