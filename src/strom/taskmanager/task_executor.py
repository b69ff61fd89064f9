"""The TaskExecutor: offers its slots, runs deployed tasks in its slots' threads and reports
their status to the JobMaster."""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from collections.abc import Callable
from typing import Any

from strom.common import _pickling
from strom.common.job import JobID
from strom.graph.ids import AllocationID, ExecutionAttemptID, ResourceID
from strom.jobmanager.job_files import JobFileStore
from strom.network.environment import NetworkEnvironment
from strom.rpc.errors import SerializedError
from strom.rpc.gateways import JobMasterGateway, ResourceManagerGateway, TaskExecutorGateway
from strom.rpc.messages import (
    ExecutionState,
    ProducerLocation,
    SerializedValue,
    SlotOffer,
    TaskDeploymentDescriptor,
    TaskExecutionState,
    TaskStatus,
)
from strom.rpc.service import RpcEndpoint, RpcService
from strom.runtime.task import Task
from strom.state.backends import create_keyed_state_backend
from strom.taskmanager.slot_thread import SlotThread, stop_all

__all__ = ["TaskExecutor"]

_numbers = itertools.count()

#: how long a stopping TaskExecutor waits for its slots' threads, all together
STOP_GRACE_S = 5.0


def _default_backend_factory(kind: str, max_parallelism: int, key_groups: Any,
                             clock: Callable[[], int]) -> Any:
    return create_keyed_state_backend(kind, max_parallelism, key_groups, clock)


class TaskExecutor(RpcEndpoint):
    gateway = TaskExecutorGateway

    def __init__(
        self,
        rpc: RpcService,
        resource_manager_address: str,
        num_slots: int,
        network: NetworkEnvironment,
        clock: Callable[[], int],
        name: str | None = None,
    ) -> None:
        number = next(_numbers)
        super().__init__(rpc, name or f"taskexecutor-{number}")
        #: the network environment's resource id names this TaskExecutor
        self.resource_id: ResourceID = network.resource_id
        self.rm_address = resource_manager_address
        self.num_slots = num_slots
        self.network = network
        self.clock = clock
        self.slot_threads = [
            SlotThread(f"strom-slot-{number}-{i}", clock) for i in range(num_slots)
        ]
        #: allocation id -> (slot index, job id, job master address)
        self.allocations: dict[AllocationID, tuple[int, JobID, str]] = {}
        self.tasks: dict[ExecutionAttemptID, Task] = {}
        self.keyed_backend_factory = _default_backend_factory
        #: how long stopping waits (in all) for the slot threads to finish their tasks
        self.stop_grace_s = STOP_GRACE_S
        #: calls from task threads waiting to run on the loop, in order (see _from_task_thread)
        self._task_calls: deque[tuple[Callable[..., None], tuple[Any, ...]]] = deque()
        self._task_calls_scheduled = False
        #: fetch each job's Python files from its JobMaster (a TaskManager that does not
        #: share the JobManager's file system); else use the JobManager's copies in place
        self.fetch_job_files = False
        self.job_files = JobFileStore()
        self._job_python_paths: dict[JobID, asyncio.Future[list[str]]] = {}

    async def on_start(self) -> None:
        self.network.start()  # binds the data port (TCP data plane only)
        for thread in self.slot_threads:
            thread.start()
        rm = self.rpc.connect(self.rm_address, ResourceManagerGateway)
        await rm.register_task_executor(self.address, self.resource_id, self.num_slots)

    async def on_stop(self) -> None:
        for task in self.tasks.values():
            task.cancel()
        stop_all(self.slot_threads, self.stop_grace_s)
        self.network.close()
        self.job_files.close()

    def wake_all(self) -> None:
        """Wake every slot (used by manual clocks when time moves)."""
        for thread in self.slot_threads:
            thread.wake()

    def leftovers(self) -> list[str]:
        found = super().leftovers()
        found += [f"{self.address}: slot {index} is still allocated to job {job}"
                  for index, job, _ in self.allocations.values()]
        found += [f"{self.address}: task {task.name} is still deployed"
                  for task in self.tasks.values()]
        found += [f"{self.address}: slot thread {t.name} still runs {t.task_count()} tasks"
                  for t in self.slot_threads if t.task_count()]
        stats = self.network.stats()
        for what, label in (("channels", "network channels are still open"),
                            ("remote_inputs", "remote input channels are still open"),
                            ("views", "subpartitions are still served to remote consumers")):
            if stats.get(what):
                found.append(f"{self.address}: {stats[what]} {label}")
        return found

    # ------------------------------------------------------------------ gateway
    async def request_slot(
        self, slot_index: int, job_id: JobID, allocation_id: AllocationID,
        job_master_address: str,
    ) -> None:
        self.allocations[allocation_id] = (slot_index, job_id, job_master_address)
        jm = self.rpc.connect(job_master_address, JobMasterGateway)
        offer = SlotOffer(allocation_id, slot_index, self.address,
                          ProducerLocation(self.resource_id, self.network.data_address))
        self.spawn(jm.offer_slots([offer]), name=f"offer-{allocation_id}")

    async def submit_task(self, tdd: TaskDeploymentDescriptor) -> None:
        allocation = self.allocations.get(tdd.allocation_id)
        if allocation is None:
            raise RuntimeError(
                f"No slot with allocation {tdd.allocation_id} for task {tdd.task_name}: the "
                "slot was freed or never offered to this job."
            )
        slot_index, _, jm_address = allocation
        if self.fetch_job_files and tdd.config.get("python_path"):
            python_path = await self._job_python_path(tdd.job_id, jm_address)
            tdd.config = {**tdd.config, "python_path": python_path}
        task = Task(
            tdd, self.network, self.clock,
            report_state=lambda eid, state, error: self._from_task_thread(
                self._report, jm_address, tdd.job_id, eid, state, error),
            # pickled in the task's thread: an unpicklable event fails the task that sent it
            send_operator_event=lambda eid, op, subtask, event: self._from_task_thread(
                self._forward_event, jm_address, eid, op, subtask, _pickling.dumps(event)),
            create_keyed_backend=self.keyed_backend_factory,
        )
        self.tasks[tdd.execution_id] = task
        self.slot_threads[slot_index].add_task(task)

    async def _job_python_path(self, job_id: JobID, jm_address: str) -> list[str]:
        """The job's files, fetched from its JobMaster once per job into this TaskExecutor's
        directory for it; the ``sys.path`` entries for its tasks."""
        fetched = self._job_python_paths.get(job_id)
        if fetched is None:
            fetched = self._job_python_paths[job_id] = self.rpc.loop.create_future()
            try:
                jm = self.rpc.connect(jm_address, JobMasterGateway)
                submission = await jm.request_job_files()
                fetched.set_result(self.job_files.install(job_id, submission))
            except BaseException as e:
                del self._job_python_paths[job_id]
                if isinstance(e, Exception):
                    fetched.set_exception(e)
                    fetched.exception()  # retrieved: this caller raises it
                else:
                    fetched.cancel()
                raise
        return list(await asyncio.shield(fetched))

    async def cancel_task(self, execution_id: ExecutionAttemptID) -> None:
        task = self.tasks.get(execution_id)
        if task is not None:
            task.cancel()

    async def send_operator_event(self, execution_id: ExecutionAttemptID, operator_id: str,
                                  event: SerializedValue) -> None:
        task = self.tasks.get(execution_id)
        if task is not None:
            task.deliver_operator_event(operator_id, event.value())

    async def free_slots(self, job_id: JobID) -> None:
        for allocation_id, (_, job, _) in list(self.allocations.items()):
            if job == job_id:
                del self.allocations[allocation_id]
        for execution_id, task in list(self.tasks.items()):
            if task.tdd.job_id == job_id:
                del self.tasks[execution_id]
        self.network.release_job(job_id)
        self._job_python_paths.pop(job_id, None)
        self.job_files.remove(job_id)

    async def request_task_status(self) -> list[TaskStatus]:
        return [TaskStatus(execution_id, task.name, task.state, task.deadline)
                for execution_id, task in list(self.tasks.items())]

    # ------------------------------------------------------------------ from task threads
    def _from_task_thread(self, fn: Callable[..., None], *args: Any) -> None:
        """Run ``fn(*args)`` on the loop, after the calls queued before it. Calls queued
        while the loop has not drained the last ones share one wake-up of the loop: with
        hundreds of tasks reporting at once, a wake-up each (a write to the loop's socket)
        made deployment crawl, and so did a lock here: appending to a deque is atomic, and
        two threads that both see no drain scheduled only schedule an empty second one."""
        self._task_calls.append((fn, args))
        if self._task_calls_scheduled:
            return
        self._task_calls_scheduled = True
        try:
            self.rpc.call_soon(self._run_task_calls)
        except RuntimeError:  # the loop is closed: the cluster stopped, nobody listens
            pass

    def _run_task_calls(self) -> None:
        # Reset first: a call queued after this is either drained below or schedules again.
        self._task_calls_scheduled = False
        calls = self._task_calls
        while calls:
            fn, args = calls.popleft()
            fn(*args)

    def _report(self, jm_address: str, job_id: JobID, execution_id: ExecutionAttemptID,
                state: ExecutionState, error: BaseException | None) -> None:
        jm = self.rpc.connect(jm_address, JobMasterGateway)
        failure = None if error is None else SerializedError.from_exception(error)
        message = TaskExecutionState(job_id, execution_id, state, failure)
        self.spawn(jm.update_task_execution_state(message), name=f"report-{execution_id}")

    def _forward_event(self, jm_address: str, execution_id: ExecutionAttemptID,
                       operator_id: str, subtask: int, event: bytes) -> None:
        jm = self.rpc.connect(jm_address, JobMasterGateway)
        self.spawn(jm.send_operator_event(execution_id, operator_id, subtask, event))
