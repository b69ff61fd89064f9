"""Stateless throughput: a fused map + filter chain against the plain loop doing the same work.

The strom job (parallelism 1)::

    env.from_collection(data)
       .map(lambda x: x * 3 + 1)
       .filter(lambda x: x % 2 == 0)
       .sink_to(CountingSink())          # counts each batch's records, keeps nothing

over ``data = list(range(1_000_000))``, timed end to end around ``env.execute()`` (graph
building, shipping the job to the embedded cluster and starting its task are included).

The baseline (target row) is the plain loop applying the job's own two functions, in a
function so its names are fast locals, on the same list in the same process — the pipeline's
work without an engine::

    count = 0
    for x in data:
        y = times_three_plus_one(x)
        if is_even(y):
            count += 1

Both sides must count the same number of surviving records, or the benchmark fails.
Target stated for the project: strom >= 0.5 of the baseline.

``stateless.map_filter_vs_inlined`` (information, no target) compares the same strom run
with the loop a user would write by hand with the arithmetic inline (``y = x * 3 + 1; if
y % 2 == 0``): two Python function calls per record cost about as much as that whole loop,
so no engine that runs the user's functions can reach 0.5 of it.

A second row, ``stateless.map_filter_generated``, runs the same chain over
``NumberSequenceSource(0, n - 1)`` (the numbers are made in the task, so there is no input
list) against the same loop over ``range(n)``. The difference between the two rows is what
handing a large collection to the job costs (in one process: a copy of the list, no
pickling; see ``benchmarks/memory.py``). It has no target of its own.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the ``benchmarks`` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from collections.abc import Callable, Iterable, Sequence

from benchmarks._harness import (
    BenchmarkResult,
    CountingSink,
    integers,
    main_for,
    scaled,
    time_best,
)
from strom.common import WatermarkStrategy
from strom.datastream import DataStream, StreamExecutionEnvironment
from strom.datastream.connectors.number_seq import NumberSequenceSource

__all__ = ["RECORDS", "TARGET", "baseline_map_filter", "baseline_same_functions", "is_even",
           "run", "strom_map_filter", "times_three_plus_one",
           "strom_map_filter_generated", "strom_side"]

RECORDS = 1_000_000
"""Input size at scale 1.0."""

TARGET = 0.5
"""The strom/baseline ratio this benchmark should reach."""


def times_three_plus_one(x: int) -> int:
    return x * 3 + 1


def is_even(x: int) -> bool:
    return x % 2 == 0


def _map_filter(stream: DataStream, sink: CountingSink) -> None:
    stream.map(times_three_plus_one).filter(is_even).sink_to(sink)


def strom_map_filter(data: list[int], sink: CountingSink) -> None:
    """Run the map + filter job over ``data`` at parallelism 1 into ``sink``."""
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(1)
    _map_filter(env.from_collection(data), sink)
    env.execute("benchmark: map + filter")


def strom_map_filter_generated(n: int, sink: CountingSink) -> None:
    """Run the map + filter job over the numbers ``0 .. n-1`` made by a
    ``NumberSequenceSource``, at parallelism 1, into ``sink``."""
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(1)
    source = NumberSequenceSource(0, n - 1)
    _map_filter(env.from_source(source, WatermarkStrategy.no_watermarks(), "numbers"), sink)
    env.execute("benchmark: map + filter (generated)")


def _strom_count(data: list[int]) -> int:
    sink = CountingSink()
    try:
        strom_map_filter(data, sink)
        return sink.count
    finally:
        sink.release()


def _strom_count_generated(n: int) -> int:
    sink = CountingSink()
    try:
        strom_map_filter_generated(n, sink)
        return sink.count
    finally:
        sink.release()


def baseline_same_functions(data: Iterable[int]) -> int:
    """The plain loop applying the job's functions: how many mapped values are even."""
    f, g = times_three_plus_one, is_even
    count = 0
    for x in data:
        y = f(x)
        if g(y):
            count += 1
    return count


def baseline_map_filter(data: Iterable[int]) -> int:
    """The hand-written loop: how many ``x * 3 + 1`` of ``data`` are even."""
    count = 0
    for x in data:
        y = x * 3 + 1
        if y % 2 == 0:
            count += 1
    return count


def strom_side(scale: float = 1.0) -> Callable[[], int]:
    """The strom side alone, inputs prepared: a call runs the job once and returns the count
    (for profiling with ``benchmarks/_profile.py``)."""
    data = integers(scaled(RECORDS, scale))
    return lambda: _strom_count(data)


def run(scale: float = 1.0, repeat: int = 3, warmup: int = 1) -> list[BenchmarkResult]:
    """Time both rows over ``RECORDS * scale`` integers; fail if any counts differ."""
    n = scaled(RECORDS, scale)
    data = integers(n)
    baseline = time_best(lambda: baseline_same_functions(data), repeat, warmup)
    inlined = time_best(lambda: baseline_map_filter(data), repeat, warmup)
    strom = time_best(lambda: _strom_count(data), repeat, warmup)
    _check("stateless.map_filter", strom.result, baseline.result, n)
    _check("stateless.map_filter_vs_inlined", strom.result, inlined.result, n)
    generated_baseline = time_best(lambda: baseline_same_functions(range(n)), repeat, warmup)
    generated = time_best(lambda: _strom_count_generated(n), repeat, warmup)
    _check("stateless.map_filter_generated", generated.result, generated_baseline.result, n)
    return [
        BenchmarkResult("stateless.map_filter", n, strom.best, baseline.best, TARGET,
                        strom.runs, baseline.runs),
        BenchmarkResult("stateless.map_filter_vs_inlined", n, strom.best, inlined.best, None,
                        strom.runs, inlined.runs),
        BenchmarkResult("stateless.map_filter_generated", n, generated.best,
                        generated_baseline.best, None, generated.runs, generated_baseline.runs),
    ]


def _check(name: str, strom_count: int, baseline_count: int, n: int) -> None:
    if strom_count != baseline_count:
        raise RuntimeError(
            f"{name}: strom counted {strom_count} records but the baseline counted "
            f"{baseline_count} over the same {n} inputs; the job's output is wrong, so its "
            "timing means nothing."
        )


def main(argv: Sequence[str] | None = None) -> int:
    return main_for(run, argv, "map + filter over integers: strom against a plain loop")


if __name__ == "__main__":
    sys.exit(main())
