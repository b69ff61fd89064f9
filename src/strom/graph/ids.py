"""Typed ids, as Flink has them: 32 lowercase hex characters."""

from __future__ import annotations

import os

__all__ = ["AbstractID", "AllocationID", "ExecutionAttemptID", "IntermediateDataSetID",
           "JobVertexID", "ResourceID", "SlotID"]


class AbstractID:
    """A random 128-bit id printed as 32 hex characters. Subclasses only give it a type."""

    __slots__ = ("_hex",)

    def __init__(self, hex_string: str | None = None) -> None:
        if hex_string is None:
            hex_string = os.urandom(16).hex()
        elif len(hex_string) != 32 or any(c not in "0123456789abcdef" for c in hex_string):
            raise ValueError(
                f"{type(self).__name__} must be 32 lowercase hex characters, got {hex_string!r}"
            )
        self._hex = hex_string

    def to_hex_string(self) -> str:
        return self._hex

    def __str__(self) -> str:
        return self._hex

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._hex!r})"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other._hex == self._hex  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash(self._hex)

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (type(self), (self._hex,))


class JobVertexID(AbstractID):
    __slots__ = ()


class IntermediateDataSetID(AbstractID):
    __slots__ = ()


class ExecutionAttemptID(AbstractID):
    __slots__ = ()


class AllocationID(AbstractID):
    __slots__ = ()


class ResourceID(AbstractID):
    """Identifies a TaskExecutor."""

    __slots__ = ()


class SlotID:
    """A slot of a TaskExecutor: (resource id, slot number)."""

    __slots__ = ("resource_id", "slot_number")

    def __init__(self, resource_id: ResourceID, slot_number: int) -> None:
        self.resource_id = resource_id
        self.slot_number = slot_number

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, SlotID) and other.resource_id == self.resource_id
                and other.slot_number == self.slot_number)

    def __hash__(self) -> int:
        return hash((self.resource_id, self.slot_number))

    def __repr__(self) -> str:
        return f"SlotID({self.resource_id}_{self.slot_number})"
