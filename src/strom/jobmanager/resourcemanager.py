"""The ResourceManager: which TaskExecutors exist and which of their slots are free.

A standalone ResourceManager only hands out slots of registered TaskExecutors: on a slot
request it allocates free slots and asks their TaskExecutors to offer them to the JobMaster.
"""

from __future__ import annotations

from dataclasses import dataclass

from strom.common.job import JobID
from strom.graph.ids import AllocationID, ResourceID
from strom.jobmanager.cluster_info import TaskManagerDetails
from strom.rpc.gateways import ResourceManagerGateway, TaskExecutorGateway
from strom.rpc.service import RpcEndpoint, RpcService

__all__ = ["ResourceManager"]


@dataclass
class _Slot:
    task_executor: str
    index: int
    job_id: JobID | None = None
    allocation_id: AllocationID | None = None


class ResourceManager(RpcEndpoint):
    gateway = ResourceManagerGateway

    def __init__(self, rpc: RpcService, name: str = "resourcemanager") -> None:
        super().__init__(rpc, name)
        self.slots: list[_Slot] = []
        self.task_executors: dict[str, ResourceID] = {}  # address -> resource id

    async def register_task_executor(self, address: str, resource_id: ResourceID,
                                     num_slots: int) -> None:
        if address in self.task_executors:
            return
        self.task_executors[address] = resource_id
        self.slots.extend(_Slot(address, i) for i in range(num_slots))

    async def request_slots(self, job_id: JobID, job_master_address: str, count: int) -> int:
        """Allocate ``count`` slots to the job, or none if fewer are free. Returns how many
        were free."""
        # spread out over the TaskExecutors (Flink's cluster.evenly-spread-out-slots): slot
        # 0 of each first, so a job's subtasks exchange data between TaskManagers
        free = sorted((s for s in self.slots if s.job_id is None), key=lambda s: s.index)
        if len(free) < count:
            return len(free)
        for slot in free[:count]:
            slot.job_id = job_id
            slot.allocation_id = AllocationID()
            te = self.rpc.connect(slot.task_executor, TaskExecutorGateway)
            await te.request_slot(slot.index, job_id, slot.allocation_id, job_master_address)
        return count

    async def release_slots(self, job_id: JobID) -> None:
        executors = set()
        for slot in self.slots:
            if slot.job_id == job_id:
                slot.job_id = slot.allocation_id = None
                executors.add(slot.task_executor)
        for address in executors:
            await self.rpc.connect(address, TaskExecutorGateway).free_slots(job_id)

    async def free_slot_count(self) -> int:
        return sum(1 for s in self.slots if s.job_id is None)

    async def list_task_managers(self) -> list[TaskManagerDetails]:
        return [
            TaskManagerDetails(
                str(resource_id), address,
                sum(1 for s in self.slots if s.task_executor == address),
                sum(1 for s in self.slots if s.task_executor == address and s.job_id is None),
            )
            for address, resource_id in self.task_executors.items()
        ]

    def leftovers(self) -> list[str]:
        allocated = [f"{self.address}: slot {s.index} of {s.task_executor} is still allocated "
                     f"to job {s.job_id}" for s in self.slots if s.job_id is not None]
        return super().leftovers() + allocated
