"""The cluster, JobManager and TaskManager endpoints against a MiniCluster serving REST on a
free port: Flink's shapes, the JobManager's and TaskManagers' logs and thread dumps, TM
details with slots, metric queries, and precise errors."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_rest_api import job_graph

from strom.client.rest_cluster_client import RestClusterClient
from strom.common.config_options import ConfigError, validate
from strom.common.configuration import Configuration
from strom.common.job import JobStatus
from strom.jobmanager.metrics.store import MetricStore
from strom.metrics.dump import MetricDump
from strom.minicluster import MiniCluster
from strom.testing import Latch, TestingSource
from strom.testing.sync import wait_until


class StoreFetcher:
    """A metric fetcher whose store the test fills (the real one fetches from the
    TaskManagers); counts its updates."""

    def __init__(self) -> None:
        self.store = MetricStore()
        self.updates = 0

    async def update(self) -> None:
        self.updates += 1


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


def request(cluster: MiniCluster, method: str, path: str) -> tuple[int, str, bytes]:
    req = urllib.request.Request(cluster.rest_url + path, method=method)
    try:
        with urllib.request.urlopen(req, timeout=30) as answer:
            return answer.status, answer.headers.get_content_type(), answer.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get_content_type(), e.read()


def get(cluster: MiniCluster, path: str, method: str = "GET") -> tuple[int, Any]:
    status, content_type, body = request(cluster, method, path)
    assert content_type == "application/json", (path, content_type, body[:200])
    return status, json.loads(body)


def test_dashboard_config_in_flinks_shape(cluster: MiniCluster) -> None:
    status, config = get(cluster, "/config")
    assert status == 200
    assert set(config) == {"refresh-interval", "timezone-name", "timezone-offset",
                           "flink-version", "flink-revision", "features"}
    assert config["refresh-interval"] == 3000
    assert config["features"] == {"web-submit": True, "web-cancel": True,
                                  "web-rescale": False, "web-history": False}
    from strom import __version__
    assert config["flink-version"] == __version__

    assert cluster.rest_server is not None
    configuration = cluster.rest_server.context.configuration
    configuration.set_string("web.refresh-interval", "1500")
    configuration.set_string("web.cancel.enable", "false")
    configuration.set_string("security.rest.token", "s3cret")
    _, config = get(cluster, "/v1/config")
    assert config["refresh-interval"] == 1500 and config["features"]["web-cancel"] is False
    status, entries = get(cluster, "/jobmanager/config")
    assert status == 200
    by_key = {e["key"]: e["value"] for e in entries}
    assert by_key["web.refresh-interval"] == "1500"
    # secrets are not shown
    assert by_key["security.rest.token"] == "******"


def test_jobmanager_environment_and_thread_dump(cluster: MiniCluster) -> None:
    status, environment = get(cluster, "/jobmanager/environment")
    assert status == 200 and environment["jvm"]["version"].startswith(("CPython", "PyPy"))
    assert isinstance(environment["classpath"], list)
    status, dump = get(cluster, "/jobmanager/thread-dump")
    assert status == 200
    names = {t["threadName"] for t in dump["threadInfos"]}
    assert "MainThread" in names and any(n.startswith("strom-slot") for n in names)
    main = next(t for t in dump["threadInfos"] if t["threadName"] == "MainThread")
    # the stack shows where the thread is: this test waits in urlopen
    assert "urlopen" in main["stringifiedThreadInfo"]


def test_jobmanager_logs_of_a_process_with_a_log_file(cluster: MiniCluster,
                                                      tmp_path: Path) -> None:
    # a MiniCluster writes no log file of its own
    status, body = get(cluster, "/jobmanager/log")
    assert status == 404 and "writes no log file" in body["errors"][0]
    assert get(cluster, "/jobmanager/logs")[0] == 404

    log_file = tmp_path / "jobmanager.log"
    log_file.write_text("first line\nJobManager ready\n")
    (tmp_path / "taskmanager-0.log").write_text("tm\n")
    (tmp_path / "jobmanager.pid").write_text("1\n")
    assert cluster.rest_server is not None
    cluster.rest_server.context.log_file = log_file

    status, logs = get(cluster, "/jobmanager/logs")
    assert status == 200
    assert [(f["name"], f["size"]) for f in logs["logs"]] == [
        ("jobmanager.log", log_file.stat().st_size), ("taskmanager-0.log", 3)]
    assert all(f["mtime"] > 0 for f in logs["logs"])
    for path in ("/jobmanager/log", "/jobmanager/stdout", "/jobmanager/logs/jobmanager.log"):
        status, content_type, body = request(cluster, "GET", path)
        assert (status, content_type) == (200, "text/plain")
        assert body.decode() == "first line\nJobManager ready\n"
    assert request(cluster, "GET", "/jobmanager/logs/taskmanager-0.log")[2] == b"tm\n"
    # only the files of the list: no pid files, nothing outside the directory
    for name in ("jobmanager.pid", "nothing.log", "..%2Fjobmanager.log"):
        status, body = get(cluster, f"/jobmanager/logs/{name}")
        assert status == 404 and "no log file" in body["errors"][0], name


def test_delete_cluster_is_refused_by_a_minicluster(cluster: MiniCluster) -> None:
    status, body = get(cluster, "/cluster", method="DELETE")
    assert status == 409 and "MiniCluster" in body["errors"][0]
    # still serving
    assert get(cluster, "/overview")[0] == 200


def test_task_managers_list_details_and_thread_dump(cluster: MiniCluster,
                                                    fetcher: StoreFetcher) -> None:
    latch = Latch()
    client = RestClusterClient(cluster.rest_url)
    job = client.submit(job_graph([1, TestingSource.AWAIT(latch), 2], name="holds a slot"))
    wait_until(lambda: job.get_job_status().result(timeout=10) is JobStatus.RUNNING,
               what="the job to run")
    try:
        status, listed = get(cluster, "/taskmanagers")
        assert status == 200
        [tm] = listed["taskmanagers"]
        tm_id = tm["id"]
        assert tm_id == str(cluster.task_executors[0].resource_id)
        # in-process channels: no data port, as a MiniCluster's TaskManagers
        assert tm["dataPort"] == -1 and tm["jmxPort"] == -1
        assert tm["hardware"]["cpuCores"] >= 1 and tm["hardware"]["physicalMemory"] > 0
        # Flink's field holds the last heartbeat's time (epoch ms), not a duration
        assert abs(tm["timeSinceLastHeartbeat"] - time.time() * 1000) < 60_000
        assert {"totalResource", "freeResource", "memoryConfiguration", "blocked"} <= set(tm)

        fetcher.store.add(MetricDump("tm", "Status.Process.Memory.RSS", "1000", tm_id))
        fetcher.store.add(MetricDump("tm", "Status.Python.GC.Count", "7", tm_id))
        status, details = get(cluster, f"/taskmanagers/{tm_id}")
        assert status == 200 and details["id"] == tm_id
        assert details["slotsNumber"] == 2 and details["freeSlots"] == 1
        assert [(s["index"], s["jobId"]) for s in details["allocatedSlots"]] == [
            (0, str(job.get_job_id()))]
        assert details["metrics"]["heapUsed"] == 1000
        assert details["metrics"]["garbageCollectors"] == [
            {"name": "python", "count": 7, "time": 0}]

        _, metrics = get(cluster, f"/taskmanagers/{tm_id}/metrics")
        assert metrics == [{"id": "Status.Process.Memory.RSS"}, {"id": "Status.Python.GC.Count"}]
        _, metrics = get(cluster, f"/taskmanagers/{tm_id}/metrics?get=Status.Python.GC.Count,x")
        assert metrics == [{"id": "Status.Python.GC.Count", "value": "7"}]
        _, aggregated = get(cluster, "/taskmanagers/metrics?get=Status.Python.GC.Count"
                                     f"&agg=max,sum&taskmanagers={tm_id}")
        assert aggregated == [{"id": "Status.Python.GC.Count", "max": 7.0, "sum": 7.0}]

        status, dump = get(cluster, f"/taskmanagers/{tm_id}/thread-dump")
        assert status == 200
        assert any(t["threadName"].startswith("strom-slot") for t in dump["threadInfos"])
    finally:
        latch.trigger()
    job.get_job_execution_result().result(timeout=30)


def test_task_manager_logs(cluster: MiniCluster, tmp_path: Path) -> None:
    tm_id = str(cluster.task_executors[0].resource_id)
    status, body = get(cluster, f"/taskmanagers/{tm_id}/log")
    assert status == 404 and "TaskManager writes no log file" in body["errors"][0]
    log_file = tmp_path / "taskmanager-0.log"
    log_file.write_text("TaskManager ready\n" + "x" * 100)
    cluster.task_executors[0].log_file = log_file
    _, logs = get(cluster, f"/taskmanagers/{tm_id}/logs")
    assert [f["name"] for f in logs["logs"]] == ["taskmanager-0.log"]
    for path in ("log", "stdout", "logs/taskmanager-0.log"):
        status, content_type, text = request(cluster, "GET", f"/taskmanagers/{tm_id}/{path}")
        assert (status, content_type) == (200, "text/plain")
        assert text.decode().startswith("TaskManager ready")
    assert get(cluster, f"/taskmanagers/{tm_id}/logs/other.log")[0] == 404


@pytest.mark.parametrize(("path", "status", "message"), [
    ("/taskmanagers/" + "0" * 32, 404, "No TaskManager with id 000"),
    ("/taskmanagers/" + "0" * 32 + "/thread-dump", 404, "No TaskManager with id"),
    ("/taskmanagers/" + "0" * 32 + "/logs", 404, "No TaskManager with id"),
    ("/taskmanagers/" + "0" * 32 + "/metrics", 404, "No TaskManager with id"),
    ("/taskmanagers/xyz", 400, "Bad TaskManager id"),
    ("/taskmanagers/xyz/log", 400, "Bad TaskManager id"),
    ("/taskmanagers/metrics?get=a&agg=median", 400, "Bad agg 'median'"),
    ("/jobs/metrics?get=a&agg=", 400, "Bad agg ''"),
    ("/jobs/metrics?jobs=nope", 400, "A JobID is 32 hexadecimal digits"),
])
def test_bad_cluster_requests_get_precise_errors(cluster: MiniCluster, path: str, status: int,
                                                 message: str) -> None:
    got, body = get(cluster, path)
    assert got == status and message in body["errors"][0], body


def test_jobmanager_and_jobs_metrics(cluster: MiniCluster, fetcher: StoreFetcher) -> None:
    assert get(cluster, "/jobmanager/metrics") == (200, [])
    store = fetcher.store
    store.add(MetricDump("jm", "numRegisteredTaskManagers", "1"))
    store.add(MetricDump("jm", "taskSlotsTotal", "2"))
    assert get(cluster, "/jobmanager/metrics")[1] == [
        {"id": "numRegisteredTaskManagers"}, {"id": "taskSlotsTotal"}]
    assert get(cluster, "/jobmanager/metrics?get=taskSlotsTotal,unknown")[1] == [
        {"id": "taskSlotsTotal", "value": "2"}]
    a, b = "a" * 32, "b" * 32
    store.add(MetricDump("jm_job", "numRestarts", "1", job_id=a))
    store.add(MetricDump("jm_job", "numRestarts", "3", job_id=b))
    store.add(MetricDump("jm_job", "lastCheckpointExternalPath", "file:/x", job_id=b))
    assert get(cluster, "/jobs/metrics")[1] == [{"id": "lastCheckpointExternalPath"},
                                               {"id": "numRestarts"}]
    _, aggregated = get(cluster, "/jobs/metrics?get=numRestarts,lastCheckpointExternalPath")
    # a value that is no number is left out of the aggregation
    assert aggregated == [{"id": "numRestarts", "min": 1.0, "max": 3.0, "avg": 2.0,
                           "sum": 4.0, "skew": 50.0}]
    _, aggregated = get(cluster, f"/jobs/metrics?get=numRestarts&agg=sum&jobs={a}")
    assert aggregated == [{"id": "numRestarts", "sum": 1.0}]
    assert fetcher.updates >= 5


def test_a_malformed_web_setting_is_refused_with_the_key_and_what_it_takes(
        cluster: MiniCluster) -> None:
    assert cluster.rest_server is not None
    configuration = cluster.rest_server.context.configuration
    with pytest.raises(ConfigError, match=r"'web.refresh-interval': got 'soon'; expected a "
                                          "duration"):
        configuration.set_string("web.refresh-interval", "soon")
    with pytest.raises(ConfigError, match=r"'web.submit.enable': got 'maybe'"):
        configuration.set_string("web.submit.enable", "maybe")
    with pytest.raises(ConfigError, match=r"web\.refresh-interval"):
        validate(Configuration.from_dict({"web.refresh-interval": "soon"}))
    status, config = get(cluster, "/config")
    assert status == 200 and config["refresh-interval"] == 3000
    assert config["features"]["web-submit"] is True
    configuration.set_string("web.refresh-interval", "2 s")  # Flink 2.x's duration form
    assert get(cluster, "/config")[1]["refresh-interval"] == 2000
