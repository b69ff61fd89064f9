"""How records move along an edge between two operators (data only; the runtime's
``strom.network.partitioners`` does the moving)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "BroadcastPartitioning", "CustomPartitioning", "ForwardPartitioning", "GlobalPartitioning",
    "HashPartitioning", "Partitioning", "RebalancePartitioning", "RescalePartitioning",
    "ShufflePartitioning",
]


@dataclass(eq=False)
class Partitioning:
    """Base of all edge partitionings. ``ship_strategy`` is the name the plan JSON shows."""

    ship_strategy: str = field(init=False, default="")
    #: pointwise edges connect each producer to a subset of consumers (forward, rescale)
    pointwise: bool = field(init=False, default=False)


@dataclass(eq=False)
class ForwardPartitioning(Partitioning):
    def __post_init__(self) -> None:
        self.ship_strategy, self.pointwise = "FORWARD", True


@dataclass(eq=False)
class RebalancePartitioning(Partitioning):
    def __post_init__(self) -> None:
        self.ship_strategy = "REBALANCE"


@dataclass(eq=False)
class RescalePartitioning(Partitioning):
    def __post_init__(self) -> None:
        self.ship_strategy, self.pointwise = "RESCALE", True


@dataclass(eq=False)
class ShufflePartitioning(Partitioning):
    def __post_init__(self) -> None:
        self.ship_strategy = "SHUFFLE"


@dataclass(eq=False)
class BroadcastPartitioning(Partitioning):
    def __post_init__(self) -> None:
        self.ship_strategy = "BROADCAST"


@dataclass(eq=False)
class GlobalPartitioning(Partitioning):
    def __post_init__(self) -> None:
        self.ship_strategy = "GLOBAL"


@dataclass(eq=False)
class HashPartitioning(Partitioning):
    """``key_by``: records go to the subtask owning their key's key group.

    ``max_parallelism`` is the consumer's, filled in when the graph is built.
    """

    key_selector: Any = None
    max_parallelism: int = 0

    def __post_init__(self) -> None:
        self.ship_strategy = "HASH"


@dataclass(eq=False)
class CustomPartitioning(Partitioning):
    """``partition_custom``: ``partitioner(key, num_partitions)`` picks the channel."""

    partitioner: Any = None
    key_selector: Any = None

    def __post_init__(self) -> None:
        self.ship_strategy = "CUSTOM"
