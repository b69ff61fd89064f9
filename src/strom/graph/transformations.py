"""Transformations: what each API call records. A DataStream is a handle on one of these."""

from __future__ import annotations

import enum
import itertools
from dataclasses import dataclass, field
from typing import Any

from strom.graph.operator_specs import OperatorSpec
from strom.graph.partitioning import Partitioning

__all__ = [
    "ChainingStrategy", "OneInputTransformation", "PartitionTransformation",
    "SideOutputTransformation", "SinkTransformation", "SourceTransformation", "Transformation",
    "TwoInputTransformation", "UnionTransformation",
]

_ids = itertools.count(1)


class ChainingStrategy(enum.Enum):
    ALWAYS = "ALWAYS"
    HEAD = "HEAD"
    NEVER = "NEVER"


@dataclass(eq=False)
class Transformation:
    """One API call's result. ``parallelism`` None means the environment's default."""

    name: str
    output_type: Any = None
    parallelism: int | None = None
    max_parallelism: int | None = None
    id: int = field(default_factory=lambda: next(_ids))
    uid: str | None = None
    description: str | None = None
    chaining_strategy: ChainingStrategy = ChainingStrategy.ALWAYS
    slot_sharing_group: str | None = None
    #: the SlotSharingGroup given to ``slot_sharing_group()`` when it describes resources
    slot_sharing_group_resources: Any = None
    buffer_timeout: int | None = None

    @property
    def inputs(self) -> list[Transformation]:
        return []

    @property
    def is_virtual(self) -> bool:
        """Virtual transformations (partition, union, side output) become edge properties."""
        return False


@dataclass(eq=False)
class SourceTransformation(Transformation):
    spec: OperatorSpec | None = None
    #: an upper bound for the parallelism (1 for non-parallel sources such as collections)
    max_source_parallelism: int | None = None
    bounded: bool = True


@dataclass(eq=False)
class OneInputTransformation(Transformation):
    input: Transformation | None = None
    spec: OperatorSpec | None = None

    @property
    def inputs(self) -> list[Transformation]:
        assert self.input is not None
        return [self.input]


@dataclass(eq=False)
class TwoInputTransformation(Transformation):
    input1: Transformation | None = None
    input2: Transformation | None = None
    spec: OperatorSpec | None = None

    @property
    def inputs(self) -> list[Transformation]:
        assert self.input1 is not None and self.input2 is not None
        return [self.input1, self.input2]


@dataclass(eq=False)
class SinkTransformation(OneInputTransformation):
    pass


@dataclass(eq=False)
class PartitionTransformation(Transformation):
    input: Transformation | None = None
    partitioning: Partitioning | None = None

    @property
    def inputs(self) -> list[Transformation]:
        assert self.input is not None
        return [self.input]

    @property
    def is_virtual(self) -> bool:
        return True


@dataclass(eq=False)
class UnionTransformation(Transformation):
    union_inputs: list[Transformation] = field(default_factory=list)

    @property
    def inputs(self) -> list[Transformation]:
        return list(self.union_inputs)

    @property
    def is_virtual(self) -> bool:
        return True


@dataclass(eq=False)
class SideOutputTransformation(Transformation):
    input: Transformation | None = None
    output_tag: Any = None

    @property
    def inputs(self) -> list[Transformation]:
        assert self.input is not None
        return [self.input]

    @property
    def is_virtual(self) -> bool:
        return True
