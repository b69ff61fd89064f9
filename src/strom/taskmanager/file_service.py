"""What a TaskExecutor answers REST about its process (a mixin of :class:`TaskExecutor`):
its description (data port, hardware, allocated slots), its log files and a thread dump.

The JobManager's REST handlers reach these through the Dispatcher, which calls the
TaskExecutor at the address the ResourceManager registered.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec

from strom.common.process_files import (
    DEFAULT_MAX_LOG_BYTES,
    HardwareDescription,
    LogFileInfo,
    ThreadInfo,
    hardware_description,
    list_log_files,
    read_log_file,
    thread_dump,
)

if TYPE_CHECKING:
    from strom.common.job import JobID
    from strom.graph.ids import AllocationID, ResourceID
    from strom.network.environment import NetworkEnvironment

__all__ = ["AllocatedSlot", "FileServiceMixin", "TaskManagerDescription"]


class AllocatedSlot(msgspec.Struct, frozen=True):
    """One slot held by a job (Flink's ``SlotInfo``)."""

    index: int
    job_id: str


class TaskManagerDescription(msgspec.Struct, frozen=True):
    """A TaskExecutor as it describes itself (what the ResourceManager does not know)."""

    resource_id: str
    host: str
    #: the data server's port (-1: its channels are all in one process)
    data_port: int
    num_slots: int
    hardware: HardwareDescription
    allocated_slots: list[AllocatedSlot]


class FileServiceMixin:
    """Logs, thread dump and description RPCs; the TaskExecutor provides the fields."""

    if TYPE_CHECKING:
        resource_id: ResourceID
        num_slots: int
        network: NetworkEnvironment
        allocations: dict[AllocationID, tuple[int, JobID, str]]

    #: this process's log file (set by the TaskManager process; None inside a program)
    log_file: Path | None = None

    async def request_task_manager_description(self) -> TaskManagerDescription:
        address = self.network.data_address
        host = address.rpartition(":")[0] if address else socket.gethostname()
        slots = [AllocatedSlot(index, str(job_id))
                 for index, job_id, _ in sorted(self.allocations.values(), key=lambda a: a[0])]
        return TaskManagerDescription(
            str(self.resource_id), host, int(address.rpartition(":")[2]) if address else -1,
            self.num_slots, hardware_description(), slots)

    async def request_log_list(self) -> list[LogFileInfo]:
        return list_log_files(self.log_file, "TaskManager")

    async def request_log(self, name: str, max_bytes: int = DEFAULT_MAX_LOG_BYTES) -> str:
        """The TaskManager's own log (``name`` empty) or a file of its log directory."""
        return read_log_file(self.log_file, name or None, max_bytes, "TaskManager")

    async def request_thread_dump(self) -> list[ThreadInfo]:
        return thread_dump()
