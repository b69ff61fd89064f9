"""Task and operator metrics of real jobs on the MiniCluster, read as the JobManager's fetcher
reads them (``dump_metrics`` of each TaskManager's registry): records in and out per vertex
and per chained operator, busy / back-pressured / idle time, bytes over TCP, and user
metrics in the operator's group."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import pytest

from strom.common import Watermark, WatermarkGenerator
from strom.common.time import Time
from strom.common.watermark_strategy import WatermarkStrategy
from strom.datastream import ProcessWindowFunction
from strom.datastream.functions import MapFunction, RuntimeContext
from strom.datastream.stream_execution_environment import StreamExecutionEnvironment
from strom.datastream.window import TumblingEventTimeWindows
from strom.metrics.dump import MetricDump, dump_metrics
from strom.minicluster import MiniCluster
from strom.runtime import task_metrics
from strom.testing import CollectSink, Latch, MiniClusterFixture, TestingSource, wait_until

DEADLINE_S = 60.0
N = 5000


def _dumps(cluster: MiniCluster) -> list[MetricDump]:
    registries = {id(te.metric_registry): te.metric_registry for te in cluster.task_executors}
    return [d for registry in registries.values() for d in dump_metrics(registry)]


def _operator_totals(dumps: list[MetricDump]) -> dict[tuple[str, str], float]:
    """(operator name, metric name) -> the sum over the operator's subtasks."""
    totals: dict[tuple[str, str], float] = defaultdict(float)
    for d in dumps:
        if d.category == "operator":
            totals[d.operator_name, d.name] += float(d.value)
    return totals


def _task_totals(dumps: list[MetricDump]) -> dict[tuple[str, str], float]:
    """(the names of the vertex's operators joined by '+', metric name) -> the sum over the
    vertex's subtasks."""
    names: dict[str, set[str]] = defaultdict(set)
    for d in dumps:
        if d.category == "operator":
            names[d.vertex_id].add(d.operator_name)
    totals: dict[tuple[str, str], float] = defaultdict(float)
    for d in dumps:
        if d.category == "task":
            totals["+".join(sorted(names[d.vertex_id])), d.name] += float(d.value)
    return totals


class _Doubler(MapFunction[int, int]):
    """Counts what it sees in user metrics of its own group."""

    def open(self, runtime_context: RuntimeContext) -> None:
        group = runtime_context.get_metrics_group().add_group("my_group")
        self.seen = group.counter("my_counter")
        self.rate = group.meter("my_meter")
        self.sizes = group.distribution("my_distribution")
        group.gauge("my_gauge", lambda: 42)

    def map(self, value: int) -> int:
        self.seen.inc()
        self.rate.mark_event()
        self.sizes.update(value % 10)
        return value * 2


@pytest.mark.parametrize("parallelism", [1, 2])
def test_records_in_and_out_per_vertex_and_operator_and_user_metrics(parallelism: int) -> None:
    latch = Latch()
    kept = sum(1 for x in range(N) if (2 * x) % 3 == 0)
    with MiniClusterFixture(parallelism=parallelism) as cluster:
        env = StreamExecutionEnvironment.get_execution_environment()
        sink = CollectSink()
        env.from_source(TestingSource([*range(N), TestingSource.AWAIT(latch)]),
                        WatermarkStrategy.no_watermarks(), "numbers") \
            .set_parallelism(1) \
            .rebalance() \
            .map(_Doubler()).name("double") \
            .filter(lambda x: x % 3 == 0).name("thirds") \
            .key_by(lambda x: x % 7) \
            .sink_to(sink).name("collect")
        client = env.execute_async()

        # the source holds the job open at its end: the counts are read while it runs
        def counted() -> bool:
            ops = _operator_totals(_dumps(cluster))
            return ops["Sink: collect", "numRecordsIn"] == kept

        wait_until(counted, timeout_s=DEADLINE_S, what="every record counted at the sink")
        dumps = _dumps(cluster)
        ops = _operator_totals(dumps)
        assert ops["Source: numbers", "numRecordsOut"] == N
        assert ops["Source: numbers", "numRecordsIn"] == N  # a source's records in: what it read
        assert ops["double", "numRecordsIn"] == N
        assert ops["double", "numRecordsOut"] == N
        assert ops["thirds", "numRecordsIn"] == N
        assert ops["thirds", "numRecordsOut"] == kept
        assert ops["Sink: collect", "numRecordsOut"] == 0

        tasks = _task_totals(dumps)
        assert tasks["Source: numbers", "numRecordsIn"] == 0
        assert tasks["Source: numbers", "numRecordsOut"] == N
        assert tasks["double+thirds", "numRecordsIn"] == N
        assert tasks["double+thirds", "numRecordsOut"] == kept
        assert tasks["Sink: collect", "numRecordsIn"] == kept
        assert tasks["Sink: collect", "numRecordsOut"] == 0

        # user metrics: in the operator's group, named after their own group
        assert ops["double", "my_group.my_counter"] == N
        assert ops["double", "my_group.my_distribution_count"] == N
        assert ops["double", "my_group.my_gauge"] == 42 * parallelism
        assert ("double", "my_group.my_meter") in ops
        assert ("double", "my_group.my_distribution_max") in ops

        # every task has Flink's system metrics, time shares within 0..1000
        by_task: dict[tuple[str, int], dict[str, str]] = defaultdict(dict)
        for d in dumps:
            if d.category == "task":
                by_task[d.vertex_id, d.subtask_index][d.name] = d.value
        assert len(by_task) == 1 + 2 * parallelism
        for metrics in by_task.values():
            for name in ("numRecordsInPerSecond", "numRecordsOutPerSecond",
                         "buffers.inPoolUsage", "buffers.outPoolUsage",
                         "buffers.inputQueueLength", "buffers.outputQueueLength",
                         "accumulatedBusyTime", "accumulatedIdleTime",
                         "accumulatedBackpressuredTime", "currentInputWatermark",
                         "checkpointStartDelayNanos"):
                assert name in metrics, (name, sorted(metrics))
            shares = [float(metrics[name]) for name in (
                "busyTimeMsPerSecond", "backPressuredTimeMsPerSecond", "idleTimeMsPerSecond")]
            assert all(0 <= share <= 1000 for share in shares), shares
            assert sum(shares) == pytest.approx(1000, abs=1)
        latch.trigger()
        client.get_job_execution_result().result(timeout=DEADLINE_S)
        assert len(sink.results) == kept

        # a task that reached a terminal state closed its group: nothing of the job remains
        wait_until(lambda: not [d for d in _dumps(cluster) if d.category in ("task", "operator")],
                   timeout_s=DEADLINE_S, what="the finished tasks' metrics unregistered")


def test_bytes_are_counted_where_records_cross_tcp() -> None:
    with MiniClusterFixture(parallelism=2, network="tcp") as cluster:
        latch = Latch()
        env = StreamExecutionEnvironment.get_execution_environment()
        env.from_source(TestingSource([*range(N), TestingSource.AWAIT(latch)]),
                        WatermarkStrategy.no_watermarks(), "numbers") \
            .set_parallelism(1).rebalance().map(lambda x: x).name("identity") \
            .sink_to(CollectSink()).name("collect")
        client = env.execute_async()

        def crossed() -> bool:
            tasks = _task_totals(_dumps(cluster))
            return tasks["Sink: collect+identity", "numRecordsIn"] == N

        wait_until(crossed, timeout_s=DEADLINE_S, what="bytes counted over TCP")
        tasks = _task_totals(_dumps(cluster))
        received = sum(v for (_, name), v in tasks.items() if name == "numBytesIn")
        # one of the two consumers is on the other TaskManager: all it read crossed TCP
        assert received == tasks["Source: numbers", "numBytesOut"]
        latch.trigger()
        client.get_job_execution_result().result(timeout=DEADLINE_S)


class _Slow(MapFunction[int, int]):
    def map(self, value: int) -> int:
        time.sleep(0.0002)
        return value


def _source_task(dumps: list[MetricDump]) -> dict[str, str]:
    vertex = next((d.vertex_id for d in dumps
                   if d.category == "operator" and d.operator_name == "Source: numbers"), None)
    return {d.name: d.value for d in dumps if d.category == "task" and d.vertex_id == vertex}


def test_a_slow_consumer_shows_as_back_pressure_at_its_producer(strom_parallelism: int) -> None:
    with MiniClusterFixture(parallelism=strom_parallelism) as cluster:
        env = StreamExecutionEnvironment.get_execution_environment()
        env.from_source(TestingSource(list(range(200_000))), WatermarkStrategy.no_watermarks(),
                        "numbers") \
            .set_parallelism(1).rebalance().map(_Slow()).name("slow").sink_to(CollectSink())
        client = env.execute_async()
        found: dict[str, Any] = {}

        def back_pressured() -> bool:
            found.update(_source_task(_dumps(cluster)))
            return int(found.get("accumulatedBackpressuredTime", 0)) > 0

        wait_until(back_pressured, timeout_s=DEADLINE_S,
                   what="the source back-pressured by the slow map")
        for name in ("busyTimeMsPerSecond", "backPressuredTimeMsPerSecond",
                     "idleTimeMsPerSecond"):
            assert 0 <= float(found[name]) <= 1000
        client.cancel().result(timeout=DEADLINE_S)


def _vertex_of(dumps: list[MetricDump], operator: str) -> dict[str, float]:
    """The task metrics of the vertex holding ``operator``, summed over its subtasks."""
    vertices = {d.vertex_id for d in dumps
                if d.category == "operator" and d.operator_name == operator}
    totals: dict[str, float] = defaultdict(float)
    for d in dumps:
        if d.category == "task" and d.vertex_id in vertices:
            totals[d.name] += float(d.value)
    return totals


def test_a_task_waiting_for_input_is_idle_though_its_output_still_waits_in_its_slot() -> None:
    """A slow source chain, a quick middle task and a sink share one slot thread. While the
    source computes, the middle task's last output still waits for the sink, but it has
    no input to go on with: on a thread of its own it would wait for input, so it is idle,
    not back-pressured (the web UI coloured such a vertex as back-pressured)."""
    with MiniClusterFixture(parallelism=1) as cluster:
        env = StreamExecutionEnvironment.get_execution_environment()
        env.from_source(TestingSource(list(range(200_000))), WatermarkStrategy.no_watermarks(),
                        "numbers").map(_Slow()).name("slow") \
            .rebalance().map(lambda x: x).name("middle") \
            .rebalance().sink_to(CollectSink()).name("collect")
        client = env.execute_async()
        found: dict[str, float] = {}

        def source_busy_a_while() -> bool:
            dumps = _dumps(cluster)
            found.update(_vertex_of(dumps, "middle"))
            return _vertex_of(dumps, "slow").get("accumulatedBusyTime", 0) > 1000

        wait_until(source_busy_a_while, timeout_s=DEADLINE_S,
                   what="the slow source chain to be busy for a second")
        assert found["accumulatedIdleTime"] > found["accumulatedBackpressuredTime"], found
        client.cancel().result(timeout=DEADLINE_S)


def test_the_benchmarks_switch_turns_counting_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """``benchmarks/metrics_overhead.py`` compares against tasks that count nothing: the
    switch must really skip the counting (the metrics stay registered, at 0)."""
    monkeypatch.setattr(task_metrics, "ENABLED", False)
    latch = Latch()
    with MiniClusterFixture(parallelism=1) as cluster:
        env = StreamExecutionEnvironment.get_execution_environment()
        sink = CollectSink()
        env.from_source(TestingSource([*range(100), TestingSource.AWAIT(latch)]),
                        WatermarkStrategy.no_watermarks(), "numbers") \
            .rebalance().map(lambda x: x).name("identity").sink_to(sink).name("collect")
        client = env.execute_async()
        wait_until(lambda: len(sink.results) == 100, timeout_s=DEADLINE_S,
                   what="every record at the sink")
        ops = _operator_totals(_dumps(cluster))
        assert ops["identity", "numRecordsIn"] == 0
        assert ops["Sink: collect", "numRecordsIn"] == 0
        assert sum(v for (_, name), v in _task_totals(_dumps(cluster)).items()
                   if name == "accumulatedBusyTime") == 0
        latch.trigger()
        client.get_job_execution_result().result(timeout=DEADLINE_S)


class _EveryEventWatermarks(WatermarkGenerator):
    def on_event(self, event: Any, event_timestamp: int, output: Any) -> None:
        output.emit_watermark(Watermark(event_timestamp))

    def on_periodic_emit(self, output: Any) -> None:
        pass


class _Values(ProcessWindowFunction):
    def process(self, key: Any, context: Any, elements: Iterable[Any]) -> Iterable[Any]:
        yield key, sorted(v for _, v in elements)


@pytest.mark.parametrize("kind", ["reduce", "process"])
def test_windows_count_the_late_records_they_drop_and_watermarks_show(kind: str) -> None:
    """Both window operators (the fast aggregating one and the general one) report
    ``numLateRecordsDropped``; the window's operator group shows its input watermark."""
    latch = Latch()
    elements: list[Any] = [(("a", 1), 100), (("a", 2), 1200), (("a", 3), 300),
                           TestingSource.AWAIT(latch)]
    with MiniClusterFixture(parallelism=1) as cluster:
        env = StreamExecutionEnvironment.get_execution_environment()
        sink = CollectSink()
        windowed = env.from_source(TestingSource(elements, timestamped=True),
                                   WatermarkStrategy.for_generator(_EveryEventWatermarks),
                                   "src") \
            .key_by(lambda v: v[0]).window(TumblingEventTimeWindows.of(Time.seconds(1)))
        result = windowed.reduce(lambda a, b: (a[0], a[1] + b[1])) if kind == "reduce" \
            else windowed.process(_Values())
        result.name("window").sink_to(sink)
        client = env.execute_async()

        def dropped() -> bool:
            return _operator_totals(_dumps(cluster))["window", "numLateRecordsDropped"] == 1

        wait_until(dropped, timeout_s=DEADLINE_S, what="the late record counted")
        ops = _operator_totals(_dumps(cluster))
        assert ops["window", "currentInputWatermark"] == 1200
        assert ops["window", "numRecordsIn"] == 3
        latch.trigger()
        client.get_job_execution_result().result(timeout=DEADLINE_S)
