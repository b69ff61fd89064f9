"""The CheckpointCoordinator of one job: the async shell around :class:`CheckpointTracker`.

It runs on the JobMaster's loop. It triggers checkpoints (periodically, and when asked for a
checkpoint or savepoint) at the running source tasks, after taking the operator
coordinators' (source enumerators') state; collects the tasks' acknowledgements; writes
``_metadata`` through :class:`~strom.state.checkpoint_storage.CheckpointStorage` when all
are in; adds the checkpoint to the job's
:class:`~strom.ha.stores.CompletedCheckpointStore` (a checkpoint the store refuses is
aborted: a JobManager that lost its leadership completes nothing); only then tells every
task the checkpoint completed (or was aborted); removes checkpoints no longer retained from
the store and discards them; and fails the job when consecutive failures exceed
``execution.checkpointing.tolerable-failed-checkpoints``. Checkpoint ids come from the job's
:class:`~strom.ha.stores.CheckpointIDCounter`, so they keep increasing across a JobManager
failover; :meth:`CheckpointCoordinator.recover` takes the checkpoints a new leader finds in
the store as the retained ones. The stores do blocking I/O (ZooKeeper): they are called in
the loop's executor.

Tasks that finished are not triggered and not waited for (Flink's checkpoints after tasks
finish); a task that finishes while a checkpoint is pending counts as having acknowledged
it without state.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import msgspec

from strom.common.checkpointing import CheckpointCoordinatorConfiguration
from strom.common.job import JobStatus
from strom.graph.execution_graph import Execution, ExecutionGraph
from strom.graph.job_graph import JobGraph
from strom.ha.stores import (
    CheckpointIDCounter,
    CompletedCheckpointStore,
    PossibleInconsistentStateError,
)
from strom.jobmanager.checkpoint.stats import (
    CheckpointAckStats,
    CheckpointConfigInfo,
    CheckpointStatsTracker,
    SubtaskStats,
    checkpoint_type_name,
)
from strom.jobmanager.checkpoint.tracker import (
    TOLERABLE_FAILURES_EXCEEDED,
    CheckpointTracker,
    PendingCheckpoint,
)
from strom.network.elements import CheckpointType
from strom.rpc.errors import SerializedError
from strom.rpc.messages import ExecutionState
from strom.state.checkpoint_metadata import (
    CheckpointMetadata,
    OperatorStateEntry,
    SubtaskStateEntry,
)
from strom.state.checkpoint_storage import (
    CheckpointLocation,
    CheckpointStorage,
    InMemoryCheckpointLocation,
)
from strom.state.shared_state import (
    SharedStateRegistry,
    discard_shared_state,
    shared_state_of,
)
from strom.state.snapshots import RestoredOperatorState

__all__ = ["CheckpointAbortedError", "CheckpointCoordinator", "CompletedCheckpoint",
           "TolerableCheckpointFailuresExceededError"]

log = logging.getLogger(__name__)

_SKIPPED = "CheckpointSkippedError"


class CheckpointAbortedError(RuntimeError):
    """A checkpoint or savepoint did not complete (declined, timed out, subsumed, or the job
    ended)."""


class TolerableCheckpointFailuresExceededError(RuntimeError):
    """More consecutive checkpoints failed than ``tolerable-failed-checkpoints`` allows."""


@dataclass(frozen=True)
class CompletedCheckpoint:
    checkpoint_id: int
    timestamp_ms: int
    kind: CheckpointType
    #: the URL of its directory (``<jobmanager>/chk-<n>`` for job-manager storage)
    external_pointer: str
    metadata: CheckpointMetadata
    size_bytes: int
    duration_ms: int
    location: CheckpointLocation | None = None


SendTrigger = Callable[[Execution, int, int, str, str], Coroutine[Any, Any, None]]
SendNotify = Callable[[Execution, int, bool], Coroutine[Any, Any, None]]


class CheckpointCoordinator:
    """Checkpoints of the job ``job_graph`` running as ``graph()``. ``send_trigger(execution,
    checkpoint_id, timestamp, kind, location)`` and ``send_notify(execution, checkpoint_id,
    complete)`` reach the tasks; ``fail_job`` fails the job; ``spawn`` runs a coroutine owned
    by the JobMaster; ``operator_coordinators`` maps state ids to coordinators with a
    ``checkpoint(checkpoint_id) -> bytes`` method. ``id_counter`` and ``completed_store``
    are the job's recovery stores (None: ids counted here, completed checkpoints kept only
    here)."""

    def __init__(
        self, job_id: str, job_graph: JobGraph, graph: Callable[[], ExecutionGraph],
        config: CheckpointCoordinatorConfiguration,
        send_trigger: SendTrigger, send_notify: SendNotify,
        fail_job: Callable[[BaseException], None],
        spawn: Callable[[Coroutine[Any, Any, Any]], Any],
        operator_coordinators: Callable[[], dict[str, Any]] = dict,
        clock: Callable[[], int] = lambda: int(time.time() * 1000),
        stats_history: int = 10,
        id_counter: CheckpointIDCounter | None = None,
        completed_store: CompletedCheckpointStore | None = None,
    ) -> None:
        self.job_id = job_id
        self.job_graph = job_graph
        #: the job's current ExecutionGraph (a restart may build a new one)
        self.graph = graph
        self.config = config
        self.storage = CheckpointStorage(config.checkpoint_dir, job_id)
        self.tracker: CheckpointTracker[str, CompletedCheckpoint] = CheckpointTracker(config)
        self._send_trigger = send_trigger
        self._send_notify = send_notify
        self._fail_job = fail_job
        self._spawn = spawn
        self._operator_coordinators = operator_coordinators
        self.clock = clock
        self._periodic: asyncio.Task[None] | None = None
        self._wakeup: asyncio.Event | None = None
        self._timeouts: dict[int, asyncio.TimerHandle] = {}
        #: what REST shows of the checkpoints (``/jobs/:jobid/checkpoints``)
        self.stats = CheckpointStatsTracker(stats_history, _config_info(job_graph, config))
        #: shared files (incremental RocksDB SSTs) by the completed checkpoints using them
        self.shared_state = SharedStateRegistry()
        self.id_counter: CheckpointIDCounter = id_counter or _LocalIDCounter()
        self.completed_store = completed_store
        #: stopped because this JobManager lost its leadership: what the store holds now
        #: belongs to the next leader, nothing of it is removed or discarded here
        self.suspended = False

    # ------------------------------------------------------------------ the contract
    def latest_completed(self) -> CompletedCheckpoint | None:
        return self.tracker.latest_completed()

    def trigger_checkpoint(self, kind: CheckpointType = CheckpointType.CHECKPOINT,
                           target_dir: str | None = None
                           ) -> asyncio.Future[CompletedCheckpoint]:
        """Trigger a checkpoint (or a savepoint into ``target_dir``, default
        ``execution.checkpointing.savepoint-dir``); the future completes with it, or fails
        with :class:`CheckpointAbortedError`."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[CompletedCheckpoint] = loop.create_future()
        try:
            self._check_trigger(kind, target_dir)  # refused at once: no id is used up
        except Exception as e:
            future.set_exception(e)
            return future
        if not kind.is_savepoint:
            self.tracker.triggering += 1
        self._spawn(self._trigger_with_new_id(kind, target_dir, future))
        return future

    async def _trigger_with_new_id(self, kind: CheckpointType, target_dir: str | None,
                                   future: asyncio.Future[CompletedCheckpoint]) -> None:
        try:
            checkpoint_id = await asyncio.get_running_loop().run_in_executor(
                None, self.id_counter.get_and_increment)
        except Exception as e:
            log.warning("no id for a %s of job %s: %r", kind.value, self.job_id, e)
            future.set_exception(CheckpointAbortedError(
                f"Could not take a {kind.value} of job {self.job_id}: the checkpoint id "
                f"counter failed ({e!r}). It is tried again at the next interval; check the "
                "connection to the high-availability services (ZooKeeper)."))
            return
        finally:
            if not kind.is_savepoint:
                self.tracker.triggering -= 1
            self._poke()
        try:
            self._trigger(kind, target_dir, future, checkpoint_id)
        except Exception as e:
            if not future.done():
                future.set_exception(e)

    def start_periodic(self) -> None:
        if self.config.periodic and self._periodic is None and not self.tracker.shut_down:
            self._wakeup = asyncio.Event()
            self._periodic = asyncio.get_running_loop().create_task(
                self._run_periodic(), name=f"periodic-checkpoints-{self.job_id}")

    def stop_periodic(self) -> None:
        if self._periodic is not None:
            self._periodic.cancel()
            self._periodic = None

    def abort_pending(self, reason: str) -> None:
        """Abort every pending checkpoint (a task failed, the job is cancelled); this does
        not count toward the tolerable failures."""
        for checkpoint_id in list(self.tracker.pending):
            self._abort(checkpoint_id, reason, counts_as_failure=False)

    async def shutdown(self, job_status: JobStatus) -> None:
        """The job reached ``job_status``: stop, abort what is pending and discard the
        completed checkpoints unless the externalized-checkpoint retention keeps them."""
        self.stop(job_status)
        await self.release(job_status)

    def stop(self, job_status: JobStatus) -> None:
        """The job reached ``job_status`` (globally terminal, or SUSPENDED when this
        JobManager lost its leadership): no more checkpoints; the completed ones stay."""
        self.suspended = job_status is JobStatus.SUSPENDED
        self.stop_periodic()
        self.abort_pending(f"the job is {job_status.value}")
        self.tracker.shutdown()

    async def release(self, job_status: JobStatus) -> None:
        """After :meth:`stop` of a globally terminated job (its result is recorded):
        discard the completed checkpoints unless the externalized-checkpoint retention keeps
        them. The store and counter forget the job (``shutdown``) by their owner."""
        retention = self.config.externalized_retention
        keep = (job_status is JobStatus.FAILED and retention != "NO_EXTERNALIZED_CHECKPOINTS"
                ) or (job_status is JobStatus.CANCELED and retention == "RETAIN_ON_CANCELLATION")
        if keep:
            return
        completed = [c for _, c in self.tracker.completed]
        self.tracker.completed.clear()
        await asyncio.get_running_loop().run_in_executor(None, self._discard_all, completed)

    def _discard_all(self, completed: list[CompletedCheckpoint]) -> None:
        for checkpoint in completed:
            _discard(checkpoint)
        try:
            self.storage.discard_job_dir()
        except Exception as e:
            log.warning("could not remove the checkpoint directory of job %s: %s",
                        self.job_id, e)

    async def recover(self) -> CompletedCheckpoint | None:
        """A new leader takes the checkpoints in the store as the retained ones (their
        shared files registered again; those beyond ``num_retained`` removed and
        discarded); returns the latest, the one the job restores, or None."""
        from strom.jobmanager.checkpoint.stored import decode_checkpoint

        if self.completed_store is None:
            return None
        store = self.completed_store
        loop = asyncio.get_running_loop()
        entries = await loop.run_in_executor(None, store.recover)
        recovered = [(checkpoint_id, decode_checkpoint(payload))
                     for checkpoint_id, payload in entries]
        for checkpoint_id, checkpoint in recovered:
            shared = await loop.run_in_executor(None, shared_state_of, checkpoint.metadata)
            self.shared_state.register_checkpoint(checkpoint_id, shared)
        dropped = self.tracker.restore_completed(recovered)
        if dropped:
            self._drop(dropped)
        latest = self.tracker.latest_completed()
        if latest is not None:
            log.info("job %s recovered %d completed checkpoint(s); the latest is %d",
                     self.job_id, len(recovered), latest.checkpoint_id)
        return latest

    def _drop(self, dropped: list[CompletedCheckpoint]) -> None:
        """Checkpoints no longer retained: their references to shared files go now, the
        store entries and files in the background."""
        unshared = [url for c in dropped
                    for url in self.shared_state.release_checkpoint(c.checkpoint_id)]
        self._spawn(self._remove_and_discard(dropped, unshared))

    async def _remove_and_discard(self, dropped: list[CompletedCheckpoint],
                                  unshared: list[str]) -> None:
        """Dropped checkpoints leave the store first: their files (and the shared files
        ``unshared`` no retained checkpoint refers to) are discarded only once no new
        leader can recover them (a failed removal keeps them, as Flink does)."""
        loop = asyncio.get_running_loop()
        removed = []
        for checkpoint in dropped:
            if self.completed_store is not None:
                try:
                    await loop.run_in_executor(None, self.completed_store.remove,
                                               checkpoint.checkpoint_id)
                except Exception as e:
                    log.warning("could not remove checkpoint %d of job %s from the completed "
                                "checkpoint store; its files are kept: %s",
                                checkpoint.checkpoint_id, self.job_id, e)
                    continue
            removed.append(checkpoint)
        await loop.run_in_executor(None, _discard_list, removed)
        if len(removed) == len(dropped):
            await loop.run_in_executor(None, discard_shared_state, unshared)

    def restore_assignment(self, checkpoint: CompletedCheckpoint | CheckpointMetadata,
                           job_graph: JobGraph, allow_non_restored_state: bool = False
                           ) -> dict[tuple[Any, int], dict[str, RestoredOperatorState]]:
        """Which state each subtask of ``job_graph`` starts from, by (vertex id, subtask);
        an unaligned checkpoint's channel state is restored at the same parallelism only."""
        from strom.runtime.channel_state import (
            assign_channel_state,
            check_channel_state_parallelism,
        )
        from strom.state.assignment import assign_state

        metadata = (checkpoint.metadata if isinstance(checkpoint, CompletedCheckpoint)
                    else checkpoint)
        operators = [(v.id, v.parallelism, v.max_parallelism, [c.state_id for c in v.operators])
                     for v in job_graph.vertices]
        vertices = [(v, p, ids) for v, p, _, ids in operators]
        check_channel_state_parallelism(metadata, vertices)  # its own message first
        return assign_channel_state(
            metadata, vertices, assign_state(metadata, operators, allow_non_restored_state))

    # ------------------------------------------------------------------ triggering
    async def _run_periodic(self) -> None:
        assert self._wakeup is not None
        while True:
            now = self.clock()
            due = self.tracker.next_periodic_trigger(now)
            if due is not None and due <= now:
                future = self.trigger_checkpoint()
                future.add_done_callback(_consume)
                # a trigger refused at once (tasks not running yet) is retried an interval on
                self.tracker.last_trigger_ms = now
                continue
            self._wakeup.clear()
            delay = None if due is None else (due - now) / 1000.0
            try:
                await asyncio.wait_for(self._wakeup.wait(), delay)
            except TimeoutError:
                pass

    def _poke(self) -> None:
        if self._wakeup is not None:
            self._wakeup.set()

    def _check_trigger(self, kind: CheckpointType, target_dir: str | None
                       ) -> tuple[list[Execution], list[ExecutionState], list[Execution], str]:
        """Whether a ``kind`` may be taken now (else a CheckpointAbortedError saying why):
        the executions, their states, the running sources and the savepoint directory."""
        if self.tracker.shut_down:
            raise CheckpointAbortedError(
                f"Cannot take a {kind.value} of job {self.job_id}: its checkpointing was shut "
                "down (the job ended).")
        executions = self.graph().all()
        states = [ExecutionState(e.state) for e in executions]
        not_running = [e.name for e, s in zip(executions, states, strict=True)
                       if s is not ExecutionState.RUNNING and s is not ExecutionState.FINISHED]
        sources = [e for e, s in zip(executions, states, strict=True)
                   if e.vertex.is_source and s is ExecutionState.RUNNING]
        if (not self.config.checkpoints_after_tasks_finish and not kind.is_savepoint
                and any(s is ExecutionState.FINISHED for s in states)):
            raise CheckpointAbortedError(
                f"Cannot take a checkpoint of job {self.job_id}: some of its tasks finished and "
                "execution.checkpointing.checkpoints-after-tasks-finish.enabled is false.")
        if not_running or not sources:
            why = (f"not all tasks are running ({', '.join(not_running[:3])} ...)"
                   if not_running else "no source task is running any more")
            raise CheckpointAbortedError(f"Cannot take a {kind.value} of job {self.job_id}: "
                                         f"{why}. Try again once the job runs.")
        directory = ""
        if kind.is_savepoint:
            directory = target_dir or self.config.savepoint_dir or ""
            if not directory:
                raise ValueError(
                    "No savepoint directory: give a target directory, or set "
                    "execution.checkpointing.savepoint-dir (state.savepoints.dir).")
        return executions, states, sources, directory

    def _trigger(self, kind: CheckpointType, target_dir: str | None,
                 future: asyncio.Future[CompletedCheckpoint], checkpoint_id: int) -> None:
        executions, states, sources, directory = self._check_trigger(kind, target_dir)
        waiting = {str(e.execution_id) for e, s in zip(executions, states, strict=True)
                   if s is ExecutionState.RUNNING}
        now = self.clock()
        pending = self.tracker.begin(now, kind, waiting, checkpoint_id=checkpoint_id)
        parallelism: dict[str, int] = {}
        for e in executions:
            parallelism[str(e.vertex.id)] = parallelism.get(str(e.vertex.id), 0) + 1
        self.stats.report_triggered(
            checkpoint_id, now,
            checkpoint_type_name(kind.value, self.config.unaligned and not kind.is_savepoint),
            kind.is_savepoint, parallelism)
        for e, s in zip(executions, states, strict=True):
            if s is ExecutionState.FINISHED:  # counts as acknowledged, without state (Flink)
                self.stats.report_acknowledged(checkpoint_id, str(e.vertex.id),
                                               SubtaskStats(e.subtask, now))
        location = (self.storage.savepoint_location(directory) if kind.is_savepoint
                    else self.storage.checkpoint_location(checkpoint_id))
        # job-manager storage: the tasks send their state inline
        pending.location = "" if isinstance(location, InMemoryCheckpointLocation) else location.url
        pending.extra.update(future=future, location=location, started=time.monotonic())
        try:
            pending.extra["coordinator_state"] = {
                state_id: coordinator.checkpoint(checkpoint_id)
                for state_id, coordinator in self._operator_coordinators().items()
                if hasattr(coordinator, "checkpoint")}
        except Exception as e:
            self._abort(checkpoint_id, f"an operator coordinator failed to checkpoint: {e!r}",
                        counts_as_failure=True, cause=e)
            return
        loop = asyncio.get_running_loop()
        self._timeouts[checkpoint_id] = loop.call_later(
            self.config.timeout_ms / 1000.0, self._expire, checkpoint_id)
        # as Flink's "Triggering checkpoint n ... for job": with "completed ..." it shows
        # which checkpoint is in flight (the recovery tests kill a TaskManager then)
        log.info("triggering %s %d of job %s", kind.value, checkpoint_id, self.job_id)
        for execution in sources:
            self._spawn(self._trigger_task(execution, pending))

    async def _trigger_task(self, execution: Execution, pending: PendingCheckpoint[str]) -> None:
        try:
            await self._send_trigger(execution, pending.checkpoint_id, pending.timestamp_ms,
                                     pending.kind.value, pending.location)
        except Exception as e:
            self._abort(pending.checkpoint_id,
                        f"triggering it at {execution.name} failed: {e}", counts_as_failure=False)

    # ------------------------------------------------------------------ task events
    def acknowledge(self, execution_id: str, checkpoint_id: int,
                    state: dict[str, SubtaskStateEntry],
                    measured: CheckpointAckStats | None = None) -> None:
        pending = self.tracker.pending.get(checkpoint_id)
        if pending is not None and execution_id in pending.waiting:
            self._report_ack(execution_id, checkpoint_id, state, measured)
        ready = self.tracker.acknowledge(checkpoint_id, execution_id, state)
        if ready is not None:
            self._start_completion(ready)

    def _report_ack(self, execution_id: str, checkpoint_id: int,
                    state: dict[str, SubtaskStateEntry],
                    measured: CheckpointAckStats | None) -> None:
        execution = self.graph().executions.get(execution_id)
        if execution is None:
            return
        measured = measured or CheckpointAckStats()
        size = sum(entry.size_bytes() for entry in state.values())
        persisted = sum(e.channel_state.size for e in state.values() if e.channel_state)
        full = size if measured.state_size is None else measured.state_size
        checkpointed = size if measured.checkpointed_size is None else measured.checkpointed_size
        self.stats.report_acknowledged(checkpoint_id, str(execution.vertex.id), SubtaskStats(
            execution.subtask, self.clock(), state_size=full, checkpointed_size=checkpointed,
            sync_duration_ms=measured.sync_duration_ms,
            async_duration_ms=measured.async_duration_ms,
            alignment_duration_ms=measured.alignment_duration_ms,
            start_delay_ms=measured.start_delay_ms, persisted_data=persisted,
            unaligned=measured.unaligned))

    def report_restored(self, checkpoint_id: int, is_savepoint: bool,
                        external_path: str | None = None) -> None:
        """The job (re)starts from a checkpoint or savepoint (REST's ``latest.restored``):
        a restart from the latest checkpoint, or a start from a savepoint."""
        self.stats.report_restored(checkpoint_id, self.clock(), is_savepoint, external_path)

    def decline(self, execution_id: str, checkpoint_id: int, reason: SerializedError) -> None:
        if checkpoint_id not in self.tracker.pending:
            return
        counts = not reason.type_name.endswith(_SKIPPED)
        self._abort(checkpoint_id, f"a task declined it: {reason.message}", counts, reason)

    def task_state_changed(self, execution: Execution, state: ExecutionState) -> None:
        if state is ExecutionState.FINISHED:
            now = self.clock()
            for pending in self.tracker.pending.values():
                if str(execution.execution_id) in pending.waiting:
                    self.stats.report_acknowledged(pending.checkpoint_id,
                                                   str(execution.vertex.id),
                                                   SubtaskStats(execution.subtask, now))
            for ready in self.tracker.task_finished(str(execution.execution_id)):
                self._start_completion(ready)
        elif state in (ExecutionState.FAILED, ExecutionState.CANCELED):
            self.abort_pending(f"task {execution.name} is {state.value}")

    def _expire(self, checkpoint_id: int) -> None:
        self._timeouts.pop(checkpoint_id, None)
        pending = self.tracker.pending.get(checkpoint_id)
        if pending is not None and not pending.extra.get("completing"):
            self._abort(checkpoint_id, f"it expired before completing (timeout "
                                       f"{self.config.timeout_ms} ms)", counts_as_failure=True)

    # ------------------------------------------------------------------ outcomes
    def _start_completion(self, pending: PendingCheckpoint[str]) -> None:
        pending.extra["completing"] = True
        self._spawn(self._complete(pending))

    async def _complete(self, pending: PendingCheckpoint[str]) -> None:
        checkpoint_id = pending.checkpoint_id
        location: CheckpointLocation = pending.extra["location"]
        try:
            metadata = self._metadata(pending)
            loop = asyncio.get_running_loop()
            shared = await loop.run_in_executor(None, shared_state_of, metadata)
            if shared:  # incremental RocksDB state: the backend's native format
                metadata = msgspec.structs.replace(metadata, format="native")
            pointer = await loop.run_in_executor(None, location.write_metadata, metadata)
        except Exception as e:
            log.warning("checkpoint %d of job %s could not be finalized: %s", checkpoint_id,
                        self.job_id, e)
            # Flink: a savepoint that fails on the JobManager never fails the job
            self._abort(checkpoint_id, f"writing its metadata failed: {e!r}",
                        counts_as_failure=not pending.kind.is_savepoint, cause=e)
            return
        if checkpoint_id not in self.tracker.pending:  # aborted meanwhile (the job ended)
            self._spawn(_in_thread(_discard_location, location))  # after its _metadata
            self._discard_unshared(checkpoint_id, shared)
            return
        duration = int((time.monotonic() - pending.extra["started"]) * 1000)
        completed = CompletedCheckpoint(
            checkpoint_id, pending.timestamp_ms, pending.kind, pointer, metadata,
            metadata.size_bytes(), duration, location)
        if not pending.kind.is_savepoint and not await self._add_to_store(completed, shared):
            return
        # before older checkpoints are dropped: the files they share with this one stay
        self.shared_state.register_checkpoint(checkpoint_id, shared)
        handle = self._timeouts.pop(checkpoint_id, None)
        if handle is not None:
            handle.cancel()
        dropped, subsumed = self.tracker.complete(pending, self.clock(), completed)
        self.stats.report_completed(checkpoint_id, self.clock(), pointer)
        for gone in dropped:
            self.stats.report_discarded(gone.checkpoint_id)
        log.info("completed %s %d of job %s (%d bytes in %d ms)", pending.kind.value,
                 checkpoint_id, self.job_id, completed.size_bytes, duration)
        for older in subsumed:
            self._aborted(older, "a later checkpoint completed and subsumed it")
        if dropped:
            self._drop(dropped)
        for execution in self.graph().all():
            if str(execution.execution_id) in pending.acks:
                self._spawn(self._notify(execution, checkpoint_id, True))
        self._notify_coordinators(checkpoint_id)
        future: asyncio.Future[CompletedCheckpoint] = pending.extra["future"]
        if not future.done():
            future.set_result(completed)
        self._poke()

    def _discard_unshared(self, checkpoint_id: int, shared: frozenset[str]) -> None:
        """Discard the shared files of a checkpoint that did not complete which no
        completed checkpoint refers to."""
        self.shared_state.register_checkpoint(checkpoint_id, shared)
        self._spawn(_in_thread(discard_shared_state,
                               self.shared_state.release_checkpoint(checkpoint_id)))

    async def _add_to_store(self, completed: CompletedCheckpoint,
                            shared: frozenset[str]) -> bool:
        """Persist ``completed`` in the job's store before anyone hears of it; False (the
        checkpoint is aborted, nothing is committed) when the store refuses it."""
        store = self.completed_store
        if store is None:
            return True
        from strom.jobmanager.checkpoint.stored import encode_checkpoint

        checkpoint_id = completed.checkpoint_id
        pending = self.tracker.pending[checkpoint_id]
        loop = asyncio.get_running_loop()
        pending.extra["adding"] = True  # an abort meanwhile leaves its files to us
        try:
            await loop.run_in_executor(
                None, lambda: store.add(checkpoint_id, encode_checkpoint(completed)))
        except Exception as e:
            log.warning("checkpoint %d of job %s could not be added to the completed checkpoint "
                        "store: %r", checkpoint_id, self.job_id, e)
            # tasks hear it was aborted: they commit nothing of it
            self._abort(checkpoint_id, f"adding it to the completed checkpoint store failed: "
                        f"{e!r}", counts_as_failure=True, cause=e)
            if isinstance(e, PossibleInconsistentStateError):
                return False  # the store may hold it: a new leader may restore its files
            self._spawn(_in_thread(_discard, completed))
            self._discard_unshared(checkpoint_id, shared)
            return False
        if checkpoint_id not in self.tracker.pending:  # aborted meanwhile (the job ended)
            if not self.suspended:  # else a new leader may restore it
                self.shared_state.register_checkpoint(checkpoint_id, shared)
                self._drop([completed])
            return False
        return True

    def _metadata(self, pending: PendingCheckpoint[str]) -> CheckpointMetadata:
        by_state_id: dict[str, dict[int, SubtaskStateEntry]] = {}
        for execution_id, entries in pending.acks.items():
            execution = self.graph().executions.get(execution_id)
            if execution is None:
                continue
            for state_id, entry in entries.items():
                by_state_id.setdefault(state_id, {})[execution.subtask] = entry
        coordinator_states: dict[str, bytes] = pending.extra.get("coordinator_state", {})
        location: CheckpointLocation = pending.extra["location"]
        operators = []
        for vertex in self.job_graph.vertices:
            for chained in vertex.operators:
                coordinator_bytes = coordinator_states.get(chained.state_id)
                operators.append(OperatorStateEntry(
                    chained.state_id, chained.name, vertex.parallelism, vertex.max_parallelism,
                    by_state_id.get(chained.state_id, {}),
                    None if coordinator_bytes is None else location.write_state(
                        f"{chained.state_id}-coordinator", coordinator_bytes)))
        return CheckpointMetadata(
            checkpoint_id=pending.checkpoint_id, job_id=self.job_id,
            timestamp_ms=pending.timestamp_ms,
            kind="savepoint" if pending.kind.is_savepoint else "checkpoint",
            operators=operators)

    def _abort(self, checkpoint_id: int, reason: str, counts_as_failure: bool,
               cause: BaseException | SerializedError | None = None) -> None:
        pending = self.tracker.pending.get(checkpoint_id)
        if pending is None:
            return
        exceeded = self.tracker.abort(checkpoint_id, self.clock(), counts_as_failure)
        self._aborted(pending, reason)
        if exceeded:
            error = TolerableCheckpointFailuresExceededError(TOLERABLE_FAILURES_EXCEEDED)
            error.add_note(f"strom: the last failure: {pending.kind.value} {checkpoint_id} "
                           f"of job {self.job_id} was aborted because {reason} (tolerable "
                           f"consecutive failures: {self.config.tolerable_failures}).")
            self.stop_periodic()
            self._fail_job(error)

    def _aborted(self, pending: PendingCheckpoint[str], reason: str) -> None:
        checkpoint_id = pending.checkpoint_id
        self.stats.report_failed(checkpoint_id, self.clock(), reason)
        log.info("%s %d of job %s aborted: %s", pending.kind.value, checkpoint_id,
                 self.job_id, reason)
        handle = self._timeouts.pop(checkpoint_id, None)
        if handle is not None:
            handle.cancel()
        location: CheckpointLocation | None = pending.extra.get("location")
        if location is not None and not pending.extra.get("adding"):
            self._spawn(_in_thread(_discard_location, location))
        for execution in self.graph().all():
            if (execution.task_executor is not None
                    and not ExecutionState(execution.state).is_terminal):
                self._spawn(self._notify(execution, checkpoint_id, False))
        future: asyncio.Future[CompletedCheckpoint] | None = pending.extra.get("future")
        if future is not None and not future.done():
            future.set_exception(CheckpointAbortedError(
                f"{pending.kind.value.capitalize()} {checkpoint_id} of job {self.job_id} was "
                f"aborted: {reason}."))
        self._poke()

    def _notify_coordinators(self, checkpoint_id: int) -> None:
        """Operator coordinators (split enumerators) hear of completion too, as in Flink;
        one that fails then fails the job."""
        for coordinator in self._operator_coordinators().values():
            notify = getattr(coordinator, "notify_checkpoint_complete", None)
            if notify is None:
                continue
            try:
                notify(checkpoint_id)
            except Exception as e:
                self._fail_job(e)
                return

    async def _notify(self, execution: Execution, checkpoint_id: int, complete: bool) -> None:
        try:
            await self._send_notify(execution, checkpoint_id, complete)
        except Exception as e:  # the task ended meanwhile; nothing to tell it
            log.debug("could not notify %s of checkpoint %d: %s", execution.name,
                      checkpoint_id, e)


class _LocalIDCounter:
    """Checkpoint ids counted in this process (a coordinator without recovery stores)."""

    def __init__(self) -> None:
        self._next = 1

    def get_and_increment(self) -> int:
        current, self._next = self._next, self._next + 1
        return current

    def get(self) -> int:
        return self._next

    def set_count(self, count: int) -> None:
        self._next = count

    def shutdown(self, status: JobStatus) -> None:
        pass


async def _in_thread(fn: Callable[..., None], *args: Any) -> None:
    await asyncio.get_running_loop().run_in_executor(None, fn, *args)


def _consume(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()  # periodic checkpoints report their failures through the log


def _discard_location(location: CheckpointLocation) -> None:
    try:
        location.discard()
    except Exception as e:
        log.warning("could not discard %s: %s", location.url, e)


def _discard(checkpoint: CompletedCheckpoint) -> None:
    if checkpoint.location is not None:
        _discard_location(checkpoint.location)


def _discard_list(checkpoints: list[CompletedCheckpoint]) -> None:
    for checkpoint in checkpoints:
        _discard(checkpoint)


def _config_info(job_graph: JobGraph, config: CheckpointCoordinatorConfiguration
                 ) -> CheckpointConfigInfo:
    job_config = job_graph.config or {}
    return CheckpointConfigInfo(
        exactly_once=config.exactly_once, interval_ms=config.interval_ms,
        timeout_ms=config.timeout_ms, min_pause_ms=config.min_pause_ms,
        max_concurrent=config.max_concurrent,
        externalized_retention=config.externalized_retention,
        state_backend=("EmbeddedRocksDBStateBackend"
                       if str(job_config.get("state_backend") or "").lower() == "rocksdb"
                       else "HashMapStateBackend"),
        checkpoint_storage=("FileSystemCheckpointStorage" if config.checkpoint_dir
                            else "JobManagerCheckpointStorage"),
        unaligned=config.unaligned, tolerable_failures=config.tolerable_failures,
        aligned_checkpoint_timeout_ms=0,
        checkpoints_after_tasks_finish=config.checkpoints_after_tasks_finish)
