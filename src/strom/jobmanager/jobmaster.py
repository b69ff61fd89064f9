"""The JobMaster: runs one job — slots, deployment, task status, source coordinators,
failure recovery.

Its decisions are the :class:`~strom.jobmanager.scheduler.core.SchedulerCore`'s (no I/O);
the JobMaster feeds it events and carries out its commands. Job status follows Flink:
CREATED → RUNNING → FINISHED; a failure goes through the restart strategy
(``restart-strategy.type``: ``none`` by default without checkpointing, so a task failure
fails the job with the task's exception as root cause): RUNNING → RESTARTING → RUNNING with
new attempts of the tasks (``get_attempt_number()`` counts them), or → FAILING → FAILED
(the other tasks are cancelled first). A failure whose pipelined region is not the whole job
restarts only that region (``jobmanager.execution.failover-strategy: region``) and the job
stays RUNNING. Cancelling goes → CANCELLING → CANCELED.

The JobMaster asks every TaskExecutor that offered it a slot for a heartbeat each
``heartbeat.interval``. One that stops answering is lost: its tasks fail with a
:class:`TaskManagerLostError` that names the TaskManager and the tasks it ran, and the
restart strategy decides (slots come from surviving TaskManagers or ones that register).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from strom.common import _pickling
from strom.common import config_options as opts
from strom.common.configuration import Configuration
from strom.common.job import JobID, JobStatus
from strom.datastream.connectors._reader_pickling import pickling_for_readers
from strom.graph.execution_graph import Execution, consumers_of, producers_of
from strom.graph.ids import AllocationID, ExecutionAttemptID, ResourceID
from strom.graph.job_graph import JobGraph, JobVertex
from strom.graph.operator_specs import CollectSinkSpec
from strom.ha.stores import CheckpointIDCounter, CompletedCheckpointStore
from strom.heartbeat import HeartbeatLoop, HeartbeatSettings, TargetLost
from strom.jobmanager.cluster_info import JobDetails, JobExceptions, JobSubmission
from strom.jobmanager.collect_coordinator import CollectCoordinator
from strom.jobmanager.job_checkpoints import JobCheckpoints
from strom.jobmanager.job_details import job_details
from strom.jobmanager.job_result import JobResult
from strom.jobmanager.scheduler import messages as m
from strom.jobmanager.scheduler.core import NoResourceAvailableError, SchedulerCore
from strom.jobmanager.scheduler.failover import FailoverStrategy
from strom.jobmanager.scheduler.restart_strategies import (
    RestartStrategy,
    restart_strategy_from_config,
)
from strom.jobmanager.source_coordinator import SourceCoordinator
from strom.jobmanager.vertex_flame_graphs import VertexFlameGraphs
from strom.rpc.errors import RpcError, SerializedError
from strom.rpc.gateways import JobMasterGateway, ResourceManagerGateway, TaskExecutorGateway
from strom.rpc.messages import (
    ExecutionState,
    InputChannelSpec,
    OutputSpec,
    ProducerLocation,
    SerializedValue,
    SlotOffer,
    TaskDeploymentDescriptor,
    TaskExecutionState,
)
from strom.rpc.service import RpcEndpoint, RpcService

__all__ = ["JobMaster", "NoResourceAvailableError", "TaskManagerLostError",
           "UnknownOperatorError", "restart_settings", "serialize_operators"]

log = logging.getLogger(__name__)

SLOT_REQUEST_TIMEOUT_S = 30.0
#: how long a suspended job waits for its cancelled tasks to end before releasing its slots
SUSPEND_CANCEL_TIMEOUT_S = 10.0


def serialize_operators(vertex: JobVertex) -> bytes:
    """The vertex's operator chain, cloudpickled for its tasks, or a TypeError that names the
    vertex. Sources leave out what only their enumerator (in the JobMaster) needs."""
    try:
        with pickling_for_readers():
            return _pickling.dumps(vertex.operators)
    except Exception as e:
        raise TypeError(
            f"Could not serialize the operators of '{vertex.name}': {e}. User "
            "functions travel to the TaskManagers with cloudpickle; keep unpicklable "
            "objects (sockets, locks, open files) out of them and create such things "
            "in open() instead."
        ) from e


class UnknownOperatorError(KeyError):
    """A coordination request named an operator the job has no coordinator for."""

    def __str__(self) -> str:
        return str(self.args[0])


class TaskManagerLostError(RuntimeError):
    """A TaskManager that ran tasks of the job stopped answering heartbeats (its process
    died, its host or network failed, or it hung)."""


class JobMaster(VertexFlameGraphs, JobCheckpoints, RpcEndpoint):
    """The asynchronous shell around the :class:`SchedulerCore`: it turns RPCs, heartbeat
    losses and timers into the core's events and carries out the commands it returns."""

    gateway = JobMasterGateway

    def __init__(
        self,
        rpc: RpcService,
        job_id: JobID,
        job_graph: JobGraph,
        resource_manager_address: str,
        on_done: Callable[[JobResult], None],
        heartbeat: HeartbeatSettings | None = None,
        job_files: JobSubmission | None = None,
        checkpoint_history: int = 10,
        checkpoint_id_counter: CheckpointIDCounter | None = None,
        completed_checkpoint_store: CompletedCheckpointStore | None = None,
        fencing_token: str | None = None,
    ) -> None:
        super().__init__(rpc, f"jobmaster-{job_id}")
        #: its JobManager's leader session id: the token of its calls to TaskExecutors, which
        #: refuse a deposed JobMaster's calls (None: unfenced calls)
        self.fencing_token = fencing_token
        self.checkpoint_history = checkpoint_history
        self.checkpoint_id_counter = checkpoint_id_counter
        self.completed_checkpoint_store = completed_checkpoint_store
        self.job_id = job_id
        self.job_graph = job_graph
        self.rm: ResourceManagerGateway = rpc.connect(
            resource_manager_address, ResourceManagerGateway
        )
        self.on_done = on_done
        self.job_files = job_files or JobSubmission()
        self.start_time = int(time.time() * 1000)
        #: JobStatus name → when the job last entered it (epoch ms), for REST's job details
        self.timestamps: dict[str, int] = {}
        self._status = JobStatus.CREATED
        self.status = JobStatus.CREATED
        self.scheduler = SchedulerCore(
            job_graph, *restart_settings(job_graph),
            resource_timeout_ms=int(SLOT_REQUEST_TIMEOUT_S * 1000))
        self.graph = self.scheduler.graph
        self.coordinators: dict[str, SourceCoordinator | CollectCoordinator] = {}
        self._serialized: dict[str, bytes] = {}
        self._done = False
        #: suspended (leadership lost): events are ignored; tasks still being cancelled
        self._suspended = False
        self._suspending: set[str] = set()
        self._suspended_tasks_ended = asyncio.Event()
        #: the TaskExecutors holding slots of this job, by address
        self.task_managers: dict[str, ResourceID | None] = {}
        self._timers: dict[int, asyncio.TimerHandle] = {}
        self._restored: dict[str, dict[str, Any]] = {}
        self._release_slots = False
        self.heartbeats: HeartbeatLoop[str] = HeartbeatLoop(
            f"jobmaster-{job_id} to TaskExecutors", heartbeat or HeartbeatSettings(),
            on_lost=self._task_manager_lost, request=self._request_heartbeat)

    @property
    def status(self) -> JobStatus:
        return self._status

    @status.setter
    def status(self, status: JobStatus) -> None:
        self._status = status
        if status.is_globally_terminal_state():
            self.timestamps.setdefault(status.value, int(time.time() * 1000))
        else:  # RUNNING again after a restart: the latest time counts
            self.timestamps[status.value] = int(time.time() * 1000)

    @property
    def failure(self) -> SerializedError | None:
        """Why the job fails or failed (set once it is FAILING)."""
        return self.scheduler.failure

    def details(self) -> JobDetails:
        """The job as REST shows it: status, timestamps, subtask states and locations per
        vertex, plan and config (:mod:`strom.jobmanager.job_details`)."""
        return job_details(self)

    def exception_history(self) -> JobExceptions:
        """The job's failures, newest first (REST's ``/jobs/:jobid/exceptions``)."""
        return JobExceptions(list(reversed(self.scheduler.exception_history)),
                             self.scheduler.failure)

    # ------------------------------------------------------------------ lifecycle
    async def on_start(self) -> None:
        self.heartbeats.start()
        self.rpc.add_connection_listener(self.heartbeats.probe_peer)
        # Pickle the operators before submission returns: a local submission hands the graph
        # over by reference, and the running job must not see later changes to the caller's
        # objects. Each task then unpickles its own copy of the user's functions.
        serialize_error: BaseException | None = None
        try:
            self._serialize_vertices()
        except Exception as e:
            serialize_error = e
        self.spawn(self._run_scheduling(serialize_error), name=f"schedule-{self.job_id}")

    async def on_stop(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        self.rpc.remove_connection_listener(self.heartbeats.probe_peer)
        await self.heartbeats.stop()

    async def _run_scheduling(self, serialize_error: BaseException | None) -> None:
        if serialize_error is not None:
            self._handle(m.GlobalFailure(SerializedError.from_exception(serialize_error),
                                         recoverable=False))
            return
        try:
            self._start_coordinators()
        except Exception as e:
            # the source's own code failed before anything ran: a restart would only
            # repeat it
            self._handle(m.GlobalFailure(SerializedError.from_exception(e), recoverable=False))
            return
        try:
            await self._restore_initial_state()
        except Exception as e:
            # the savepoint or the recovered checkpoint cannot be read or does not fit the
            # job: a restart would not help (and must not start from scratch)
            self._handle(m.GlobalFailure(SerializedError.from_exception(e), recoverable=False))
            return
        if self._done:
            return  # suspended meanwhile
        self._start_checkpointing()
        self._handle(m.Start())

    def _serialize_vertices(self) -> None:
        for vertex in self.job_graph.vertices:
            self._serialized[str(vertex.id)] = serialize_operators(vertex)

    # ------------------------------------------------------------------ the core's commands
    def _handle(self, event: m.Event) -> list[m.Command]:
        """Feed ``event`` to the scheduler core and carry out its commands (none once the
        job is suspended: it is the next leader's now)."""
        if self._suspended:
            return []
        commands = self.scheduler.handle(event)
        for command in commands:
            self._execute(command)
        return commands

    def _execute(self, command: m.Command) -> None:
        if isinstance(command, m.JobStatusChanged):
            self.status = command.status
            log.debug("Job %s (%s) switched to %s", self.job_graph.name, self.job_id,
                     command.status.value)
            if command.status in (JobStatus.CANCELLING, JobStatus.FAILING):
                self._stop_checkpointing(f"the job is {command.status.value}")
        elif isinstance(command, m.DeployExecutions):
            # the descriptors now, while the core's job attempt is the command's
            assert command.job_attempt == self.scheduler.job_attempt
            deployments = [(e, self._deployment_descriptor(e)) for e in command.executions]
            if command.job_attempt > 0 and self.checkpoint_coordinator is not None:
                self.checkpoint_coordinator.start_periodic()  # stopped when the failover began
            self.spawn(self._deploy(deployments), name=f"deploy-{self.job_id}")
        elif isinstance(command, m.CancelExecutions):
            self._cancel_executions(command.executions)
        elif isinstance(command, m.RequestSlots):
            self.spawn(self._request_slots(command.count), name=f"slots-{self.job_id}")
        elif isinstance(command, m.ScheduleTimer):
            self._timers[command.token] = self.rpc.loop.call_later(
                command.delay_ms / 1000.0, self._timer_fired, command.token)
        elif isinstance(command, m.RestoreState):
            self._restore(command)
        elif isinstance(command, m.AbortCheckpoints):
            log.debug("Job %s: %s", self.job_id, command.reason)
            self._stop_checkpointing(command.reason)
        elif isinstance(command, m.ReleaseSlots):
            self._release_slots = True
        elif isinstance(command, m.FinishJob):
            self._done = True
            self.spawn(self._finish(command.status, command.error),
                       name=f"finish-{self.job_id}")
        # AcceptSlots is the answer of offer_slots

    def _timer_fired(self, token: int) -> None:
        if self._timers.pop(token, None) is not None and not self._done:
            self._handle(m.TimerFired(token))

    async def _request_slots(self, count: int) -> None:
        try:
            granted = await self.rm.request_slots(self.job_id, self.address, count)
        except Exception as e:
            self._handle(m.GlobalFailure(SerializedError.from_exception(e)))
            return
        self._handle(m.SlotRequestAnswered(count, granted))

    def _event_sender(self, vertex: JobVertex, operator_id: str
                      ) -> Callable[[int, Any], None]:
        """Sends a coordinator's events to the operator in one subtask of ``vertex``."""

        def send(subtask: int, event: Any) -> None:
            execution = self.graph.execution_of(vertex, subtask)
            if execution.task_executor is None:
                return
            te = self._task_executor(execution.task_executor)
            self.spawn(te.send_operator_event(
                execution.execution_id, operator_id, SerializedValue(event)))

        return send

    def _start_coordinators(self) -> None:
        for vertex in self.job_graph.vertices:
            for chained in vertex.operators:
                if isinstance(chained.spec, CollectSinkSpec) and chained.spec.remote:
                    operator_id = f"{vertex.id}:{chained.node_id}"
                    self.coordinators[operator_id] = CollectCoordinator(
                        self._event_sender(vertex, operator_id))
            if vertex.is_source:
                self._start_source_coordinator(vertex)

    def _start_source_coordinator(self, vertex: JobVertex) -> None:
        head = vertex.head
        operator_id = f"{vertex.id}:{head.node_id}"
        coordinator = SourceCoordinator(
            head.spec.source, vertex.parallelism, self._event_sender(vertex, operator_id),
            self._schedule_async, source_name=head.name, job_name=self.job_graph.name,
        )
        self.coordinators[operator_id] = coordinator
        coordinator.start()

    def _schedule_async(
        self, callable: Callable[[], Any], handler: Callable[[Any, BaseException | None], None],
        initial_delay_ms: int, period_ms: int,
    ) -> None:
        async def run() -> None:
            await asyncio.sleep(initial_delay_ms / 1000.0)
            while True:
                result, error = None, None
                try:
                    result = await self.rpc.loop.run_in_executor(None, callable)
                except Exception as e:
                    error = e
                try:
                    handler(result, error)
                except Exception as e:
                    self._handle(m.GlobalFailure(SerializedError.from_exception(e)))
                    return
                if period_ms <= 0 or self._done:
                    return
                await asyncio.sleep(period_ms / 1000.0)

        self.spawn(run(), name=f"enumerator-call-{self.job_id}")

    async def _deploy(self, deployments: list[tuple[Execution, TaskDeploymentDescriptor]]
                      ) -> None:
        # All submissions at once, not one round trip after the other: with hundreds of task
        # threads competing for the GIL, every round trip through the loop waited its turn.
        results = await asyncio.gather(*(
            self._task_executor(execution.task_executor).submit_task(tdd)
            for execution, tdd in deployments if execution.task_executor is not None
        ), return_exceptions=True)
        for (execution, _), result in zip(deployments, results):
            if isinstance(result, BaseException):
                if isinstance(result, asyncio.CancelledError):
                    raise result
                self._handle(m.TaskStateChanged(
                    str(execution.execution_id), ExecutionState.FAILED,
                    SerializedError.from_exception(result)))
            elif execution.state == ExecutionState.CANCELING.value:
                # cancelled while deploying: the cancel may have overtaken the submission
                assert execution.task_executor is not None
                self.spawn(self._cancel_on(execution.task_executor, execution.execution_id))

    def _location_of(self, vertex_id: str, subtask: int) -> ProducerLocation | None:
        execution = self.graph.by_vertex[vertex_id][subtask]
        for offer in self.scheduler.slots.values():
            if offer.allocation_id == execution.allocation_id:
                return offer.location
        return None

    def _deployment_descriptor(self, execution: Execution) -> TaskDeploymentDescriptor:
        """What ``execution`` needs to run, in the core's current job attempt (its channel
        keys), with the checkpointed state it starts from."""
        vertex = execution.vertex
        allocation_id = execution.allocation_id
        assert allocation_id is not None, f"{execution.name} is deployed without a slot"
        restored = self._restored.pop(str(execution.execution_id), None)
        inputs = []
        for edge in vertex.inputs:
            producer = self.job_graph.vertex(edge.source_vertex)
            subtasks = producers_of(edge, execution.subtask, producer.parallelism,
                                    vertex.parallelism)
            where = [self._location_of(str(producer.id), s) for s in subtasks]
            inputs.append(InputChannelSpec(
                edge.stream_edge.edge_id, max(0, edge.type_number - 1), subtasks,
                [w for w in where if w is not None] if all(where) else [],
            ))
        outputs = []
        for edge in vertex.outputs:
            consumer = self.job_graph.vertex(edge.target_vertex)
            outputs.append(OutputSpec(
                edge.stream_edge.edge_id,
                consumers_of(edge, execution.subtask, vertex.parallelism, consumer.parallelism),
            ))
        return TaskDeploymentDescriptor(
            job_id=self.job_id, job_name=self.job_graph.name,
            job_attempt=self.scheduler.job_attempt,
            vertex_id=str(vertex.id), task_name=vertex.name, subtask_index=execution.subtask,
            parallelism=vertex.parallelism, max_parallelism=vertex.max_parallelism,
            attempt_number=execution.attempt, execution_id=execution.execution_id,
            allocation_id=allocation_id,
            serialized_operators=self._serialized[str(vertex.id)],
            inputs=inputs, outputs=outputs, config=dict(self.job_graph.config),
            restored=SerializedValue(restored) if restored else None,
        )

    # ------------------------------------------------------------------ gateway
    async def offer_slots(self, offers: list[SlotOffer]) -> list[AllocationID]:
        accepted: list[AllocationID] = []
        for command in self._handle(m.SlotsOffered(list(offers))):
            if isinstance(command, m.AcceptSlots):
                accepted = command.allocation_ids
        kept = set(accepted)
        for offer in offers:
            if offer.allocation_id in kept and offer.task_executor_address not in self.task_managers:
                self.task_managers[offer.task_executor_address] = (
                    offer.location.resource_id if offer.location is not None else None)
                self.heartbeats.monitor_target(offer.task_executor_address)
        return accepted

    async def update_task_execution_state(self, state: TaskExecutionState) -> None:
        if self._suspended:
            if state.state.is_terminal:
                self._suspending.discard(str(state.execution_id))
                if not self._suspending:
                    self._suspended_tasks_ended.set()
            return
        execution = self.graph.executions.get(str(state.execution_id))
        if execution is not None and self.checkpoint_coordinator is not None:
            self.checkpoint_coordinator.task_state_changed(execution, state.state)
        self._handle(m.TaskStateChanged(str(state.execution_id), state.state, state.error))

    async def send_operator_event(
        self, execution_id: ExecutionAttemptID, operator_id: str, subtask: int, event: bytes
    ) -> None:
        coordinator = self.coordinators.get(operator_id)
        if coordinator is None:
            raise KeyError(f"no coordinator for operator {operator_id}")
        if str(execution_id) not in self.graph.executions:
            return  # from an attempt that was replaced: its reader is gone
        try:
            coordinator.handle_event(subtask, _pickling.loads(event))
        except Exception as e:
            self._handle(m.GlobalFailure(SerializedError.from_exception(e)))

    async def request_job_status(self) -> JobStatus:
        return self.status

    async def request_job_details(self) -> JobDetails:
        return self.details()

    async def request_exception_history(self) -> JobExceptions:
        return self.exception_history()

    async def request_job_files(self) -> JobSubmission:
        return self.job_files

    async def deliver_coordination_request(self, operator_id: str, request: bytes) -> bytes:
        coordinator = self.coordinators.get(operator_id)
        if not isinstance(coordinator, CollectCoordinator):
            raise UnknownOperatorError(
                f"Job {self.job_id} has no operator coordinator {operator_id!r} that takes "
                f"requests; coordinators: {sorted(self.coordinators) or 'none'}.")
        return coordinator.handle_request(request)

    async def cancel(self) -> None:
        self._handle(m.CancelRequested())

    def _task_executor(self, address: str) -> TaskExecutorGateway:
        """The TaskExecutor at ``address``, called under this JobMaster's fencing token."""
        return self.rpc.connect(address, TaskExecutorGateway, fencing_token=self.fencing_token)

    # ------------------------------------------------------------------ heartbeats
    async def _request_heartbeat(self, address: str) -> list[ExecutionAttemptID]:
        te = self._task_executor(address)
        return await te.heartbeat_from_job_manager(self.job_id)

    def _task_manager_lost(self, lost: TargetLost[str]) -> None:
        address = lost.target
        resource_id = self.task_managers.pop(address, None)
        self.heartbeats.unmonitor_target(address)
        if self._done:
            return
        ran = [e for e in self.graph.all() if e.task_executor == address
               and not ExecutionState(e.state).is_terminal]
        names = ", ".join(e.name for e in ran) or "no tasks (it held slots of the job)"
        error = TaskManagerLostError(
            f"TaskManager {resource_id or '(unknown id)'} at {_host_of(address)} ({address}) "
            f"is lost: {lost.reason}. It ran {names}. Its tasks failed; the job's restart "
            "strategy (restart-strategy.type) decides whether they run again elsewhere. Check "
            "that TaskManager's log for why it stopped."
        )
        self._handle(m.TaskManagerLost(address, SerializedError.from_exception(error)))

    # ------------------------------------------------------------------ transitions
    def _fail_job(self, error: BaseException | SerializedError) -> None:
        """A failure of the job as a whole (e.g. too many failed checkpoints): the restart
        strategy decides."""
        if isinstance(error, BaseException):
            error = SerializedError.from_exception(error)
        if not self._done:
            self._handle(m.GlobalFailure(error))

    def _cancel_executions(self, executions: list[Execution]) -> None:
        if self.status in (JobStatus.CANCELLING, JobStatus.FAILING):
            for coordinator in self.coordinators.values():
                if isinstance(coordinator, CollectCoordinator):
                    coordinator.release()  # a collect sink waiting for its client finishes
        for execution in executions:
            if execution.task_executor is not None:
                self.spawn(self._cancel_on(execution.task_executor, execution.execution_id))

    async def _cancel_on(self, address: str, execution_id: ExecutionAttemptID) -> None:
        try:
            await self._task_executor(address).cancel_task(execution_id)
        except RpcError as e:
            # an unreachable TaskManager is lost soon; its loss ends the task
            log.warning("could not cancel task %s at %s (%s); it ends when that TaskManager "
                        "is declared lost", execution_id, address, e)

    async def _finish(self, final: JobStatus, error: SerializedError | None) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        for address in list(self.task_managers):
            self.heartbeats.unmonitor_target(address)
        if self.checkpoint_coordinator is not None:
            # the completed checkpoints stay until the Dispatcher recorded the job's result
            # (release_checkpoints): a new leader may have to restore the job from them
            self.checkpoint_coordinator.stop(final)
        self._close_coordinators()
        if self._release_slots:
            try:
                await self.rm.release_slots(self.job_id)
            except Exception:
                # the job's result must still be delivered
                log.exception("releasing the slots of job %s failed", self.job_id)
        result = JobResult(
            job_id=self.job_id, job_name=self.job_graph.name, status=final,
            start_time=self.start_time, end_time=int(time.time() * 1000),
            error=error if final is JobStatus.FAILED else None,
        )
        self.on_done(result)


    def _close_coordinators(self) -> None:
        for coordinator in self.coordinators.values():
            if isinstance(coordinator, CollectCoordinator):
                coordinator.release()
            try:
                coordinator.close()
            except Exception:
                log.exception("closing a source coordinator failed")

    async def _cancel_suspended(self, execution: Execution) -> None:
        assert execution.task_executor is not None
        try:
            await self._task_executor(execution.task_executor) \
                .cancel_task(execution.execution_id)
        except Exception as e:
            # unreachable: that TaskExecutor ends the job's tasks when it loses this JobMaster
            log.warning("could not cancel task %s of suspended job %s at %s: %s",
                        execution.name, self.job_id, execution.task_executor, e)
            self._suspending.discard(str(execution.execution_id))

    async def release_checkpoints(self, final: JobStatus) -> None:
        """After the job's globally terminal result is recorded: discard its completed
        checkpoints unless the externalized-checkpoint retention keeps them."""
        if self.checkpoint_coordinator is not None:
            await self.checkpoint_coordinator.release(final)

    async def suspend(self, reason: str) -> None:
        """This JobManager lost its leadership (Flink's JobMaster suspension): the job goes
        SUSPENDED here, which is not globally terminal, so nothing ends for good: its
        checkpoints stay in the store for the new leader, no result is reported. Its tasks
        are cancelled where their TaskExecutors answer (waiting a bounded time for them to
        end, so the new leader's attempts do not run beside them), and its slots are
        released."""
        if self._done:
            return
        self._done = self._suspended = True
        self.status = JobStatus.SUSPENDED
        log.info("job %s (%s) is suspended: %s", self.job_graph.name, self.job_id, reason)
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        if self.checkpoint_coordinator is not None:
            self.checkpoint_coordinator.stop(JobStatus.SUSPENDED)
        running = [e for e in self.graph.all() if e.task_executor is not None
                   and not ExecutionState(e.state).is_terminal]
        self._suspending = {str(e.execution_id) for e in running}
        self._suspended_tasks_ended = asyncio.Event()
        if not self._suspending:
            self._suspended_tasks_ended.set()
        await asyncio.gather(*(self._cancel_suspended(e) for e in running))
        if not self._suspending:
            self._suspended_tasks_ended.set()
        try:
            await asyncio.wait_for(self._suspended_tasks_ended.wait(), SUSPEND_CANCEL_TIMEOUT_S)
        except TimeoutError:
            log.warning("tasks of suspended job %s did not end within %.0f s: %s", self.job_id,
                        SUSPEND_CANCEL_TIMEOUT_S, sorted(self._suspending)[:5])
        for address in list(self.task_managers):
            self.heartbeats.unmonitor_target(address)
        self._close_coordinators()
        try:
            await self.rm.release_slots(self.job_id)
        except Exception as e:
            log.warning("could not release the slots of suspended job %s: %s", self.job_id, e)


def restart_settings(job_graph: JobGraph) -> tuple[RestartStrategy, FailoverStrategy]:
    """The job's restart strategy and failover strategy, from the ``restart-strategy.*`` and
    ``jobmanager.execution.failover-strategy`` keys it was submitted with."""
    settings: dict[str, str] = dict(job_graph.config.get("restart") or {})
    config = Configuration.from_dict(settings)
    checkpoint_config = getattr(job_graph, "checkpoint_config", None)
    checkpointing = bool(checkpoint_config is not None and checkpoint_config.periodic)
    strategy = restart_strategy_from_config(config, checkpointing_enabled=checkpointing)
    kind = config.get(opts.FAILOVER_STRATEGY) or "region"
    failover = FailoverStrategy(job_graph, kind)
    return strategy, failover


def _host_of(address: str) -> str:
    """``tcp://host:port/name`` → ``host``; a local address names this process."""
    scheme, _, rest = address.partition("://")
    if scheme != "tcp":
        return "this process"
    return rest.partition("/")[0].rpartition(":")[0]

