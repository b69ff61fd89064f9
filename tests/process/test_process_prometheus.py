"""Metrics out of real processes: a JobManager and a TaskManager started as ``strom
jobmanager`` and ``strom taskmanager`` serve Prometheus, and the JobManager's metric fetcher
reads TaskManager processes over TCP."""

from __future__ import annotations

import json
import re
import socket
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from strom.client.job_client import JobExecutionError
from strom.common import WatermarkStrategy
from strom.common.configuration import Configuration
from strom.datastream import StreamExecutionEnvironment
from strom.datastream.connectors import NumberSequenceSource
from strom.minicluster import MiniCluster
from strom.testing import CollectSink, wait_until
from strom.testing.process_cluster import ClusterProcess, ProcessCluster

pytestmark = pytest.mark.slow

_STARTED = r"Started PrometheusReporter HTTP server on 127\.0\.0\.1:(\d+)"


def free_ports(count: int) -> list[int]:
    """``count`` distinct ports free right now on 127.0.0.1 (never Flink's 9249)."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def scrape(port: int) -> dict[str, list[tuple[dict[str, str], float]]]:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read()
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text.decode()):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((sample.labels, sample.value))
    return samples


def counting_job(env: StreamExecutionEnvironment, name: str) -> Any:
    """A slow job whose second task (``Map``, after a rebalance) counts its input in the
    task metrics' ``numRecordsIn``."""

    def slow(x: int) -> int:
        import time

        time.sleep(0.002)
        return x

    env.set_parallelism(1)
    (env.from_source(NumberSequenceSource(0, 10_000_000), WatermarkStrategy.no_watermarks(),
                     "numbers")
        .rebalance().map(slow).name("Map").sink_to(CollectSink()))
    return env._job_graph(name)


def reporter_port(process: ClusterProcess) -> int:
    return int(process.wait_for_log(_STARTED, 60).group(1))


def records_in(samples: dict[str, Any], job_id: str) -> float:
    """The Map task's numRecordsIn in a scrape (0 before it is there)."""
    found = [(labels, value) for labels, value
             in samples.get("flink_taskmanager_job_task_numRecordsIn", [])
             if labels["job_id"] == job_id and labels["task_name"].startswith("Map")]
    if not found:
        return 0.0
    [(labels, value)] = found
    assert labels["subtask_index"] == "0"
    return value


def test_jobmanager_and_taskmanager_processes_serve_prometheus(tmp_path: Path) -> None:
    ports = free_ports(2)
    config = {"metrics.reporters": "prom",
              "metrics.reporter.prom.port": ",".join(map(str, ports))}
    with ProcessCluster(task_managers=1, slots=2, config=config,
                        log_dir=tmp_path / "log") as cluster:
        assert cluster.jobmanager is not None
        jm_port = reporter_port(cluster.jobmanager)
        tm_port = reporter_port(cluster.task_managers[0])
        assert {jm_port, tm_port} == set(ports)

        env = StreamExecutionEnvironment.get_execution_environment()
        client = cluster.submit(counting_job(env, "prometheus job"))
        job_id = str(client.get_job_id())
        try:
            wait_until(lambda: records_in(scrape(tm_port), job_id) > 0, timeout_s=60,
                       interval_s=0.2, what="the Map task to count records")
            first = records_in(scrape(tm_port), job_id)
            wait_until(lambda: records_in(scrape(tm_port), job_id) > first, timeout_s=60,
                       interval_s=0.2, what="numRecordsIn to grow between two scrapes")

            tm = scrape(tm_port)
            [(labels, rss)] = tm["flink_taskmanager_Status_Process_Memory_RSS"]
            assert rss > 0 and labels["tm_id"] == cluster.task_managers[0].extra["resource_id"]

            # the JobManager's REST API reads the TaskManager through its metric fetcher
            rest = re.search(r"REST (http://\S+?)\)", cluster.jobmanager.log())
            assert rest is not None
            tm_id = cluster.task_managers[0].extra["resource_id"]
            answer = json.loads(urllib.request.urlopen(
                f"{rest.group(1)}/taskmanagers/{tm_id}/metrics"
                "?get=Status.Process.Memory.RSS", timeout=30).read())
            assert [m["id"] for m in answer] == ["Status.Process.Memory.RSS"]
            assert int(answer[0]["value"]) > 0

            jm = scrape(jm_port)
            assert jm["flink_jobmanager_numRegisteredTaskManagers"][0][1] == 1
            assert jm["flink_jobmanager_taskSlotsTotal"][0][1] == 2
            assert jm["flink_jobmanager_numRunningJobs"][0][1] == 1
            [(labels, restarts)] = jm["flink_jobmanager_job_numRestarts"]
            assert restarts == 0
            assert labels["job_id"] == job_id and labels["job_name"] == "prometheus_job"
            assert jm["flink_jobmanager_job_uptime"][0][1] >= 0
            assert "flink_jobmanager_Status_Process_CPU_Load" in jm
        finally:
            client.cancel()
        with pytest.raises(JobExecutionError, match="ended CANCELED"):
            client.get_job_execution_result().result()
        # the job's JobManager group closes with the job
        wait_until(lambda: "flink_jobmanager_job_numRestarts" not in scrape(jm_port),
                   timeout_s=30, interval_s=0.2, what="the job's metrics to go")
    # stopped with their processes: nothing listens on the ports any more (connections of
    # the scrapes may linger in TIME_WAIT, which SO_REUSEADDR lets a new listener ignore)
    for port in ports:
        with socket.socket() as again:
            again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            again.bind(("127.0.0.1", port))
            again.listen()


def test_the_fetcher_reads_taskmanager_processes(tmp_path: Path) -> None:
    [port] = free_ports(1)
    configuration = Configuration.from_dict({
        "metrics.fetcher.update-interval": "200 ms", "metrics.reporters": "prom",
        "metrics.reporter.prom.port": str(port)})
    with MiniCluster(num_task_managers=1, slots_per_task_manager=2, taskmanagers="process",
                     configuration=configuration) as cluster:
        # the MiniCluster's process took the port; its TaskManager process logged the clash
        assert cluster.processes is not None
        cluster.processes.processes[0].wait_for_log(
            "Metric reporter prom is not started; metrics are not exposed", 60)
        assert "flink_jobmanager_numRegisteredTaskManagers" in scrape(port)

        env = StreamExecutionEnvironment.get_execution_environment()
        client = cluster.submit(counting_job(env, "fetched job"))
        job_id = str(client.get_job_id())
        fetcher, rpc = cluster.metric_fetcher, cluster.rpc
        assert fetcher is not None and rpc is not None

        def fetched_records() -> int:
            rpc.run_sync(fetcher.update(), timeout=30)
            job = fetcher.store.job(job_id)
            if job is None:
                return 0
            counts = [int(task.metrics["0.numRecordsIn"]) for task in job.tasks.values()
                      if "0.numRecordsIn" in task.metrics]
            return max(counts, default=0)

        try:
            wait_until(lambda: fetched_records() > 0, timeout_s=60, interval_s=0.2,
                       what="the fetcher to bring the Map task's numRecordsIn")
            first = fetched_records()
            wait_until(lambda: fetched_records() > first, timeout_s=60, interval_s=0.25,
                       what="the fetched numRecordsIn to grow")
            [tm_id] = [p.extra["resource_id"] for p in cluster.processes.processes]
            tm = fetcher.store.taskmanagers[tm_id].metrics
            assert int(tm["Status.Process.Memory.RSS"]) > 0
            assert fetcher.store.jobs[job_id].metrics["numRestarts"] == "0"
            assert re.fullmatch(r"\d+", fetcher.store.jobmanager.metrics["numRunningJobs"])
        finally:
            client.cancel()
        with pytest.raises(JobExecutionError, match="ended CANCELED"):
            client.get_job_execution_result().result()
