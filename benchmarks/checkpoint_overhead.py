"""Checkpoint overhead: the event-time window job of ``windows.py`` with a checkpoint every
second against the same job without checkpoints.

The job (STREAMING, parallelism 1, embedded local cluster, 8M events at scale 1.0 so that it
runs for several seconds)::

    NumberSequenceSource(0, n - 1) -> map(event_of) -> timestamps and watermarks
        -> key_by(key_of) -> 1 s tumbling event-time windows -> reduce(add_values)
        -> CountingSink

with ``execution.checkpointing.interval: 1 s`` and ``execution.checkpointing.dir`` a
temporary ``file://`` directory on the "strom" side, and no checkpointing on the "baseline"
side, so ``ratio`` is throughput with checkpoints / throughput without (target >= 0.9, i.e.
at most 10 % slower). Both sides must emit the same window results. The line also says how
many checkpoints completed during the last checkpointed run (counted from the
coordinator's log); a run of more than three intervals that completed none fails the
benchmark, since it would measure nothing.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the ``benchmarks`` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import json
import logging
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass

from benchmarks._harness import BenchmarkResult, CountingSink, main_for, scaled, time_best
from benchmarks.windows import (
    DELAY_MS,
    WINDOW_MS,
    add_values,
    event_of,
    key_of,
    timestamp_of,
)
from strom.common import Configuration, Duration, Time, WatermarkStrategy
from strom.datastream import StreamExecutionEnvironment
from strom.datastream.connectors.number_seq import NumberSequenceSource
from strom.datastream.window import TumblingEventTimeWindows

__all__ = ["CHECKPOINT_INTERVAL_MS", "TARGET", "CheckpointOverheadResult", "CheckpointWatch",
           "EVENTS", "emitted", "run", "window_job"]

TARGET = 0.9
CHECKPOINT_INTERVAL_MS = 1_000
#: events at scale 1.0: the job runs for several checkpoint intervals
EVENTS = 8_000_000


class CheckpointWatch(logging.Handler):
    """Counts the checkpoints the JobManager in this process completes while the block runs,
    from its coordinator's log (``completed checkpoint <n> of job ...``)."""

    LOGGER = "strom.jobmanager.checkpoint.coordinator"

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.completed = 0
        self._logger = logging.getLogger(self.LOGGER)
        self._level = self._logger.level

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("completed checkpoint "):
            self.completed += 1

    def __enter__(self) -> CheckpointWatch:
        if not self._logger.isEnabledFor(logging.INFO):
            self._logger.setLevel(logging.INFO)
        self._logger.addHandler(self)
        return self

    def __exit__(self, *exc: object) -> None:
        self._logger.removeHandler(self)
        self._logger.setLevel(self._level)


def window_job(n: int, sink: CountingSink, checkpoint_dir: Path | None,
               interval_ms: int = CHECKPOINT_INTERVAL_MS) -> None:
    """The window sum of ``windows.py``; checkpointed every ``interval_ms`` into
    ``checkpoint_dir`` when one is given."""
    config = Configuration()
    if checkpoint_dir is not None:
        config.set_string("execution.checkpointing.interval", f"{interval_ms} ms")
        config.set_string("execution.checkpointing.dir", checkpoint_dir.as_uri())
    env = StreamExecutionEnvironment.get_execution_environment(config)
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
    env.execute("benchmark: tumbling window sum" + (" checkpointed" if checkpoint_dir else ""))


def emitted(n: int, checkpointed: bool, interval_ms: int = CHECKPOINT_INTERVAL_MS
            ) -> tuple[int, int]:
    """(window results emitted, checkpoints completed) of one run of :func:`window_job`."""
    sink = CountingSink()
    try:
        with tempfile.TemporaryDirectory(prefix="strom-bench-chk-") as directory:
            with CheckpointWatch() as watch:
                window_job(n, sink, Path(directory) if checkpointed else None, interval_ms)
            return sink.count, watch.completed
    finally:
        sink.release()


@dataclass(frozen=True)
class CheckpointOverheadResult(BenchmarkResult):
    """A :class:`BenchmarkResult` that also says how many checkpoints the last checkpointed run
    completed."""

    checkpoints: int = 0

    def line(self) -> str:
        return f"{super().line()}  checkpoints={self.checkpoints}"

    def as_json(self) -> str:
        row = json.loads(super().as_json())
        row["checkpoints"] = self.checkpoints
        row["checkpoint_interval_ms"] = CHECKPOINT_INTERVAL_MS
        return json.dumps(row)


def run(scale: float = 1.0, repeat: int = 3, warmup: int = 1) -> list[BenchmarkResult]:
    n = scaled(EVENTS, scale)
    plain = time_best(lambda: emitted(n, False), repeat, warmup)
    checkpointed = time_best(lambda: emitted(n, True), repeat, warmup)
    if checkpointed.result[0] != plain.result[0]:
        raise RuntimeError(
            f"checkpoint_overhead: the checkpointed job emitted {checkpointed.result[0]} window "
            f"results but the job without checkpoints {plain.result[0]} over the same {n} "
            "events; an output is wrong.")
    if checkpointed.result[1] == 0 and checkpointed.best > 3 * CHECKPOINT_INTERVAL_MS / 1000:
        raise RuntimeError(
            f"checkpoint_overhead: no checkpoint completed in {checkpointed.best:.1f} s with a "
            f"{CHECKPOINT_INTERVAL_MS} ms interval; checkpointing did not run.")
    return [CheckpointOverheadResult(
        "checkpoint_overhead.window_1s", n, checkpointed.best, plain.best, TARGET,
        checkpointed.runs, plain.runs, checkpoints=checkpointed.result[1])]


def main(argv: Sequence[str] | None = None) -> int:
    return main_for(run, argv, "window job throughput with 1 s checkpoints against none")


if __name__ == "__main__":
    sys.exit(main())
