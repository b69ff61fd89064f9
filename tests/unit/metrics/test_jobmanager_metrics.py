"""The JobManager's metrics: the cluster's gauges, each job's "jm_job" group while it runs
(checkpoints, restarts, up/down/restarting time), and Flink's time gauges."""

from __future__ import annotations

import pytest

from strom.common import WatermarkStrategy
from strom.common.job import JobStatus
from strom.datastream import StreamExecutionEnvironment
from strom.jobmanager.job_metrics import downtime_ms, restarting_time_ms, uptime_ms
from strom.metrics.dump import dump_metrics
from strom.minicluster import MiniCluster
from strom.testing import CollectSink, Latch, TestingSource
from strom.testing.sync import wait_until

R, F, RS = JobStatus.RUNNING.value, JobStatus.FAILING.value, JobStatus.RESTARTING.value


def test_uptime() -> None:
    assert uptime_ms(JobStatus.CREATED, {}, 1000) == 0
    assert uptime_ms(JobStatus.RUNNING, {R: 400}, 1000) == 600
    assert uptime_ms(JobStatus.RESTARTING, {R: 400, RS: 900}, 1000) == 0
    assert uptime_ms(JobStatus.FINISHED, {R: 400}, 1000) == -1


def test_downtime() -> None:
    assert downtime_ms(JobStatus.RUNNING, {R: 400}, 1000) == 0
    assert downtime_ms(JobStatus.INITIALIZING, {}, 1000) == 0  # never ran: not down
    assert downtime_ms(JobStatus.RESTARTING, {R: 400, F: 700, RS: 800}, 1000) == 300
    # a second outage counts from its own start, not the first one's
    assert downtime_ms(JobStatus.FAILING, {F: 800, RS: 150, R: 400}, 1000) == 200
    assert downtime_ms(JobStatus.RESTARTING, {R: 400, RS: 900}, 1000) == 100
    assert downtime_ms(JobStatus.CANCELED, {R: 400}, 1000) == -1


def test_restarting_time() -> None:
    assert restarting_time_ms(JobStatus.RUNNING, {R: 400}, 1000) == 0
    assert restarting_time_ms(JobStatus.RESTARTING, {R: 400, RS: 900}, 1000) == 100
    assert restarting_time_ms(JobStatus.RUNNING, {RS: 900, R: 950}, 2000) == 50
    assert restarting_time_ms(JobStatus.FAILED, {R: 400, RS: 900, "FAILED": 960}, 2000) == 60


def _values(cluster: MiniCluster, category: str) -> dict[str, str]:
    assert cluster.metric_registry is not None
    return {d.name: d.value for d in dump_metrics(cluster.metric_registry)
            if d.category == category}


def test_cluster_and_job_groups_in_a_minicluster() -> None:
    with MiniCluster(num_task_managers=2, slots_per_task_manager=2) as cluster:
        jm = _values(cluster, "jm")
        assert jm["numRegisteredTaskManagers"] == "2"
        assert jm["taskSlotsTotal"] == "4" and jm["taskSlotsAvailable"] == "4"
        assert jm["numRunningJobs"] == "0"
        assert "Status.Process.Memory.RSS" in jm
        assert "Status.Process.CPU.Load" in _values(cluster, "tm")

        env = StreamExecutionEnvironment.get_execution_environment()
        env.set_parallelism(1)
        env.enable_checkpointing(100)
        latch = Latch()
        (env.from_source(TestingSource([1, 2, TestingSource.AWAIT(latch), 3]),
                         WatermarkStrategy.no_watermarks(), "numbers")
            .map(lambda x: x * 2).sink_to(CollectSink()))
        client = cluster.submit(env._job_graph("metrics job"))
        try:
            wait_until(lambda: _values(cluster, "jm_job").get("uptime", "0") not in ("0", "-1"),
                       what="the job to run", timeout_s=30, interval_s=0.05)
            wait_until(lambda: int(_values(cluster, "jm_job")
                                   .get("numberOfCompletedCheckpoints", "0")) >= 1,
                       what="a completed checkpoint", timeout_s=30,
                       interval_s=0.05)
            job = _values(cluster, "jm_job")
            assert job["numRestarts"] == "0" and job["downtime"] == "0"
            assert job["restartingTime"] == "0"
            assert int(job["lastCheckpointDuration"]) >= 0
            assert int(job["lastCompletedCheckpointId"]) >= 1
            assert int(job["totalNumberOfCheckpoints"]) >= 1
            assert job["lastCheckpointRestoreTimestamp"] == "-1"
            assert job["lastCheckpointExternalPath"] != ""
            assert _values(cluster, "jm")["numRunningJobs"] == "1"
            assert _values(cluster, "jm")["taskSlotsAvailable"] == "3"
        finally:
            latch.trigger()
        client.get_job_execution_result().result()
        # the job's group is closed when it ends
        wait_until(lambda: not _values(cluster, "jm_job"), what="the job's group to close",
                   timeout_s=30, interval_s=0.05)


def test_restarts_are_counted_and_the_time_gauges_end_at_minus_one() -> None:
    with MiniCluster(num_task_managers=1, slots_per_task_manager=1) as cluster:
        env = StreamExecutionEnvironment.get_execution_environment()
        env.set_parallelism(1)
        for key, value in (("restart-strategy.type", "fixed-delay"),
                           ("restart-strategy.fixed-delay.attempts", "2"),
                           ("restart-strategy.fixed-delay.delay", "10 ms")):
            env._configuration.set_string(key, value)
        (env.from_source(TestingSource([1, TestingSource.FAIL(ValueError("boom"))]),
                         WatermarkStrategy.no_watermarks(), "failing")
            .sink_to(CollectSink()))
        client = cluster.submit(env._job_graph("restarting job"))
        assert cluster.dispatcher is not None
        # the job's gauges stay readable after its group closed
        gauges = cluster.dispatcher.job_metric_groups[client.get_job_id()].metrics
        with pytest.raises(ValueError, match="boom"):
            client.get_job_execution_result().result()
        assert client.get_job_id() not in cluster.dispatcher.job_metric_groups
        values = {name: gauges[name].get_value()  # type: ignore[attr-defined]
                  for name in ("numRestarts", "uptime", "downtime", "restartingTime")}
        assert values["numRestarts"] == 2
        assert values["uptime"] == -1 and values["downtime"] == -1
        assert values["restartingTime"] >= 0
