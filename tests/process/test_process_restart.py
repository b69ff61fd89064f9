"""Failure recovery with real processes: ``kill -9`` of a TaskManager running a job with a
restart strategy; the job restarts on a spare TaskManager, runs again and finishes."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from strom.common import Configuration, WatermarkStrategy
from strom.common.job import JobStatus
from strom.datastream import StreamExecutionEnvironment
from strom.datastream.functions import MapFunction, RuntimeContext
from strom.rpc.gateways import TaskExecutorGateway
from strom.rpc.messages import ExecutionState
from strom.testing import TestingSource, wait_until
from strom.testing.process_cluster import ProcessCluster

pytestmark = pytest.mark.slow

FAST_HEARTBEATS = {"heartbeat.interval": "200 ms", "heartbeat.timeout": "2 s",
                   "cluster.registration.error-delay": "200 ms"}


def slow_on_first_attempt() -> MapFunction:
    """Takes its time on attempt 0 (so the test can kill a TaskManager meanwhile). A class
    made here travels by value: the TaskManager processes cannot import this test module."""

    class SlowOnFirstAttempt(MapFunction):
        def open(self, runtime_context: RuntimeContext) -> None:
            self.pause_s = 0.05 if runtime_context.get_attempt_number() == 0 else 0.0

        def map(self, value: Any) -> Any:
            if self.pause_s:
                time.sleep(self.pause_s)
            return value

    return SlowOnFirstAttempt()


def running_tasks(cluster: ProcessCluster, index: int) -> list[str]:
    te: TaskExecutorGateway = cluster.rpc.connect(
        f"{cluster.task_managers[index].address}", TaskExecutorGateway)
    statuses = cluster.rpc.run_sync(te.request_task_status(), timeout=30)
    return [s.name for s in statuses if s.state is ExecutionState.RUNNING]


def test_a_killed_task_manager_is_replaced_and_the_job_finishes(tmp_path: Path) -> None:
    with ProcessCluster(task_managers=3, slots=1, config=FAST_HEARTBEATS,
                        log_dir=tmp_path) as cluster:
        env = StreamExecutionEnvironment.get_execution_environment(Configuration.from_dict({
            "restart-strategy.type": "fixed-delay",
            "restart-strategy.fixed-delay.attempts": "2",
            "restart-strategy.fixed-delay.delay": "100 ms",
        }))
        env.set_parallelism(2)
        (env.from_source(TestingSource(list(range(400)), splits=2, batch_size=1),
                         WatermarkStrategy.no_watermarks(), "numbers")
         .map(slow_on_first_attempt()).key_by(lambda x: x % 2).reduce(lambda a, b: a + b)
         .print())
        client = env.execute_async("survives kill -9")

        def busy() -> list[int]:
            return [i for i in range(3) if running_tasks(cluster, i)]

        wait_until(lambda: len(busy()) == 2, 60, "the job to run on two TaskManagers")
        victim = busy()[0]
        killed = cluster.kill_task_manager(victim)
        statuses: set[JobStatus] = set()

        def restarted() -> bool:
            statuses.add(client.get_job_status().result(timeout=30))
            return JobStatus.RESTARTING in statuses and statuses >= {JobStatus.RUNNING}

        wait_until(lambda: restarted() or client.get_job_status().result(timeout=30)
                   is JobStatus.FINISHED, 60, "the job to restart")
        result = client.get_job_result().result(timeout=120)
        assert result.status is JobStatus.FINISHED, (result.error, cluster.logs())

        history = cluster.rpc.run_sync(cluster.dispatcher_gateway.request_exception_history(
            client.get_job_id()), timeout=30).history
        names = [h.exception_name for h in history]
        assert names[-1].endswith("TaskManagerLostError"), names
        assert killed.extra["resource_id"] in history[-1].stacktrace
        details = cluster.rpc.run_sync(cluster.dispatcher_gateway.request_job_details(
            client.get_job_id()), timeout=30)
        assert "RESTARTING" in details.timestamps


def test_a_job_waits_for_a_task_manager_that_comes_back(tmp_path: Path) -> None:
    """No spare TaskManager: the restarted job asks for slots again until a new TaskManager
    registers, then runs there and finishes."""
    with ProcessCluster(task_managers=2, slots=1, config=FAST_HEARTBEATS,
                        log_dir=tmp_path) as cluster:
        env = StreamExecutionEnvironment.get_execution_environment(Configuration.from_dict({
            "restart-strategy.type": "fixed-delay",
            "restart-strategy.fixed-delay.delay": "100 ms",
        }))
        env.set_parallelism(2)
        (env.from_source(TestingSource(list(range(400)), splits=2, batch_size=1),
                         WatermarkStrategy.no_watermarks(), "numbers")
         .map(slow_on_first_attempt()).key_by(lambda x: x % 2).reduce(lambda a, b: a + b)
         .print())
        client = env.execute_async("waits for its TaskManager")
        wait_until(lambda: all(running_tasks(cluster, i) for i in range(2)), 60,
                   "the job to run on both TaskManagers")
        cluster.kill_task_manager(0)
        wait_until(lambda: client.get_job_status().result(timeout=30) is JobStatus.RUNNING
                   and len(cluster.registered_task_managers()) == 1, 60,
                   "the restarted job to wait for slots")
        assert client.get_job_result().done() is False
        cluster.start_task_manager()  # the TaskManager comes back
        result = client.get_job_result().result(timeout=120)
        assert result.status is JobStatus.FINISHED, (result.error, cluster.logs())
