"""The scheduler core without an event loop: events in, commands out."""

from __future__ import annotations

from typing import Any

import scheduler_graphs as graphs

from strom.common.job import JobStatus
from strom.datastream import RuntimeExecutionMode, StreamExecutionEnvironment
from strom.graph.execution_graph import Execution
from strom.graph.ids import AllocationID, ResourceID
from strom.graph.job_graph import JobGraph, build_job_graph
from strom.jobmanager.scheduler import messages as m
from strom.jobmanager.scheduler.core import SchedulerCore
from strom.jobmanager.scheduler.failover import FailoverStrategy
from strom.jobmanager.scheduler.restart_strategies import (
    FailureRateRestartStrategy,
    FixedDelayRestartStrategy,
    NoRestartStrategy,
    RestartStrategy,
)
from strom.rpc.errors import SerializedError
from strom.rpc.messages import ExecutionState, ProducerLocation, SlotOffer

RUNNING, FAILED, FINISHED, CANCELED = (ExecutionState.RUNNING, ExecutionState.FAILED,
                                       ExecutionState.FINISHED, ExecutionState.CANCELED)


def _error(message: str = "boom", kind: type[BaseException] = ValueError) -> SerializedError:
    try:
        raise kind(message)
    except BaseException as e:
        return SerializedError.from_exception(e)


class Harness:
    """A scheduler core, a manual clock, and the commands it gave out."""

    def __init__(self, job_graph: JobGraph, strategy: RestartStrategy | None = None,
                 failover: str = "region") -> None:
        self.now = 1_000
        self.core = SchedulerCore(job_graph, strategy or NoRestartStrategy(),
                                  FailoverStrategy(job_graph, failover), clock=lambda: self.now,
                                  resource_timeout_ms=30_000, resource_retry_ms=500)
        self.timers: dict[int, int] = {}
        self.log: list[m.Command] = []

    def send(self, event: m.Event) -> list[m.Command]:
        commands = self.core.handle(event)
        for command in commands:
            if isinstance(command, m.ScheduleTimer):
                self.timers[command.token] = command.delay_ms
        self.log.extend(commands)
        return commands

    def fire_last_timer(self) -> list[m.Command]:
        token = max(self.timers)
        del self.timers[token]
        return self.send(m.TimerFired(token))

    def offers(self, count: int, address: str) -> list[SlotOffer]:
        resource = ResourceID()
        return [SlotOffer(AllocationID(), i, address, ProducerLocation(resource, f"{address}:9"))
                for i in range(count)]

    def start_running(self, addresses: list[str] | None = None) -> list[Execution]:
        """Start, get one slot per address, deploy, and report every task RUNNING."""
        commands = self.send(m.Start())
        [request] = of(commands, m.RequestSlots)
        if addresses is None:
            addresses = [f"te-{i + 1}" for i in range(request.count)]
        assert request.count == len(addresses)
        self.send(m.SlotRequestAnswered(request.count, request.count))
        deployed: list[Execution] = []
        for address in addresses:
            commands = self.send(m.SlotsOffered(self.offers(1, address)))
            assert len(of(commands, m.AcceptSlots)[0].allocation_ids) == 1
            for deploy in of(commands, m.DeployExecutions):
                deployed.extend(deploy.executions)
        assert len(deployed) == len(self.core.graph.executions)
        for execution in deployed:
            self.report(execution, RUNNING)
        return deployed

    def report(self, execution: Execution, state: ExecutionState,
               error: SerializedError | None = None) -> list[m.Command]:
        return self.send(m.TaskStateChanged(str(execution.execution_id), state, error))

    def current(self) -> list[Execution]:
        return self.core.graph.all()


def of(commands: list[m.Command], kind: type[Any]) -> list[Any]:
    return [c for c in commands if isinstance(c, kind)]


def statuses(commands: list[m.Command]) -> list[JobStatus]:
    return [c.status for c in of(commands, m.JobStatusChanged)]


def test_a_job_runs_and_finishes() -> None:
    h = Harness(graphs.keyed(2))
    executions = h.start_running(["te-1", "te-2"])
    assert statuses(h.log) == [JobStatus.RUNNING]
    assert of(h.log, m.RequestSlots) == [m.RequestSlots(2)]
    assert {e.attempt for e in executions} == {0}
    assert {e.task_executor for e in executions} == {"te-1", "te-2"}
    for execution in executions[:-1]:
        assert h.report(execution, FINISHED) == []
    commands = h.report(executions[-1], FINISHED)
    assert commands == [m.JobStatusChanged(JobStatus.FINISHED), m.ReleaseSlots(),
                        m.FinishJob(JobStatus.FINISHED, None)]


def test_a_task_failure_cancels_the_others_and_restarts_after_the_delay() -> None:
    h = Harness(graphs.keyed(2), FixedDelayRestartStrategy(attempts=1, delay_ms=100))
    executions = h.start_running(["te-1", "te-2"])
    failed, *others = executions
    commands = h.report(failed, FAILED, _error())
    assert statuses(commands) == [JobStatus.RESTARTING]
    assert of(commands, m.AbortCheckpoints)
    assert of(commands, m.CancelExecutions)[0].executions == others
    assert of(commands, m.ScheduleTimer)[0].delay_ms == 100
    for execution in others:  # all cancelled, but the delay has not elapsed
        assert h.report(execution, CANCELED) == []
    commands = h.fire_last_timer()
    [restore] = of(commands, m.RestoreState)
    assert restore.is_global and len(restore.executions) == 4
    assert statuses(commands) == [JobStatus.RUNNING]
    assert not of(commands, m.RequestSlots)  # the slots stayed with the job
    [deploy] = of(commands, m.DeployExecutions)
    assert deploy.job_attempt == 1
    assert sorted(e.attempt for e in deploy.executions) == [1, 1, 1, 1]
    assert {e.task_executor for e in deploy.executions} == {"te-1", "te-2"}
    # the old attempts are gone: a late report of one changes nothing
    assert h.report(failed, FINISHED) == []
    for execution in deploy.executions:
        h.report(execution, FINISHED)
    assert h.core.status is JobStatus.FINISHED


def test_the_restart_waits_for_every_task_to_end_after_the_delay() -> None:
    h = Harness(graphs.keyed(2), FixedDelayRestartStrategy(attempts=1, delay_ms=0))
    failed, *others = h.start_running(["te-1", "te-2"])
    h.report(failed, FAILED, _error())
    assert not of(h.fire_last_timer(), m.DeployExecutions)
    for execution in others[:-1]:
        assert not of(h.report(execution, CANCELED), m.DeployExecutions)
    assert of(h.report(others[-1], CANCELED), m.DeployExecutions)


def test_an_exhausted_strategy_fails_the_job_with_the_cause_and_flinks_message() -> None:
    h = Harness(graphs.keyed(2), FixedDelayRestartStrategy(attempts=1, delay_ms=0))
    failed, *others = h.start_running(["te-1", "te-2"])
    h.report(failed, FAILED, _error("first"))
    for execution in others:
        h.report(execution, CANCELED)
    deployed = of(h.fire_last_timer(), m.DeployExecutions)[0].executions
    for execution in deployed:
        h.report(execution, RUNNING)
    commands = h.report(deployed[1], FAILED, _error("second"))
    assert statuses(commands) == [JobStatus.FAILING]
    for execution in deployed:
        if execution is not deployed[1]:
            commands = h.report(execution, CANCELED)
    [finish] = of(commands, m.FinishJob)
    assert finish.status is JobStatus.FAILED
    assert finish.error is not None
    assert (finish.error.type_name, finish.error.message) == ("builtins.ValueError", "second")
    assert finish.error.notes[-1] == (
        "Recovery is suppressed by FixedDelayRestartBackoffTimeStrategy("
        "maxNumberRestartAttempts=1, backoffTimeMS=0)")
    assert of(commands, m.ReleaseSlots)
    assert [e.message for e in h.core.exception_history] == ["first", "second"]


def test_without_a_restart_strategy_a_failure_fails_the_job() -> None:
    h = Harness(graphs.keyed(1))
    failed, other = h.start_running(["te-1"])
    assert statuses(h.report(failed, FAILED, _error())) == [JobStatus.FAILING]
    commands = h.report(other, CANCELED)
    # the user's failure as raised: no restart was asked for, so no note says none happened
    assert of(commands, m.FinishJob)[0].error.notes == []


def test_a_task_manager_lost_during_the_restart_is_replaced() -> None:
    h = Harness(graphs.keyed(2), FixedDelayRestartStrategy(attempts=1, delay_ms=10))
    executions = h.start_running(["te-1", "te-2"])
    on_te2 = [e for e in executions if e.task_executor == "te-2"]
    h.report(executions[0], FAILED, _error())
    lost = _error("te-2 is gone", ConnectionError)
    h.send(m.TaskManagerLost("te-2", lost))
    for execution in executions[1:]:
        if execution.task_executor == "te-1":
            h.report(execution, CANCELED)
    assert all(e.state == "FAILED" for e in on_te2)
    commands = h.fire_last_timer()
    assert of(commands, m.RestoreState)
    assert of(commands, m.RequestSlots) == [m.RequestSlots(1)]
    assert not of(commands, m.DeployExecutions)
    # the cluster has no free slot yet: ask again a bit later
    commands = h.send(m.SlotRequestAnswered(1, 0))
    assert of(commands, m.ScheduleTimer)[0].delay_ms == 500
    assert h.core.status is JobStatus.RUNNING
    assert of(h.fire_last_timer(), m.RequestSlots) == [m.RequestSlots(1)]
    h.send(m.SlotRequestAnswered(1, 1))
    commands = h.send(m.SlotsOffered(h.offers(1, "te-3")))
    [deploy] = of(commands, m.DeployExecutions)
    assert {e.task_executor for e in deploy.executions} == {"te-1", "te-3"}
    assert {e.attempt for e in deploy.executions} == {1}
    # the exception history names the lost TaskManager's failure with the first one
    [entry] = h.core.exception_history
    assert entry.exception_name == "builtins.ValueError"
    assert "builtins.ConnectionError" in {c.exception_name for c in entry.concurrent_exceptions}


def test_cancel_during_the_restart_cancels_the_job() -> None:
    h = Harness(graphs.keyed(2), FixedDelayRestartStrategy(attempts=3, delay_ms=1_000))
    failed, *others = h.start_running(["te-1", "te-2"])
    h.report(failed, FAILED, _error())
    commands = h.send(m.CancelRequested())
    assert statuses(commands) == [JobStatus.CANCELLING]
    for execution in others[:-1]:
        h.report(execution, CANCELED)
    commands = h.report(others[-1], CANCELED)
    assert commands[-2:] == [m.ReleaseSlots(), m.FinishJob(JobStatus.CANCELED, None)]
    assert h.fire_last_timer() == []  # the restart's timer is stale


def test_failures_while_restarting_do_not_count_again() -> None:
    h = Harness(graphs.keyed(2), FixedDelayRestartStrategy(attempts=1, delay_ms=0))
    failed, second, *others = h.start_running(["te-1", "te-2"])
    h.report(failed, FAILED, _error("root"))
    h.report(second, FAILED, _error("while cancelling"))
    h.send(m.GlobalFailure(_error("coordinator")))
    for execution in others:
        h.report(execution, CANCELED)
    commands = h.fire_last_timer()
    assert of(commands, m.DeployExecutions)  # still the first and only restart
    [entry] = h.core.exception_history
    assert [c.message for c in entry.concurrent_exceptions] == ["while cancelling",
                                                                "coordinator"]


def test_failure_rate_exceeded_fails_the_job() -> None:
    h = Harness(graphs.keyed(1), FailureRateRestartStrategy(
        max_failures=2, interval_ms=60_000, delay_ms=0, clock=lambda: h.now))
    h.start_running(["te-1"])
    for round_ in range(3):
        running = h.current()
        for execution in running:
            if ExecutionState(execution.state) is not RUNNING:
                h.report(execution, RUNNING)
        h.now += 1_000
        h.report(running[0], FAILED, _error(f"failure {round_}"))
        if round_ < 2:
            h.report(running[1], CANCELED)
            assert of(h.fire_last_timer(), m.DeployExecutions)
    assert h.core.status is JobStatus.FAILING
    commands = h.report(h.current()[1], CANCELED)
    assert of(commands, m.FinishJob)[0].error.notes[-1].startswith(
        "Recovery is suppressed by FailureRateRestartBackoffTimeStrategy(")


def test_a_region_failure_restarts_only_its_region_and_the_job_stays_running() -> None:
    h = Harness(graphs.embarrassingly_parallel(2, chaining=False),
                FixedDelayRestartStrategy(attempts=1, delay_ms=50))
    executions = h.start_running(["te-1", "te-2"])
    region0 = [e for e in executions if e.subtask == 0]
    region1 = [e for e in executions if e.subtask == 1]
    commands = h.report(region0[1], FAILED, _error())
    assert statuses(commands) == []
    assert h.core.status is JobStatus.RUNNING
    assert {id(e) for e in of(commands, m.CancelExecutions)[0].executions} == {
        id(region0[0]), id(region0[2])}
    h.report(region0[0], CANCELED)
    h.report(region0[2], CANCELED)
    h.report(region1[0], FINISHED)  # the other region goes on
    commands = h.fire_last_timer()
    [restore] = of(commands, m.RestoreState)
    assert not restore.is_global
    [deploy] = of(commands, m.DeployExecutions)
    assert {(e.subtask, e.attempt) for e in deploy.executions} == {(0, 1)}
    assert {e.task_executor for e in deploy.executions} == {"te-1"}
    for execution in [*deploy.executions, *region1[1:]]:
        h.report(execution, FINISHED)
    assert h.core.status is JobStatus.FINISHED


def test_full_failover_restarts_every_region() -> None:
    h = Harness(graphs.embarrassingly_parallel(2, chaining=False),
                FixedDelayRestartStrategy(attempts=1, delay_ms=0), failover="full")
    executions = h.start_running(["te-1", "te-2"])
    assert statuses(h.report(executions[0], FAILED, _error())) == [JobStatus.RESTARTING]


def test_a_lost_task_manager_restarts_its_region_in_a_new_slot() -> None:
    h = Harness(graphs.embarrassingly_parallel(2, chaining=False),
                FixedDelayRestartStrategy(attempts=1, delay_ms=0))
    executions = h.start_running(["te-1", "te-2"])
    commands = h.send(m.TaskManagerLost("te-2", _error("gone", ConnectionError)))
    assert not of(commands, m.CancelExecutions)  # everything of the region ran there
    commands = h.fire_last_timer()
    assert of(commands, m.RestoreState)
    assert of(commands, m.RequestSlots) == [m.RequestSlots(1)]
    h.send(m.SlotRequestAnswered(1, 1))
    [deploy] = of(h.send(m.SlotsOffered(h.offers(1, "te-3"))), m.DeployExecutions)
    assert {(e.subtask, e.task_executor) for e in deploy.executions} == {(1, "te-3")}
    assert all(e.state == "RUNNING" for e in executions if e.subtask == 0)
    [entry] = h.core.exception_history
    assert entry.task_name is not None and entry.location == "te-2:9"
    assert entry.task_manager_id is not None and entry.timestamp == h.now


def test_too_few_slots_at_the_start_fail_the_job_at_once() -> None:
    h = Harness(graphs.keyed(2))
    h.send(m.Start())
    commands = h.send(m.SlotRequestAnswered(2, 1))
    assert statuses(commands) == [JobStatus.FAILING, JobStatus.FAILED]
    [finish] = of(commands, m.FinishJob)
    assert finish.error.type_name.endswith("NoResourceAvailableError")


def test_an_unrecoverable_failure_is_not_restarted() -> None:
    h = Harness(graphs.keyed(1), FixedDelayRestartStrategy(attempts=5, delay_ms=0))
    commands = h.send(m.GlobalFailure(_error("cannot pickle"), recoverable=False))
    assert statuses(commands) == [JobStatus.FAILING, JobStatus.FAILED]


def _commands_of_a_restart(job_graph: JobGraph) -> list[str]:
    h = Harness(job_graph, FixedDelayRestartStrategy(attempts=1, delay_ms=0))
    failed, *others = h.start_running()
    h.report(failed, FAILED, _error())
    for execution in others:
        h.report(execution, CANCELED)
    h.fire_last_timer()
    return [type(c).__name__ for c in h.log]


def test_batch_and_streaming_jobs_are_scheduled_alike() -> None:
    def graph(mode: RuntimeExecutionMode) -> JobGraph:
        env = StreamExecutionEnvironment(None)
        env.set_runtime_mode(mode)
        env.from_collection([1, 2]).key_by(lambda x: x).reduce(lambda a, b: a + b).print()
        return build_job_graph(env._stream_graph(None))

    streaming = graph(RuntimeExecutionMode.STREAMING)
    batch = graph(RuntimeExecutionMode.BATCH)
    assert batch.runtime_mode == "BATCH"
    assert _commands_of_a_restart(batch) == _commands_of_a_restart(streaming)


def test_a_failure_before_scheduling_goes_through_the_strategy() -> None:
    h = Harness(graphs.keyed(1))
    commands = h.send(m.GlobalFailure(_error("enumerator")))
    assert statuses(commands) == [JobStatus.FAILING, JobStatus.FAILED]
    h = Harness(graphs.keyed(1), FixedDelayRestartStrategy(attempts=1, delay_ms=0))
    assert statuses(h.send(m.GlobalFailure(_error("enumerator")))) == [JobStatus.RESTARTING]
    commands = h.fire_last_timer()
    assert of(commands, m.RequestSlots) == [m.RequestSlots(1)]


def test_a_task_that_reports_running_after_its_cancel_is_cancelled_again() -> None:
    h = Harness(graphs.keyed(1))
    h.send(m.Start())
    h.send(m.SlotRequestAnswered(1, 1))
    [deploy] = of(h.send(m.SlotsOffered(h.offers(1, "te-1"))), m.DeployExecutions)
    h.send(m.CancelRequested())
    execution = deploy.executions[0]
    assert execution.state == "CANCELING"
    # the cancel reached the TaskExecutor before the submission: the task starts anyway
    assert h.report(execution, RUNNING) == [m.CancelExecutions([execution])]
    assert execution.state == "CANCELING"


def test_the_restore_names_the_latest_completed_checkpoint() -> None:
    h = Harness(graphs.keyed(1), FixedDelayRestartStrategy(attempts=1, delay_ms=0))
    failed, other = h.start_running(["te-1"])
    h.send(m.CheckpointCompleted(7))
    h.send(m.CheckpointCompleted(5))  # a late notice of an older one changes nothing
    h.report(failed, FAILED, _error())
    h.report(other, CANCELED)
    [restore] = of(h.fire_last_timer(), m.RestoreState)
    assert restore.latest_checkpoint_id == 7
