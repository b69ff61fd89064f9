"""The gateways: what each component lets others call. All methods are async."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from strom.rpc.messages import SlotOffer, TaskDeploymentDescriptor, TaskExecutionState

if TYPE_CHECKING:
    from strom.graph.job_graph import JobGraph

__all__ = ["DispatcherGateway", "JobMasterGateway", "ResourceManagerGateway",
           "TaskExecutorGateway"]


class DispatcherGateway(Protocol):
    async def submit_job(self, job_graph: JobGraph | bytes, job_id: str) -> str: ...

    async def request_job_status(self, job_id: str) -> str: ...

    async def request_job_result(self, job_id: str) -> Any: ...

    async def cancel_job(self, job_id: str) -> None: ...

    async def list_jobs(self) -> list[tuple[str, str, str]]: ...


class ResourceManagerGateway(Protocol):
    async def register_task_executor(
        self, address: str, resource_id: str, num_slots: int
    ) -> None: ...

    async def request_slots(self, job_id: str, job_master_address: str, count: int) -> int: ...

    async def release_slots(self, job_id: str) -> None: ...

    async def free_slot_count(self) -> int: ...


class JobMasterGateway(Protocol):
    async def offer_slots(self, offers: list[SlotOffer]) -> list[str]: ...

    async def update_task_execution_state(self, state: TaskExecutionState) -> None: ...

    async def send_operator_event(
        self, execution_id: str, operator_id: str, subtask: int, event: Any
    ) -> None: ...

    async def request_job_status(self) -> str: ...

    async def cancel(self) -> None: ...


class TaskExecutorGateway(Protocol):
    async def request_slot(
        self, slot_index: int, job_id: str, allocation_id: str, job_master_address: str
    ) -> None: ...

    async def submit_task(self, tdd: TaskDeploymentDescriptor) -> None: ...

    async def cancel_task(self, execution_id: str) -> None: ...

    async def send_operator_event(self, execution_id: str, operator_id: str, event: Any) -> None:
        ...

    async def free_slots(self, job_id: str) -> None: ...
