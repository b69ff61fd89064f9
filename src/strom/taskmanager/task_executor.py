"""The TaskExecutor: offers its slots, runs deployed tasks in its slots' threads and reports
their status to the JobMaster.

It follows the ResourceManager leader through a leader retrieval service (a fixed address
without HA, ZooKeeper with it) and registers with the current leader until it succeeds
(:mod:`strom.taskmanager.registration`), so it may start before the JobManager. A new leader
(another session id or address) means the previous ResourceManager and all its JobMasters are
gone: every job's tasks and slots here are released and the TaskExecutor registers with the new
one. While no leader is known it keeps its state but serves no ResourceManager, until one
appears.

Fencing: the ResourceManager calls with its session id as fencing token, and so do the
JobMasters of its process. The TaskExecutor refuses, with ``FencingTokenError`` and a warning,
ResourceManager calls whose token is not the current leader's session id, and JobMaster calls
of a job whose token is not the one its slots were requested under (the token of the
ResourceManager's ``request_slot``). Calls without a token (tools, tests) are served. It then expects heartbeats from the ResourceManager and
from the JobMaster of each job it holds slots for. A JobMaster not heard from within
``heartbeat.timeout`` is lost: the job's tasks here are cancelled and its slots freed. A lost
ResourceManager (the JobManager stopped or restarted) frees every slot and starts the
registration again, so the TaskExecutor rejoins when the JobManager is back. When a
connection to the JobManager's process breaks, the TaskExecutor calls it at once, and
``heartbeat.rpc-failure-threshold`` failed calls in a row count as a loss too, without
waiting for the timeout.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
import socket
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from strom.common import _pickling
from strom.common.job import JobID
from strom.graph.ids import AllocationID, ExecutionAttemptID, ResourceID
from strom.ha.leader_election import STANDALONE_SESSION_ID, LeaderInformation
from strom.ha.leader_retrieval import LeaderRetrievalService, StandaloneLeaderRetrieval
from strom.heartbeat import HeartbeatLoop, HeartbeatSettings, TargetLost, monotonic_ms
from strom.jobmanager.checkpoint.stats import CheckpointAckStats
from strom.jobmanager.job_files import JobFileStore
from strom.metrics.groups import MetricGroup
from strom.metrics.registry import MetricRegistry, add_job_group, add_task_group
from strom.network.elements import CheckpointType
from strom.network.environment import NetworkEnvironment
from strom.rpc.errors import RpcError, SerializedError, fencing_token_mismatch
from strom.rpc.gateways import JobMasterGateway, ResourceManagerGateway, TaskExecutorGateway
from strom.rpc.messages import (
    ExecutionState,
    ProducerLocation,
    SerializedValue,
    SlotOffer,
    SlotReport,
    SlotStatus,
    TaskDeploymentDescriptor,
    TaskExecutionState,
    TaskStatus,
)
from strom.rpc.service import RpcEndpoint, RpcService, current_fencing_token
from strom.runtime.task import Task
from strom.state.backends import create_keyed_state_backend
from strom.taskmanager.checkpoint_uploads import CheckpointUploads, Entries
from strom.taskmanager.file_service import FileServiceMixin
from strom.taskmanager.metrics_service import MetricsServiceMixin
from strom.taskmanager.registration import RegistrationSettings, register_until_accepted
from strom.taskmanager.slot_thread import SlotThread, stop_all
from strom.taskmanager.stack_sampler import ThreadInfoSampling

__all__ = ["TaskExecutor"]

log = logging.getLogger(__name__)

_numbers = itertools.count()

#: how long a stopping TaskExecutor waits for its slots' threads, all together
STOP_GRACE_S = 5.0


def _default_backend_factory(kind: str, max_parallelism: int, key_groups: Any,
                             clock: Callable[[], int], options: Any = None) -> Any:
    return create_keyed_state_backend(kind, max_parallelism, key_groups, clock, options)


class _ResourceManagerLeaderListener:
    """Hands the retrieval's news to the TaskExecutor's loop (drivers call from any thread)."""

    def __init__(self, te: TaskExecutor) -> None:
        self._te = te

    def notify_leader_address(self, info: LeaderInformation | None) -> None:
        self._te._on_loop(lambda: self._te._resource_manager_leader_changed(info))

    def handle_error(self, error: BaseException) -> None:
        self._te._on_loop(lambda: self._te._leader_retrieval_failed(error))


class TaskExecutor(FileServiceMixin, ThreadInfoSampling, MetricsServiceMixin, RpcEndpoint):
    gateway = TaskExecutorGateway

    def __init__(
        self,
        rpc: RpcService,
        resource_manager: str | LeaderRetrievalService,
        num_slots: int,
        network: NetworkEnvironment,
        clock: Callable[[], int],
        name: str | None = None,
        heartbeat: HeartbeatSettings | None = None,
        registration: RegistrationSettings | None = None,
        metric_registry: MetricRegistry | None = None,
    ) -> None:
        number = next(_numbers)
        super().__init__(rpc, name or f"taskexecutor-{number}")
        #: the network environment's resource id names this TaskExecutor
        self.resource_id: ResourceID = network.resource_id
        #: the ResourceManager leader's retrieval (a plain address: that fixed address)
        self.resource_manager_retrieval: LeaderRetrievalService = (
            StandaloneLeaderRetrieval(resource_manager) if isinstance(resource_manager, str)
            else resource_manager)
        #: the address of the ResourceManager followed (the current leader's, once known)
        self.rm_address = resource_manager if isinstance(resource_manager, str) else ""
        #: the current ResourceManager leader as the retrieval last told (None: none known)
        self.resource_manager_leader: LeaderInformation | None = None
        #: the leader this TaskExecutor registered (or registers) with
        self._followed_leader: LeaderInformation | None = None
        #: why the leader retrieval failed beyond repair (the process should stop)
        self.leader_retrieval_error: BaseException | None = None
        self.num_slots = num_slots
        self.network = network
        self.clock = clock
        self.slot_threads = [
            SlotThread(f"strom-slot-{number}-{i}", clock) for i in range(num_slots)
        ]
        #: allocation id -> (slot index, job id, job master address)
        self.allocations: dict[AllocationID, tuple[int, JobID, str]] = {}
        #: job id -> the fencing token of its JobMaster (its slots' request_slot token)
        self.job_master_tokens: dict[JobID, str] = {}
        self.tasks: dict[ExecutionAttemptID, Task] = {}
        self.keyed_backend_factory = _default_backend_factory
        heartbeat = self.heartbeat_settings = heartbeat or HeartbeatSettings()
        self.registration_settings = registration or RegistrationSettings()
        #: the ResourceManager this TaskExecutor is registered with (None: not registered)
        self.resource_manager_id: ResourceID | None = None
        #: set while registered with the ResourceManager
        self.registered = asyncio.Event()
        #: since when it has not been registered (monotonic ms; None while registered)
        self.unregistered_since_ms: int | None = monotonic_ms()
        self._registering: asyncio.Task[None] | None = None
        #: called on the loop after each successful registration
        self.on_registered: Callable[[], None] | None = None
        self.rm_heartbeats: HeartbeatLoop[str] = HeartbeatLoop(
            f"{self.name} from its ResourceManager", heartbeat,
            on_lost=self._resource_manager_lost)
        self.jm_heartbeats: HeartbeatLoop[JobID] = HeartbeatLoop(
            f"{self.name} from JobMasters", heartbeat, on_lost=self._job_master_lost)
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
        #: uploads the asynchronous part of task snapshots and acknowledges them
        self.checkpoint_uploads = CheckpointUploads(
            self.name, self._on_loop, self._acknowledge_checkpoint, self._decline_checkpoint)
        #: the process's metric registry (shared by the TaskExecutors of one process) and
        #: this TaskExecutor's group in it; each job gets a group below it while it has tasks
        self.metric_registry = metric_registry if metric_registry is not None \
            else MetricRegistry()
        self.metric_group = self.metric_registry.taskmanager_group(
            socket.gethostname(), str(self.resource_id))
        self.job_metric_groups: dict[JobID, MetricGroup] = {}

    async def on_start(self) -> None:
        self.network.start()  # binds the data port (TCP data plane only)
        for thread in self.slot_threads:
            thread.start()
        self.rm_heartbeats.start()
        self.jm_heartbeats.start()
        self.rpc.add_connection_listener(self._connection_lost)
        self.resource_manager_retrieval.start(_ResourceManagerLeaderListener(self))

    async def on_stop(self) -> None:
        self.rpc.remove_connection_listener(self._connection_lost)
        self.resource_manager_retrieval.stop()
        if self._registering is not None:
            self._registering.cancel()
            await asyncio.gather(self._registering, return_exceptions=True)
        await self.rm_heartbeats.stop()
        await self.jm_heartbeats.stop()
        for task in self.tasks.values():
            task.cancel()
        stop_all(self.slot_threads, self.stop_grace_s)
        self.checkpoint_uploads.close()
        self.network.close()
        self.job_files.close()

    # ------------------------------------------------------------------ leader and registration
    def _resource_manager_leader_changed(self, leader: LeaderInformation | None) -> None:
        """The retrieval names ``leader`` (None: no leader known); on the loop."""
        if not self.running:
            return
        self.resource_manager_leader = leader
        followed = self._followed_leader
        if leader is None:
            # the previous leader is not current any more: its calls are refused, and a
            # registration under way stops until a leader appears
            log.info("TaskManager %s knows no ResourceManager leader at the moment (it "
                     "followed %s); waiting for one", self.resource_id,
                     followed.address if followed else "none")
            if not self.registered.is_set():
                self._cancel_registration()
            return
        if leader == followed:
            # the same leader again (after a spell without one): carry on with it
            if not self.registered.is_set():
                self._start_registration()
            return
        if followed is not None:
            log.warning("TaskManager %s: the ResourceManager leader changed from %s (session "
                        "%s) to %s (session %s); releasing every slot of the previous "
                        "leader's jobs", self.resource_id, followed.address,
                        followed.session_id, leader.address, leader.session_id)
            self.rm_heartbeats.unmonitor_target(followed.address)
            self._release_all_jobs(f"the ResourceManager leader changed to {leader.address}")
        self._followed_leader = leader
        self.rm_address = leader.address
        # a standalone cluster's one fixed leader is not news (and local runs print INFO)
        level = logging.DEBUG if leader.session_id == STANDALONE_SESSION_ID else logging.INFO
        log.log(level, "TaskManager %s registering at new ResourceManager leader %s (session "
                "%s)", self.resource_id, leader.address, leader.session_id)
        self._cancel_registration()
        self._start_registration()

    def _leader_retrieval_failed(self, error: BaseException) -> None:
        log.error("TaskManager %s cannot follow the ResourceManager leader any more",
                  self.resource_id, exc_info=error)
        self.leader_retrieval_error = error

    def _cancel_registration(self) -> None:
        if self._registering is not None and not self._registering.done():
            self._registering.cancel()
        self._registering = None

    def _start_registration(self) -> None:
        """Register with the followed leader (once one is known), retrying until accepted."""
        self.registered.clear()
        self.resource_manager_id = None
        if self.unregistered_since_ms is None:  # taskmanager.registration.timeout counts on
            self.unregistered_since_ms = monotonic_ms()
        leader = self._followed_leader
        if leader is None or self.resource_manager_leader != leader:
            return  # registers once the retrieval names a leader
        if self._registering is None or self._registering.done():
            self._registering = self.rpc.loop.create_task(
                self._register(leader), name=f"strom registration of {self.name}")

    async def _register(self, leader: LeaderInformation) -> None:
        rm = self.rpc.connect(leader.address, ResourceManagerGateway,
                              fencing_token=leader.session_id)
        self.resource_manager_id = await register_until_accepted(
            lambda: rm.register_task_executor(self.address, self.resource_id, self.num_slots),
            self.registration_settings, f"{self.name} ({self.resource_id}) at {leader.address}",
        )
        self.rm_heartbeats.monitor_target(leader.address)
        self.registered.set()
        self.unregistered_since_ms = None
        log.debug("TaskExecutor %s registered at %s", self.resource_id, leader.address)
        if self.on_registered is not None:
            self.on_registered()

    def _resource_manager(self) -> ResourceManagerGateway:
        """The followed ResourceManager, called under its session."""
        leader = self._followed_leader
        return self.rpc.connect(self.rm_address, ResourceManagerGateway,
                                fencing_token=leader.session_id if leader else None)

    def _job_master(self, job_id: JobID, address: str) -> JobMasterGateway:
        """The JobMaster of ``job_id`` at ``address``, called under its session."""
        return self.rpc.connect(address, JobMasterGateway,
                                fencing_token=self.job_master_tokens.get(job_id))

    # ------------------------------------------------------------------ fencing
    def _refuse_stale_resource_manager(self, method: str) -> None:
        """Raise FencingTokenError when the call being served carries a token that is not
        the current ResourceManager leader's session id."""
        token = current_fencing_token()
        leader = self.resource_manager_leader
        if token is None or (leader is not None and token == leader.session_id):
            return
        expected = leader.session_id if leader is not None else None
        log.warning("TaskManager %s refuses %s of a ResourceManager of session %s: the "
                    "current leader's session is %s", self.resource_id, method, token, expected)
        raise fencing_token_mismatch(
            method, token, expected,
            f"TaskManager {self.resource_id} follows the ResourceManager leader "
            f"{leader.address if leader else '(none known at the moment)'}; a deposed "
            "ResourceManager must stop.")

    def _refuse_stale_job_master(self, method: str, job_id: JobID | None) -> None:
        """Raise FencingTokenError when the call being served carries a token that is not the
        token of ``job_id``'s JobMaster (a job without slots here has none to check)."""
        token = current_fencing_token()
        expected = self.job_master_tokens.get(job_id) if job_id is not None else None
        if token is None or expected is None or token == expected:
            return
        log.warning("TaskManager %s refuses %s of a JobMaster of job %s of session %s: the "
                    "job's slots here belong to session %s", self.resource_id, method, job_id,
                    token, expected)
        raise fencing_token_mismatch(
            method, token, expected,
            f"The slots of job {job_id} on TaskManager {self.resource_id} were requested by "
            "another leader session; a deposed JobMaster must stop.")

    def _job_of_task(self, execution_id: ExecutionAttemptID) -> JobID | None:
        task = self.tasks.get(execution_id)
        return task.tdd.job_id if task is not None else None

    def _connection_lost(self, peer: str) -> None:
        """A connection to ``peer`` broke: check the ResourceManager and JobMasters there."""
        if self.heartbeat_settings.rpc_failure_threshold < 1:
            return
        if self.rm_address.startswith(f"{peer}/") and self.rm_address in self.rm_heartbeats.monitor:
            rm = self._resource_manager()
            self.spawn(self._check_peer(rm.free_slot_count, self._lose_resource_manager),
                       name=f"check-resourcemanager-{peer}")
        for job_id, address in {(job, jm) for _, job, jm in self.allocations.values()}:
            if address.startswith(f"{peer}/") and job_id in self.jm_heartbeats.monitor:
                jm = self._job_master(job_id, address)
                self.spawn(self._check_peer(jm.request_job_status,
                                            functools.partial(self._lose_job_master, job_id)),
                           name=f"check-jobmaster-{job_id}")

    async def _check_peer(self, call: Callable[[], Any], lose: Callable[[str], None]) -> None:
        threshold = self.heartbeat_settings.rpc_failure_threshold
        for attempt in range(threshold):
            try:
                await call()
                return
            except Exception as e:
                if attempt == threshold - 1:
                    lose(f"its connection broke and {threshold} calls in a row failed "
                         f"(heartbeat.rpc-failure-threshold), the last with: {e}")

    def _lose_job_master(self, job_id: JobID, reason: str) -> None:
        self._job_master_lost(TargetLost(job_id, reason))

    def _lose_resource_manager(self, reason: str) -> None:
        if self.rm_address in self.rm_heartbeats.monitor:
            self.rm_heartbeats.unmonitor_target(self.rm_address)
            self._resource_manager_lost(TargetLost(self.rm_address, reason))

    def _resource_manager_lost(self, lost: TargetLost[str]) -> None:
        log.warning("TaskExecutor %s lost its ResourceManager at %s (%s): freeing every slot "
                    "and registering again", self.resource_id, lost.target, lost.reason)
        self._release_all_jobs(f"its ResourceManager at {lost.target} is lost")
        self._start_registration()

    def _release_all_jobs(self, why: str) -> None:
        for job_id in {job for _, job, _ in self.allocations.values()}:
            self._release_job(job_id, why)

    def _job_master_lost(self, lost: TargetLost[JobID]) -> None:
        if not any(job == lost.target for _, job, _ in self.allocations.values()):
            return  # already released
        log.warning("TaskExecutor %s lost the JobMaster of job %s (%s): cancelling its tasks "
                    "and freeing its slots", self.resource_id, lost.target, lost.reason)
        self._release_job(lost.target, f"its JobMaster is lost ({lost.reason})")

    def _release_job(self, job_id: JobID, why: str) -> None:
        """Cancel the job's tasks here and free its slots (its JobMaster is gone)."""
        self.jm_heartbeats.unmonitor_target(job_id)
        self.job_master_tokens.pop(job_id, None)
        for allocation_id, (_, job, _) in list(self.allocations.items()):
            if job == job_id:
                del self.allocations[allocation_id]
        for execution_id, task in list(self.tasks.items()):
            if task.tdd.job_id == job_id:
                log.debug("cancelling %s: %s", task.name, why)
                task.cancel()
                del self.tasks[execution_id]
        self.network.release_job(job_id)
        self._close_job_metrics(job_id)

    def _close_job_metrics(self, job_id: JobID) -> None:
        group = self.job_metric_groups.pop(job_id, None)
        if group is not None:
            group.close()

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
        self._refuse_stale_resource_manager("request_slot")
        token = current_fencing_token()
        if token is not None:
            # the JobMasters share their ResourceManager's session id as fencing token
            self.job_master_tokens[job_id] = token
        self.allocations[allocation_id] = (slot_index, job_id, job_master_address)
        self.network.reopen_job(job_id)
        self.jm_heartbeats.monitor_target(job_id)
        jm = self._job_master(job_id, job_master_address)
        offer = SlotOffer(allocation_id, slot_index, self.address,
                          ProducerLocation(self.resource_id, self.network.data_address))
        self.spawn(_to_job_master(jm.offer_slots([offer]), f"offer slot {slot_index}"),
                   name=f"offer-{allocation_id}")

    async def submit_task(self, tdd: TaskDeploymentDescriptor) -> None:
        self._refuse_stale_job_master("submit_task", tdd.job_id)
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
                self._forward_event, tdd.job_id, jm_address, eid, op, subtask,
                _pickling.dumps(event)),
            create_keyed_backend=self.keyed_backend_factory,
            checkpoints=self.checkpoint_uploads,
            metric_group=self._task_metric_group(tdd),
        )
        self.tasks[tdd.execution_id] = task
        self.slot_threads[slot_index].add_task(task)

    def _task_metric_group(self, tdd: TaskDeploymentDescriptor) -> MetricGroup:
        job_group = self.job_metric_groups.get(tdd.job_id)
        if job_group is None or job_group.closed:
            job_group = self.job_metric_groups[tdd.job_id] = add_job_group(
                self.metric_group, str(tdd.job_id), tdd.job_name)
        return add_task_group(job_group, tdd.vertex_id, tdd.task_name, tdd.subtask_index,
                              tdd.attempt_number, str(tdd.execution_id))

    async def _job_python_path(self, job_id: JobID, jm_address: str) -> list[str]:
        """The job's files, fetched from its JobMaster once per job into this TaskExecutor's
        directory for it; the ``sys.path`` entries for its tasks."""
        fetched = self._job_python_paths.get(job_id)
        if fetched is None:
            fetched = self._job_python_paths[job_id] = self.rpc.loop.create_future()
            try:
                jm = self._job_master(job_id, jm_address)
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
        self._refuse_stale_job_master("cancel_task", self._job_of_task(execution_id))
        task = self.tasks.get(execution_id)
        if task is not None:
            task.cancel()

    async def send_operator_event(self, execution_id: ExecutionAttemptID, operator_id: str,
                                  event: SerializedValue) -> None:
        self._refuse_stale_job_master("send_operator_event", self._job_of_task(execution_id))
        task = self.tasks.get(execution_id)
        if task is not None:
            task.deliver_operator_event(operator_id, event.value())

    async def free_slots(self, job_id: JobID) -> None:
        self._refuse_stale_resource_manager("free_slots")
        self.jm_heartbeats.unmonitor_target(job_id)
        self.job_master_tokens.pop(job_id, None)
        for allocation_id, (_, job, _) in list(self.allocations.items()):
            if job == job_id:
                del self.allocations[allocation_id]
        for execution_id, task in list(self.tasks.items()):
            if task.tdd.job_id == job_id:
                del self.tasks[execution_id]
        # answered once the job's channels are gone: its end leaves nothing open here
        await asyncio.wrap_future(self.network.release_job(job_id))
        self._job_python_paths.pop(job_id, None)
        self.job_files.remove(job_id)
        self._close_job_metrics(job_id)

    async def request_task_status(self) -> list[TaskStatus]:
        return [TaskStatus(execution_id, task.name, task.state, task.deadline)
                for execution_id, task in list(self.tasks.items())]

    async def heartbeat_from_resource_manager(self, resource_manager_id: ResourceID
                                              ) -> SlotReport:
        self._refuse_stale_resource_manager("heartbeat_from_resource_manager")
        if resource_manager_id == self.resource_manager_id:
            self.rm_heartbeats.heartbeat_received(self.rm_address)
        return self.slot_report()

    async def heartbeat_from_job_manager(self, job_id: JobID) -> list[ExecutionAttemptID]:
        self._refuse_stale_job_master("heartbeat_from_job_manager", job_id)
        self.jm_heartbeats.heartbeat_received(job_id)
        return [eid for eid, task in self.tasks.items() if task.tdd.job_id == job_id]

    async def trigger_checkpoint(
        self, execution_id: ExecutionAttemptID, checkpoint_id: int, timestamp: int, kind: str,
        location: str = "",
    ) -> None:
        self._refuse_stale_job_master("trigger_checkpoint", self._job_of_task(execution_id))
        task = self.tasks.get(execution_id)
        if task is None:
            raise RuntimeError(
                f"Cannot trigger checkpoint {checkpoint_id} of task {execution_id}: it does "
                f"not run on TaskManager {self.resource_id} (it ended or was never deployed).")
        task.trigger_checkpoint(checkpoint_id, timestamp, CheckpointType(kind), location)

    async def notify_checkpoint_complete(
            self, execution_id: ExecutionAttemptID, checkpoint_id: int) -> None:
        self._refuse_stale_job_master("notify_checkpoint_complete",
                                      self._job_of_task(execution_id))
        task = self.tasks.get(execution_id)
        if task is not None:
            task.notify_checkpoint_complete(checkpoint_id)

    async def notify_checkpoint_aborted(
            self, execution_id: ExecutionAttemptID, checkpoint_id: int) -> None:
        self._refuse_stale_job_master("notify_checkpoint_aborted",
                                      self._job_of_task(execution_id))
        task = self.tasks.get(execution_id)
        if task is not None:
            task.notify_checkpoint_aborted(checkpoint_id)

    def slot_report(self) -> SlotReport:
        allocated = {index: (job, allocation_id)
                     for allocation_id, (index, job, _) in self.allocations.items()}
        slots = []
        for index in range(self.num_slots):
            job, allocation_id = allocated.get(index, (None, None))
            slots.append(SlotStatus(index, job, allocation_id))
        return SlotReport(self.resource_id, slots)

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

    def _on_loop(self, fn: Callable[[], None]) -> None:
        try:
            self.rpc.call_soon(fn)
        except RuntimeError:  # the loop is closed: the TaskExecutor stopped
            pass

    def _job_master_of(self, tdd: TaskDeploymentDescriptor) -> JobMasterGateway | None:
        """The JobMaster of a task still deployed here, or None (it was released)."""
        allocation = self.allocations.get(tdd.allocation_id)
        if allocation is None or tdd.execution_id not in self.tasks:
            return None
        return self._job_master(allocation[1], allocation[2])

    def _acknowledge_checkpoint(self, tdd: TaskDeploymentDescriptor, checkpoint_id: int,
                                entries: Entries, stats: CheckpointAckStats | None = None
                                ) -> None:
        jm = self._job_master_of(tdd)
        if jm is not None:
            self.spawn(_to_job_master(
                jm.acknowledge_checkpoint(tdd.execution_id, checkpoint_id,
                                          SerializedValue(entries), stats),
                f"acknowledge checkpoint {checkpoint_id} of {tdd.execution_id}"))

    def _decline_checkpoint(self, tdd: TaskDeploymentDescriptor, checkpoint_id: int,
                            error: BaseException) -> None:
        jm = self._job_master_of(tdd)
        if jm is not None:
            self.spawn(_to_job_master(
                jm.decline_checkpoint(tdd.execution_id, checkpoint_id,
                                      SerializedError.from_exception(error)),
                f"decline checkpoint {checkpoint_id} of {tdd.execution_id}"))

    def _report(self, jm_address: str, job_id: JobID, execution_id: ExecutionAttemptID,
                state: ExecutionState, error: BaseException | None) -> None:
        if execution_id not in self.tasks:
            return  # released: its JobMaster is gone or has forgotten the job
        jm = self._job_master(job_id, jm_address)
        failure = None if error is None else SerializedError.from_exception(error)
        message = TaskExecutionState(job_id, execution_id, state, failure)
        self.spawn(_to_job_master(jm.update_task_execution_state(message),
                                  f"report {state.value} of {execution_id}"),
                   name=f"report-{execution_id}")

    def _forward_event(self, job_id: JobID, jm_address: str, execution_id: ExecutionAttemptID,
                       operator_id: str, subtask: int, event: bytes) -> None:
        jm = self._job_master(job_id, jm_address)
        self.spawn(_to_job_master(jm.send_operator_event(execution_id, operator_id, subtask, event),
                                  f"send an event of {execution_id}"))


async def _to_job_master(call: Awaitable[Any], what: str) -> None:
    """Await a message to a JobMaster; one that cannot be delivered (the JobMaster went
    away: its heartbeats decide what happens next) is a warning, not an error."""
    try:
        await call
    except RpcError as e:
        log.warning("could not %s: %s", what, e)
