"""What travels through channels: record batches and in-band events.

A batch is columnar at the top level: ``values`` and, where used, parallel ``timestamps``
(epoch ms) and ``keys`` (computed by the hash partitioner for the keyed consumer). There is
no per-record wrapper object.
"""

from __future__ import annotations

import enum
from typing import Any

__all__ = [
    "CancelCheckpointMarker",
    "CheckpointBarrier",
    "CheckpointType",
    "EndOfPartition",
    "PriorityBarrier",
    "RecordBatch",
    "WatermarkEvent",
    "WatermarkStatusEvent",
]


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


class CheckpointType(enum.Enum):
    """What a barrier asks for (Flink's ``SnapshotType``)."""

    CHECKPOINT = "checkpoint"
    #: a user-triggered savepoint; the job goes on
    SAVEPOINT = "savepoint"
    #: stop-with-savepoint: sources stop after the barrier, tasks finish once it completes
    SAVEPOINT_SUSPEND = "savepoint-suspend"
    #: stop-with-savepoint with ``--drain``: MAX_WATERMARK before the barrier
    SAVEPOINT_TERMINATE = "savepoint-terminate"

    @property
    def is_savepoint(self) -> bool:
        return self is not CheckpointType.CHECKPOINT

    @property
    def is_synchronous(self) -> bool:
        """Stop-with-savepoint: the tasks wait for the savepoint to complete, then finish."""
        return self in (CheckpointType.SAVEPOINT_SUSPEND, CheckpointType.SAVEPOINT_TERMINATE)


class CheckpointBarrier:
    """Barrier ``checkpoint_id``: everything before it on a channel belongs to the
    checkpoint, everything after it does not. ``unaligned`` barriers overtake buffered
    records (which then become channel state). Savepoints are never unaligned.
    ``location`` is the URL of the directory the tasks write their state files to (the
    checkpoint's ``chk-<n>`` or the savepoint's directory; empty: job-manager storage, state
    travels inline with the acknowledgement), as Flink's ``CheckpointOptions`` carry it."""

    __slots__ = ("checkpoint_id", "kind", "location", "timestamp", "unaligned")

    def __init__(
        self, checkpoint_id: int, timestamp: int,
        kind: CheckpointType = CheckpointType.CHECKPOINT, unaligned: bool = False,
        location: str = "",
    ) -> None:
        self.checkpoint_id = checkpoint_id
        self.timestamp = timestamp
        self.kind = kind
        self.unaligned = unaligned
        self.location = location

    def __repr__(self) -> str:
        extra = ", unaligned" if self.unaligned else ""
        return f"CheckpointBarrier({self.checkpoint_id}, {self.kind.value}{extra})"


class PriorityBarrier:
    """The copy of an unaligned ``barrier`` that overtook the data queued in a channel: it
    is put at the head of the channel (and sent before the sender's unsent frames), so the
    receiver starts the checkpoint at once. The barrier itself follows in order, after the
    data it overtook: what a receiver reads from that channel between the two is the
    channel's in-flight data, which it persists as input channel state (Flink's priority
    events, with the barrier's position kept by the in-order copy instead of a sequence
    number)."""

    __slots__ = ("barrier",)

    def __init__(self, barrier: CheckpointBarrier) -> None:
        self.barrier = barrier

    def __repr__(self) -> str:
        return f"PriorityBarrier({self.barrier.checkpoint_id})"


class CancelCheckpointMarker:
    """Checkpoint ``checkpoint_id`` was declined upstream: stop aligning for it and pass the
    marker on, so downstream tasks do not wait for barriers that will never come."""

    __slots__ = ("checkpoint_id",)

    def __init__(self, checkpoint_id: int) -> None:
        self.checkpoint_id = checkpoint_id

    def __repr__(self) -> str:
        return f"CancelCheckpointMarker({self.checkpoint_id})"


class EndOfPartition:
    """The producer finished: nothing more comes on this channel."""

    __slots__ = ()


END_OF_PARTITION = EndOfPartition()
