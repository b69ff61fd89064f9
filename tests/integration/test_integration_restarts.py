"""Failure recovery in one process: restart strategies restart a failed job with new
attempts (``get_attempt_number()``), RUNNING → RESTARTING → RUNNING, the exception history
keeps each failure, and a strategy that gives up fails the job with Flink's words."""

from __future__ import annotations

from typing import Any

import pytest

from strom.common import Configuration, WatermarkStrategy
from strom.common.job import JobStatus
from strom.datastream import StreamExecutionEnvironment
from strom.datastream.functions import MapFunction, RuntimeContext
from strom.heartbeat import HeartbeatSettings
from strom.minicluster import MiniCluster
from strom.rpc.messages import ExecutionState, TaskDeploymentDescriptor
from strom.taskmanager.task_executor import TaskExecutor
from strom.testing import CollectSink, Latch, TestingSource, wait_until

FAST = HeartbeatSettings(interval_ms=50, timeout_ms=1000, rpc_failure_threshold=2)


class FailOnFirstAttempt(MapFunction):
    """Fails in open() on attempt 0, so the first attempt emits nothing."""

    def open(self, runtime_context: RuntimeContext) -> None:
        self.attempt = runtime_context.get_attempt_number()
        if self.attempt == 0:
            raise ValueError(f"attempt {self.attempt} of subtask "
                             f"{runtime_context.get_index_of_this_subtask()} fails")

    def map(self, value: Any) -> Any:
        return (value, self.attempt)


class AlwaysFails(MapFunction):
    def map(self, value: Any) -> Any:
        raise RuntimeError("always")


def _env(cluster: MiniCluster, settings: dict[str, str], parallelism: int
         ) -> StreamExecutionEnvironment:
    env = StreamExecutionEnvironment.get_execution_environment(Configuration.from_dict(settings))
    env.set_parallelism(parallelism)
    env._cluster = cluster
    return env


@pytest.mark.parametrize("keyed", [False, True], ids=["regions", "one-region"])
def test_a_map_failing_on_its_first_attempt_restarts_and_finishes(keyed: bool) -> None:
    settings = {"restart-strategy.type": "fixed-delay",
                "restart-strategy.fixed-delay.attempts": "3",
                "restart-strategy.fixed-delay.delay": "10 ms"}
    with MiniCluster(num_task_managers=2, slots_per_task_manager=1, heartbeat=FAST) as cluster:
        env = _env(cluster, settings, 2)
        sink = CollectSink()
        stream = env.from_source(TestingSource(list(range(20)), splits=2),
                                 WatermarkStrategy.no_watermarks(), "numbers")
        if keyed:
            stream = stream.key_by(lambda x: x % 3)
        stream.map(FailOnFirstAttempt()).sink_to(sink)
        client = env.execute_async("fails once")
        result = client.get_job_result().result(timeout=60)
        assert result.status is JobStatus.FINISHED, result.error
        assert sorted(v for v, _ in sink.results) == list(range(20))
        assert {attempt for _, attempt in sink.results} == {1}

        assert cluster.rpc is not None and cluster.dispatcher is not None
        job_id = client.get_job_id()
        details = cluster.rpc.run_sync(cluster.dispatcher.request_job_details(job_id))
        history = cluster.rpc.run_sync(
            cluster.dispatcher.request_exception_history(job_id)).history
        assert history and history[0].exception_name == "builtins.ValueError"
        assert "fails" in history[0].stacktrace
        assert history[0].task_name is not None and "Map" in history[0].task_name
        if keyed:  # one region: the whole job restarts, RESTARTING in between
            assert "RESTARTING" in details.timestamps
            assert len(history) == 1
        else:  # a region per subtask: each restarts on its own, the job stays RUNNING
            assert "RESTARTING" not in details.timestamps
            assert len(history) == 2


def test_failure_rate_exceeded_fails_the_job_with_the_cause() -> None:
    settings = {"restart-strategy.type": "failure-rate",
                "restart-strategy.failure-rate.max-failures-per-interval": "2",
                "restart-strategy.failure-rate.failure-rate-interval": "1 min",
                "restart-strategy.failure-rate.delay": "0 ms"}
    with MiniCluster(num_task_managers=1, slots_per_task_manager=1, heartbeat=FAST) as cluster:
        env = _env(cluster, settings, 1)
        (env.from_source(TestingSource([1, 2, 3]), WatermarkStrategy.no_watermarks(), "n")
         .map(AlwaysFails()).sink_to(CollectSink()))
        client = env.execute_async("always fails")
        result = client.get_job_result().result(timeout=60)
        assert result.status is JobStatus.FAILED and result.error is not None
        error = result.error.rebuild()
        assert isinstance(error, RuntimeError) and str(error) == "always"
        assert error.__notes__[-1] == (
            "Recovery is suppressed by FailureRateRestartBackoffTimeStrategy("
            "failuresIntervalMS=60000,backoffTimeMS=0,maxFailuresPerInterval=2)")
        assert cluster.rpc is not None and cluster.dispatcher is not None
        history = cluster.rpc.run_sync(
            cluster.dispatcher.request_exception_history(client.get_job_id())).history
        assert len(history) == 3  # two restarts, then the failure that ended it


def test_a_lost_task_manager_restarts_the_job_on_the_one_left() -> None:
    """Two TaskManagers with two slots each, a job of parallelism 2 on one of them (its
    slots are handed out first); the other takes over when the first is lost."""
    latch = Latch()
    settings = {"restart-strategy.type": "fixed-delay",
                "restart-strategy.fixed-delay.delay": "10 ms"}
    with MiniCluster(num_task_managers=2, slots_per_task_manager=1, heartbeat=FAST) as cluster:
        env = _env(cluster, settings, 1)
        sink = CollectSink()
        source = TestingSource([1, 2, TestingSource.AWAIT(latch), 3])
        env.from_source(source, WatermarkStrategy.no_watermarks(), "waits").sink_to(sink)
        client = env.execute_async("survives a TaskManager")

        def running_on() -> list[Any]:
            return [te for te in cluster.task_executors
                    if any(t.state is ExecutionState.RUNNING for t in te.tasks.values())]

        wait_until(lambda: len(running_on()) == 1, 30, "the job to run")
        [lost] = running_on()
        assert cluster.rpc is not None
        cluster.rpc.unregister(lost)  # its calls now fail, as if its process died
        survivor = next(te for te in cluster.task_executors if te is not lost)
        wait_until(lambda: any(t.tdd.attempt_number == 1 for t in survivor.tasks.values()),
                   30, "the job to restart on the other TaskManager")
        assert client.get_job_status().result(timeout=10) is JobStatus.RUNNING
        latch.trigger()
        result = client.get_job_result().result(timeout=60)
        assert result.status is JobStatus.FINISHED, result.error
        assert sorted(sink.results).count(3) >= 1
        cluster.rpc.register(lost)


class FailOnFourOnFirstAttempt(MapFunction):
    def open(self, runtime_context: RuntimeContext) -> None:
        self.attempt = runtime_context.get_attempt_number()

    def map(self, value: Any) -> Any:
        if self.attempt == 0 and value[1] > 6:  # the running sum passed 1 + 2 + 3
            raise ValueError("the record after the checkpoint fails attempt 0")
        return value


def test_a_restart_starts_the_new_attempts_from_the_latest_checkpoint(
        monkeypatch: pytest.MonkeyPatch) -> None:
    submitted: list[TaskDeploymentDescriptor] = []
    submit = TaskExecutor.submit_task

    async def recording_submit(self: TaskExecutor, tdd: TaskDeploymentDescriptor) -> None:
        submitted.append(tdd)
        await submit(self, tdd)

    monkeypatch.setattr(TaskExecutor, "submit_task", recording_submit)
    latch = Latch()
    settings = {"restart-strategy.type": "fixed-delay",
                "restart-strategy.fixed-delay.delay": "10 ms"}
    with MiniCluster(num_task_managers=1, slots_per_task_manager=1, heartbeat=FAST) as cluster:
        env = _env(cluster, settings, 1)
        env.enable_checkpointing(20)
        (env.from_source(TestingSource([1, 2, 3, TestingSource.AWAIT(latch), 4, 5]),
                         WatermarkStrategy.no_watermarks(), "numbers").uid("numbers")
         .key_by(lambda x: 0).reduce(lambda a, b: a + b).uid("sums")
         .map(lambda total: (0, total)).map(FailOnFourOnFirstAttempt())
         .sink_to(CollectSink()))
        client = env.execute_async("restores")
        assert cluster.dispatcher is not None
        job_master = cluster.dispatcher.job_masters[client.get_job_id()]
        checkpoints = job_master.checkpoint_coordinator
        assert checkpoints is not None
        wait_until(lambda: checkpoints.latest_completed() is not None, 30,
                   "a checkpoint to complete while the source waits")
        latch.trigger()
        result = client.get_job_result().result(timeout=60)
        assert result.status is JobStatus.FINISHED, result.error
        # the new attempt of the keyed vertex started from the checkpoint's sums
        first = [t for t in submitted if t.attempt_number == 0]
        assert first and all(t.restored is None for t in first)
        restored = [t for t in submitted if t.attempt_number == 1 and "Reduce" in t.task_name]
        assert restored and restored[0].restored is not None
        assert restored[0].job_attempt == 1
        states = restored[0].restored.value()
        sums_id = next(op.state_id for v in job_master.job_graph.vertices
                       for op in v.operators if op.uid == "sums")
        assert sums_id in states and states[sums_id].keyed


def test_the_clusters_restart_strategy_applies_to_jobs_that_set_none() -> None:
    from strom.jobmanager.entrypoint import create_jobmanager_components
    from strom.rpc.service import RpcService

    rpc = RpcService("restart-defaults-test")
    try:
        _, dispatcher = create_jobmanager_components(
            rpc, FAST, Configuration.from_dict({"restart-strategy.type": "fixed-delay",
                                                "parallelism.default": "3"}))
        assert dispatcher.restart_defaults == {"restart-strategy.type": "fixed-delay"}
    finally:
        rpc.stop()
    with MiniCluster(num_task_managers=1, slots_per_task_manager=1, heartbeat=FAST) as cluster:
        assert cluster.dispatcher is not None
        cluster.dispatcher.restart_defaults = {"restart-strategy.type": "fixed-delay",
                                               "restart-strategy.fixed-delay.delay": "0 ms"}
        env = _env(cluster, {}, 1)
        sink = CollectSink()
        (env.from_source(TestingSource([1, 2]), WatermarkStrategy.no_watermarks(), "n")
         .map(FailOnFirstAttempt()).sink_to(sink))
        result = env.execute_async("cluster default").get_job_result().result(timeout=60)
        assert result.status is JobStatus.FINISHED, result.error
        assert sorted(sink.results) == [(1, 1), (2, 1)]


class FailAfterTheLatchOnFirstAttempt(MapFunction):
    """Subtask 0 fails on attempt 0 at the first record above 100 (after the checkpoint)."""

    def open(self, runtime_context: RuntimeContext) -> None:
        self.attempt = runtime_context.get_attempt_number()
        self.subtask = runtime_context.get_index_of_this_subtask()

    def map(self, value: Any) -> Any:
        if self.attempt == 0 and self.subtask == 0 and value > 100:
            raise ValueError("fails after the checkpoint")
        return (value, self.subtask, self.attempt)


def test_a_region_restarts_alone_from_the_latest_checkpoint() -> None:
    latch = Latch()
    settings = {"restart-strategy.type": "fixed-delay",
                "restart-strategy.fixed-delay.delay": "10 ms"}
    first, second = [1, 2, 3, 4], [101, 102, 103, 104]
    with MiniCluster(num_task_managers=2, slots_per_task_manager=1, heartbeat=FAST) as cluster:
        env = _env(cluster, settings, 2)
        env.enable_checkpointing(20)
        sink = CollectSink()
        # split i goes to subtask i: each subtask reads two records, waits, reads two more
        source = TestingSource([*first, TestingSource.AWAIT(latch),
                                TestingSource.AWAIT(latch), *second], splits=2)
        (env.from_source(source, WatermarkStrategy.no_watermarks(), "numbers").uid("numbers")
         .map(FailAfterTheLatchOnFirstAttempt()).sink_to(sink))
        client = env.execute_async("region from a checkpoint")
        assert cluster.dispatcher is not None
        job_master = cluster.dispatcher.job_masters[client.get_job_id()]
        checkpoints = job_master.checkpoint_coordinator
        assert checkpoints is not None
        wait_until(lambda: len(sink.results) == 4 and checkpoints.latest_completed() is not None
                   and checkpoints.latest_completed().checkpoint_id > 1, 30,
                   "a checkpoint after the first records")
        latch.trigger()
        result = client.get_job_result().result(timeout=60)
        assert result.status is JobStatus.FINISHED, result.error
        details = cluster.rpc.run_sync(  # type: ignore[union-attr]
            cluster.dispatcher.request_job_details(client.get_job_id()))
        assert "RESTARTING" not in details.timestamps  # only subtask 0's region restarted
        # every record once: the restarted reader went on from the checkpoint's position
        assert sorted(v for v, _, _ in sink.results) == sorted(first + second)
        assert {(s, a) for _, s, a in sink.results} == {(0, 0), (0, 1), (1, 0)}
