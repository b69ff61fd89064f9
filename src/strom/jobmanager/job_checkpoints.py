"""The JobMaster's checkpoints: its CheckpointCoordinator, the state each deployment starts
from (the latest checkpoint after a restart, the savepoint the job started from, or the
latest checkpoint a new leader recovered from the job's completed checkpoint store), and the
checkpoint and savepoint calls of its gateway (a base class of
:class:`~strom.jobmanager.jobmaster.JobMaster`).

A JobMaster started by a new leader for a job it recovered (Flink's JobManager failover)
finds the job's retained checkpoints in its
:class:`~strom.ha.stores.CompletedCheckpointStore`: they become the retained checkpoints
again, every subtask starts from the latest one and the source enumerators are reset to
its state, exactly as in a global restart; a savepoint the job was first started from is
then not read again (as in Flink, the latest checkpoint wins).
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from strom.common.checkpointing import CheckpointCoordinatorConfiguration
from strom.common.job import JobID, JobStatus
from strom.graph.execution_graph import Execution, ExecutionGraph
from strom.graph.ids import ExecutionAttemptID
from strom.graph.job_graph import JobGraph, JobVertex
from strom.ha.stores import CheckpointIDCounter, CompletedCheckpointStore
from strom.jobmanager.checkpoint import CheckpointCoordinator, CompletedCheckpoint
from strom.jobmanager.checkpoint.stats import CheckpointAckStats, CheckpointStatsSnapshot
from strom.jobmanager.collect_coordinator import CollectCoordinator
from strom.jobmanager.savepoint_restore import SavepointRestore, load_savepoint_restore
from strom.jobmanager.savepoints import display_path
from strom.jobmanager.scheduler import messages as m
from strom.jobmanager.source_coordinator import SourceCoordinator
from strom.network.elements import CheckpointType
from strom.rpc.errors import SerializedError
from strom.rpc.gateways import TaskExecutorGateway
from strom.rpc.messages import SerializedValue
from strom.rpc.service import RpcEndpoint
from strom.state.checkpoint_storage import read_state

__all__ = ["JobCheckpoints"]

log = logging.getLogger(__name__)

#: how often stop-with-savepoint looks whether the job has finished after its savepoint
_STOP_POLL_S = 0.02


class JobCheckpoints(RpcEndpoint):
    """Checkpoints and restores of one job (see the module docstring)."""

    # the JobMaster's
    job_id: JobID
    job_graph: JobGraph
    graph: ExecutionGraph
    status: JobStatus
    checkpoint_history: int
    coordinators: dict[str, SourceCoordinator | CollectCoordinator]
    #: the checkpointed state each new attempt starts from, by execution id
    _restored: dict[str, dict[str, Any]]
    #: the savepoint the job started from (``strom run -s``), if any
    _savepoint_restore: SavepointRestore | None = None
    #: the job's CheckpointCoordinator (None: a batch job, or not started yet)
    checkpoint_coordinator: CheckpointCoordinator | None = None
    #: the job's recovery stores (None: ids and checkpoints kept by the coordinator only)
    checkpoint_id_counter: CheckpointIDCounter | None = None
    completed_checkpoint_store: CompletedCheckpointStore | None = None

    # the JobMaster's methods this mixin calls: the TaskExecutor at an address (called
    # under the JobMaster's fencing token), the scheduler's event handler, failing and
    # cancelling the job
    _task_executor: Callable[[str], TaskExecutorGateway]
    _handle: Callable[[m.Event], list[m.Command]]
    _fail_job: Callable[[BaseException | SerializedError], None]
    cancel: Callable[[], Awaitable[None]]

    # ------------------------------------------------------------------ the first deployment
    async def _restore_initial_state(self) -> None:
        """Before the first deployment: the CheckpointCoordinator (streaming jobs), then the
        latest checkpoint recovered from the store, else the savepoint the job starts
        from (if any)."""
        self._create_checkpoint_coordinator()
        coordinator = self.checkpoint_coordinator
        recovered = await coordinator.recover() if coordinator is not None else None
        if recovered is not None:
            self._restore_recovered(recovered)
            return
        await self._restore_from_savepoint()
        self._report_savepoint_restored()

    def _restore_recovered(self, checkpoint: CompletedCheckpoint) -> None:
        coordinator = self.checkpoint_coordinator
        assert coordinator is not None
        assignment = coordinator.restore_assignment(checkpoint, self.job_graph)
        for execution in self.graph.all():
            state = assignment.get((execution.vertex.id, execution.subtask))
            if state:
                self._restored[str(execution.execution_id)] = state
        for vertex in self.job_graph.vertices:
            source = self.coordinators.get(f"{vertex.id}:{vertex.head.node_id}")
            if vertex.is_source and isinstance(source, SourceCoordinator):
                source.reset_to_checkpoint(
                    checkpoint.checkpoint_id,
                    _coordinator_state(checkpoint, vertex.head.state_id))
        coordinator.report_restored(checkpoint.checkpoint_id, False,
                                    checkpoint.external_pointer)
        log.info("job %s (recovered) starts from checkpoint %d at %s", self.job_id,
                 checkpoint.checkpoint_id, checkpoint.external_pointer)

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
    def _create_checkpoint_coordinator(self) -> None:
        """The CheckpointCoordinator of a streaming job (periodic checkpoints start with
        :meth:`_start_checkpointing`)."""
        if self.job_graph.runtime_mode == "BATCH" or self.checkpoint_coordinator is not None:
            return
        # without settings (a graph built elsewhere): no periodic checkpoints, savepoints only
        config = self.job_graph.checkpoint_config or CheckpointCoordinatorConfiguration()
        self.checkpoint_coordinator = CheckpointCoordinator(
            str(self.job_id), self.job_graph, lambda: self.graph, config,
            self._send_checkpoint_trigger, self._send_checkpoint_notification,
            self._fail_job, lambda coro: self.spawn(coro),
            self._coordinators_by_state_id, stats_history=self.checkpoint_history,
            id_counter=self.checkpoint_id_counter,
            completed_store=self.completed_checkpoint_store)

    def _start_checkpointing(self) -> None:
        """Periodic checkpoints, when an interval is set; they begin once the tasks run."""
        if self.checkpoint_coordinator is not None:
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
        te = self._task_executor(execution.task_executor)
        await te.trigger_checkpoint(execution.execution_id, checkpoint_id, timestamp, kind,
                                    location)

    async def _send_checkpoint_notification(self, execution: Execution, checkpoint_id: int,
                                            complete: bool) -> None:
        if execution.task_executor is None:
            return
        te = self._task_executor(execution.task_executor)
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


