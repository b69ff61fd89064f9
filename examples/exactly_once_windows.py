"""Keyed event-time windows written exactly once to part files, through failures.

A generated stream of sensor readings (``--records`` of them, one per millisecond of event
time, a few milliseconds out of order) is summed per sensor and one-second tumbling window
and written with the ``FileSink`` as lines ``sensor,window_start,count,total``. With
checkpointing on (every ``--checkpoint-interval`` ms into ``--checkpoint-dir``) and a
fixed-delay restart strategy, a TaskManager killed with ``kill -9`` or a function that fails
only restarts the job from its latest checkpoint, and the finished part files hold every
window exactly once: the same lines as ``--print-expected`` prints, which computes them in
plain Python. ``--rate`` slows the source down (readings per second) so there is time to
watch; ``--fail-after N`` makes the first attempt fail after N readings.

::

    python examples/exactly_once_windows.py --output /tmp/out --checkpoint-dir /tmp/chk
    python examples/exactly_once_windows.py --print-expected | sort > expected.txt
    cat /tmp/out/part-* | sort | diff - expected.txt && echo exactly once

The job: the source and the readings run at parallelism 1 (so the stream is in event-time
order up to the jitter, and a restart replays exactly the readings after the checkpoint);
the windows and the sink run at ``--parallelism`` (by default the environment's: ``strom run
-p N``, or the cores on the embedded local cluster).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterable, Sequence

from strom.common import Configuration, Duration, Encoder, Time, Types, WatermarkStrategy
from strom.datastream import MapFunction, RuntimeContext, StreamExecutionEnvironment
from strom.datastream.connectors.file_system import (
    BucketAssigner,
    FileSink,
    OutputFileConfig,
    RollingPolicy,
)
from strom.datastream.connectors.number_seq import NumberSequenceSource
from strom.datastream.window import TumblingEventTimeWindows

SENSORS = 300
WINDOW_MS = 1_000
OUT_OF_ORDERNESS_MS = 10
PART_PREFIX = "part"

Reading = tuple[str, int, int, int]
"""``(sensor, timestamp_ms, count, total)``: one reading has count 1; a window sum adds up."""


def reading_of(i: int) -> Reading:
    """The ``i``-th reading: deterministic, so every run and every replay sees the same."""
    sensor = f"sensor-{(i * 7919) % SENSORS:03d}"
    timestamp = i + (i * 31) % 7  # up to 6 ms of jitter, below the out-of-orderness bound
    return (sensor, timestamp, 1, i % 10)


def add(a: Reading, b: Reading) -> Reading:
    """Commutative, so the result does not depend on arrival order."""
    return (a[0], min(a[1], b[1]), a[2] + b[2], a[3] + b[3])


def line_of(window_sum: Reading) -> str:
    sensor, first_timestamp, count, total = window_sum
    start = first_timestamp - first_timestamp % WINDOW_MS
    return f"{sensor},{start},{count},{total}"


def expected_lines(records: int) -> list[str]:
    """The job's output computed in plain Python: one line per (sensor, window)."""
    sums: dict[tuple[str, int], Reading] = {}
    for i in range(records):
        reading = reading_of(i)
        window = (reading[0], reading[1] - reading[1] % WINDOW_MS)
        previous = sums.get(window)
        sums[window] = reading if previous is None else add(previous, reading)
    return sorted(line_of(s) for s in sums.values())


class Readings(MapFunction):
    """Number -> reading; at most ``rate`` readings per second when ``rate`` > 0; raises
    after ``fail_after`` readings on the first attempt only, when ``fail_after`` > 0."""

    def __init__(self, rate: float = 0.0, fail_after: int = 0) -> None:
        self.rate = rate
        self.fail_after = fail_after

    def open(self, runtime_context: RuntimeContext) -> None:
        self.attempt = runtime_context.get_attempt_number()
        self.seen = 0
        self.started = time.monotonic()

    def map(self, value: int) -> Reading:
        self.seen += 1
        if self.seen % 500 == 0:
            if self.fail_after and self.attempt == 0 and self.seen >= self.fail_after:
                raise RuntimeError(f"failing on purpose after {self.seen} readings "
                                   "(attempt 0 only; the restarted job goes on)")
            if self.rate > 0:
                ahead = self.started + self.seen / self.rate - time.monotonic()
                if ahead > 0:
                    time.sleep(ahead)
        return reading_of(value)


def timestamp_of(reading: Reading, record_timestamp: int) -> int:
    return reading[1]


def sensor_of(reading: Reading) -> str:
    return reading[0]


def build(env: StreamExecutionEnvironment, output: str, records: int, rate: float = 0.0,
          fail_after: int = 0, parallelism: int | None = None) -> None:
    """Add the job to ``env`` (configure checkpointing and restarts on ``env`` first); the
    windows and the sink run at ``parallelism`` (default: the environment's)."""
    if parallelism is not None:
        env.set_parallelism(parallelism)
    watermarks = (WatermarkStrategy
                  .for_bounded_out_of_orderness(Duration.of_millis(OUT_OF_ORDERNESS_MS))
                  .with_timestamp_assigner(timestamp_of))
    sink = (FileSink.for_row_format(output, Encoder.simple_string_encoder())
            .with_bucket_assigner(BucketAssigner.base_path_bucket_assigner())
            .with_rolling_policy(RollingPolicy.on_checkpoint_rolling_policy())
            .with_output_file_config(OutputFileConfig.builder()
                                     .with_part_prefix(PART_PREFIX).build())
            .build())
    (env.from_source(NumberSequenceSource(0, records - 1), WatermarkStrategy.no_watermarks(),
                     "numbers").set_parallelism(1).uid("numbers")
        .map(Readings(rate, fail_after)).set_parallelism(1).uid("readings")
        .assign_timestamps_and_watermarks(watermarks).set_parallelism(1).uid("watermarks")
        .key_by(sensor_of)
        .window(TumblingEventTimeWindows.of(Time.milliseconds(WINDOW_MS)))
        .reduce(add).uid("window-sums")
        .map(line_of, Types.STRING()).uid("lines")
        .sink_to(sink).uid("files"))


def configuration(checkpoint_dir: str | None, checkpoint_interval_ms: int,
                  restart_attempts: int = 1_000, restart_delay_ms: int = 200) -> Configuration:
    """Checkpointing into ``checkpoint_dir`` and fixed-delay restarts, as Flink's keys."""
    config = Configuration()
    if checkpoint_dir is not None:
        config.set_string("execution.checkpointing.dir", checkpoint_dir)
    if checkpoint_interval_ms > 0:
        config.set_string("execution.checkpointing.interval", f"{checkpoint_interval_ms} ms")
    config.set_string("restart-strategy.type", "fixed-delay")
    config.set_string("restart-strategy.fixed-delay.attempts", str(restart_attempts))
    config.set_string("restart-strategy.fixed-delay.delay", f"{restart_delay_ms} ms")
    return config


def parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", help="directory of the part files")
    parser.add_argument("--checkpoint-dir", help="checkpoint storage (path or URL)")
    parser.add_argument("--checkpoint-interval", type=int, default=500, metavar="MS",
                        help="milliseconds between checkpoints; 0 turns them off")
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--rate", type=float, default=0.0, help="readings per second (0: all)")
    parser.add_argument("--fail-after", type=int, default=0, metavar="N",
                        help="the first attempt fails after N readings")
    parser.add_argument("--parallelism", type=int, default=None,
                        help="of the windows and the sink (default: the environment's, e.g. "
                             "strom run -p)")
    parser.add_argument("--print-expected", action="store_true",
                        help="print the expected lines (plain Python) instead of running")
    args = parser.parse_args(argv)
    if not args.print_expected and not args.output:
        parser.error("--output DIR is required to run the job")
    return args


def main(argv: Iterable[str] = ()) -> None:
    args = parse(list(argv))
    if args.print_expected:
        print("\n".join(expected_lines(args.records)))
        return
    env = StreamExecutionEnvironment.get_execution_environment(
        configuration(args.checkpoint_dir, args.checkpoint_interval))
    build(env, args.output, args.records, args.rate, args.fail_after, args.parallelism)
    env.execute("exactly-once windows")


if __name__ == "__main__":
    main(sys.argv[1:])
