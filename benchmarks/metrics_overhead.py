"""What task and operator metrics cost: the stateless and word-count jobs with counting on
against the same jobs with counting switched off, in the same process.

The jobs are those of ``benchmarks/stateless.py`` (map + filter over 1,000,000 integers)
and ``benchmarks/word_count.py`` (streaming word count over 200,000 lines, one record out
per word). "Off" sets ``strom.runtime.task_metrics.ENABLED = False``, which only this
benchmark does: tasks then skip the per-batch counting wrappers of their chained
operators, the input counter and the busy / back-pressured / idle accounting at step
boundaries (the metrics are still registered and read 0). What remains in both builds is
one integer addition per batch in each record writer.

On and off runs alternate (off, on, off, on, ...) so that drift on a shared machine hits
both; each side keeps its best run. Rows:

* ``metrics_overhead.map_filter`` / ``.word_count`` — counting on, against the plain-Python
  loop of the job's own functions (as the stateless and word-count rows report);
* ``metrics_overhead.map_filter_off`` / ``.word_count_off`` — counting off, against the same
  loop;
* ``metrics_overhead.map_filter_on_vs_off`` / ``.word_count_on_vs_off`` — on against off
  (``ratio`` = rate with metrics / rate without). Target: >= 0.97 (at most 3 % slower).
  These two rows compare the process's CPU time (all its threads), not wall-clock time:
  on a machine shared with other work, the wall-clock time of the same run varies by tens
  of percent (the job waits for a core), its CPU time by a few, and 3 % is the question.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the ``benchmarks`` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import gc
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

from benchmarks import stateless, word_count
from benchmarks._harness import BenchmarkResult, Timing, integers, main_for, scaled, time_best
from strom.runtime import task_metrics

__all__ = ["TARGET", "alternating", "run"]

TARGET = 0.97
"""Rate with metrics over rate without: counting may cost at most 3 %."""

T = TypeVar("T")


def _with_counting(enabled: bool, fn: Callable[[], T]) -> Callable[[], T]:
    def run() -> T:
        saved = task_metrics.ENABLED
        task_metrics.ENABLED = enabled
        try:
            return fn()
        finally:
            task_metrics.ENABLED = saved

    return run


def alternating(off: Callable[[], T], on: Callable[[], T], repeat: int,
                warmup: int) -> dict[str, Timing[T]]:
    """Time ``off`` and ``on`` in turns (``warmup`` untimed rounds first); the best of each,
    by wall-clock time (``"off"``, ``"on"``) and by the process's CPU time (``"off_cpu"``,
    ``"on_cpu"``: all its threads, so the job's tasks too)."""
    for _ in range(warmup):
        off()
        on()
    runs: dict[str, list[float]] = {"off": [], "on": [], "off_cpu": [], "on_cpu": []}
    results: dict[str, T] = {}
    for _ in range(repeat):
        for name, fn in (("off", off), ("on", on)):
            gc.collect()
            cpu, start = time.process_time(), time.perf_counter()
            results[name] = fn()
            runs[name].append(time.perf_counter() - start)
            runs[f"{name}_cpu"].append(time.process_time() - cpu)
    return {name: Timing(min(times), tuple(times), results[name.removesuffix("_cpu")])
            for name, times in runs.items()}


def _rows(name: str, records: int, timings: dict[str, Timing[int]],
          baseline: Timing[object]) -> list[BenchmarkResult]:
    on, off = timings["on"], timings["off"]
    on_cpu, off_cpu = timings["on_cpu"], timings["off_cpu"]
    return [
        BenchmarkResult(f"metrics_overhead.{name}", records, on.best, baseline.best, None,
                        on.runs, baseline.runs),
        BenchmarkResult(f"metrics_overhead.{name}_off", records, off.best, baseline.best, None,
                        off.runs, baseline.runs),
        BenchmarkResult(f"metrics_overhead.{name}_on_vs_off", records, on_cpu.best,
                        off_cpu.best, TARGET, on_cpu.runs, off_cpu.runs),
    ]


def _check(name: str, counts: Sequence[int]) -> None:
    if len(set(counts)) != 1:
        raise RuntimeError(f"metrics_overhead.{name}: the runs counted different numbers of "
                           f"records ({list(counts)}); an output is wrong, so the timing "
                           "means nothing.")


def run(scale: float = 1.0, repeat: int = 3, warmup: int = 1) -> list[BenchmarkResult]:
    n = scaled(stateless.RECORDS, scale)
    data = integers(n)
    baseline = time_best(lambda: stateless.baseline_same_functions(data), repeat, warmup)
    timings = alternating(_with_counting(False, lambda: stateless._strom_count(data)),
                          _with_counting(True, lambda: stateless._strom_count(data)),
                          repeat, warmup)
    _check("map_filter", [baseline.result, timings["off"].result, timings["on"].result])
    rows = _rows("map_filter", n, timings, baseline)

    lines = word_count.make_lines(scaled(word_count.LINES, scale))
    same = time_best(lambda: word_count.baseline_same_functions(lines), repeat, warmup)
    timings = alternating(_with_counting(False, lambda: word_count._strom_emitted(lines)),
                          _with_counting(True, lambda: word_count._strom_emitted(lines)),
                          repeat, warmup)
    emitted = same.result[0]
    _check("word_count", [emitted, timings["off"].result, timings["on"].result])
    return rows + _rows("word_count", emitted, timings, same)


def main(argv: Sequence[str] | None = None) -> int:
    return main_for(run, argv, "task metrics on against off: stateless and word count")


if __name__ == "__main__":
    sys.exit(main())
