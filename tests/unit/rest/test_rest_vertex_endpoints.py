"""The job and vertex endpoints against a MiniCluster running a job: where subtasks run and
since when, plan, config, I/O metrics, watermarks, metric queries and back pressure from the
task metrics, and precise errors."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from test_rest_cluster_endpoints import StoreFetcher, get

from strom.client.rest_cluster_client import RestClusterClient
from strom.common import Configuration, WatermarkStrategy
from strom.common.job import JobStatus
from strom.datastream import MapFunction, RuntimeContext, StreamExecutionEnvironment
from strom.jobmanager.cluster_info import SubtaskDetails, VertexDetails
from strom.jobmanager.rest.metric_handlers import backpressure_level
from strom.jobmanager.rest.vertex_handlers import back_pressure_info
from strom.metrics.dump import MetricDump
from strom.minicluster import MiniCluster
from strom.testing import CollectSink, Latch, TestingSource
from strom.testing.sync import wait_until


@pytest.fixture
def cluster() -> Iterator[MiniCluster]:
    with MiniCluster(num_task_managers=1, slots_per_task_manager=2, rest_port=0) as c:
        yield c
        wait_until(lambda: c.leftovers() == [], what="the cluster to be idle")


@pytest.fixture
def fetcher(cluster: MiniCluster) -> StoreFetcher:
    fetcher = StoreFetcher()
    assert cluster.rest_server is not None
    cluster.rest_server.context.metric_fetcher = fetcher
    return fetcher


class RunningJob:
    def __init__(self, cluster: MiniCluster) -> None:
        self.latch = Latch()
        env = StreamExecutionEnvironment.get_execution_environment()
        env.set_parallelism(2)
        env.get_config().set_global_job_parameters({"mode": "test"})
        env.from_source(TestingSource([1, TestingSource.AWAIT(self.latch), 2]),
                        WatermarkStrategy.no_watermarks(), "numbers") \
            .map(lambda x: x).rebalance().map(lambda x: x, ).name("second").sink_to(
                CollectSink())
        self.job = RestClusterClient(cluster.rest_url).submit(env._job_graph("two vertices"))
        self.jid = str(self.job.get_job_id())

        def all_running() -> bool:
            _, details = get(cluster, f"/jobs/{self.jid}")
            return all(v["status"] == "RUNNING" for v in details["vertices"])

        wait_until(all_running, what="every subtask to run")
        _, details = get(cluster, f"/jobs/{self.jid}")
        self.vertices = [v["id"] for v in details["vertices"]]

    def end(self) -> None:
        self.latch.trigger()
        self.job.get_job_execution_result().result(timeout=30)


@pytest.fixture
def running(cluster: MiniCluster) -> Iterator[RunningJob]:
    job = RunningJob(cluster)
    yield job
    job.end()


def test_job_status_plan_config_and_accumulators(cluster: MiniCluster,
                                                 running: RunningJob) -> None:
    jid = running.jid
    assert get(cluster, f"/jobs/{jid}/status") == (200, {"status": "RUNNING"})
    _, plan = get(cluster, f"/jobs/{jid}/plan")
    nodes = plan["plan"]["nodes"]
    assert (plan["plan"]["jid"], plan["plan"]["name"]) == (jid, "two vertices")
    assert [n["id"] for n in nodes] == running.vertices
    assert nodes[0]["inputs"] == [] and nodes[0]["parallelism"] == 2
    [edge] = nodes[1]["inputs"]
    assert (edge["id"], edge["ship_strategy"], edge["num"]) == (nodes[0]["id"], "REBALANCE", 0)
    assert "numbers" in nodes[0]["description"]
    _, details = get(cluster, f"/jobs/{jid}")
    assert details["plan"] == plan["plan"]
    assert details["status-counts"]["RUNNING"] == 2

    _, config = get(cluster, f"/jobs/{jid}/config")
    assert (config["jid"], config["name"]) == (jid, "two vertices")
    execution = config["execution-config"]
    assert execution["user-config"] == {"mode": "test"}
    assert execution["job-parallelism"] == 2 and execution["object-reuse-mode"] is False
    assert "restart-strategy" in execution
    assert get(cluster, f"/jobs/{jid}/accumulators") == (200, {
        "job-accumulators": [], "user-task-accumulators": [],
        "serialized-user-task-accumulators": {}})


def test_vertex_subtasks_show_where_and_since_when_they_run(cluster: MiniCluster,
                                                            running: RunningJob) -> None:
    jid, vid = running.jid, running.vertices[1]
    tm_id = str(cluster.task_executors[0].resource_id)
    status, vertex = get(cluster, f"/jobs/{jid}/vertices/{vid}")
    assert status == 200
    assert (vertex["id"], vertex["parallelism"], vertex["maxParallelism"]) == (vid, 2, 128)
    assert [s["subtask"] for s in vertex["subtasks"]] == [0, 1]
    for s in vertex["subtasks"]:
        assert (s["status"], s["attempt"], s["taskmanager-id"]) == ("RUNNING", 0, tm_id)
        assert s["host"] == "localhost" and s["endpoint"] == "localhost"
        assert s["start-time"] > 0 and s["end-time"] == -1 and s["duration"] >= 0
        assert s["status-duration"]["RUNNING"] >= 0
        assert set(s["metrics"]) >= {"read-records", "write-records-complete",
                                     "accumulated-busy-time"}

    _, times = get(cluster, f"/jobs/{jid}/vertices/{vid}/subtasktimes")
    assert (times["id"], times["name"]) == (vid, vertex["name"])
    for s in times["subtasks"]:
        stamps = s["timestamps"]
        assert stamps["CREATED"] <= stamps["DEPLOYING"] <= stamps["RUNNING"] <= times["now"]

    _, by_tm = get(cluster, f"/jobs/{jid}/vertices/{vid}/taskmanagers")
    [entry] = by_tm["taskmanagers"]
    assert entry["taskmanager-id"] == tm_id and entry["status"] == "RUNNING"
    assert entry["status-counts"] == {"RUNNING": 2}

    _, one = get(cluster, f"/jobs/{jid}/vertices/{vid}/subtasks/1")
    assert (one["subtask"], one["taskmanager-id"]) == (1, tm_id)
    _, attempt = get(cluster, f"/jobs/{jid}/vertices/{vid}/subtasks/1/attempts/0")
    assert attempt["subtask"] == 1 and attempt["attempt"] == 0
    _, accumulators = get(cluster, f"/jobs/{jid}/vertices/{vid}/subtasks/accumulators")
    assert (accumulators["parallelism"], len(accumulators["subtasks"])) == (2, 2)
    assert get(cluster, f"/jobs/{jid}/vertices/{vid}/accumulators")[1] == {
        "id": vid, "user-accumulators": []}


def _task_metrics(store: Any, jid: str, vid: str, subtask: int, **values: float) -> None:
    for name, value in values.items():
        store.add(MetricDump("task", name, str(value), job_id=jid, vertex_id=vid,
                             subtask_index=subtask))


def test_vertex_metrics_watermarks_and_back_pressure_from_the_task_metrics(
        cluster: MiniCluster, running: RunningJob, fetcher: StoreFetcher) -> None:
    jid, vid = running.jid, running.vertices[1]
    base = f"/jobs/{jid}/vertices/{vid}"
    # before any task reported metrics
    assert get(cluster, base + "/backpressure") == (200, {"status": "deprecated"})
    assert get(cluster, base + "/watermarks") == (200, [])
    _, details = get(cluster, f"/jobs/{jid}")
    assert details["vertices"][1]["metrics"]["read-records-complete"] is False

    store = fetcher.store
    _task_metrics(store, jid, vid, 0, numRecordsIn=10, numRecordsOut=9, numBytesIn=100,
                  accumulatedBusyTime=5.5, accumulatedIdleTime=7,
                  accumulatedBackpressuredTime=3, backPressuredTimeMsPerSecond=50,
                  idleTimeMsPerSecond=900, busyTimeMsPerSecond=50, currentInputWatermark=1000)
    _task_metrics(store, jid, vid, 1, numRecordsIn=30, numRecordsOut=30,
                  accumulatedBusyTime=1.0, backPressuredTimeMsPerSecond=700,
                  idleTimeMsPerSecond=100, busyTimeMsPerSecond=200, currentInputWatermark=900)
    store.add(MetricDump("operator", "numRecordsIn", "30", job_id=jid, vertex_id=vid,
                         subtask_index=1, operator_name="second"))

    _, details = get(cluster, f"/jobs/{jid}")
    metrics = details["vertices"][1]["metrics"]
    assert metrics == {
        "read-bytes": 100, "read-bytes-complete": False, "write-bytes": 0,
        "write-bytes-complete": False, "read-records": 40, "read-records-complete": True,
        "write-records": 39, "write-records-complete": True,
        "accumulated-backpressured-time": 3, "accumulated-idle-time": 7,
        "accumulated-busy-time": 6.5}
    _, vertex = get(cluster, base)
    assert [s["metrics"]["read-records"] for s in vertex["subtasks"]] == [10, 30]

    assert get(cluster, base + "/watermarks")[1] == [
        {"id": "0.currentInputWatermark", "value": "1000"},
        {"id": "1.currentInputWatermark", "value": "900"}]
    _, available = get(cluster, base + "/metrics")
    assert {"id": "1.second.numRecordsIn"} in available and {"id": "0.numRecordsIn"} in available
    assert get(cluster, base + "/metrics?get=1.numRecordsIn,nope")[1] == [
        {"id": "1.numRecordsIn", "value": "30"}]
    assert get(cluster, base + "/subtasks/1/metrics?get=second.numRecordsIn")[1] == [
        {"id": "second.numRecordsIn", "value": "30"}]
    _, aggregated = get(cluster, base + "/subtasks/metrics?get=numRecordsIn&agg=min,max,sum")
    assert aggregated == [{"id": "numRecordsIn", "min": 10.0, "max": 30.0, "sum": 40.0}]
    _, aggregated = get(cluster, base + "/subtasks/metrics?get=numRecordsIn&subtasks=1-1")
    assert aggregated[0]["avg"] == 30.0 and aggregated[0]["skew"] == 0.0

    status, back_pressure = get(cluster, base + "/backpressure")
    assert status == 200
    assert back_pressure["status"] == "ok" and back_pressure["backpressureLevel"] == "high"
    assert back_pressure["end-timestamp"] > 0
    assert back_pressure["subtasks"] == [
        {"subtask": 0, "attempt-number": 0, "backpressureLevel": "ok", "ratio": 0.05,
         "idleRatio": 0.9, "busyRatio": 0.05},
        {"subtask": 1, "attempt-number": 0, "backpressureLevel": "high", "ratio": 0.7,
         "idleRatio": 0.1, "busyRatio": 0.2}]


@pytest.mark.parametrize(("ratio", "level"), [
    (0.0, "ok"), (0.10, "ok"), (0.11, "low"), (0.5, "low"), (0.51, "high"), (1.0, "high")])
def test_back_pressure_levels_are_flinks(ratio: float, level: str) -> None:
    assert backpressure_level(ratio) == level


def test_back_pressure_leaves_out_subtasks_without_metrics_and_takes_the_worst() -> None:
    vertex = VertexDetails("v" * 32, "v", 3, 128, "RUNNING", {"RUNNING": 3}, 0, -1,
                           [SubtaskDetails(i, "RUNNING", 1) for i in range(3)])
    info = back_pressure_info(vertex, [
        {"backPressuredTimeMsPerSecond": "200", "busyTimeMsPerSecond": "NaN"},
        None,
        {"backPressuredTimeMsPerSecond": "0"}])
    assert info.backpressure_level == "low"
    assert [(s.subtask, s.attempt_number, s.backpressure_level, s.busy_ratio)
            for s in info.subtasks or []] == [(0, 1, "low", 0.0), (2, 1, "ok", 0.0)]


def test_bad_job_and_vertex_requests_get_precise_errors(cluster: MiniCluster,
                                                        running: RunningJob) -> None:
    jid, vid = running.jid, running.vertices[0]
    unknown = "0" * 32
    cases = [
        (f"/jobs/{unknown}/status", 404, "No job with id"),
        (f"/jobs/{unknown}/plan", 404, "No job with id"),
        ("/jobs/nope/config", 400, "A JobID is 32 hexadecimal digits"),
        (f"/jobs/{jid}/vertices/{unknown}", 404, f"has no vertex {unknown}"),
        (f"/jobs/{jid}/vertices/xyz/backpressure", 400, "Bad vertex id"),
        (f"/jobs/{unknown}/vertices/{vid}/watermarks", 404, "No job with id"),
        (f"/jobs/{jid}/vertices/{vid}/subtasks/2", 404, "has no subtask 2"),
        (f"/jobs/{jid}/vertices/{vid}/subtasks/-1", 400, "Bad subtask index"),
        (f"/jobs/{jid}/vertices/{vid}/subtasks/0/attempts/1", 404,
         "has no attempt 1; its attempts: 0"),
        (f"/jobs/{jid}/vertices/{vid}/subtasks/0/attempts/x", 400, "Bad attempt number"),
        (f"/jobs/{jid}/vertices/{vid}/subtasks/metrics?subtasks=3-1", 400, "Bad subtasks"),
        (f"/jobs/{jid}/vertices/{vid}/subtasks/metrics?get=a&agg=p99", 400, "Bad agg"),
        (f"/jobs/{jid}/accumulators?includeSerializedValue=maybe", 400,
         "Bad includeSerializedValue"),
    ]
    for path, status, message in cases:
        got, body = get(cluster, path)
        assert got == status and message in body["errors"][0], (path, body)
    got, body = get(cluster, f"/jobs/{jid}/rescaling?parallelism=4", method="PATCH")
    assert got == 400 and "strom stop" in body["errors"][0] and "-p N" in body["errors"][0]
    assert running.job.get_job_status().result(timeout=10) is JobStatus.RUNNING


def test_job_metrics_add_the_jobmanagers_job_metrics_to_the_checkpoint_metrics(
        cluster: MiniCluster, running: RunningJob, fetcher: StoreFetcher) -> None:
    jid = running.jid
    fetcher.store.add(MetricDump("jm_job", "numRestarts", "2", job_id=jid))
    # the statistics win for the checkpoint metrics
    fetcher.store.add(MetricDump("jm_job", "numberOfCompletedCheckpoints", "99", job_id=jid))
    _, available = get(cluster, f"/jobs/{jid}/metrics")
    ids = [m["id"] for m in available]
    assert ids[0] == "lastCheckpointDuration" and ids[-1] == "numRestarts"
    assert get(cluster, f"/jobs/{jid}/metrics?get=")[1] == available
    _, values = get(cluster, f"/jobs/{jid}/metrics?get=numRestarts,numberOfCompletedCheckpoints")
    assert values == [{"id": "numRestarts", "value": "2"},
                      {"id": "numberOfCompletedCheckpoints", "value": "0"}]


def test_vertex_times_in_job_details_span_its_subtasks(cluster: MiniCluster) -> None:
    job = RunningJob(cluster)
    _, details = get(cluster, f"/jobs/{job.jid}")
    for v in details["vertices"]:
        # running: started when its first subtask deployed, no end yet
        assert v["start-time"] >= details["start-time"] and v["end-time"] == -1
        assert v["duration"] >= 0
    job.end()
    _, details = get(cluster, f"/jobs/{job.jid}")
    for v in details["vertices"]:
        assert details["end-time"] >= v["end-time"] >= v["start-time"] > 0
        assert v["duration"] == v["end-time"] - v["start-time"]


class _FailsFirst(MapFunction):
    def open(self, runtime_context: RuntimeContext) -> None:
        if runtime_context.get_attempt_number() == 0:
            raise ValueError("the first attempt fails")

    def map(self, value: Any) -> Any:
        return value


def test_a_restarted_subtask_keeps_its_earlier_attempt(cluster: MiniCluster) -> None:
    latch = Latch()
    env = StreamExecutionEnvironment.get_execution_environment(Configuration.from_dict({
        "restart-strategy.type": "fixed-delay", "restart-strategy.fixed-delay.attempts": "2",
        "restart-strategy.fixed-delay.delay": "0 ms"}))
    env.set_parallelism(1)
    env.from_source(TestingSource([1, TestingSource.AWAIT(latch), 2]),
                    WatermarkStrategy.no_watermarks(), "numbers").map(_FailsFirst()) \
        .sink_to(CollectSink())
    job = RestClusterClient(cluster.rest_url).submit(env._job_graph("restarts once"))
    jid = str(job.get_job_id())
    try:
        def restarted_and_running() -> bool:
            _, vertex = get(cluster, f"/jobs/{jid}/vertices/{vid}")
            return vertex["subtasks"][0]["attempt"] == 1 and \
                vertex["subtasks"][0]["status"] == "RUNNING"

        _, details = get(cluster, f"/jobs/{jid}")
        vid = details["vertices"][0]["id"]
        wait_until(restarted_and_running, what="the restarted attempt to run")
        base = f"/jobs/{jid}/vertices/{vid}/subtasks/0"
        _, first = get(cluster, base + "/attempts/0")
        assert (first["attempt"], first["status"]) == (0, "FAILED")
        assert first["end-time"] >= first["start-time"] > 0
        _, current = get(cluster, base + "/attempts/1")
        assert (current["attempt"], current["status"]) == (1, "RUNNING")
        assert current["start-time"] >= first["end-time"]
        status, body = get(cluster, base + "/attempts/2")
        assert status == 404 and "its attempts: 0, 1" in body["errors"][0]
    finally:
        latch.trigger()
    job.get_job_execution_result().result(timeout=30)
