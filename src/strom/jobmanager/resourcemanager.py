"""The ResourceManager: which TaskExecutors exist and which of their slots are free.

A standalone ResourceManager only hands out slots of registered TaskExecutors: on a slot
request it allocates free slots and asks their TaskExecutors to offer them to the JobMaster.
It asks every registered TaskExecutor for a heartbeat each ``heartbeat.interval``; the
answer carries the TaskExecutor's slot report. A slot the report shows free although it was
allocated here (and its TaskExecutor had confirmed that before the heartbeat was asked for)
was freed by the TaskExecutor, whose JobMaster went away: it is free here too. A TaskExecutor that stops answering
(``heartbeat.timeout``, or ``heartbeat.rpc-failure-threshold`` failed heartbeats in a row)
is lost: it and its slots are forgotten. The JobMasters that ran tasks there notice through
their own heartbeats and fail their jobs. A TaskExecutor that registers again (it lost this
ResourceManager, or this is a new ResourceManager) starts with all its slots free.

It is a fenced endpoint: its fencing token is its JobManager process's leader session id
(:data:`~strom.ha.leader_election.STANDALONE_SESSION_ID` without HA), its ``instance_id``
(what a registration returns, and what its heartbeats name) is that session id as a
ResourceID, and it calls TaskExecutors with that token, so a TaskExecutor that follows
another leader refuses a deposed ResourceManager's calls. The JobMasters of the same process
share its session id as their token; a TaskExecutor takes the token of the ``request_slot``
call as the token of the job's JobMaster (no separate parameter: both tokens are the
process's session id).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from strom.common.job import JobID
from strom.graph.ids import AllocationID, ResourceID
from strom.ha.leader_election import STANDALONE_SESSION_ID
from strom.heartbeat import HeartbeatLoop, HeartbeatSettings, TargetLost, monotonic_ms
from strom.rpc.errors import RpcError
from strom.rpc.gateways import ResourceManagerGateway, TaskExecutorGateway
from strom.rpc.messages import SlotReport, TaskManagerInfo
from strom.rpc.service import FencedRpcEndpoint, RpcService

__all__ = ["ResourceManager"]

log = logging.getLogger(__name__)


@dataclass
class _Slot:
    task_executor: str
    index: int
    job_id: JobID | None = None
    allocation_id: AllocationID | None = None
    #: when the TaskExecutor confirmed the allocation (monotonic ms; None: not yet)
    confirmed_ms: int | None = None

    def free(self) -> None:
        self.job_id = self.allocation_id = self.confirmed_ms = None


@dataclass
class _TaskExecutorRecord:
    address: str
    resource_id: ResourceID
    num_slots: int
    last_heartbeat: int
    report: SlotReport | None = None


class ResourceManager(FencedRpcEndpoint):
    gateway = ResourceManagerGateway

    def __init__(self, rpc: RpcService, name: str = "resourcemanager",
                 heartbeat: HeartbeatSettings | None = None,
                 fencing_token: str = STANDALONE_SESSION_ID) -> None:
        super().__init__(rpc, name, fencing_token)
        #: this ResourceManager's id, its leader session id (Flink's ResourceManagerId): a
        #: TaskExecutor registered elsewhere ignores its beats
        self.instance_id = ResourceID(fencing_token)
        #: the token of the calls to TaskExecutors (fencing_token may become None on revoke)
        self.session_id = fencing_token
        self.slots: list[_Slot] = []
        self.task_executors: dict[str, _TaskExecutorRecord] = {}  # by address
        self.heartbeats: HeartbeatLoop[str] = HeartbeatLoop(
            f"{name} to TaskExecutors", heartbeat or HeartbeatSettings(),
            on_lost=self._task_executor_lost, request=self._request_heartbeat,
            on_payload=self._slot_report,
        )

    async def on_start(self) -> None:
        self.heartbeats.start()
        self.rpc.add_connection_listener(self.heartbeats.probe_peer)

    async def on_stop(self) -> None:
        self.rpc.remove_connection_listener(self.heartbeats.probe_peer)
        await self.heartbeats.stop()

    # ------------------------------------------------------------------ gateway
    async def register_task_executor(self, address: str, resource_id: ResourceID,
                                     num_slots: int) -> ResourceID:
        if address in self.task_executors:
            # registered again: it lost this ResourceManager and freed its slots
            self._forget(address)
        log.debug("TaskExecutor %s at %s registered with %d slots", resource_id, address,
                 num_slots)
        self.task_executors[address] = _TaskExecutorRecord(
            address, resource_id, num_slots, _epoch_ms())
        self.slots.extend(_Slot(address, i) for i in range(num_slots))
        self.heartbeats.monitor_target(address)
        return self.instance_id

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
            te = self._task_executor(slot.task_executor)
            await te.request_slot(slot.index, job_id, slot.allocation_id, job_master_address)
            slot.confirmed_ms = monotonic_ms()
        return count

    async def release_slots(self, job_id: JobID) -> None:
        executors = set()
        for slot in self.slots:
            if slot.job_id == job_id:
                slot.free()
                executors.add(slot.task_executor)
        for address in executors:
            try:
                await self._task_executor(address).free_slots(job_id)
            except RpcError as e:
                # a TaskExecutor that is going away frees everything on its own
                log.warning("could not free the slots of job %s on %s: %s", job_id, address, e)

    async def free_slot_count(self) -> int:
        return sum(1 for s in self.slots if s.job_id is None)

    async def list_task_managers(self) -> list[TaskManagerInfo]:
        return [
            TaskManagerInfo(
                record.resource_id, address, record.num_slots,
                sum(1 for s in self.slots if s.task_executor == address and s.job_id is None),
                record.last_heartbeat,
            )
            for address, record in self.task_executors.items()
        ]

    def _task_executor(self, address: str) -> TaskExecutorGateway:
        """The TaskExecutor at ``address``, called under this leader session."""
        return self.rpc.connect(address, TaskExecutorGateway, fencing_token=self.session_id)

    # ------------------------------------------------------------------ heartbeats
    async def _request_heartbeat(self, address: str) -> tuple[int, SlotReport]:
        asked_ms = monotonic_ms()
        te = self._task_executor(address)
        return asked_ms, await te.heartbeat_from_resource_manager(self.instance_id)

    def _slot_report(self, address: str, answer: tuple[int, SlotReport]) -> None:
        asked_ms, report = answer
        record = self.task_executors.get(address)
        if record is None or record.resource_id != report.resource_id:
            return
        record.last_heartbeat = _epoch_ms()
        record.report = report
        free_there = {s.slot_index for s in report.slots if s.job_id is None}
        for slot in self.slots:
            if (slot.task_executor == address and slot.index in free_there
                    and slot.confirmed_ms is not None and slot.confirmed_ms < asked_ms):
                log.info("slot %d of TaskManager %s was freed there (job %s lost its "
                         "JobMaster); it is free again", slot.index, record.resource_id,
                         slot.job_id)
                slot.free()

    def _task_executor_lost(self, lost: TargetLost[str]) -> None:
        record = self.task_executors.get(lost.target)
        if record is None:
            return
        jobs = sorted({str(s.job_id) for s in self.slots
                       if s.task_executor == lost.target and s.job_id is not None})
        log.warning("TaskManager %s at %s is lost (%s); its slots are released%s",
                    record.resource_id, lost.target, lost.reason,
                    f", jobs {', '.join(jobs)} lose their tasks there" if jobs else "")
        self._forget(lost.target)

    def _forget(self, address: str) -> None:
        self.task_executors.pop(address, None)
        self.slots = [s for s in self.slots if s.task_executor != address]
        self.heartbeats.unmonitor_target(address)

    def leftovers(self) -> list[str]:
        allocated = [f"{self.address}: slot {s.index} of {s.task_executor} is still allocated "
                     f"to job {s.job_id}" for s in self.slots if s.job_id is not None]
        return super().leftovers() + allocated


def _epoch_ms() -> int:
    return time.time_ns() // 1_000_000
