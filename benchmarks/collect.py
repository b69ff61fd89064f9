"""``execute_and_collect`` against a discarding sink: what bringing results back costs.

Both sides run the same stateless job at parallelism 1 over ``data = list(range(1_000_000))``::

    env.from_collection(data)
       .map(lambda x: x * 3 + 1)
       .filter(lambda x: x % 2 == 0)

The strom side ends it in ``execute_and_collect()`` and consumes the iterator with
``list(...)``; the baseline side ends it in a :class:`CountingSink` (counts each batch,
keeps nothing) and runs ``env.execute()``. Both are timed end to end (graph building,
start-up and shut-down of the embedded cluster included), best of ``repeat``.

The ratio ``sink time / collect time`` says how close collecting comes to not collecting
at all (1.0: free). Target stated for the project: >= 0.9. Both sides must see the same
number of records, or the benchmark fails.

``collect.vs_keeping_sink`` (information, no target) compares the same collecting run with
the job ending in a sink that keeps every record in a list (``CountingSink(keep=True)``).
Keeping half a million new objects alive costs memory that a discarding sink reuses at
once (fresh pages, cache misses); this row shows what the hand-over to the client costs
beyond that.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the ``benchmarks`` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from collections.abc import Callable, Sequence
from typing import Any

from benchmarks._harness import BenchmarkResult, CountingSink, integers, main_for, scaled, time_best
from benchmarks.stateless import is_even, times_three_plus_one
from strom.datastream import DataStream, StreamExecutionEnvironment

__all__ = ["RECORDS", "TARGET", "run", "strom_collect", "strom_side", "strom_sink"]

RECORDS = 1_000_000
"""Input size at scale 1.0."""

TARGET = 0.9
"""The (sink time / collect time) ratio this benchmark should reach."""


def _job(data: list[int]) -> DataStream:
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(1)
    return env.from_collection(data).map(times_three_plus_one).filter(is_even)


def strom_collect(data: list[int]) -> list[Any]:
    """The job ending in ``execute_and_collect()``, consumed by ``list``."""
    return list(_job(data).execute_and_collect("benchmark: collect"))


def strom_sink(data: list[int], sink: CountingSink) -> None:
    """The same job ending in ``sink``."""
    stream = _job(data)
    stream.sink_to(sink)
    stream.get_execution_environment().execute("benchmark: discarding sink")


def _sink_count(data: list[int]) -> int:
    sink = CountingSink()
    try:
        strom_sink(data, sink)
        return sink.count
    finally:
        sink.release()


def strom_side(scale: float = 1.0) -> Callable[[], int]:
    """The collecting side alone, inputs prepared: a call runs the job once and returns how
    many records came back (for profiling with ``benchmarks/_profile.py``)."""
    data = integers(scaled(RECORDS, scale))
    return lambda: len(strom_collect(data))


def _keeping_sink_count(data: list[int]) -> int:
    sink = CountingSink(keep=True)
    try:
        strom_sink(data, sink)
        return sink.count
    finally:
        sink.release()


def run(scale: float = 1.0, repeat: int = 3, warmup: int = 1) -> list[BenchmarkResult]:
    """Time both sides over ``RECORDS * scale`` integers; fail if their counts differ."""
    n = scaled(RECORDS, scale)
    data = integers(n)
    sink = time_best(lambda: _sink_count(data), repeat, warmup)
    keeping = time_best(lambda: _keeping_sink_count(data), repeat, warmup)
    collect = time_best(lambda: len(strom_collect(data)), repeat, warmup)
    if not collect.result == sink.result == keeping.result:
        raise RuntimeError(
            f"collect.vs_sink: execute_and_collect returned {collect.result} records but the "
            f"sinks counted {sink.result} and {keeping.result} over the same {n} inputs; the "
            "output is wrong, so the timing means nothing."
        )
    return [
        BenchmarkResult("collect.vs_sink", n, collect.best, sink.best, TARGET,
                        collect.runs, sink.runs),
        BenchmarkResult("collect.vs_keeping_sink", n, collect.best, keeping.best, None,
                        collect.runs, keeping.runs),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    return main_for(run, argv, "execute_and_collect against the same job with a sink")


if __name__ == "__main__":
    sys.exit(main())
