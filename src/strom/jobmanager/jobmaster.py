"""The JobMaster: runs one job — slots, deployment, task status, source coordinators.

Job status follows Flink: CREATED → RUNNING → FINISHED, or → FAILING → FAILED when a task
fails (the other tasks are cancelled first), or → CANCELLING → CANCELED. Without
checkpointing the restart strategy is ``none`` (Flink's default), so a task failure fails
the job with the task's exception as root cause.

The JobMaster asks every TaskExecutor that offered it a slot for a heartbeat each
``heartbeat.interval``. One that stops answering is lost: its tasks fail with a
:class:`TaskManagerLostError` that names the TaskManager and the tasks it ran, which fails the
job (there are no checkpoints to restart from yet).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from strom.common import _pickling
from strom.common.checkpointing import CheckpointCoordinatorConfiguration
from strom.common.job import JobID, JobStatus
from strom.datastream.connectors._reader_pickling import pickling_for_readers
from strom.graph.execution_graph import Execution, ExecutionGraph, consumers_of, producers_of
from strom.graph.ids import AllocationID, ExecutionAttemptID, ResourceID
from strom.graph.job_graph import JobGraph, JobVertex
from strom.graph.operator_specs import CollectSinkSpec
from strom.heartbeat import HeartbeatLoop, HeartbeatSettings, TargetLost
from strom.jobmanager.checkpoint import CheckpointCoordinator
from strom.jobmanager.cluster_info import (
    JobDetails,
    JobSubmission,
    VertexDetails,
    aggregate_execution_state,
)
from strom.jobmanager.collect_coordinator import CollectCoordinator
from strom.jobmanager.job_result import JobResult
from strom.jobmanager.source_coordinator import SourceCoordinator
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
           "UnknownOperatorError",
           "serialize_operators"]

log = logging.getLogger(__name__)

SLOT_REQUEST_TIMEOUT_S = 30.0

#: a job on its way to FAILED or CANCELED: nothing more to fail or cancel
_ENDING = frozenset({JobStatus.FAILING, JobStatus.CANCELLING})
#: a task failure that only reports another task's failure (its remote producer's)
_CONSEQUENCE = "strom.network.errors.ProducerFailedError"


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


class NoResourceAvailableError(RuntimeError):
    """The cluster has too few free slots for the job."""


class TaskManagerLostError(RuntimeError):
    """A TaskManager that ran tasks of the job stopped answering heartbeats (its process
    died, its host or network failed, or it hung)."""


class JobMaster(RpcEndpoint):
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
    ) -> None:
        super().__init__(rpc, f"jobmaster-{job_id}")
        self.job_id = job_id
        self.job_graph = job_graph
        self.rm: ResourceManagerGateway = rpc.connect(
            resource_manager_address, ResourceManagerGateway
        )
        self.on_done = on_done
        self.job_files = job_files or JobSubmission()
        self.start_time = int(time.time() * 1000)
        #: JobStatus name → when the job entered it (epoch ms), for REST's job details
        self.timestamps: dict[str, int] = {}
        self._status = JobStatus.CREATED
        self.status = JobStatus.CREATED
        self.graph = ExecutionGraph(job_graph)
        self.offers: list[SlotOffer] = []
        #: (vertex id, subtask) -> where it runs, from the slot offers
        self.locations: dict[tuple[str, int], ProducerLocation] = {}
        self.slots_needed = sum(job_graph.max_parallelism_needed().values())
        self._slots_ready: asyncio.Future[None] | None = None
        self.failure: SerializedError | None = None
        self.coordinators: dict[str, SourceCoordinator | CollectCoordinator] = {}
        self._serialized: dict[str, bytes] = {}
        self._done = False
        #: executions in a terminal state, so a status update need not scan all of them
        self._terminal = 0
        #: the TaskExecutors holding slots of this job, by address
        self.task_managers: dict[str, ResourceID | None] = {}
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
        self.timestamps.setdefault(status.value, int(time.time() * 1000))

    def details(self) -> JobDetails:
        """The job as REST shows it: status, timestamps, subtask states per vertex."""
        end_time = (self.timestamps.get(self.status.value, -1)
                    if self.status.is_globally_terminal_state() else -1)
        vertices = []
        for vertex in self.job_graph.vertices:
            counts = dict.fromkeys((s.value for s in ExecutionState), 0)
            for execution in self.graph.by_vertex[str(vertex.id)]:
                counts[execution.state] = counts.get(execution.state, 0) + 1
            vertices.append(VertexDetails(
                str(vertex.id), vertex.name, vertex.parallelism, vertex.max_parallelism,
                aggregate_execution_state(counts), counts, self.start_time, end_time,
            ))
        return JobDetails(self.job_id, self.job_graph.name, self.status,
                          self.job_graph.runtime_mode, self.start_time, end_time,
                          dict(self.timestamps), vertices)

    # ------------------------------------------------------------------ lifecycle
    async def on_start(self) -> None:
        self.heartbeats.start()
        self.rpc.add_connection_listener(self.heartbeats.probe_peer)
        self._slots_ready = self.rpc.loop.create_future()
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
        self.rpc.remove_connection_listener(self.heartbeats.probe_peer)
        await self.heartbeats.stop()

    async def _run_scheduling(self, serialize_error: BaseException | None) -> None:
        try:
            if serialize_error is not None:
                raise serialize_error
            self._start_coordinators()
            self.status = JobStatus.RUNNING
            granted = await self.rm.request_slots(self.job_id, self.address, self.slots_needed)
            if granted < self.slots_needed:
                raise NoResourceAvailableError(
                    f"Could not acquire the minimum required resources: the job needs "
                    f"{self.slots_needed} slots but only {granted} are free. Start more "
                    "TaskManagers, raise taskmanager.numberOfTaskSlots, or lower the parallelism."
                )
            assert self._slots_ready is not None
            await asyncio.wait_for(self._slots_ready, SLOT_REQUEST_TIMEOUT_S)
            self._start_checkpointing()
            await self._deploy()
        except BaseException as e:
            if isinstance(e, asyncio.CancelledError):
                raise
            self._fail_job(e)

    def _serialize_vertices(self) -> None:
        for vertex in self.job_graph.vertices:
            self._serialized[str(vertex.id)] = serialize_operators(vertex)

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
            if not vertex.is_source:
                continue
            head = vertex.head
            operator_id = f"{vertex.id}:{head.node_id}"
            send = self._event_sender(vertex, operator_id)

            coordinator = SourceCoordinator(
                head.spec.source, vertex.parallelism, send, self._schedule_async,
                source_name=head.name, job_name=self.job_graph.name,
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
                    self._fail_job(e)
                    return
                if period_ms <= 0:
                    return
                await asyncio.sleep(period_ms / 1000.0)

        self.spawn(run(), name=f"enumerator-call-{self.job_id}")

    async def _deploy(self) -> None:
        groups = sorted(self.job_graph.max_parallelism_needed().items())
        offers = list(self.offers)
        slots: dict[str, list[SlotOffer]] = {}
        for group, count in groups:
            slots[group], offers = offers[:count], offers[count:]
        for vertex in self.job_graph.vertices:
            for execution in self.graph.by_vertex[str(vertex.id)]:
                offer = slots[vertex.slot_sharing_group][execution.subtask]
                execution.task_executor = offer.task_executor_address
                execution.allocation_id = offer.allocation_id
                if offer.location is not None:
                    self.locations[(str(vertex.id), execution.subtask)] = offer.location
        if self.status is not JobStatus.RUNNING:
            return
        deployments = []
        for vertex in self.job_graph.vertices:
            for execution in self.graph.by_vertex[str(vertex.id)]:
                assert execution.task_executor is not None
                deployments.append((execution.task_executor,
                                    self._deployment_descriptor(execution)))
        for execution in self.graph.all():
            self._set_execution_state(execution, ExecutionState.DEPLOYING)
        # All submissions at once, not one round trip after the other: with hundreds of task
        # threads competing for the GIL, every round trip through the loop waited its turn.
        await asyncio.gather(*(
            self.rpc.connect(address, TaskExecutorGateway).submit_task(tdd)
            for address, tdd in deployments
        ))
        if self.status is not JobStatus.RUNNING:
            # cancelled or failed while deploying: a cancel may have overtaken its task's
            # submission, so cancel again what is deployed now
            self._cancel_executions()

    def _deployment_descriptor(self, execution: Execution) -> TaskDeploymentDescriptor:
        vertex = execution.vertex
        allocation_id = execution.allocation_id
        assert allocation_id is not None, f"{execution.name} is deployed without a slot"
        inputs = []
        for edge in vertex.inputs:
            producer = self.job_graph.vertex(edge.source_vertex)
            subtasks = producers_of(edge, execution.subtask, producer.parallelism,
                                    vertex.parallelism)
            where = [self.locations.get((str(producer.id), s)) for s in subtasks]
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
            job_id=self.job_id, job_name=self.job_graph.name, job_attempt=0,
            vertex_id=str(vertex.id), task_name=vertex.name, subtask_index=execution.subtask,
            parallelism=vertex.parallelism, max_parallelism=vertex.max_parallelism,
            attempt_number=execution.attempt, execution_id=execution.execution_id,
            allocation_id=allocation_id,
            serialized_operators=self._serialized[str(vertex.id)],
            inputs=inputs, outputs=outputs, config=dict(self.job_graph.config),
        )

    # ------------------------------------------------------------------ gateway
    async def offer_slots(self, offers: list[SlotOffer]) -> list[AllocationID]:
        accepted = []
        for offer in offers:
            if len(self.offers) < self.slots_needed and not self._done:
                self.offers.append(offer)
                accepted.append(offer.allocation_id)
                if offer.task_executor_address not in self.task_managers:
                    self.task_managers[offer.task_executor_address] = (
                        offer.location.resource_id if offer.location is not None else None)
                    self.heartbeats.monitor_target(offer.task_executor_address)
        if (len(self.offers) >= self.slots_needed and self._slots_ready is not None
                and not self._slots_ready.done()):
            self._slots_ready.set_result(None)
        return accepted

    async def update_task_execution_state(self, state: TaskExecutionState) -> None:
        execution = self.graph.executions.get(str(state.execution_id))
        if execution is None:
            return
        self._set_execution_state(execution, state.state)
        if self.checkpoint_coordinator is not None:
            self.checkpoint_coordinator.task_state_changed(execution, state.state)
        if state.state is ExecutionState.FAILED:
            execution.failure = state.error
            self._fail_job(state.error or RuntimeError(f"task {execution.name} failed"))
        self._check_termination()

    async def send_operator_event(
        self, execution_id: ExecutionAttemptID, operator_id: str, subtask: int, event: bytes
    ) -> None:
        coordinator = self.coordinators.get(operator_id)
        if coordinator is None:
            raise KeyError(f"no coordinator for operator {operator_id}")
        try:
            coordinator.handle_event(subtask, _pickling.loads(event))
        except Exception as e:
            self._fail_job(e)

    async def request_job_status(self) -> JobStatus:
        return self.status

    async def request_job_details(self) -> JobDetails:
        return self.details()

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
        if self.status.is_globally_terminal_state() or self.status in _ENDING:
            return
        self._stop_checkpointing("the job is cancelled")
        self.status = JobStatus.CANCELLING
        self._cancel_executions()
        self._check_termination()

    async def acknowledge_checkpoint(
        self, execution_id: ExecutionAttemptID, checkpoint_id: int, state: SerializedValue
    ) -> None:
        if self.checkpoint_coordinator is not None:
            self.checkpoint_coordinator.acknowledge(str(execution_id), checkpoint_id,
                                                    state.value())

    async def decline_checkpoint(
        self, execution_id: ExecutionAttemptID, checkpoint_id: int, reason: SerializedError
    ) -> None:
        if self.checkpoint_coordinator is not None:
            self.checkpoint_coordinator.decline(str(execution_id), checkpoint_id, reason)

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
            self._coordinators_by_state_id)
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

    # ------------------------------------------------------------------ heartbeats
    async def _request_heartbeat(self, address: str) -> list[ExecutionAttemptID]:
        te = self.rpc.connect(address, TaskExecutorGateway)
        return await te.heartbeat_from_job_manager(self.job_id)

    def _task_manager_lost(self, lost: TargetLost[str]) -> None:
        address = lost.target
        resource_id = self.task_managers.pop(address, None)
        if self.status.is_globally_terminal_state() or self._done:
            return
        ran = [e for e in self.graph.all() if e.task_executor == address]
        names = ", ".join(e.name for e in ran) or "no tasks yet (it held slots of the job)"
        error = TaskManagerLostError(
            f"TaskManager {resource_id or '(unknown id)'} at {_host_of(address)} ({address}) "
            f"is lost: {lost.reason}. It ran {names}. Without checkpoints the job cannot "
            "restart its tasks elsewhere, so it fails; check that TaskManager's log for why it "
            "stopped, and submit the job again."
        )
        failure = SerializedError.from_exception(error)
        for execution in ran:
            if not ExecutionState(execution.state).is_terminal:
                self._set_execution_state(execution, ExecutionState.FAILED)
                execution.failure = failure
        self._fail_job(failure)
        # the job may be failing already, waiting for the tasks of this TaskManager to end
        self._check_termination()

    # ------------------------------------------------------------------ transitions
    def _fail_job(self, error: BaseException | SerializedError) -> None:
        if isinstance(error, BaseException):
            error = SerializedError.from_exception(error)
        if (self.status is JobStatus.FAILING and self.failure is not None
                and self.failure.type_name == _CONSEQUENCE
                and error.type_name != _CONSEQUENCE):
            # a consumer reported that its remote producer failed before the producer
            # reported why: the job fails with the producer's own error
            self.failure = error
            return
        if self.status.is_globally_terminal_state() or self.status in _ENDING:
            return
        self.failure = error
        self._stop_checkpointing("the job is failing")
        self.status = JobStatus.FAILING
        self._cancel_executions()
        self._check_termination()

    def _cancel_executions(self) -> None:
        for coordinator in self.coordinators.values():
            if isinstance(coordinator, CollectCoordinator):
                coordinator.release()  # a collect sink waiting for its client finishes
        for execution in self.graph.all():
            if ExecutionState(execution.state).is_terminal:
                continue
            if execution.task_executor is None or execution.state == "CREATED":
                self._set_execution_state(execution, ExecutionState.CANCELED)
                continue
            self.spawn(self._cancel_on(execution.task_executor, execution.execution_id))

    async def _cancel_on(self, address: str, execution_id: ExecutionAttemptID) -> None:
        try:
            await self.rpc.connect(address, TaskExecutorGateway).cancel_task(execution_id)
        except RpcError as e:
            # an unreachable TaskManager is lost soon; its loss ends the task
            log.warning("could not cancel task %s at %s (%s); it ends when that TaskManager "
                        "is declared lost", execution_id, address, e)

    def _set_execution_state(self, execution: Execution, state: ExecutionState) -> None:
        self._terminal += state.is_terminal - ExecutionState(execution.state).is_terminal
        execution.state = state.value

    def _check_termination(self) -> None:
        if self._done or self._terminal < len(self.graph.executions):
            return
        states = [ExecutionState(e.state) for e in self.graph.all()]
        if not all(s.is_terminal for s in states):
            return
        if self.status is JobStatus.FAILING:
            final = JobStatus.FAILED
        elif self.status is JobStatus.CANCELLING:
            final = JobStatus.CANCELED
        elif all(s is ExecutionState.FINISHED for s in states):
            final = JobStatus.FINISHED
        else:
            return
        self._done = True
        self.status = final
        self.spawn(self._finish(final), name=f"finish-{self.job_id}")

    async def _finish(self, final: JobStatus) -> None:
        for address in list(self.task_managers):
            self.heartbeats.unmonitor_target(address)
        if self.checkpoint_coordinator is not None:
            try:
                await self.checkpoint_coordinator.shutdown(final)
            except Exception:
                log.exception("shutting down the checkpoints of job %s failed", self.job_id)
        for coordinator in self.coordinators.values():
            try:
                coordinator.close()
            except Exception:
                log.exception("closing a source coordinator failed")
        try:
            await self.rm.release_slots(self.job_id)
        except Exception:
            # the job's result must still be delivered
            log.exception("releasing the slots of job %s failed", self.job_id)
        result = JobResult(
            job_id=self.job_id, job_name=self.job_graph.name, status=final,
            start_time=self.start_time, end_time=int(time.time() * 1000),
            error=self.failure if final is JobStatus.FAILED else None,
        )
        self.on_done(result)



def _host_of(address: str) -> str:
    """``tcp://host:port/name`` → ``host``; a local address names this process."""
    scheme, _, rest = address.partition("://")
    if scheme != "tcp":
        return "this process"
    return rest.partition("/")[0].rpartition(":")[0]

