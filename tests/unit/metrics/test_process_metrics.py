"""Process metrics: read from psutil when reported, the CPU load over the time between
readings."""

from __future__ import annotations

import os
from types import SimpleNamespace

import psutil

from strom.metrics.dump import dump_metrics
from strom.metrics.process import LOAD_MIN_INTERVAL_S, ProcessStats, register_process_metrics
from strom.metrics.registry import MetricRegistry


class _FakeProcess:
    """A psutil.Process whose CPU time the test sets."""

    def __init__(self) -> None:
        self.cpu_s = 0.0

    def cpu_times(self) -> SimpleNamespace:
        return SimpleNamespace(user=self.cpu_s * 0.75, system=self.cpu_s * 0.25)


def test_names_and_values_of_this_process() -> None:
    registry = MetricRegistry()
    register_process_metrics(registry.taskmanager_group("h", "tm-1"))
    values = {d.name: d.value for d in dump_metrics(registry)}
    assert set(values) == {
        "Status.Process.CPU.Load", "Status.Process.CPU.Time", "Status.Process.Memory.RSS",
        "Status.Process.Memory.VMS", "Status.Process.Threads.Count", "Status.Python.GC.Count"}
    me = psutil.Process(os.getpid())
    rss = int(values["Status.Process.Memory.RSS"])
    assert 0.5 * me.memory_info().rss < rss < 2 * me.memory_info().rss
    assert int(values["Status.Process.Memory.VMS"]) >= rss
    assert int(values["Status.Process.Threads.Count"]) >= 1
    assert int(values["Status.Process.CPU.Time"]) > 0
    assert int(values["Status.Python.GC.Count"]) >= 0
    assert 0.0 <= float(values["Status.Process.CPU.Load"]) <= 1.0


def test_cpu_load_is_the_share_of_all_cores_between_readings() -> None:
    process, now = _FakeProcess(), [0.0]
    stats = ProcessStats(process, clock=lambda: now[0], cpu_count=4)  # type: ignore[arg-type]
    process.cpu_s, now[0] = 2.0, 1.0  # 2 s of CPU in 1 s on 4 cores: half the machine
    assert stats.cpu_load() == 0.5
    process.cpu_s = 3.0
    now[0] += LOAD_MIN_INTERVAL_S / 2  # too soon: the last value again
    assert stats.cpu_load() == 0.5
    now[0] = 3.0  # 1 s of CPU over 2 s on 4 cores
    assert stats.cpu_load() == 0.125
    assert stats.cpu_time_ms() == 3000
