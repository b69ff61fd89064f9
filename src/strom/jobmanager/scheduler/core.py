"""The scheduler core: the JobMaster's scheduling decisions, without I/O.

It owns the job's ExecutionGraph (the current attempt of each subtask and its state), the
slots the job holds, the restart and failover strategies, the job attempt and the exception
history. :meth:`SchedulerCore.handle` takes one event
(:mod:`~strom.jobmanager.scheduler.messages`) and returns the commands to carry out, in
order. What to do with an event depends on the scheduler state, one class per state in
:mod:`~strom.jobmanager.scheduler.states` (as Flink's AdaptiveScheduler has them); this class
is their narrow context: the bookkeeping every state shares.

Slots are shared (Flink's slot sharing): a job needs, per slot-sharing group, as many slots
as the group's highest parallelism, and subtask ``i`` of every vertex of a group runs in the
group's slot ``i``. A slot stays with the job across restarts while its TaskManager lives.

>>> from strom.jobmanager.scheduler import messages as m
>>> core = SchedulerCore(job_graph, NoRestartStrategy(), FailoverStrategy(job_graph))
... # doctest: +SKIP
>>> core.handle(m.Start())  # doctest: +SKIP
[JobStatusChanged(status=<JobStatus.RUNNING: 'RUNNING'>), RequestSlots(count=2), ...]
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterable

import msgspec

from strom.common.job import JobStatus
from strom.graph.execution_graph import Execution, ExecutionGraph
from strom.graph.ids import AllocationID
from strom.graph.job_graph import JobGraph
from strom.jobmanager.scheduler import messages as m
from strom.jobmanager.scheduler.failover import FailoverStrategy, SubtaskKey
from strom.jobmanager.scheduler.restart_strategies import NoRestartStrategy, RestartStrategy
from strom.rpc.errors import SerializedError
from strom.rpc.messages import ExecutionState, SlotOffer

__all__ = ["CONSEQUENCE", "NoResourceAvailableError", "SchedulerCore", "SlotKey"]

#: (slot-sharing group, subtask index): the shared slot a subtask runs in
SlotKey = tuple[str, int]

#: a task failure that only reports another task's failure (its remote producer's)
CONSEQUENCE = "strom.network.errors.ProducerFailedError"

#: how a failure that the restart strategy does not restart says so (Flink's words)
SUPPRESSED = "Recovery is suppressed by "

#: how many failures the exception history keeps (Flink's web.exception-history-size)
EXCEPTION_HISTORY_SIZE = 16


class NoResourceAvailableError(RuntimeError):
    """The cluster has too few free slots for the job."""


def _epoch_ms() -> int:
    return time.time_ns() // 1_000_000


class SchedulerCore:
    def __init__(self, job_graph: JobGraph, restart_strategy: RestartStrategy | None = None,
                 failover: FailoverStrategy | None = None,
                 clock: Callable[[], int] = _epoch_ms, *,
                 resource_timeout_ms: int = 30_000, resource_retry_ms: int = 500) -> None:
        from strom.jobmanager.scheduler.states import Created, State

        self.job_graph = job_graph
        self.graph = ExecutionGraph(job_graph)
        self.restart_strategy = restart_strategy or NoRestartStrategy()
        self.failover = failover or FailoverStrategy(job_graph)
        self.clock = clock
        #: how long to wait for slots before that fails the job (Flink's slot.request.timeout)
        self.resource_timeout_ms = resource_timeout_ms
        #: after a restart, how often to ask again while the cluster has too few free slots
        self.resource_retry_ms = resource_retry_ms
        self.status = JobStatus.CREATED
        #: counts the restarts; part of the channel keys, so attempts' channels never mix
        self.job_attempt = 0
        #: the root cause of a FAILED job
        self.failure: SerializedError | None = None
        #: newest last
        self.exception_history: list[m.ExceptionHistoryEntry] = []
        self.latest_checkpoint_id: int | None = None
        self.needed: dict[str, int] = job_graph.max_parallelism_needed()
        self.slots: dict[SlotKey, SlotOffer] = {}
        #: every slot the job was offered, also after its TaskManager was lost
        self._offers: dict[AllocationID, SlotOffer] = {}
        self._group_of = {str(v.id): v.slot_sharing_group for v in job_graph.vertices}
        self._commands: list[m.Command] = []
        self._tokens = itertools.count(1)
        self.state: State = Created(self)

    # ------------------------------------------------------------------ events in
    def handle(self, event: m.Event) -> list[m.Command]:
        """Process one event; the commands to carry out, in order."""
        from strom.jobmanager.scheduler.states import Ending

        state = self.state
        if isinstance(event, m.TaskStateChanged):
            execution = self.graph.executions.get(event.execution_id)
            if (execution is not None and execution.state == ExecutionState.CANCELING.value
                    and not event.state.is_terminal):
                # a cancel that overtook the task's submission found nothing to cancel: the
                # task runs now, so cancel it again
                self.emit(m.CancelExecutions([execution]))
            elif execution is not None and not ExecutionState(execution.state).is_terminal:
                execution.state = event.state.value
                if event.state is ExecutionState.FAILED:
                    execution.failure = event.error or SerializedError.from_exception(
                        RuntimeError(f"task {execution.name} failed"))
                state.on_task_state(execution)
        elif isinstance(event, m.SlotsOffered):
            self.emit(m.AcceptSlots(self._accept(event.offers)))
            state.on_slots()
        elif isinstance(event, m.TaskManagerLost):
            self._drop_slots_of(event.address)
            lost = [e for e in self.graph.all() if e.task_executor == event.address
                    and not ExecutionState(e.state).is_terminal]
            for execution in lost:
                execution.state = ExecutionState.FAILED.value
                execution.failure = event.error
            state.on_task_manager_lost(event.address, lost, event.error)
        elif isinstance(event, m.Start):
            state.on_start()
        elif isinstance(event, m.SlotRequestAnswered):
            state.on_slot_request_answered(event.requested, event.granted)
        elif isinstance(event, m.GlobalFailure):
            if event.recoverable:
                state.on_global_failure(event.error)
            elif not isinstance(state, Ending):
                self.record_failure(event.error, None)
                self.fail(event.error)
        elif isinstance(event, m.CheckpointCompleted):
            self.latest_checkpoint_id = max(self.latest_checkpoint_id or 0,
                                            event.checkpoint_id)
        elif isinstance(event, m.TimerFired):
            state.on_timer(event.token)
        elif isinstance(event, m.CancelRequested):
            state.on_cancel()
        commands, self._commands = self._commands, []
        return commands

    # ------------------------------------------------------------------ for the states
    def emit(self, command: m.Command) -> None:
        self._commands.append(command)

    def transition(self, state: object) -> None:
        from strom.jobmanager.scheduler.states import State

        assert isinstance(state, State)
        self.state = state
        if state.job_status is not self.status:
            self.status = state.job_status
            self.emit(m.JobStatusChanged(state.job_status))
        state.on_enter()

    def schedule_timer(self, delay_ms: int) -> int:
        token = next(self._tokens)
        self.emit(m.ScheduleTimer(token, max(0, int(delay_ms))))
        return token

    def key_of(self, execution: Execution) -> SubtaskKey:
        return (str(execution.vertex.id), execution.subtask)

    def executions_of(self, keys: Iterable[SubtaskKey]) -> list[Execution]:
        return [self.graph.by_vertex[vertex_id][subtask] for vertex_id, subtask in keys]

    def all_keys(self) -> frozenset[SubtaskKey]:
        return self.failover.all

    @staticmethod
    def all_terminal(executions: Iterable[Execution]) -> bool:
        return all(ExecutionState(e.state).is_terminal for e in executions)

    def cancel(self, executions: Iterable[Execution]) -> None:
        """Cancel what still runs of ``executions``; ones never deployed end at once."""
        to_cancel = []
        for execution in executions:
            state = ExecutionState(execution.state)
            if state.is_terminal:
                continue
            if execution.task_executor is None or state is ExecutionState.CREATED:
                execution.state = ExecutionState.CANCELED.value
            else:
                execution.state = ExecutionState.CANCELING.value
                to_cancel.append(execution)
        if to_cancel:
            self.emit(m.CancelExecutions(to_cancel))

    def new_attempts(self, keys: Iterable[SubtaskKey], is_global: bool) -> list[Execution]:
        """Replace the (ended) executions of ``keys`` by their next attempts, in a new job
        attempt; they get the latest checkpoint's state."""
        self.job_attempt += 1
        fresh = [self.graph.new_attempt(e) for e in self.executions_of(sorted(keys))]
        self.emit(m.RestoreState(fresh, is_global, self.latest_checkpoint_id))
        return fresh

    def missing_slots(self, keys: Iterable[SubtaskKey] | None = None) -> list[SlotKey]:
        """The shared slots ``keys`` (default: the whole job) need and the job lacks."""
        if keys is None:
            wanted = {(g, i) for g, n in self.needed.items() for i in range(n)}
        else:
            wanted = {(self._group_of[v], s) for v, s in keys}
        return sorted(wanted - self.slots.keys())

    def _accept(self, offers: list[SlotOffer]) -> list[AllocationID]:
        accepted = []
        for offer in offers:
            missing = self.missing_slots()
            if not missing or self.status.is_globally_terminal_state():
                break
            self.slots[missing[0]] = offer
            self._offers[offer.allocation_id] = offer
            accepted.append(offer.allocation_id)
        return accepted

    def _drop_slots_of(self, address: str) -> None:
        for key in [k for k, o in self.slots.items() if o.task_executor_address == address]:
            del self.slots[key]

    def deploy(self, executions: list[Execution]) -> None:
        """Put ``executions`` into their slots and submit them (all slots must be held)."""
        for execution in executions:
            offer = self.slots[(self._group_of[str(execution.vertex.id)], execution.subtask)]
            execution.task_executor = offer.task_executor_address
            execution.allocation_id = offer.allocation_id
            execution.state = ExecutionState.DEPLOYING.value
        if executions:
            self.emit(m.DeployExecutions(list(executions), self.job_attempt))

    def location_of(self, execution: Execution) -> tuple[str | None, str | None]:
        """(location, TaskManager id) of the slot ``execution`` ran in, as REST shows them."""
        offer = self._offers.get(execution.allocation_id)  # type: ignore[arg-type]
        if offer is None:
            return execution.task_executor, None
        location = offer.location
        if location is None:
            return offer.task_executor_address, None
        return (location.data_address or offer.task_executor_address,
                str(location.resource_id))

    # ------------------------------------------------------------------ failures
    def entry(self, error: SerializedError, execution: Execution | None
              ) -> m.ExceptionHistoryEntry:
        location = task_manager = None
        if execution is not None:
            location, task_manager = self.location_of(execution)
        return m.ExceptionHistoryEntry(
            exception_name=error.type_name, stacktrace=error.traceback or str(error),
            timestamp=self.clock(), task_name=execution.name if execution else None,
            location=location, task_manager_id=task_manager, message=error.message)

    def record_failure(self, error: SerializedError, execution: Execution | None) -> None:
        """A new failure: a new entry of the exception history."""
        self.exception_history.append(self.entry(error, execution))
        del self.exception_history[:-EXCEPTION_HISTORY_SIZE]

    def record_concurrent(self, error: SerializedError, execution: Execution | None) -> None:
        """A failure while the job already handles one: part of that one's entry."""
        if not self.exception_history:
            self.record_failure(error, execution)
            return
        root = self.exception_history[-1]
        entry = self.entry(error, execution)
        if root.exception_name == CONSEQUENCE and error.type_name != CONSEQUENCE:
            # a consumer reported its remote producer's failure before the producer said
            # why: the producer's own failure is the root
            entry = msgspec.structs.replace(
                entry, concurrent_exceptions=[*root.concurrent_exceptions,
                                              msgspec.structs.replace(root)])
            self.exception_history[-1] = entry
        else:
            self.exception_history[-1] = msgspec.structs.replace(
                root, concurrent_exceptions=[*root.concurrent_exceptions, entry])

    def handle_failure(self, failed: list[Execution] | None, error: SerializedError) -> None:
        """A new failure (``failed``: the failed executions; None: the job as a whole): ask
        the restart strategy and restart what the failover strategy says, or fail the job."""
        self.record_failure(error, failed[0] if failed else None)
        for execution in (failed or [])[1:]:
            self.record_concurrent(execution.failure or error, execution)
        self.restart_strategy.notify_failure()
        if not self.restart_strategy.can_restart():
            if isinstance(self.restart_strategy, NoRestartStrategy):
                # no restart was asked for: the user's failure as it was raised
                self.fail(error)
            else:
                note = f"{SUPPRESSED}{self.restart_strategy}"
                self.fail(msgspec.structs.replace(error, notes=[*error.notes, note]))
            return
        delay = self.restart_strategy.backoff_time_ms()
        if failed is None:
            keys = self.all_keys()
        else:
            keys = self.failover.tasks_to_restart(self.key_of(e) for e in failed)
        self.state.restart(keys, delay)

    def fail(self, error: SerializedError) -> None:
        from strom.jobmanager.scheduler.states import Failing

        self.failure = error
        self.transition(Failing(self))

    def root_cause(self, error: SerializedError) -> None:
        """While failing: a producer's own failure replaces a consumer's report of it."""
        if (self.failure is not None and self.failure.type_name == CONSEQUENCE
                and error.type_name != CONSEQUENCE):
            ours = [n for n in self.failure.notes if n.startswith(SUPPRESSED)]
            self.failure = msgspec.structs.replace(error, notes=[*error.notes, *ours])

    def no_resources(self, requested: int, granted: int) -> SerializedError:
        return SerializedError.from_exception(NoResourceAvailableError(
            f"Could not acquire the minimum required resources: the job needs {requested} "
            f"more slots but only {granted} are free. Start more TaskManagers, raise "
            "taskmanager.numberOfTaskSlots, or lower the parallelism."))
