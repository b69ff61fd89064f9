"""A task's time accounting and IO metrics with a fake clock: busy / back-pressured / idle
totals, the per-second shares over a refresh window, and the counters an operator chain
feeds (per batch)."""

from __future__ import annotations

from typing import Any

import pytest

from strom.graph.partitioning import BroadcastPartitioning
from strom.metrics.dump import dump_metrics
from strom.metrics.registry import MetricRegistry, add_job_group, add_task_group
from strom.network.local_channel import LocalChannel
from strom.network.partitioners import create_channel_selector
from strom.network.record_writer import RecordWriter
from strom.runtime.operators.base import ChainOutput
from strom.runtime.task_metrics import (
    BACKPRESSURED,
    BUSY,
    IDLE,
    LONG_MIN,
    CallbackCounter,
    TaskIOTimes,
    TaskMetrics,
    TimeShareGauge,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.reads = 0

    def __call__(self) -> float:
        self.reads += 1
        return self.now


def _task_group(registry: MetricRegistry) -> Any:
    tm = registry.taskmanager_group("localhost", "tm-1")
    return add_task_group(add_job_group(tm, "job-1", "my job"), "vertex-1", "Map", 0, 0, "a1")


def test_time_goes_to_the_state_the_task_is_in() -> None:
    clock = FakeClock()
    times = TaskIOTimes(clock)  # a task starts idle
    clock.now += 2.0
    times.enter(BUSY)
    clock.now += 3.0
    times.enter(BACKPRESSURED)
    clock.now += 0.5
    times.enter(IDLE)
    clock.now += 1.0
    assert times.accumulated(IDLE) == pytest.approx(3.0)  # 2 s before, 1 s now (ongoing)
    assert times.accumulated(BUSY) == pytest.approx(3.0)
    assert times.accumulated(BACKPRESSURED) == pytest.approx(0.5)
    assert times.accumulated_ms(BACKPRESSURED) == 500


def test_entering_the_current_state_reads_no_clock() -> None:
    clock = FakeClock()
    times = TaskIOTimes(clock, initial=BUSY)
    reads = clock.reads
    for _ in range(100):
        times.enter(BUSY)
    assert clock.reads == reads


def test_shares_are_ms_per_second_over_the_last_refresh_window() -> None:
    clock = FakeClock()
    times = TaskIOTimes(clock)
    idle = TimeShareGauge(times, IDLE)
    backpressured = TimeShareGauge(times, BACKPRESSURED)
    busy = TimeShareGauge(times, BUSY)
    assert idle.get_value() == 0  # nothing measured before the first refresh

    times.enter(BUSY)
    clock.now += 0.25
    times.enter(BACKPRESSURED)
    clock.now += 0.5
    times.enter(IDLE)
    clock.now += 0.25
    for gauge in (idle, backpressured, busy):
        gauge.refresh()
    assert (busy.get_value(), backpressured.get_value(), idle.get_value()) == (250, 500, 250)

    # the next window only sees its own time: all of it idle
    clock.now += 2.0
    for gauge in (idle, backpressured, busy):
        gauge.refresh()
    assert (busy.get_value(), backpressured.get_value(), idle.get_value()) == (0, 0, 1000)


def test_a_refresh_without_time_passing_keeps_the_last_share() -> None:
    clock = FakeClock()
    times = TaskIOTimes(clock, initial=BUSY)
    busy = TimeShareGauge(times, BUSY)
    clock.now += 1.0
    busy.refresh()
    busy.refresh()  # no time passed: no division by zero, same value
    assert busy.get_value() == 1000


def test_task_shares_add_up_to_1000_and_accumulate_in_ms() -> None:
    clock = FakeClock()
    registry = MetricRegistry(clock=clock)
    metrics = TaskMetrics(_task_group(registry), clock=clock)
    times = metrics.times
    times.enter(BUSY)
    clock.now += 0.6
    times.enter(BACKPRESSURED)
    clock.now += 0.3
    times.enter(IDLE)
    clock.now += 0.1
    values = {d.name: d.value for d in dump_metrics(registry)}
    assert float(values["busyTimeMsPerSecond"]) == 600
    assert int(values["backPressuredTimeMsPerSecond"]) == 300
    assert int(values["idleTimeMsPerSecond"]) == 100
    assert values["accumulatedBusyTime"] == "600"
    assert values["accumulatedBackpressuredTime"] == "300"
    assert values["accumulatedIdleTime"] == "100"
    assert values["currentInputWatermark"] == str(LONG_MIN)
    assert values["checkpointStartDelayNanos"] == "0"


def test_records_are_counted_per_batch_through_the_chain_output() -> None:
    registry = MetricRegistry()
    metrics = TaskMetrics(_task_group(registry))
    head = metrics.add_operator("op-1", "Map", 0, is_source=False)
    tail = metrics.add_operator("op-2", "Filter", 1, is_source=False)
    received: list[list[Any]] = []
    output = ChainOutput()
    output.add_target(lambda values, ts: received.append(values), lambda w: None,
                      lambda idle: None)
    tail.count_output(output)
    output.emit([1, 2, 3], None)
    output.emit_side(object(), [4], None)  # side outputs count too, as in Flink
    output.emit_watermark(17)
    assert received == [[1, 2, 3]]
    assert tail.records_out.get_count() == 4
    assert tail.output_watermark == 17
    # the head operator shares the task's input counter
    metrics.records_in.inc(5)
    assert head.records_in.get_count() == 5
    seen: list[int] = []
    process = head.watermark_input(seen.append)
    process(42)
    assert (head.input_watermark, seen) == (42, [42])


def test_a_source_operator_counts_what_it_emits_as_its_records_in() -> None:
    metrics = TaskMetrics(_task_group(MetricRegistry()))
    source = metrics.add_operator("op-1", "Source: numbers", 0, is_source=True)
    output = ChainOutput()
    source.count_output(output)
    output.emit([1, 2], None)
    assert source.records_in.get_count() == source.records_out.get_count() == 2
    assert metrics.records_in.get_count() == 0  # a source task reads no records


def test_records_out_and_buffer_gauges_read_the_writers() -> None:
    registry = MetricRegistry()
    metrics = TaskMetrics(_task_group(registry))
    channels = [LocalChannel(credit=1), LocalChannel(credit=0)]
    writer = RecordWriter(channels, create_channel_selector(BroadcastPartitioning(), 2),
                          batch_size=2)
    metrics.attach(None, 0, [writer], remote_capable=False)
    writer.emit([1, 2, 3, 4], None)
    writer.flush()
    values = {d.name: d.value for d in dump_metrics(registry)}
    assert values["numRecordsOut"] == "4"  # records emitted, whatever their fan-out
    assert values["buffers.outPoolUsage"] == "1.0"  # both channels out of credit
    assert int(values["buffers.outputQueueLength"]) >= 1
    assert "numBytesOut" not in values  # local channels: no bytes known


def test_a_callback_counter_reads_its_count_when_reported() -> None:
    state = {"n": 0}
    counter = CallbackCounter(lambda: state["n"])
    state["n"] = 7
    assert counter.get_count() == 7


def test_closing_the_task_unregisters_its_and_its_operators_metrics() -> None:
    registry = MetricRegistry()
    metrics = TaskMetrics(_task_group(registry))
    operator = metrics.add_operator("op-1", "Map", 0, is_source=False)
    operator.group.add_group("my_group").counter("my_counter").inc()
    assert any(d.name == "my_group.my_counter" for d in dump_metrics(registry))
    metrics.close()
    assert [d for d in dump_metrics(registry) if d.category in ("task", "operator")] == []
