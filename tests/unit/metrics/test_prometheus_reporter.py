"""The Prometheus reporter: Flink's names and labels, read at scrape time, a port range,
and a bad or occupied port logged instead of failing the process."""

from __future__ import annotations

import logging
import socket
import threading
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from strom.common.configuration import Configuration
from strom.metrics.prometheus import (
    FLINK_FACTORY_CLASS,
    PrometheusReporter,
    parse_ports,
    prometheus_name,
    start_reporters,
)
from strom.metrics.registry import (
    MetricRegistry,
    add_job_group,
    add_operator_group,
    add_task_group,
)
from strom.minicluster import MiniCluster
from strom.testing.sync import wait_until


def _scrape(url: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    text = urllib.request.urlopen(url, timeout=10).read().decode()
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((sample.labels, sample.value))
    return samples


def _task_group(registry: MetricRegistry):
    tm = registry.taskmanager_group("worker-1.example", "tm-1")
    job = add_job_group(tm, "0123abcd", "word count")
    return add_task_group(job, "vertex-1", "Source: words -> Map", 1, 0, "attempt-1")


@pytest.fixture
def registry():
    registry = MetricRegistry()
    yield registry
    registry.close()


def test_names_and_labels_are_flinks(registry: MetricRegistry) -> None:
    task = _task_group(registry)
    records = task.counter("numRecordsIn")
    reporter = PrometheusReporter(registry, ports="0").start()
    registry.add_reporter(reporter)

    records.inc(3)
    samples = _scrape(reporter.url)
    [(labels, value)] = samples["flink_taskmanager_job_task_numRecordsIn"]
    assert value == 3
    # Flink's variables without the brackets; values with every character but
    # [a-zA-Z0-9:_] replaced by '_'
    assert labels == {"host": "worker_1_example", "tm_id": "tm_1",
                      "job_id": "0123abcd", "job_name": "word_count", "task_id": "vertex_1",
                      "task_name": "Source:_words____Map", "subtask_index": "1",
                      "task_attempt_num": "0", "task_attempt_id": "attempt_1"}

    # read at scrape time: the next scrape sees the counter move
    records.inc(4)
    assert _scrape(reporter.url)["flink_taskmanager_job_task_numRecordsIn"][0][1] == 7


def test_label_values_unfiltered_when_configured(registry: MetricRegistry) -> None:
    _task_group(registry).counter("numRecordsOut")
    configuration = Configuration.from_dict({
        "metrics.reporters": "prom", "metrics.reporter.prom.port": "0",
        "metrics.reporter.prom.filterLabelValueCharacters": "false"})
    [reporter] = start_reporters(configuration, registry)
    [(labels, _)] = _scrape(reporter.url)["flink_taskmanager_job_task_numRecordsOut"]
    assert labels["task_name"] == "Source: words -> Map"


def test_meter_gauge_distribution_and_user_groups(registry: MetricRegistry) -> None:
    task = _task_group(registry)
    operator = add_operator_group(task, "op-1", "Map")
    operator.gauge("flag", lambda: True)
    operator.gauge("path", lambda: "/tmp/x")  # not a number: 0, as Flink's reporter
    operator.add_group("my-group").add_group("colour", "red").counter("hits").inc(2)
    latency = operator.distribution("latency")
    for value in (4, 9, 2):
        latency.update(value)

    def broken() -> int:
        raise RuntimeError("a user's gauge that fails")

    operator.gauge("broken", broken)
    reporter = PrometheusReporter(registry, ports="0").start()
    registry.add_reporter(reporter)
    samples = _scrape(reporter.url)

    assert samples["flink_taskmanager_job_task_operator_flag"][0][1] == 1
    assert samples["flink_taskmanager_job_task_operator_path"][0][1] == 0
    assert "flink_taskmanager_job_task_operator_broken" not in samples
    [(labels, hits)] = samples["flink_taskmanager_job_task_operator_my_group_colour_hits"]
    assert hits == 2 and labels["colour"] == "red" and labels["operator_name"] == "Map"
    assert samples["flink_taskmanager_job_task_operator_latency_count"][0][1] == 3
    assert samples["flink_taskmanager_job_task_operator_latency_sum"][0][1] == 15
    quantiles = {labels["quantile"]: value
                 for labels, value in samples["flink_taskmanager_job_task_operator_latency"]}
    assert quantiles == {"0.0": 2, "1.0": 9}


def test_meter_reports_its_rate_refreshed_at_scrape(registry: MetricRegistry) -> None:
    now = [100.0]
    clocked = MetricRegistry(clock=lambda: now[0])
    try:
        from strom.metrics.metric_types import Counter, Meter

        counter = Counter()
        meter = Meter(60, counter=counter, clock=lambda: now[0])
        group = clocked.taskmanager_group("h", "tm")
        group.meter("numRecordsInPerSecond", meter=meter)
        reporter = PrometheusReporter(clocked, ports="0").start()
        clocked.add_reporter(reporter)
        counter.inc(50)
        now[0] += 10
        [(_, rate)] = _scrape(reporter.url)["flink_taskmanager_numRecordsInPerSecond"]
        assert rate == pytest.approx(5.0)
    finally:
        clocked.close()


def test_removed_metrics_leave_the_exposition(registry: MetricRegistry) -> None:
    task = _task_group(registry)
    task.counter("numRecordsIn")
    reporter = PrometheusReporter(registry, ports="0").start()
    registry.add_reporter(reporter)
    assert "flink_taskmanager_job_task_numRecordsIn" in _scrape(reporter.url)
    task.close()
    assert "flink_taskmanager_job_task_numRecordsIn" not in _scrape(reporter.url)


def test_duplicate_label_names_drop_only_that_metric(registry: MetricRegistry,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    group = registry.taskmanager_group("h", "tm")
    group.counter("kept").inc()
    # "<a.b>" and "<a_b>" both become the label a_b: Prometheus would refuse the scrape
    group.add_group("a.b", "1").add_group("a_b", "2").counter("clash")
    reporter = PrometheusReporter(registry, ports="0").start()
    registry.add_reporter(reporter)
    with caplog.at_level(logging.WARNING, logger="strom.metrics.prometheus"):
        samples = _scrape(reporter.url)
    assert samples["flink_taskmanager_kept"][0][1] == 1
    assert not [name for name in samples if name.endswith("clash")]
    assert "map to the Prometheus label a_b" in caplog.text


def test_prometheus_name() -> None:
    registry = MetricRegistry()
    group = registry.jobmanager_group("h").add_group("Status").add_group("Process")
    assert prometheus_name(group, "CPU.Load") == "flink_jobmanager_Status_Process_CPU_Load"


def test_parse_ports() -> None:
    assert parse_ports("9249") == [9249]
    assert parse_ports("9250-9252") == [9250, 9251, 9252]
    assert parse_ports("9250, 9260-9261") == [9250, 9260, 9261]
    with pytest.raises(ValueError, match="'abc' of 'abc' is not a port or a range"):
        parse_ports("abc")
    with pytest.raises(ValueError, match="not within 0-65535"):
        parse_ports("9260-9250")


def _taken_port() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    return sock


def test_a_range_takes_the_first_free_port(registry: MetricRegistry) -> None:
    with _taken_port() as taken:
        busy = taken.getsockname()[1]
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            free = probe.getsockname()[1]
        reporter = PrometheusReporter(registry, ports=f"{busy},{free}").start()
        registry.add_reporter(reporter)
        assert reporter.port == free


def test_an_occupied_or_bad_port_is_logged_not_raised(
        registry: MetricRegistry, caplog: pytest.LogCaptureFixture) -> None:
    with _taken_port() as taken, caplog.at_level(logging.ERROR):
        busy = taken.getsockname()[1]
        configuration = Configuration.from_dict({
            "metrics.reporters": "prom", "metrics.reporter.prom.port": str(busy)})
        assert start_reporters(configuration, registry) == []
    assert f"Could not start PrometheusReporter HTTP server on 127.0.0.1 on any configured " \
           f"port. Ports: {busy}" in caplog.text
    assert "metrics.reporter.prom.port to a free port" in caplog.text

    caplog.clear()
    with caplog.at_level(logging.ERROR):
        bad = Configuration.from_dict({"metrics.reporters": "prom",
                                       "metrics.reporter.prom.port": "nine"})
        assert start_reporters(bad, registry) == []
    assert "'nine' of 'nine' is not a port" in caplog.text
    assert registry.reporters == []


def test_which_reporters_start(registry: MetricRegistry,
                               caplog: pytest.LogCaptureFixture) -> None:
    assert start_reporters(Configuration(), registry) == []
    by_factory = start_reporters(Configuration.from_dict({
        "metrics.reporter.prom.factory.class": FLINK_FACTORY_CLASS,
        "metrics.reporter.prom.port": "0"}), registry)
    assert [r.name for r in by_factory] == ["prom"]
    flink_1 = start_reporters(Configuration.from_dict({
        "metrics.reporter.p1.class": "org.apache.flink.metrics.prometheus.PrometheusReporter",
        "metrics.reporter.p1.port": "0"}), registry)
    assert [r.name for r in flink_1] == ["p1"]
    with caplog.at_level(logging.ERROR):
        other = start_reporters(Configuration.from_dict({
            "metrics.reporters": "jmx",
            "metrics.reporter.jmx.factory.class":
                "org.apache.flink.metrics.jmx.JMXReporterFactory"}), registry)
    assert other == []
    assert "strom has only the Prometheus reporter" in caplog.text


def test_close_stops_the_server_and_frees_the_port() -> None:
    registry = MetricRegistry()
    reporter = PrometheusReporter(registry, ports="0").start()
    registry.add_reporter(reporter)
    port = reporter.port
    assert port is not None
    threads = {t.name for t in threading.enumerate()}
    registry.close()
    assert reporter._thread is None
    assert {t.name for t in threading.enumerate()} <= threads
    with socket.socket() as again:  # the port is free again
        again.bind(("127.0.0.1", port))


def test_a_minicluster_serves_its_registry_and_stops_the_reporter_with_it() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    threads = set(threading.enumerate())
    configuration = Configuration.from_dict({"metrics.reporters": "prom",
                                             "metrics.reporter.prom.port": str(port)})
    with MiniCluster(num_task_managers=2, configuration=configuration) as cluster:
        samples = _scrape(f"http://127.0.0.1:{port}/metrics")
        assert samples["flink_jobmanager_numRegisteredTaskManagers"][0][1] == 2
        tm_ids = {labels["tm_id"]
                  for labels, _ in samples["flink_taskmanager_Status_Process_Memory_RSS"]}
        assert tm_ids == {str(te.resource_id) for te in cluster.task_executors}
    wait_until(lambda: set(threading.enumerate()) <= threads, timeout_s=10,
               what="the reporter's thread to end")
    with socket.socket() as again:
        again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        again.bind(("127.0.0.1", port))
        again.listen()
