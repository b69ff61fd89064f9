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

``windows.tumbling_sum_vs_streaming_loop`` runs the same window sum over a list of
``(key, value, timestamp)`` tuples (``from_collection``) against the streaming loop a good
Python programmer writes over that list: a dict per open window, and when the watermark
crosses the end of the oldest open window, every window it passed is emitted and dropped.
Target: strom >= 0.3 of that loop. strom's side includes shipping the list with the job
(``from_collection`` elements are pickled on submission and again on deployment).

``windows.process_window`` is the PyFlink-style program: the same events, but
``.reduce(add_values, window_function=SumPerWindow())``, a ``ProcessWindowFunction`` that
reads its context's window, against the plain loop calling the same function body for each
(key, window) it closes. ``windows.process_window_general`` runs that program on the general
window operator (per-(key, window) timers, trigger calls; the fast path switched off) against
the same loop. Targets: >= 0.25 (fast path) and >= 0.2 (general operator).
"""

from __future__ import annotations

import heapq
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the ``benchmarks`` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from collections.abc import Iterable, Sequence
from typing import Any

from benchmarks._harness import BenchmarkResult, CountingSink, main_for, scaled, time_best
from strom.common import Duration, Time, WatermarkStrategy
from strom.datastream import ProcessWindowFunction, StreamExecutionEnvironment
from strom.datastream.connectors.number_seq import NumberSequenceSource
from strom.datastream.window import TimeWindow, TumblingEventTimeWindows
from strom.runtime.operators import fast_window

__all__ = ["EVENTS", "GENERAL_TARGET", "PROCESS_TARGET", "STREAMING_LOOP_TARGET", "TARGET",
           "SumPerWindow", "add_values", "baseline_inlined", "baseline_process_window",
           "baseline_same_functions", "baseline_streaming_loop", "event_of", "key_of",
           "run", "strom_process_window", "strom_window_sum", "strom_window_sum_of_tuples",
           "timestamp_of", "tuples"]

EVENTS = 1_000_000
TARGET = 0.25
STREAMING_LOOP_TARGET = 0.3
PROCESS_TARGET = 0.25
GENERAL_TARGET = 0.2
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


def window_result(key: str, window: TimeWindow, event: tuple[str, int, int]
                  ) -> tuple[str, int, int, int]:
    """What the process window function makes of one (key, window) sum."""
    return (key, window.start, window.end, event[2])


class SumPerWindow(ProcessWindowFunction):
    """The PyFlink-style window function: one result per (key, window) from its context."""

    def process(self, key: str, context: ProcessWindowFunction.Context,
                elements: Iterable[tuple[str, int, int]]) -> Iterable[tuple[str, int, int, int]]:
        window = context.window()
        return [window_result(key, window, e) for e in elements]


def strom_process_window(n: int, sink: CountingSink) -> None:
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(1)
    strategy = (WatermarkStrategy.for_bounded_out_of_orderness(Duration.of_millis(DELAY_MS))
                .with_timestamp_assigner(timestamp_of))
    (env.from_source(NumberSequenceSource(0, n - 1), WatermarkStrategy.no_watermarks(), "events")
        .map(event_of)
        .assign_timestamps_and_watermarks(strategy)
        .key_by(key_of)
        .window(TumblingEventTimeWindows.of(Time.milliseconds(WINDOW_MS)))
        .reduce(add_values, window_function=SumPerWindow())
        .sink_to(sink))
    env.execute("benchmark: tumbling window reduce with a process window function")


def tuples(n: int) -> list[tuple[str, int, int]]:
    """The benchmark's events as ``(key, value, timestamp)`` tuples."""
    return [(key, value, ts) for key, ts, value in map(event_of, range(n))]


def _tuple_timestamp(event: tuple[str, int, int], record_timestamp: int) -> int:
    return event[2]


def _tuple_key(event: tuple[str, int, int]) -> str:
    return event[0]


def _add_tuples(a: tuple[str, int, int], b: tuple[str, int, int]) -> tuple[str, int, int]:
    return (a[0], a[1] + b[1], b[2])


def strom_window_sum_of_tuples(events: list[tuple[str, int, int]], sink: CountingSink) -> None:
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(1)
    strategy = (WatermarkStrategy.for_bounded_out_of_orderness(Duration.of_millis(DELAY_MS))
                .with_timestamp_assigner(_tuple_timestamp))
    (env.from_collection(events)
        .assign_timestamps_and_watermarks(strategy)
        .key_by(_tuple_key)
        .window(TumblingEventTimeWindows.of(Time.milliseconds(WINDOW_MS)))
        .reduce(_add_tuples)
        .sink_to(sink))
    env.execute("benchmark: tumbling window sum of tuples")


def _emitted(job: Any, arg: Any) -> int:
    sink = CountingSink()
    try:
        job(arg, sink)
        return sink.count
    finally:
        sink.release()


def _strom_emitted(n: int) -> int:
    return _emitted(strom_window_sum, n)


def _general_emitted(n: int) -> int:
    """The process-window program on the general window operator (fast path off)."""
    enabled = fast_window.ENABLED
    fast_window.ENABLED = False
    try:
        return _emitted(strom_process_window, n)
    finally:
        fast_window.ENABLED = enabled


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


def baseline_process_window(n: int) -> int:
    """The process-window program as a plain loop: reduce per (key, window) and, when a
    window closes, the window function's body for each of its keys."""
    windows: dict[int, dict[str, tuple[str, int, int]]] = {}
    pending: list[int] = []
    out: list[tuple[str, int, int, int]] = []
    max_ts = -(2**63)

    def close(start: int) -> None:
        window = TimeWindow(start, start + WINDOW_MS)
        for key, event in windows.pop(start).items():
            out.append(window_result(key, window, event))

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
                close(heapq.heappop(pending))
    while pending:
        close(heapq.heappop(pending))
    return len(out)


def baseline_streaming_loop(events: list[tuple[str, int, int]]) -> int:
    """The window sum over ``(key, value, timestamp)`` tuples as a streaming loop: a dict per
    open window; when the watermark crosses the end of the oldest open window, every window
    it passed is emitted (here: counted) and dropped."""
    windows: dict[int, dict[str, int]] = {}
    emitted = 0
    size = WINDOW_MS
    watermark = -(2**63)
    oldest_end = 2**63  # max timestamp of the oldest open window
    for key, value, ts in events:
        start = ts - ts % size
        per_key = windows.get(start)
        if per_key is None:
            per_key = windows[start] = {}
            if start + size - 1 < oldest_end:
                oldest_end = start + size - 1
        per_key[key] = per_key.get(key, 0) + value
        if ts - DELAY_MS - 1 > watermark:
            watermark = ts - DELAY_MS - 1
            if watermark >= oldest_end:
                for s in sorted(windows):
                    if s + size - 1 > watermark:
                        oldest_end = s + size - 1
                        break
                    emitted += len(list(windows.pop(s).items()))
                else:
                    oldest_end = 2**63
    for s in sorted(windows):
        emitted += len(list(windows.pop(s).items()))
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
    events = tuples(n)
    loop = time_best(lambda: baseline_streaming_loop(events), repeat, warmup)
    of_tuples = time_best(lambda: _emitted(strom_window_sum_of_tuples, events), repeat, warmup)
    plain_process = time_best(lambda: baseline_process_window(n), repeat, warmup)
    process = time_best(lambda: _emitted(strom_process_window, n), repeat, warmup)
    general = time_best(lambda: _general_emitted(n), repeat, warmup)
    for name, count in (("strom over tuples", of_tuples.result),
                        ("the streaming loop", loop.result),
                        ("the plain process-window loop", plain_process.result),
                        ("strom's process-window job", process.result),
                        ("the general window operator", general.result)):
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
        BenchmarkResult("windows.tumbling_sum_vs_streaming_loop", n, of_tuples.best, loop.best,
                        STREAMING_LOOP_TARGET, of_tuples.runs, loop.runs),
        BenchmarkResult("windows.process_window", n, process.best, plain_process.best,
                        PROCESS_TARGET, process.runs, plain_process.runs),
        BenchmarkResult("windows.process_window_general", n, general.best, plain_process.best,
                        GENERAL_TARGET, general.runs, plain_process.runs),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    return main_for(run, argv, "keyed tumbling event-time window sum: strom against a loop")


if __name__ == "__main__":
    sys.exit(main())
