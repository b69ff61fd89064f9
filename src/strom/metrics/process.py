"""Process metrics of a JobManager or TaskManager: CPU, memory, threads and garbage
collection, read with psutil when reported (nothing runs in between).

strom is not a JVM: these stand where Flink has ``Status.JVM.*``::

    Status.Process.CPU.Load        recent CPU use of the process, 0..1 of all cores
    Status.Process.CPU.Time        CPU time used by the process so far (ms, user + system)
    Status.Process.Memory.RSS      resident set size (bytes)
    Status.Process.Memory.VMS      virtual memory size (bytes)
    Status.Process.Threads.Count   the process's threads
    Status.Python.GC.Count         garbage collections so far (all generations)

The load is the CPU time used between two readings over the wall time between them, per
core; readings closer than :data:`LOAD_MIN_INTERVAL_S` share the last value, so a
Prometheus scrape and a REST fetch at the same moment do not see a load over nothing.
"""

from __future__ import annotations

import gc
import os
import threading
import time
from collections.abc import Callable

import psutil

from strom.metrics.groups import MetricGroup

__all__ = ["LOAD_MIN_INTERVAL_S", "ProcessStats", "register_process_metrics"]

#: readings of the CPU load closer together than this share one value
LOAD_MIN_INTERVAL_S = 0.5


class ProcessStats:
    """Reads one process's resource use (this one by default) with psutil.

    Thread-safe: the metric fetcher (on the RPC loop) and a Prometheus scrape (on the
    reporter's thread) may read at once.
    """

    def __init__(self, process: psutil.Process | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 cpu_count: int | None = None) -> None:
        self._process = process if process is not None else psutil.Process(os.getpid())
        self._clock = clock
        self._cpus = max(1, cpu_count or psutil.cpu_count() or 1)
        self._lock = threading.Lock()
        self._last_at = clock()
        self._last_cpu_s = self._cpu_seconds()
        self._load = 0.0

    def _cpu_seconds(self) -> float:
        times = self._process.cpu_times()
        return float(times.user + times.system)

    def cpu_time_ms(self) -> int:
        return int(self._cpu_seconds() * 1000)

    def cpu_load(self) -> float:
        """The share of all cores the process used since the previous reading (0..1)."""
        with self._lock:
            now = self._clock()
            elapsed = now - self._last_at
            if elapsed < LOAD_MIN_INTERVAL_S:
                return self._load
            used = self._cpu_seconds()
            self._load = min(1.0, max(0.0, (used - self._last_cpu_s) / elapsed / self._cpus))
            self._last_at, self._last_cpu_s = now, used
            return self._load

    def memory_rss(self) -> int:
        return int(self._process.memory_info().rss)

    def memory_vms(self) -> int:
        return int(self._process.memory_info().vms)

    def thread_count(self) -> int:
        return int(self._process.num_threads())


def gc_count() -> int:
    """Collections the garbage collector ran so far, over all generations."""
    return sum(int(generation["collections"]) for generation in gc.get_stats())


def register_process_metrics(group: MetricGroup, stats: ProcessStats | None = None
                             ) -> ProcessStats:
    """Register the process metrics in ``group`` (a "jm" or "tm" group); the readings come
    from ``stats`` (a new :class:`ProcessStats` of this process if not given)."""
    stats = stats if stats is not None else ProcessStats()
    status = group.add_group("Status")
    process = status.add_group("Process")
    cpu = process.add_group("CPU")
    cpu.gauge("Load", stats.cpu_load)
    cpu.gauge("Time", stats.cpu_time_ms)
    memory = process.add_group("Memory")
    memory.gauge("RSS", stats.memory_rss)
    memory.gauge("VMS", stats.memory_vms)
    process.add_group("Threads").gauge("Count", stats.thread_count)
    status.add_group("Python").add_group("GC").gauge("Count", gc_count)
    return stats
