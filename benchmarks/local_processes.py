"""The embedded local cluster with TaskManager processes (``execution.local.taskmanagers:
process``, one slot per process): does a job use every core, how long does start-up take,
and how long does one record take across two processes.

* ``local_processes.scaling_p2_over_p1``: a CPU-bound keyed job (about 20 µs of Python per
  record, then a keyed sum of 64 keys, BATCH mode) at parallelism 1 and at 2, both on
  TaskManager processes. Its "strom" side is p=2 and its "baseline" side p=1, so its ratio is
  the speed-up p2/p1 (target 1.7 on 2 cores; it cannot reach that when other programs use
  the cores: the line shows the load average). ``local_processes.cpu_keyed_p2`` compares the
  p=2 run with the plain loop doing the same work in this process.
* ``local_processes.startup_p2``: from ``execute_async()`` until all tasks of a p=2 job are
  RUNNING, with TaskManager processes and with TaskManager threads (best and median).
* ``local_processes.latency``: single records at 1,000 records/s with the default buffer
  timeout (100 ms) through a job whose only network edge joins two TaskManager processes;
  each record carries its creation time and the receiving operator records
  ``now - created``; p50 and p99 in ms.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the ``benchmarks`` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import json
import os
import statistics
import tempfile
import time
from dataclasses import dataclass
from typing import Any

from benchmarks._harness import BenchmarkResult, main_for, scaled, time_best
from strom.common import Configuration, Encoder, Types, WatermarkStrategy
from strom.connectors.sequence import NumberSequenceSource, _SequenceCursor, _SequenceReader
from strom.datastream import RuntimeExecutionMode, StreamExecutionEnvironment
from strom.datastream.connectors.file_system import FileSink
from strom.rpc.messages import ExecutionState

__all__ = ["LatencyResult", "StartupResult", "baseline_keyed_sums", "burn", "run",
           "strom_keyed_sums", "strom_latencies", "time_to_running"]

#: records of the scaling job at scale 1.0
RECORDS = 200_000
KEYS = 64
#: records per second and seconds of the latency job at scale 1.0
LATENCY_RATE = 1_000
LATENCY_SECONDS = 5


def _env(mode: str, parallelism: int) -> StreamExecutionEnvironment:
    config = Configuration()
    config.set_string("execution.local.taskmanagers", mode)
    env = StreamExecutionEnvironment.get_execution_environment(config)
    env.set_parallelism(parallelism)
    return env


def _read_lines(directory: Path) -> list[str]:
    return [line for p in sorted(directory.rglob("*")) if p.is_file()
            for line in p.read_text().splitlines()]


# ---------------------------------------------------------------------------- scaling
def burn(x: int) -> tuple[int, int]:
    """About 20 µs of pure Python per record: the CPU-bound part."""
    total = 0
    for i in range(500):
        total += (x ^ i) % 7
    return x % KEYS, total


def strom_keyed_sums(n: int, parallelism: int, mode: str = "process") -> dict[int, int]:
    with tempfile.TemporaryDirectory(prefix="strom-bench-") as out:
        env = _env(mode, parallelism)
        env.set_runtime_mode(RuntimeExecutionMode.BATCH)
        (env.from_source(NumberSequenceSource(0, n - 1), WatermarkStrategy.no_watermarks(),
                         "numbers")
            .map(burn, output_type=Types.TUPLE([Types.INT(), Types.INT()]))
            .key_by(lambda t: t[0])
            .reduce(lambda a, b: (a[0], a[1] + b[1]))
            .map(lambda t: f"{t[0]} {t[1]}", output_type=Types.STRING())
            .sink_to(FileSink.for_row_format(out, Encoder.simple_string_encoder()).build()))
        env.execute(f"benchmark: cpu-bound keyed job at p={parallelism}")
        return {int(k): int(v) for k, v in (line.split() for line in _read_lines(Path(out)))}


def baseline_keyed_sums(n: int) -> dict[int, int]:
    sums: dict[int, int] = {}
    for x in range(n):
        key, value = burn(x)
        sums[key] = sums.get(key, 0) + value
    return sums


# ---------------------------------------------------------------------------- start-up
@dataclass(frozen=True)
class StartupResult:
    """Seconds from ``execute_async()`` to all tasks RUNNING, per TaskManager mode."""

    name: str
    runs: dict[str, tuple[float, ...]]

    def line(self) -> str:
        parts = [f"{mode}: best={min(r) * 1000:.0f} ms median={statistics.median(r) * 1000:.0f} ms"
                 for mode, r in self.runs.items()]
        return f"{self.name:<31} " + "  ".join(parts)

    def as_json(self) -> str:
        return json.dumps({"name": self.name, "target": None, **{
            f"{mode}_s": [round(t, 4) for t in r] for mode, r in self.runs.items()}})


def time_to_running(mode: str, timeout_s: float = 60.0) -> float:
    """Seconds from ``execute_async()`` until every task of an endless p=2 job runs."""
    env = _env(mode, 2)
    (env.from_source(NumberSequenceSource(0, 10**12), WatermarkStrategy.no_watermarks(),
                     "numbers")
        .rebalance().filter(lambda x: x < 0).print())
    start = time.perf_counter()
    client = env.execute_async("benchmark: start-up")
    try:
        cluster = client._cluster  # type: ignore[attr-defined]
        deadline = start + timeout_s
        while True:
            states = [s.state for s in cluster.task_statuses()]
            if len(states) >= 3 and all(s is ExecutionState.RUNNING for s in states):
                return time.perf_counter() - start
            if time.perf_counter() > deadline:
                raise TimeoutError(f"tasks not all RUNNING after {timeout_s} s: {states}")
            time.sleep(0.002)
    finally:
        client.cancel().result(timeout=30)
        client.close()  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------- latency
class _PacedCursor(_SequenceCursor):
    """Emits ``(i, created_ns)`` as each record falls due at ``rate`` per second: single
    records, not batches."""

    __slots__ = ("_rate", "_t0")

    def __init__(self, split: Any, rate: int) -> None:
        super().__init__(split)
        self._rate = rate
        self._t0 = time.perf_counter()

    def next_batch(self) -> tuple[list[Any], bool]:
        due_at = self._t0 + self._next / self._rate
        wait = due_at - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
        record = (self._next, time.time_ns())
        self._next += 1
        return [record], self._next > self._to


class _PacedReader(_SequenceReader):
    def __init__(self, context: Any, rate: int) -> None:
        super().__init__(context)
        self._rate = rate

    def open_split(self, split: Any) -> _SequenceCursor:
        return _PacedCursor(split, self._rate)


class PacedSource(NumberSequenceSource):
    """``count`` records ``(i, created_ns)`` at ``rate`` per second."""

    def __init__(self, count: int, rate: int) -> None:
        super().__init__(0, count - 1)
        self._rate = rate

    def create_reader(self, context: Any) -> _PacedReader:
        return _PacedReader(context, self._rate)


@dataclass(frozen=True)
class LatencyResult:
    name: str
    records: int
    rate: int
    latencies_ms: tuple[float, ...]

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    def line(self) -> str:
        return (f"{self.name:<31} records={self.records:>11,}  rate={self.rate} rec/s  "
                f"p50={self.percentile(0.5):.1f} ms  p99={self.percentile(0.99):.1f} ms  "
                f"max={max(self.latencies_ms):.1f} ms")

    def as_json(self) -> str:
        return json.dumps({"name": self.name, "target": None, "records": self.records,
                           "rate": self.rate,
                           "p50_ms": round(self.percentile(0.5), 3),
                           "p99_ms": round(self.percentile(0.99), 3),
                           "max_ms": round(max(self.latencies_ms), 3)})


def strom_latencies(count: int, rate: int = LATENCY_RATE, mode: str = "process"
                    ) -> list[float]:
    """Milliseconds from each record's creation to the operator behind the network edge;
    source and receiver are in different slot sharing groups, so in different slots (one
    per TaskManager process)."""
    with tempfile.TemporaryDirectory(prefix="strom-bench-") as out:
        env = _env(mode, 1)
        (env.from_source(PacedSource(count, rate), WatermarkStrategy.no_watermarks(), "paced")
            .slot_sharing_group("source")
            .map(lambda r: f"{(time.time_ns() - r[1]) / 1e6} {os.getpid()}",
                 output_type=Types.STRING())
            .slot_sharing_group("receiver")
            .sink_to(FileSink.for_row_format(out, Encoder.simple_string_encoder()).build())
            .slot_sharing_group("receiver"))
        env.execute("benchmark: latency across two TaskManager processes")
        rows = [line.split() for line in _read_lines(Path(out))]
    if len(rows) != count:
        raise RuntimeError(f"latency: {len(rows)} records arrived, {count} were sent")
    if mode == "process" and any(int(pid) == os.getpid() for _, pid in rows):
        raise RuntimeError("latency: the receiving operator ran in the client process")
    return [float(ms) for ms, _ in rows]


# ---------------------------------------------------------------------------- run
def _load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def run(scale: float = 1.0, repeat: int = 3, warmup: int = 1) -> list[Any]:
    n = scaled(RECORDS, scale)
    expected = baseline_keyed_sums(min(n, 1000))
    if strom_keyed_sums(min(n, 1000), 2) != expected:
        raise RuntimeError("local_processes: the p=2 job's sums differ from the plain loop's")
    baseline = time_best(lambda: baseline_keyed_sums(n), repeat, warmup)
    p1 = time_best(lambda: strom_keyed_sums(n, 1), repeat, warmup)
    p2 = time_best(lambda: strom_keyed_sums(n, 2), repeat, warmup)
    for name, side in (("p=1", p1), ("p=2", p2)):
        if side.result != baseline.result:
            raise RuntimeError(f"local_processes: the {name} job's sums differ from the loop's")
    print(f"# local_processes: {_load()} on {os.cpu_count()} cores", file=sys.stderr)
    startup = {mode: tuple(time_to_running(mode) for _ in range(max(repeat, 1) + warmup))
               for mode in ("thread", "process")}
    count = max(50, scaled(LATENCY_RATE * LATENCY_SECONDS, scale))
    latencies = strom_latencies(count)
    results: list[Any] = [
        BenchmarkResult("local_processes.scaling_p2_over_p1", n, p2.best, p1.best, 1.7,
                        p2.runs, p1.runs),
        BenchmarkResult("local_processes.cpu_keyed_p2", n, p2.best, baseline.best, None,
                        p2.runs, baseline.runs),
        StartupResult("local_processes.startup_p2", startup),
        LatencyResult("local_processes.latency", count, LATENCY_RATE, tuple(latencies)),
    ]
    return results


def main(argv: list[str] | None = None) -> int:
    return main_for(run, argv, "TaskManager processes: scaling, start-up and latency")  # type: ignore[arg-type]

if __name__ == "__main__":
    sys.exit(main())
