"""Heartbeats in one process: a TaskExecutor that stops answering is lost, its job fails
with the TaskManager named, and TaskExecutors rejoin a new ResourceManager."""

from __future__ import annotations

import asyncio
import logging

import pytest

from strom.common import WatermarkStrategy
from strom.common.job import JobStatus
from strom.datastream import StreamExecutionEnvironment
from strom.graph.ids import ResourceID
from strom.ha.leader_election import STANDALONE_SESSION_ID
from strom.heartbeat import HeartbeatSettings
from strom.jobmanager.jobmaster import TaskManagerLostError
from strom.jobmanager.resourcemanager import ResourceManager
from strom.minicluster import MiniCluster
from strom.rpc.messages import ExecutionState
from strom.taskmanager.registration import RegistrationSettings, register_until_accepted
from strom.testing import CollectSink, Latch, TestingSource, wait_until

FAST = HeartbeatSettings(interval_ms=50, timeout_ms=1000, rpc_failure_threshold=2)


def endless_job(latch: Latch) -> StreamExecutionEnvironment:
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(2)
    source = TestingSource([1, 2, TestingSource.AWAIT(latch), TestingSource.AWAIT(latch)],
                           splits=2)
    env.from_source(source, WatermarkStrategy.no_watermarks(), "endless").sink_to(CollectSink())
    return env


def running(cluster: MiniCluster) -> int:
    return sum(1 for s in cluster.task_statuses() if s.state is ExecutionState.RUNNING)


def test_a_task_executor_that_stops_answering_fails_its_job_by_name() -> None:
    latch = Latch()
    with MiniCluster(num_task_managers=2, slots_per_task_manager=1, heartbeat=FAST) as cluster:
        env = endless_job(latch)
        env._cluster = cluster
        client = env.execute_async("endless")
        wait_until(lambda: running(cluster) == 2, 30, "both tasks to run")
        lost = cluster.task_executors[1]
        assert cluster.rpc is not None
        cluster.rpc.unregister(lost)  # its calls now fail, as if its process died

        result = client.get_job_result().result(timeout=30)
        assert result.status is JobStatus.FAILED and result.error is not None
        error = result.error.rebuild()
        assert isinstance(error, TaskManagerLostError)
        assert str(lost.resource_id) in str(error)
        assert "heartbeat RPCs in a row failed" in str(error)
        # the unreachable TaskExecutor stops hearing from the JobMaster and cancels its task
        wait_until(lambda: not lost.tasks, 30, "the lost TaskExecutor to drop the job")
        latch.trigger()
        cluster.rpc.register(lost)


def test_a_task_executor_registers_again_with_a_new_resource_manager() -> None:
    with MiniCluster(num_task_managers=1, slots_per_task_manager=2, heartbeat=FAST) as cluster:
        rpc, old = cluster.rpc, cluster.resource_manager
        assert rpc is not None and old is not None
        te = cluster.task_executors[0]
        rpc.run_sync(old.stop())
        new = ResourceManager(rpc, heartbeat=FAST)  # same name, same address
        rpc.run_sync(new.start())
        cluster.resource_manager = new
        wait_until(lambda: te.address in new.task_executors and te.registered.is_set(), 30,
                   "the TaskExecutor to register with the new ResourceManager")
        # standalone, every ResourceManager has the one fixed leader session as its id
        assert te.resource_manager_id == old.instance_id == new.instance_id \
            == ResourceID(STANDALONE_SESSION_ID)
        assert rpc.run_sync(new.free_slot_count()) == 2


def test_registration_is_retried_with_backoff_until_accepted() -> None:
    attempts: list[int] = []

    async def attempt() -> str:
        attempts.append(len(attempts))
        if len(attempts) < 4:
            raise ConnectionRefusedError("the JobManager is not up yet")
        return "rm-1"

    settings = RegistrationSettings(initial_timeout_ms=1, max_timeout_ms=100, error_delay_ms=4)
    assert asyncio.run(register_until_accepted(attempt, settings, "te")) == "rm-1"
    assert len(attempts) == 4


def test_slots_a_task_executor_freed_for_a_lost_job_master_are_free_again_at_the_rm() -> None:
    latch = Latch()
    with MiniCluster(num_task_managers=1, slots_per_task_manager=2, heartbeat=FAST) as cluster:
        rpc, rm, dispatcher = cluster.rpc, cluster.resource_manager, cluster.dispatcher
        assert rpc is not None and rm is not None and dispatcher is not None
        env = endless_job(latch)
        env._cluster = cluster
        env.execute_async("endless")
        wait_until(lambda: running(cluster) == 2, 30, "both tasks to run")
        assert rpc.run_sync(rm.free_slot_count()) == 0
        [job_master] = dispatcher.job_masters.values()
        rpc.run_sync(job_master.heartbeats.stop())  # the JobMaster goes silent

        te = cluster.task_executors[0]
        wait_until(lambda: not te.allocations and not te.tasks, 30,
                   "the TaskExecutor to free the slots of the silent JobMaster")
        wait_until(lambda: rpc.run_sync(rm.free_slot_count()) == 2, 30,
                   "the slot report to free the slots at the ResourceManager")
        latch.trigger()


def test_a_job_cancelling_when_a_task_executor_is_lost_ends() -> None:
    # the lost TaskExecutor cannot confirm its task's cancellation: its loss must end it
    latch = Latch()
    slow = HeartbeatSettings(interval_ms=300, timeout_ms=5000, rpc_failure_threshold=2)
    with MiniCluster(num_task_managers=2, slots_per_task_manager=1, heartbeat=slow) as cluster:
        env = endless_job(latch)
        env._cluster = cluster
        client = env.execute_async("endless")
        wait_until(lambda: running(cluster) == 2, 30, "both tasks to run")
        lost = cluster.task_executors[1]
        assert cluster.rpc is not None
        cluster.rpc.unregister(lost)
        client.cancel().result(timeout=30)  # before the JobMaster notices the loss

        result = client.get_job_result().result(timeout=30)
        assert result.status is JobStatus.CANCELED
        latch.trigger()
        wait_until(lambda: not lost.tasks, 30, "the lost TaskExecutor to drop the job")
        cluster.rpc.register(lost)


def test_a_job_master_calls_task_executors_under_its_leader_session(
        caplog: pytest.LogCaptureFixture) -> None:
    latch = Latch()
    caplog.set_level(logging.WARNING, logger="strom.taskmanager.task_executor")
    with MiniCluster(num_task_managers=1, slots_per_task_manager=2, heartbeat=FAST) as cluster:
        env = endless_job(latch)
        env._cluster = cluster
        client = env.execute_async("endless")
        wait_until(lambda: running(cluster) == 2, 30, "both tasks to run")
        te, rpc = cluster.task_executors[0], cluster.rpc
        assert rpc is not None
        [job_id] = te.job_master_tokens
        assert te.job_master_tokens[job_id] == STANDALONE_SESSION_ID
        # as if the slots belonged to another leader session: this JobMaster is stale now
        rpc.call_soon(te.job_master_tokens.__setitem__, job_id, "f" * 32)
        wait_until(lambda: "refuses heartbeat_from_job_manager of a JobMaster of job "
                           f"{job_id} of session {STANDALONE_SESSION_ID}" in caplog.text, 30,
                   "the TaskExecutor to refuse the JobMaster's heartbeat")
        latch.trigger()
        client.cancel().result(timeout=30)
