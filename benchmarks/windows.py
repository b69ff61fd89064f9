"""Event-time windows: a keyed tumbling window sum, against the plain loop doing the same.

Input: ``n`` events ``(key, timestamp_ms, value)`` made from the numbers ``0 .. n-1`` by
:func:`event_of`: 1,000 keys, one event per millisecond with up to 3 ms of jitter (small
out-of-orderness). The strom job (STREAMING, parallelism 1)::

    env.from_source(NumberSequenceSource(0, n - 1), WatermarkStrategy.no_watermarks(), ...)
       .map(event_of)
       .assign_timestamps_and_watermarks(
           WatermarkStrategy.for_bounded_out_of_orderness(Duration.of_millis(10))
                            .with_timestamp_assigner(timestamp_of))
       .key_by(key_of)
       .window(TumblingEventTimeWindows.of(Time.seconds(1)))
       .reduce(add_values)
       .sink_to(CountingSink())

emits one sum per (key, window). The baseline (target row) is the plain loop applying the
same functions with a dict per open window and a watermark check every 1,000 events that
emits the windows it closes. ``windows.tumbling_sum_vs_inlined`` (information, no target)
compares with the same loop written without functions. Both must emit the same number of
window results. Target stated for the project: strom >= 0.25 of the baseline.
"""

from __future__ import annotations

import heapq
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the ``benchmarks`` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from collections.abc import Sequence

from benchmarks._harness import BenchmarkResult, CountingSink, main_for, scaled, time_best
from strom.common import Duration, Time, WatermarkStrategy
from strom.datastream import StreamExecutionEnvironment
from strom.datastream.connectors.number_seq import NumberSequenceSource
from strom.datastream.window import TumblingEventTimeWindows

__all__ = ["EVENTS", "TARGET", "add_values", "baseline_inlined", "baseline_same_functions",
           "event_of", "key_of", "run", "strom_window_sum", "timestamp_of"]

EVENTS = 1_000_000
TARGET = 0.25
KEYS = [f"sensor-{i:04d}" for i in range(1000)]
WINDOW_MS = 1000
DELAY_MS = 10


def event_of(i: int) -> tuple[str, int, int]:
    return (KEYS[(i * 7919) % 1000], i + (i * 31) % 7 - 3, i % 10)


def timestamp_of(event: tuple[str, int, int], record_timestamp: int) -> int:
    return event[1]


def key_of(event: tuple[str, int, int]) -> str:
    return event[0]


def add_values(a: tuple[str, int, int], b: tuple[str, int, int]) -> tuple[str, int, int]:
    return (a[0], b[1], a[2] + b[2])


def strom_window_sum(n: int, sink: CountingSink) -> None:
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(1)
    strategy = (WatermarkStrategy.for_bounded_out_of_orderness(Duration.of_millis(DELAY_MS))
                .with_timestamp_assigner(timestamp_of))
    (env.from_source(NumberSequenceSource(0, n - 1), WatermarkStrategy.no_watermarks(), "events")
        .map(event_of)
        .assign_timestamps_and_watermarks(strategy)
        .key_by(key_of)
        .window(TumblingEventTimeWindows.of(Time.milliseconds(WINDOW_MS)))
        .reduce(add_values)
        .sink_to(sink))
    env.execute("benchmark: tumbling window sum")


def _strom_emitted(n: int) -> int:
    sink = CountingSink()
    try:
        strom_window_sum(n, sink)
        return sink.count
    finally:
        sink.release()


def baseline_same_functions(n: int) -> int:
    """Window sums with the job's functions; returns how many results were emitted."""
    windows: dict[int, dict[str, tuple[str, int, int]]] = {}
    pending: list[int] = []
    emitted = 0
    max_ts = -(2**63)
    for i in range(n):
        event = event_of(i)
        ts = timestamp_of(event, 0)
        if ts > max_ts:
            max_ts = ts
        key = key_of(event)
        start = ts - ts % WINDOW_MS
        per_key = windows.get(start)
        if per_key is None:
            per_key = windows[start] = {}
            heapq.heappush(pending, start)
        current = per_key.get(key)
        per_key[key] = event if current is None else add_values(current, event)
        if i % 1000 == 0:
            watermark = max_ts - DELAY_MS - 1
            while pending and pending[0] + WINDOW_MS - 1 <= watermark:
                emitted += len(list(windows.pop(heapq.heappop(pending)).values()))
    while pending:
        emitted += len(list(windows.pop(heapq.heappop(pending)).values()))
    return emitted


def baseline_inlined(n: int) -> int:
    """The same loop written by hand, no functions."""
    windows: dict[int, dict[str, int]] = {}
    pending: list[int] = []
    emitted = 0
    max_ts = -(2**63)
    keys = KEYS
    for i in range(n):
        key, ts, value = keys[(i * 7919) % 1000], i + (i * 31) % 7 - 3, i % 10
        if ts > max_ts:
            max_ts = ts
        start = ts - ts % WINDOW_MS
        per_key = windows.get(start)
        if per_key is None:
            per_key = windows[start] = {}
            heapq.heappush(pending, start)
        per_key[key] = per_key.get(key, 0) + value
        if i % 1000 == 0:
            watermark = max_ts - DELAY_MS - 1
            while pending and pending[0] + WINDOW_MS - 1 <= watermark:
                emitted += len(list(windows.pop(heapq.heappop(pending)).items()))
    while pending:
        emitted += len(list(windows.pop(heapq.heappop(pending)).items()))
    return emitted


def run(scale: float = 1.0, repeat: int = 3, warmup: int = 1) -> list[BenchmarkResult]:
    n = scaled(EVENTS, scale)
    same = time_best(lambda: baseline_same_functions(n), repeat, warmup)
    inlined = time_best(lambda: baseline_inlined(n), repeat, warmup)
    strom = time_best(lambda: _strom_emitted(n), repeat, warmup)
    for name, count in (("strom", strom.result), ("the inlined loop", inlined.result)):
        if count != same.result:
            raise RuntimeError(
                f"windows: {name} emitted {count} window results but the baseline emitted "
                f"{same.result} over the same {n} events; an output is wrong."
            )
    return [
        BenchmarkResult("windows.tumbling_sum", n, strom.best, same.best, TARGET,
                        strom.runs, same.runs),
        BenchmarkResult("windows.tumbling_sum_vs_inlined", n, strom.best, inlined.best, None,
                        strom.runs, inlined.runs),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    return main_for(run, argv, "keyed tumbling event-time window sum: strom against a loop")


if __name__ == "__main__":
    sys.exit(main())
