"""The keyed process benchmark (:mod:`benchmarks.keyed_process`) with each state backend:
``state.backend.type: rocksdb`` (every state access a RocksDB read or write of a pickled
value) and ``hashmap`` (Python objects), both against the same plain loop.

The two rows' ratios compare the backends: rocksdb's ratio over hashmap's is the share of
hashmap's throughput that rocksdb keeps. There is no target; it reports the ratios.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the ``benchmarks`` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from collections.abc import Sequence

from benchmarks._harness import BenchmarkResult, CountingSink, main_for, scaled, time_best
from benchmarks.keyed_process import CountPerSecond, baseline_same_logic
from benchmarks.windows import DELAY_MS, EVENTS, event_of, key_of, timestamp_of
from strom.common import Duration, WatermarkStrategy
from strom.common.configuration import Configuration
from strom.datastream import StreamExecutionEnvironment
from strom.datastream.connectors.number_seq import NumberSequenceSource

__all__ = ["BACKENDS", "run", "strom_keyed_process_on"]

BACKENDS = ("rocksdb", "hashmap")


def strom_keyed_process_on(backend: str, n: int, sink: CountingSink) -> None:
    """The keyed process job of :mod:`benchmarks.keyed_process` on ``backend``."""
    config = Configuration()
    config.set_string("state.backend.type", backend)
    env = StreamExecutionEnvironment.get_execution_environment(config)
    env.set_parallelism(1)
    strategy = (WatermarkStrategy.for_bounded_out_of_orderness(Duration.of_millis(DELAY_MS))
                .with_timestamp_assigner(timestamp_of))
    (env.from_source(NumberSequenceSource(0, n - 1), WatermarkStrategy.no_watermarks(), "events")
        .map(event_of)
        .assign_timestamps_and_watermarks(strategy)
        .key_by(key_of)
        .process(CountPerSecond())
        .sink_to(sink))
    env.execute(f"benchmark: keyed process function on {backend}")


def _emitted(backend: str, n: int) -> int:
    sink = CountingSink()
    try:
        strom_keyed_process_on(backend, n, sink)
        return sink.count
    finally:
        sink.release()


def run(scale: float = 1.0, repeat: int = 3, warmup: int = 1) -> list[BenchmarkResult]:
    n = scaled(EVENTS, scale)
    baseline = time_best(lambda: baseline_same_logic(n), repeat, warmup)
    results = []
    for backend in BACKENDS:
        strom = time_best(lambda b=backend: _emitted(b, n), repeat, warmup)  # type: ignore[misc]
        if strom.result != baseline.result:
            raise RuntimeError(
                f"rocksdb_state: strom on {backend} emitted {strom.result} records but the "
                f"baseline emitted {baseline.result} over the same {n} events; an output is "
                "wrong."
            )
        results.append(BenchmarkResult(f"rocksdb_state.keyed_process_{backend}", n,
                                       strom.best, baseline.best, None, strom.runs,
                                       baseline.runs))
    return results


def main(argv: Sequence[str] | None = None) -> int:
    return main_for(run, argv, "KeyedProcessFunction state and timers: rocksdb vs hashmap")


if __name__ == "__main__":
    sys.exit(main())
