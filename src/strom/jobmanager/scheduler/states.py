"""The scheduler's states, one class each (as Flink's AdaptiveScheduler has them).

::

    Created ─start─▶ WaitingForResources ─slots─▶ Executing ─all FINISHED─▶ Finished
                          ▲                        │   ▲ (a region restarts inside Executing)
                          └── Restarting ◀─failure─┘   │
                                 │  (all cancelled, delay elapsed: new attempts)
    any running state ─cancel─▶ Canceling ─all ended─▶ Finished(CANCELED)
    any running state ─failure, no restart─▶ Failing ─all ended─▶ Finished(FAILED)

* A failure the restart strategy allows restarts what the failover strategy says: the whole
  job (``full``, or a region that is the whole job) through :class:`Restarting` (job status
  RESTARTING), or some pipelined regions inside :class:`Executing` (the job stays RUNNING, as
  in Flink). Either way the tasks are cancelled first, the restart waits until they all ended
  and the strategy's delay elapsed, and the new attempts get the latest checkpoint's state.
* Failures while the job restarts, fails or is cancelled do not count again: they join the
  exception history entry of the failure being handled.
* BATCH and STREAMING jobs are scheduled alike: strom deploys all tasks of a job at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from strom.common.job import JobStatus
from strom.graph.execution_graph import Execution
from strom.jobmanager.scheduler import messages as m
from strom.jobmanager.scheduler.core import SchedulerCore, SlotKey
from strom.jobmanager.scheduler.failover import SubtaskKey
from strom.rpc.errors import SerializedError
from strom.rpc.messages import ExecutionState

__all__ = ["Canceling", "Created", "Ending", "Executing", "Failing", "Finished", "Restarting",
           "State", "WaitingForResources"]


class State:
    """What every state does with an event unless it says otherwise: nothing."""

    job_status = JobStatus.RUNNING

    def __init__(self, core: SchedulerCore) -> None:
        self.core = core

    def on_enter(self) -> None:
        pass

    def on_start(self) -> None:
        pass

    def on_slots(self) -> None:
        pass

    def on_slot_request_answered(self, requested: int, granted: int) -> None:
        pass

    def on_task_state(self, execution: Execution) -> None:
        if execution.state == ExecutionState.FAILED.value:
            self.core.record_concurrent(execution.failure, execution)

    def on_task_manager_lost(self, address: str, lost: list[Execution],
                             error: SerializedError) -> None:
        for execution in lost:
            self.core.record_concurrent(error, execution)

    def on_global_failure(self, error: SerializedError) -> None:
        self.core.record_concurrent(error, None)

    def on_timer(self, token: int) -> None:
        pass

    def on_cancel(self) -> None:
        self.core.transition(Canceling(self.core))

    def restart(self, keys: frozenset[SubtaskKey], delay_ms: int) -> None:
        """Restart ``keys`` after ``delay_ms`` (the restart strategy allowed it)."""
        self.core.transition(Restarting(self.core, delay_ms))

    def __repr__(self) -> str:
        return type(self).__name__


class Created(State):
    job_status = JobStatus.CREATED

    def on_start(self) -> None:
        self.core.transition(WaitingForResources(self.core, restarted=False))

    def on_global_failure(self, error: SerializedError) -> None:
        self.core.handle_failure(None, error)

    def on_cancel(self) -> None:
        self.core.transition(Finished(self.core, JobStatus.CANCELED))


class WaitingForResources(State):
    """Until the job holds all the slots it needs. The first time, a cluster with too few
    free slots fails the job at once (through the restart strategy); after a restart, it
    asks again every ``resource_retry_ms`` (a lost TaskManager may come back) until
    ``resource_timeout_ms``."""

    def __init__(self, core: SchedulerCore, restarted: bool) -> None:
        super().__init__(core)
        self.restarted = restarted
        self.deadline_token = 0
        self.retry_token = 0
        #: slots the ResourceManager granted that have not been offered yet
        self.outstanding = 0

    def on_enter(self) -> None:
        if not self.core.missing_slots():
            self._run()
            return
        self.deadline_token = self.core.schedule_timer(self.core.resource_timeout_ms)
        self._request()

    def _request(self) -> None:
        wanted = len(self.core.missing_slots()) - self.outstanding
        if wanted > 0:
            self.outstanding += wanted
            self.core.emit(m.RequestSlots(wanted))

    def on_slot_request_answered(self, requested: int, granted: int) -> None:
        if granted >= requested:
            return
        self.outstanding -= requested
        if not self.restarted:
            self.core.handle_failure(None, self.core.no_resources(requested, granted))
        else:
            self.retry_token = self.core.schedule_timer(self.core.resource_retry_ms)

    def on_slots(self) -> None:
        self.outstanding = min(self.outstanding, len(self.core.missing_slots()))
        if not self.core.missing_slots():
            self._run()

    def _run(self) -> None:
        executions = [e for e in self.core.graph.all()
                      if ExecutionState(e.state) is ExecutionState.CREATED]
        self.core.transition(Executing(self.core, executions))

    def on_timer(self, token: int) -> None:
        if token == self.retry_token:
            self._request()
        elif token == self.deadline_token:
            missing = len(self.core.missing_slots())
            self.core.handle_failure(None, self.core.no_resources(
                missing, sum(self.core.needed.values()) - missing))

    def on_task_manager_lost(self, address: str, lost: list[Execution],
                             error: SerializedError) -> None:
        self._request()  # the slots it held are missing again

    def on_global_failure(self, error: SerializedError) -> None:
        self.core.handle_failure(None, error)

    def on_cancel(self) -> None:
        self.core.transition(Canceling(self.core))


@dataclass
class _RegionRestart:
    keys: frozenset[SubtaskKey]
    token: int
    delay_elapsed: bool = False
    #: the new attempts, once the old ones ended and the delay elapsed
    fresh: list[Execution] | None = None
    requested: bool = False


class Executing(State):
    """The job runs. A failed region restarts here; a failure that restarts everything
    goes to :class:`Restarting`."""

    def __init__(self, core: SchedulerCore, to_deploy: list[Execution]) -> None:
        super().__init__(core)
        self.to_deploy = to_deploy
        self.pending: list[_RegionRestart] = []

    def on_enter(self) -> None:
        self.core.deploy(self.to_deploy)

    def _pending_for(self, key: SubtaskKey) -> _RegionRestart | None:
        for pending in self.pending:
            if key in pending.keys and pending.fresh is None:
                return pending
        return None

    def on_task_state(self, execution: Execution) -> None:
        state = ExecutionState(execution.state)
        if state is ExecutionState.FAILED:
            assert execution.failure is not None
            if self._pending_for(self.core.key_of(execution)) is not None:
                self.core.record_concurrent(execution.failure, execution)
            else:
                self.core.handle_failure([execution], execution.failure)
        if self.core.state is self:
            self._progress()

    def on_task_manager_lost(self, address: str, lost: list[Execution],
                             error: SerializedError) -> None:
        new = [e for e in lost if self._pending_for(self.core.key_of(e)) is None]
        for execution in lost:
            if execution not in new:
                self.core.record_concurrent(error, execution)
        if new:
            self.core.handle_failure(new, error)
        elif any(p.fresh is not None for p in self.pending):
            self._request_slots()
        if self.core.state is self:
            self._progress()

    def on_global_failure(self, error: SerializedError) -> None:
        self.core.handle_failure(None, error)

    def restart(self, keys: frozenset[SubtaskKey], delay_ms: int) -> None:
        if keys >= self.core.all_keys():
            self.core.transition(Restarting(self.core, delay_ms))
            return
        self.core.emit(m.AbortCheckpoints(
            f"a failover restarts {len(keys)} of the job's {len(self.core.all_keys())} tasks"))
        self.core.cancel(self.core.executions_of(keys))
        # regions restarting already join this restart (their timer is superseded)
        merged = [p for p in self.pending if p.fresh is None and p.keys & keys]
        for pending in merged:
            keys = keys | pending.keys
            self.pending.remove(pending)
        self.pending.append(_RegionRestart(keys, self.core.schedule_timer(delay_ms)))

    def on_timer(self, token: int) -> None:
        for pending in self.pending:
            if pending.token == token:
                pending.delay_elapsed = True
        self._progress()

    def on_slots(self) -> None:
        self._progress()

    def on_slot_request_answered(self, requested: int, granted: int) -> None:
        if granted < requested:
            self.core.handle_failure(None, self.core.no_resources(requested, granted))

    def _request_slots(self) -> None:
        for pending in self.pending:
            if pending.fresh is not None and not pending.requested:
                missing = self.core.missing_slots(pending.keys)
                if missing:
                    pending.requested = True
                    self.core.emit(m.RequestSlots(len(missing)))

    def _progress(self) -> None:
        for pending in list(self.pending):
            if pending.fresh is None:
                if not (pending.delay_elapsed
                        and self.core.all_terminal(self.core.executions_of(pending.keys))):
                    continue
                pending.fresh = self.core.new_attempts(pending.keys, is_global=False)
            missing: list[SlotKey] = self.core.missing_slots(pending.keys)
            if missing:
                self._request_slots()
                continue
            self.pending.remove(pending)
            self.core.deploy(pending.fresh)
        if not self.pending and all(
                e.state == ExecutionState.FINISHED.value for e in self.core.graph.all()):
            self.core.transition(Finished(self.core, JobStatus.FINISHED))


class Restarting(State):
    """The whole job restarts: cancel every task, then after the delay and once all ended,
    new attempts of every subtask wait for their slots."""

    job_status = JobStatus.RESTARTING

    def __init__(self, core: SchedulerCore, delay_ms: int) -> None:
        super().__init__(core)
        self.delay_ms = delay_ms
        self.token = 0
        self.delay_elapsed = False

    def on_enter(self) -> None:
        self.core.emit(m.AbortCheckpoints("the job restarts"))
        self.core.cancel(self.core.graph.all())
        self.token = self.core.schedule_timer(self.delay_ms)

    def on_task_state(self, execution: Execution) -> None:
        super().on_task_state(execution)
        self._progress()

    def on_task_manager_lost(self, address: str, lost: list[Execution],
                             error: SerializedError) -> None:
        super().on_task_manager_lost(address, lost, error)
        self._progress()

    def on_timer(self, token: int) -> None:
        if token == self.token:
            self.delay_elapsed = True
            self._progress()

    def _progress(self) -> None:
        if self.delay_elapsed and self.core.all_terminal(self.core.graph.all()):
            self.core.new_attempts(self.core.all_keys(), is_global=True)
            self.core.transition(WaitingForResources(self.core, restarted=True))


class Ending(State):
    """Cancel every task, then end the job with ``final``."""

    final = JobStatus.CANCELED

    def on_enter(self) -> None:
        self.core.cancel(self.core.graph.all())
        self._progress()

    def on_task_state(self, execution: Execution) -> None:
        super().on_task_state(execution)
        self._progress()

    def on_task_manager_lost(self, address: str, lost: list[Execution],
                             error: SerializedError) -> None:
        super().on_task_manager_lost(address, lost, error)
        self._progress()

    def _progress(self) -> None:
        if self.core.state is self and self.core.all_terminal(self.core.graph.all()):
            self.core.transition(Finished(self.core, self.final))

    def restart(self, keys: frozenset[SubtaskKey], delay_ms: int) -> None:
        pass


class Canceling(Ending):
    job_status = JobStatus.CANCELLING
    final = JobStatus.CANCELED

    def on_cancel(self) -> None:
        pass


class Failing(Ending):
    job_status = JobStatus.FAILING
    final = JobStatus.FAILED

    def on_task_state(self, execution: Execution) -> None:
        if execution.state == ExecutionState.FAILED.value and execution.failure is not None:
            self.core.root_cause(execution.failure)
        super().on_task_state(execution)

    def on_cancel(self) -> None:
        pass


class Finished(Ending):
    def __init__(self, core: SchedulerCore, status: JobStatus) -> None:
        super().__init__(core)
        self.job_status = status

    def on_enter(self) -> None:
        self.core.emit(m.ReleaseSlots())
        error = self.core.failure if self.job_status is JobStatus.FAILED else None
        self.core.emit(m.FinishJob(self.job_status, error))

    def on_task_state(self, execution: Execution) -> None:
        pass

    def on_task_manager_lost(self, address: str, lost: list[Execution],
                             error: SerializedError) -> None:
        pass

    def on_global_failure(self, error: SerializedError) -> None:
        pass

    def on_cancel(self) -> None:
        pass

    def restart(self, keys: frozenset[SubtaskKey], delay_ms: int) -> None:
        pass
