"""A KeyedProcessFunction with ValueState and an event-time timer per key, against the
plain loop doing the same.

Input: the events of :mod:`benchmarks.windows` (1,000 keys, 1 ms apart, small jitter). The
function counts each key's events in ValueState and keeps one event-time timer per key at
the end of the current second; when it fires it emits ``(key, count)`` and resets the count
(one record per fired timer, so the output size does not depend on when watermarks come).
The strom job runs STREAMING at parallelism 1 with 10 ms bounded out-of-orderness.

The baseline (target row) runs the same per-event logic in a loop with a dict for the state
and a heap of (timestamp, key) timers deduplicated per key, advancing the watermark every
1,000 events. Both must emit the same number of records. There is no target stated for this
one; it reports the ratio.
"""

from __future__ import annotations

import heapq
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the ``benchmarks`` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from collections.abc import Iterator, Sequence
from typing import Any

from benchmarks._harness import BenchmarkResult, CountingSink, main_for, scaled, time_best
from benchmarks.windows import DELAY_MS, EVENTS, event_of, key_of, timestamp_of
from strom.common import Duration, Types, WatermarkStrategy
from strom.datastream import KeyedProcessFunction, StreamExecutionEnvironment
from strom.datastream.connectors.number_seq import NumberSequenceSource
from strom.datastream.state import ValueStateDescriptor

__all__ = ["CountPerSecond", "baseline_same_logic", "next_second", "run", "strom_keyed_process"]


def next_second(ts: int) -> int:
    return ts - ts % 1000 + 999


class CountPerSecond(KeyedProcessFunction):
    def open(self, runtime_context: Any) -> None:
        self.count = runtime_context.get_state(ValueStateDescriptor("count", Types.LONG()))

    def process_element(self, event: Any, ctx: Any) -> None:
        self.count.update((self.count.value() or 0) + 1)
        ctx.timer_service().register_event_time_timer(next_second(ctx.timestamp()))

    def on_timer(self, timestamp: int, ctx: Any) -> Iterator[tuple[str, int]]:
        yield (ctx.get_current_key(), self.count.value() or 0)
        self.count.clear()


def strom_keyed_process(n: int, sink: CountingSink) -> None:
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(1)
    strategy = (WatermarkStrategy.for_bounded_out_of_orderness(Duration.of_millis(DELAY_MS))
                .with_timestamp_assigner(timestamp_of))
    (env.from_source(NumberSequenceSource(0, n - 1), WatermarkStrategy.no_watermarks(), "events")
        .map(event_of)
        .assign_timestamps_and_watermarks(strategy)
        .key_by(key_of)
        .process(CountPerSecond())
        .sink_to(sink))
    env.execute("benchmark: keyed process function with timers")


def _strom_emitted(n: int) -> int:
    sink = CountingSink()
    try:
        strom_keyed_process(n, sink)
        return sink.count
    finally:
        sink.release()


def baseline_same_logic(n: int) -> int:
    counts: dict[str, int] = {}
    timers: list[tuple[int, str]] = []
    registered: set[tuple[int, str]] = set()
    emitted = 0
    max_ts = -(2**63)

    def fire(watermark: int) -> int:
        out = []
        while timers and timers[0][0] <= watermark:
            entry = heapq.heappop(timers)
            registered.discard(entry)
            out.append((entry[1], counts.get(entry[1], 0)))
            counts[entry[1]] = 0
        return len(out)

    for i in range(n):
        event = event_of(i)
        ts = timestamp_of(event, 0)
        if ts > max_ts:
            max_ts = ts
        key = key_of(event)
        counts[key] = counts.get(key, 0) + 1
        timer = (next_second(ts), key)
        if timer not in registered:
            registered.add(timer)
            heapq.heappush(timers, timer)
        if i % 1000 == 0:
            emitted += fire(max_ts - DELAY_MS - 1)
    return emitted + fire(2**63 - 1)


def run(scale: float = 1.0, repeat: int = 3, warmup: int = 1) -> list[BenchmarkResult]:
    n = scaled(EVENTS, scale)
    baseline = time_best(lambda: baseline_same_logic(n), repeat, warmup)
    strom = time_best(lambda: _strom_emitted(n), repeat, warmup)
    if strom.result != baseline.result:
        raise RuntimeError(
            f"keyed_process: strom emitted {strom.result} records but the baseline emitted "
            f"{baseline.result} over the same {n} events; an output is wrong."
        )
    return [BenchmarkResult("keyed_process.value_state_timers", n, strom.best, baseline.best,
                            None, strom.runs, baseline.runs)]


def main(argv: Sequence[str] | None = None) -> int:
    return main_for(run, argv, "KeyedProcessFunction with state and timers: strom vs a loop")


if __name__ == "__main__":
    sys.exit(main())
