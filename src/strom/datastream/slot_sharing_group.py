"""SlotSharingGroup and MemorySize (PyFlink's ``pyflink.datastream.slot_sharing_group``).

Operators in the same slot sharing group may share a task slot: a job needs as many slots
per group as the group's highest parallelism. ``DataStream.slot_sharing_group`` takes a
group's name or a ``SlotSharingGroup``; the name alone decides the sharing. A group may
also describe the resources of one slot (CPU cores, heap, off-heap and managed memory,
external resources), which strom records on the job (``JobGraph.slot_sharing_groups``) but
does not enforce: its slots have no resource profiles yet.

>>> ssg = SlotSharingGroup.builder("heavy").set_cpu_cores(1.0).set_task_heap_memory_mb(100).build()
>>> ssg.get_name(), ssg.get_cpu_cores(), ssg.get_task_heap_memory().get_mebi_bytes()
('heavy', 1.0, 100)
"""

from __future__ import annotations

from typing import Any

from strom.common._option_types import format_memory_size

__all__ = ["MemorySize", "SlotSharingGroup"]

_MEBI = 1 << 20


class MemorySize:
    """A number of bytes, viewable in different units (units of 1024)."""

    __slots__ = ("_bytes",)

    def __init__(self, bytes_size: int) -> None:
        if isinstance(bytes_size, bool) or not isinstance(bytes_size, int) or bytes_size < 0:
            raise ValueError(
                f"MemorySize takes a non-negative number of bytes (an int), got {bytes_size!r}."
            )
        self._bytes = bytes_size

    @staticmethod
    def of_mebi_bytes(mebi_bytes: int) -> MemorySize:
        if isinstance(mebi_bytes, bool) or not isinstance(mebi_bytes, int) or mebi_bytes < 0:
            raise ValueError(
                f"of_mebi_bytes() takes a non-negative int, got {mebi_bytes!r}."
            )
        return MemorySize(mebi_bytes * _MEBI)

    def get_bytes(self) -> int:
        return self._bytes

    def get_kibi_bytes(self) -> int:
        return self._bytes >> 10

    def get_mebi_bytes(self) -> int:
        return self._bytes >> 20

    def get_gibi_bytes(self) -> int:
        return self._bytes >> 30

    def get_tebi_bytes(self) -> int:
        return self._bytes >> 40

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MemorySize) and self._bytes == other._bytes

    def __hash__(self) -> int:
        return hash(self._bytes)

    def __lt__(self, other: MemorySize) -> bool:
        if not isinstance(other, MemorySize):
            raise TypeError(f"A MemorySize compares only with a MemorySize, got {other!r}.")
        return self._bytes < other._bytes

    def __le__(self, other: MemorySize) -> bool:
        return self == other or self < other

    def __str__(self) -> str:
        return format_memory_size(self._bytes)

    def __repr__(self) -> str:
        return f"MemorySize({self._bytes})"


def _positive_number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ValueError(f"The {what} should be positive, got {value!r}.")
    return float(value)


def _mebi_bytes(value: Any, what: str, positive: bool) -> MemorySize:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0 or (
            positive and value == 0):
        sign = "positive" if positive else "non-negative"
        raise ValueError(f"The {what} should be a {sign} number of MB (an int), got {value!r}.")
    return MemorySize.of_mebi_bytes(value)


def _memory(value: Any, what: str, positive: bool) -> MemorySize:
    if not isinstance(value, MemorySize):
        raise TypeError(
            f"The {what} takes a MemorySize (e.g. MemorySize.of_mebi_bytes(100)), got "
            f"{value!r}; the *_mb setter takes a number of MB."
        )
    if positive and value.get_bytes() == 0:
        raise ValueError(f"The {what} should be positive, got {value}.")
    return value


class SlotSharingGroup:
    """A slot sharing group's name and, optionally, the resources of its slots.

    Build one with ``SlotSharingGroup.builder(name)``. Two groups are equal when their
    names and resources are equal.
    """

    __slots__ = (
        "_cpu_cores",
        "_external_resources",
        "_managed_memory",
        "_name",
        "_task_heap_memory",
        "_task_off_heap_memory",
    )

    def __init__(self, name: str, cpu_cores: float | None = None,
                 task_heap_memory: MemorySize | None = None,
                 task_off_heap_memory: MemorySize | None = None,
                 managed_memory: MemorySize | None = None,
                 external_resources: dict[str, float] | None = None) -> None:
        self._name = _check_name(name)
        self._cpu_cores = cpu_cores
        self._task_heap_memory = task_heap_memory
        self._task_off_heap_memory = task_off_heap_memory
        self._managed_memory = managed_memory
        self._external_resources = dict(external_resources or {})

    @staticmethod
    def builder(name: str) -> SlotSharingGroup.Builder:
        return SlotSharingGroup.Builder(name)

    def get_name(self) -> str:
        return self._name

    def get_cpu_cores(self) -> float | None:
        return self._cpu_cores

    def get_task_heap_memory(self) -> MemorySize | None:
        return self._task_heap_memory

    def get_task_off_heap_memory(self) -> MemorySize | None:
        return self._task_off_heap_memory

    def get_managed_memory(self) -> MemorySize | None:
        return self._managed_memory

    def get_external_resources(self) -> dict[str, float]:
        return dict(self._external_resources)

    def has_resources(self) -> bool:
        """Whether the group specifies resources (Flink: a resource spec other than UNKNOWN)."""
        return self._cpu_cores is not None

    def _key(self) -> tuple[Any, ...]:
        return (self._name, self._cpu_cores, self._task_heap_memory, self._task_off_heap_memory,
                self._managed_memory, tuple(sorted(self._external_resources.items())))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SlotSharingGroup) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        if not self.has_resources():
            return f"SlotSharingGroup(name={self._name!r})"
        resources = [f"cpu_cores={self._cpu_cores}", f"task_heap_memory={self._task_heap_memory}",
                     f"task_off_heap_memory={self._task_off_heap_memory}",
                     f"managed_memory={self._managed_memory}"]
        if self._external_resources:
            resources.append(f"external_resources={self._external_resources}")
        return f"SlotSharingGroup(name={self._name!r}, {', '.join(resources)})"

    class Builder:
        """Sets the group's resources; CPU cores and task heap memory are required as soon as
        any resource is set (Flink's rule)."""

        def __init__(self, name: str) -> None:
            self._name = _check_name(name)
            self._cpu_cores: float | None = None
            self._task_heap_memory: MemorySize | None = None
            self._task_off_heap_memory: MemorySize | None = None
            self._managed_memory: MemorySize | None = None
            self._external_resources: dict[str, float] = {}

        def set_cpu_cores(self, cpu_cores: float) -> SlotSharingGroup.Builder:
            self._cpu_cores = _positive_number(cpu_cores, "cpu cores")
            return self

        def set_task_heap_memory(self, task_heap_memory: MemorySize) -> SlotSharingGroup.Builder:
            self._task_heap_memory = _memory(task_heap_memory, "task heap memory", True)
            return self

        def set_task_heap_memory_mb(self, task_heap_memory_mb: int) -> SlotSharingGroup.Builder:
            self._task_heap_memory = _mebi_bytes(task_heap_memory_mb, "task heap memory", True)
            return self

        def set_task_off_heap_memory(
                self, task_off_heap_memory: MemorySize) -> SlotSharingGroup.Builder:
            self._task_off_heap_memory = _memory(task_off_heap_memory, "task off-heap memory",
                                                 False)
            return self

        def set_task_off_heap_memory_mb(
                self, task_off_heap_memory_mb: int) -> SlotSharingGroup.Builder:
            self._task_off_heap_memory = _mebi_bytes(task_off_heap_memory_mb,
                                                     "task off-heap memory", False)
            return self

        def set_managed_memory(self, managed_memory: MemorySize) -> SlotSharingGroup.Builder:
            self._managed_memory = _memory(managed_memory, "managed memory", False)
            return self

        def set_managed_memory_mb(self, managed_memory_mb: int) -> SlotSharingGroup.Builder:
            self._managed_memory = _mebi_bytes(managed_memory_mb, "managed memory", False)
            return self

        def set_external_resource(self, name: str, value: float) -> SlotSharingGroup.Builder:
            """Add an external resource (e.g. ``"gpu", 1``), replacing one of the same name."""
            if not isinstance(name, str) or not name:
                raise ValueError(f"An external resource needs a name, got {name!r}.")
            self._external_resources[name] = _positive_number(value, f"amount of {name!r}")
            return self

        def build(self) -> SlotSharingGroup:
            if self._cpu_cores is not None and self._task_heap_memory is not None:
                return SlotSharingGroup(
                    self._name, self._cpu_cores, self._task_heap_memory,
                    self._task_off_heap_memory or MemorySize(0),
                    self._managed_memory or MemorySize(0), self._external_resources,
                )
            if (self._cpu_cores is not None or self._task_heap_memory is not None
                    or self._task_off_heap_memory is not None
                    or self._managed_memory is not None or self._external_resources):
                missing = " and ".join(
                    what for what, value in (("set_cpu_cores()", self._cpu_cores),
                                             ("set_task_heap_memory_mb()",
                                              self._task_heap_memory))
                    if value is None
                )
                raise ValueError(
                    f"Slot sharing group {self._name!r}: the cpu cores and task heap memory are "
                    "required when specifying the resource of a slot sharing group. Call "
                    f"{missing} with a positive value, or set no resources at all."
                )
            return SlotSharingGroup(self._name)


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or not name:
        raise ValueError(f"A slot sharing group needs a non-empty name (a str), got {name!r}.")
    return name


def slot_sharing_group_of(value: Any) -> SlotSharingGroup:
    """What ``slot_sharing_group(...)`` accepts: a group's name or a SlotSharingGroup."""
    if isinstance(value, SlotSharingGroup):
        return value
    if isinstance(value, str):
        return SlotSharingGroup(value)
    raise TypeError(
        "slot_sharing_group() takes the group's name (a str) or a SlotSharingGroup "
        f"(SlotSharingGroup.builder(name)...build()), got {value!r}."
    )
