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
import copy
import logging
import time
from collections.abc import Callable
from typing import Any

from strom.common import _pickling
from strom.common import config_options as opts
from strom.common.checkpointing import CheckpointCoordinatorConfiguration
from strom.common.configuration import Configuration
from strom.common.job import JobID, JobStatus
from strom.datastream.connectors._reader_pickling import pickling_for_readers
from strom.graph.execution_graph import Execution, consumers_of, producers_of
from strom.graph.ids import AllocationID, ExecutionAttemptID, ResourceID
from strom.graph.job_graph import JobGraph, JobVertex
from strom.graph.operator_specs import CollectSinkSpec
from strom.heartbeat import HeartbeatLoop, HeartbeatSettings, TargetLost
from strom.jobmanager.checkpoint import CheckpointCoordinator, CompletedCheckpoint
from strom.jobmanager.checkpoint.stats import CheckpointAckStats, CheckpointStatsSnapshot
from strom.jobmanager.cluster_info import JobDetails, JobExceptions, JobSubmission
from strom.jobmanager.collect_coordinator import CollectCoordinator
from strom.jobmanager.job_details import job_details
from strom.jobmanager.job_result import JobResult
from strom.jobmanager.savepoint_restore import SavepointRestore, load_savepoint_restore
from strom.jobmanager.savepoints import display_path
from strom.jobmanager.scheduler import messages as m
from strom.jobmanager.scheduler.core import NoResourceAvailableError, SchedulerCore
from strom.jobmanager.scheduler.failover import FailoverStrategy
from strom.jobmanager.scheduler.restart_strategies import (
    RestartStrategy,
    restart_strategy_from_config,
)
from strom.jobmanager.source_coordinator import SourceCoordinator
from strom.jobmanager.vertex_flame_graphs import VertexFlameGraphs
from strom.network.elements import CheckpointType
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
from strom.state.checkpoint_storage import read_state

__all__ = ["JobMaster", "NoResourceAvailableError", "TaskManagerLostError",
           "UnknownOperatorError", "restart_settings", "serialize_operators"]

log = logging.getLogger(__name__)

SLOT_REQUEST_TIMEOUT_S = 30.0
#: how often stop-with-savepoint looks whether the job has finished after its savepoint
_STOP_POLL_S = 0.02


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


class JobMaster(VertexFlameGraphs, RpcEndpoint):
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
    ) -> None:
        super().__init__(rpc, f"jobmaster-{job_id}")
        self.checkpoint_history = checkpoint_history
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
        #: the TaskExecutors holding slots of this job, by address
        self.task_managers: dict[str, ResourceID | None] = {}
        self._timers: dict[int, asyncio.TimerHandle] = {}
        #: the checkpointed state each new attempt starts from, by execution id
        self._restored: dict[str, dict[str, Any]] = {}
        #: the savepoint the job started from (``strom run -s``), if any
        self._savepoint_restore: SavepointRestore | None = None
        self._release_slots = False
        self.heartbeats: HeartbeatLoop[str] = HeartbeatLoop(
            f"jobmaster-{job_id} to TaskExecutors", heartbeat or HeartbeatSettings(),
            on_lost=self._task_manager_lost, request=self._request_heartbeat)
        #: the job's CheckpointCoordinator (None: a batch job, or not started yet)
        self.checkpoint_coordinator: CheckpointCoordinator | None = None

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
            await self._restore_from_savepoint()
        except Exception as e:
            # the savepoint cannot be read or does not fit the job: a restart would not help
            self._handle(m.GlobalFailure(SerializedError.from_exception(e), recoverable=False))
            return
        self._start_checkpointing()
        self._report_savepoint_restored()
        self._handle(m.Start())

    def _serialize_vertices(self) -> None:
        for vertex in self.job_graph.vertices:
            self._serialized[str(vertex.id)] = serialize_operators(vertex)

    # ------------------------------------------------------------------ the core's commands
    def _handle(self, event: m.Event) -> list[m.Command]:
        """Feed ``event`` to the scheduler core and carry out its commands."""
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

    def _restore(self, command: m.RestoreState) -> None:
        """New attempts restart from the latest completed checkpoint, if there is one: each
        gets its subtask's state, and the source coordinators go back to the checkpoint's
        enumerator state. Without a checkpoint a global restart starts the enumerators from
        scratch, and a region restart gives its subtasks' splits back to the enumerator."""
        checkpoints = self.checkpoint_coordinator
        checkpoint = checkpoints.latest_completed() if checkpoints is not None else None
        try:
            if checkpoint is not None:
                assert checkpoints is not None
                assignment = checkpoints.restore_assignment(checkpoint, self.job_graph)
                checkpoints.report_restored(checkpoint.checkpoint_id,
                                            checkpoint.kind.is_savepoint,
                                            checkpoint.external_pointer)
                for execution in command.executions:
                    state = assignment.get((execution.vertex.id, execution.subtask))
                    if state:
                        self._restored[str(execution.execution_id)] = state
            elif self._savepoint_restore is not None:
                # no checkpoint yet: the job restarts from the savepoint it started from
                self._assign_savepoint_state(command.executions)
                self._report_savepoint_restored()
            self._reset_source_coordinators(command, checkpoint)
        except Exception as e:
            self._handle(m.GlobalFailure(SerializedError.from_exception(e)))

    def _reset_source_coordinators(self, command: m.RestoreState,
                                   checkpoint: CompletedCheckpoint | None) -> None:
        sources: dict[JobVertex, list[int]] = {}
        for execution in command.executions:
            if execution.vertex.is_source:
                sources.setdefault(execution.vertex, []).append(execution.subtask)
        for vertex, subtasks in sources.items():
            operator_id = f"{vertex.id}:{vertex.head.node_id}"
            coordinator = self.coordinators.get(operator_id)
            if not isinstance(coordinator, SourceCoordinator):
                continue
            checkpoint_id = checkpoint.checkpoint_id if checkpoint is not None else None
            savepoint = self._savepoint_restore if checkpoint is None else None
            if savepoint is not None:
                checkpoint_id = savepoint.checkpoint_id
            if command.is_global:
                data = (_coordinator_state(checkpoint, vertex.head.state_id)
                        if checkpoint is not None else None)
                if savepoint is not None:
                    data = savepoint.coordinator_states.get(vertex.head.state_id)
                coordinator.reset_to_checkpoint(checkpoint_id or 0, data)
            else:
                for subtask in subtasks:
                    coordinator.subtask_reset(subtask, checkpoint_id)

    def _event_sender(self, vertex: JobVertex, operator_id: str
                      ) -> Callable[[int, Any], None]:
        """Sends a coordinator's events to the operator in one subtask of ``vertex``."""

        def send(subtask: int, event: Any) -> None:
            execution = self.graph.execution_of(vertex, subtask)
            if execution.task_executor is None:
                return
            te = self.rpc.connect(execution.task_executor, TaskExecutorGateway)
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
            self.rpc.connect(execution.task_executor, TaskExecutorGateway).submit_task(tdd)
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

    async def acknowledge_checkpoint(
        self, execution_id: ExecutionAttemptID, checkpoint_id: int, state: SerializedValue,
        stats: CheckpointAckStats | None = None,
    ) -> None:
        if self.checkpoint_coordinator is not None:
            self.checkpoint_coordinator.acknowledge(str(execution_id), checkpoint_id,
                                                    state.value(), stats)

    async def decline_checkpoint(
        self, execution_id: ExecutionAttemptID, checkpoint_id: int, reason: SerializedError
    ) -> None:
        if self.checkpoint_coordinator is not None:
            self.checkpoint_coordinator.decline(str(execution_id), checkpoint_id, reason)

    # ------------------------------------------------------------------ checkpoint stats
    def checkpoint_stats(self) -> CheckpointStatsSnapshot:
        """REST's view of the job's checkpoints (a batch job's has no config: it does not
        checkpoint)."""
        if self.checkpoint_coordinator is None:
            return CheckpointStatsSnapshot()
        return self.checkpoint_coordinator.stats.snapshot()

    async def request_checkpoint_stats(self) -> CheckpointStatsSnapshot:
        return self.checkpoint_stats()

    # ------------------------------------------------------------------ checkpoints
    def _start_checkpointing(self) -> None:
        """Create the CheckpointCoordinator (streaming jobs) and start periodic checkpoints
        when an interval is set; they begin once the tasks run."""
        if self.job_graph.runtime_mode == "BATCH" or self.checkpoint_coordinator is not None:
            return
        # without settings (a graph built elsewhere): no periodic checkpoints, savepoints only
        config = self.job_graph.checkpoint_config or CheckpointCoordinatorConfiguration()
        self.checkpoint_coordinator = CheckpointCoordinator(
            str(self.job_id), self.job_graph, lambda: self.graph, config,
            self._send_checkpoint_trigger, self._send_checkpoint_notification,
            self._fail_job, lambda coro: self.spawn(coro),
            self._coordinators_by_state_id, stats_history=self.checkpoint_history)
        self.checkpoint_coordinator.start_periodic()

    def _stop_checkpointing(self, reason: str) -> None:
        if self.checkpoint_coordinator is not None:
            self.checkpoint_coordinator.stop_periodic()
            self.checkpoint_coordinator.abort_pending(reason)

    def _coordinators_by_state_id(self) -> dict[str, Any]:
        found = {}
        for vertex in self.job_graph.vertices:
            for chained in vertex.operators:
                coordinator = self.coordinators.get(f"{vertex.id}:{chained.node_id}")
                if coordinator is not None:
                    found[chained.state_id] = coordinator
        return found

    async def _send_checkpoint_trigger(self, execution: Execution, checkpoint_id: int,
                                       timestamp: int, kind: str, location: str) -> None:
        assert execution.task_executor is not None
        te = self.rpc.connect(execution.task_executor, TaskExecutorGateway)
        await te.trigger_checkpoint(execution.execution_id, checkpoint_id, timestamp, kind,
                                    location)

    async def _send_checkpoint_notification(self, execution: Execution, checkpoint_id: int,
                                            complete: bool) -> None:
        if execution.task_executor is None:
            return
        te = self.rpc.connect(execution.task_executor, TaskExecutorGateway)
        if complete:
            await te.notify_checkpoint_complete(execution.execution_id, checkpoint_id)
        else:
            await te.notify_checkpoint_aborted(execution.execution_id, checkpoint_id)

    # ------------------------------------------------------------------ savepoints
    async def _restore_from_savepoint(self) -> None:
        """At the first deployment: the savepoint the job starts from (if any) is read and
        assigned to the subtasks, and the source enumerators are reset to its state."""
        restore = await self.rpc.loop.run_in_executor(
            None, load_savepoint_restore, self.job_graph)
        if restore is None:
            return
        self._savepoint_restore = restore
        self._assign_savepoint_state(self.graph.all())
        for vertex in self.job_graph.vertices:
            if not vertex.is_source:
                continue
            data = restore.coordinator_states.get(vertex.head.state_id)
            coordinator = self.coordinators[f"{vertex.id}:{vertex.head.node_id}"]
            if data is not None and isinstance(coordinator, SourceCoordinator):
                coordinator.reset_to_checkpoint(restore.checkpoint_id, data)
        log.info("job %s starts from savepoint %s (checkpoint %d)", self.job_id,
                 restore.path, restore.checkpoint_id)

    def _report_savepoint_restored(self) -> None:
        """The checkpoint stats' ``restored``: the savepoint the job (re)starts from."""
        restore, checkpoints = self._savepoint_restore, self.checkpoint_coordinator
        if restore is not None and checkpoints is not None:
            checkpoints.report_restored(restore.checkpoint_id, True, restore.path)

    def _assign_savepoint_state(self, executions: list[Execution]) -> None:
        """The savepoint's state for these executions, as copies: where no serialization
        stands between the JobMaster and the tasks (one process), a task changes what it got
        in place (a reader's splits advance as it reads), and a restart needs it as saved."""
        restore = self._savepoint_restore
        assert restore is not None
        for execution in executions:
            states = restore.subtask_states.get((str(execution.vertex.id), execution.subtask))
            if states:
                self._restored[str(execution.execution_id)] = copy.deepcopy(states)

    def _coordinator_for(self, doing: str) -> Any:
        """The job's CheckpointCoordinator, or why ``doing`` is not possible now."""
        if self.job_graph.runtime_mode == "BATCH":
            raise ValueError(
                f"Cannot {doing}: job {self.job_id} runs in BATCH mode, which takes no "
                "checkpoints or savepoints (Flink: 'is not a streaming job').")
        if self.status is not JobStatus.RUNNING:
            raise RuntimeError(
                f"Cannot {doing}: job {self.job_id} is {self.status.value}, not RUNNING.")
        coordinator = self.checkpoint_coordinator
        if coordinator is None:
            raise RuntimeError(f"Cannot {doing}: job {self.job_id} has no checkpoint "
                               "coordinator yet (it is still being scheduled); try again.")
        return coordinator

    async def trigger_savepoint(self, target_dir: str, format_type: str,
                                cancel_job: bool) -> str:
        coordinator = self._coordinator_for("trigger a savepoint")
        _check_canonical(format_type)
        completed = await coordinator.trigger_checkpoint(
            kind=CheckpointType.SAVEPOINT, target_dir=target_dir)
        if cancel_job:
            await self.cancel()
        return display_path(completed.external_pointer)

    async def stop_with_savepoint(self, target_dir: str, drain: bool,
                                  format_type: str) -> str:
        """Flink's stop-with-savepoint: no periodic checkpoints meanwhile; a synchronous
        savepoint (SAVEPOINT_TERMINATE with ``drain``: MAX_WATERMARK first) after which the
        sources stop and the tasks finish. A failed savepoint leaves the job running."""
        coordinator = self._coordinator_for("stop with a savepoint")
        _check_canonical(format_type)
        kind = CheckpointType.SAVEPOINT_TERMINATE if drain else CheckpointType.SAVEPOINT_SUSPEND
        coordinator.stop_periodic()
        try:
            completed = await coordinator.trigger_checkpoint(kind=kind, target_dir=target_dir)
        except BaseException:
            if self.status is JobStatus.RUNNING:
                coordinator.start_periodic()
            raise
        path = display_path(completed.external_pointer)
        while not self.status.is_globally_terminal_state():
            await asyncio.sleep(_STOP_POLL_S)
        if self.status is not JobStatus.FINISHED:
            raise RuntimeError(
                f"The savepoint {path} of job {self.job_id} completed, but the job then ended "
                f"{self.status.value} instead of FINISHED (its exceptions are at "
                "/jobs/:jobid/exceptions). The savepoint is complete; resume from it with "
                "strom run -s.")
        return path

    async def trigger_checkpoint(self, full: bool) -> int:
        coordinator = self._coordinator_for("trigger a checkpoint")
        completed = await coordinator.trigger_checkpoint(kind=CheckpointType.CHECKPOINT)
        return int(completed.checkpoint_id)

    # ------------------------------------------------------------------ heartbeats
    async def _request_heartbeat(self, address: str) -> list[ExecutionAttemptID]:
        te = self.rpc.connect(address, TaskExecutorGateway)
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
            await self.rpc.connect(address, TaskExecutorGateway).cancel_task(execution_id)
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
            try:
                await self.checkpoint_coordinator.shutdown(final)
            except Exception:
                log.exception("shutting down the checkpoints of job %s failed", self.job_id)
        for coordinator in self.coordinators.values():
            if isinstance(coordinator, CollectCoordinator):
                coordinator.release()
            try:
                coordinator.close()
            except Exception:
                log.exception("closing a source coordinator failed")
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


def _coordinator_state(checkpoint: CompletedCheckpoint, state_id: str) -> bytes | None:
    """The operator coordinator's state (a source's enumerator) in ``checkpoint``."""
    for entry in checkpoint.metadata.operators:
        if entry.state_id == state_id and entry.coordinator_state is not None:
            return read_state(entry.coordinator_state)
    return None


def _check_canonical(format_type: str) -> None:
    if format_type != "canonical":
        raise ValueError(
            f"strom writes savepoints in the CANONICAL format only (any state backend restores "
            f"it), got {format_type.upper()}; take the savepoint without a format type.")


def _host_of(address: str) -> str:
    """``tcp://host:port/name`` → ``host``; a local address names this process."""
    scheme, _, rest = address.partition("://")
    if scheme != "tcp":
        return "this process"
    return rest.partition("/")[0].rpartition(":")[0]

