"""Exactly-once recovery in one process, randomized: a keyed running count fed by a
parallel source over several input channels per task, checkpointed every few tens of
milliseconds (aligned, or unaligned with in-flight data in the snapshot), whose user
function fails at seeded random moments on its first attempts. Every restart goes back to
the latest completed checkpoint, and the FileSink's finished part files hold each running
count exactly once. Each failure comes after a checkpoint finished part files, which a
restart from scratch would write again.

The running count of a key emits ``(key, 1), (key, 2), ... (key, m)`` whatever the order its
records arrive in, so the expected output does not depend on how the channels interleave.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from pathlib import Path

import pytest

from strom.common import Configuration, Encoder, Types, WatermarkStrategy
from strom.datastream import MapFunction, RuntimeContext, StreamExecutionEnvironment
from strom.datastream.connectors.file_system import FileSink, RollingPolicy
from strom.datastream.connectors.number_seq import NumberSequenceSource

KEYS = 37
FAIL_CHECK_EVERY = 250


#: (test id, attempt) of every failure raised; the TaskManagers run in this process
RAISED: list[tuple[str, int]] = []


class FailingPaced(MapFunction):
    """Passes numbers through at a bounded pace. On attempt ``a`` < len(fail_at), subtask
    ``fail_subtask`` raises once it has seen ``fail_at[a]`` numbers and a checkpoint has
    finished a part file in ``output`` (so the restart has a checkpoint to go back to, and
    output that a restart from scratch would duplicate)."""

    def __init__(self, test_id: str, fail_at: list[int], fail_subtask: int, pause_s: float,
                 output: str) -> None:
        self.test_id = test_id
        self.fail_at = fail_at
        self.fail_subtask = fail_subtask
        self.pause_s = pause_s
        self.output = output

    def open(self, runtime_context: RuntimeContext) -> None:
        self.attempt = runtime_context.get_attempt_number()
        self.fails = (runtime_context.get_index_of_this_subtask() == self.fail_subtask
                      and self.attempt < len(self.fail_at))
        self.seen = 0

    def map(self, value: int) -> int:
        self.seen += 1
        if self.seen % FAIL_CHECK_EVERY == 0:
            if (self.fails and self.seen >= self.fail_at[self.attempt]
                    and any(Path(self.output).rglob("part-*"))):
                RAISED.append((self.test_id, self.attempt))
                raise RuntimeError(f"failing on purpose on attempt {self.attempt}")
            time.sleep(self.pause_s)
        return value


def expected(records: int) -> list[str]:
    counts = Counter(i % KEYS for i in range(records))
    return sorted(f"{key},{n}" for key, total in counts.items() for n in range(1, total + 1))


def finished_lines(output: Path) -> list[str]:
    return sorted(line for part in output.rglob("part-*")  # a bucket directory per hour
                  for line in part.read_text().splitlines())


@pytest.mark.parametrize("unaligned", [False, True], ids=["aligned", "unaligned"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_failures_restore_the_latest_checkpoint_and_write_exactly_once(
        tmp_path: Path, seed: int, unaligned: bool) -> None:
    rng = random.Random(seed)
    records = 24_000
    sources = rng.choice([2, 3])  # input channels of each counting task
    per_source = records // sources
    # the failures come in the first half, so a restored attempt has input left to fail on
    fail_at = sorted(rng.sample(range(FAIL_CHECK_EVERY, per_source // 2, FAIL_CHECK_EVERY),
                                rng.randint(1, 2)))
    test_id = f"seed-{seed}-{random.random()}"
    config = Configuration()
    config.set_string("execution.checkpointing.interval", "30 ms")
    config.set_string("execution.checkpointing.dir", (tmp_path / "checkpoints").as_uri())
    config.set_string("execution.checkpointing.unaligned.enabled", str(unaligned).lower())
    config.set_string("restart-strategy.type", "fixed-delay")
    config.set_string("restart-strategy.fixed-delay.attempts", "10")
    config.set_string("restart-strategy.fixed-delay.delay", "10 ms")
    env = StreamExecutionEnvironment.get_execution_environment(config)
    env.set_parallelism(2)
    sink = (FileSink.for_row_format(str(tmp_path / "out"), Encoder.simple_string_encoder())
            .with_rolling_policy(RollingPolicy.on_checkpoint_rolling_policy()).build())
    (env.from_source(NumberSequenceSource(0, records - 1), WatermarkStrategy.no_watermarks(),
                     "numbers").set_parallelism(sources)
        .map(FailingPaced(test_id, fail_at, rng.randrange(sources), 0.005,
                          str(tmp_path / "out"))).set_parallelism(sources)
        .map(lambda i: (i % KEYS, 1), Types.TUPLE([Types.INT(), Types.INT()]))
        .set_parallelism(sources)
        .key_by(lambda pair: pair[0])
        .reduce(lambda a, b: (a[0], a[1] + b[1]))
        .map(lambda pair: f"{pair[0]},{pair[1]}", Types.STRING())
        .sink_to(sink))
    env.execute(f"randomized recovery, seed {seed}")

    failures = [attempt for tid, attempt in RAISED if tid == test_id]
    assert failures and failures == list(range(len(failures))), failures
    got = finished_lines(tmp_path / "out")
    want = expected(records)
    assert len(got) == len(want) and got == want, (
        f"seed {seed}: {sources} sources failing at {fail_at}: "
        f"{len(got)} lines, {len(want)} expected; duplicated "
        f"{sorted(k for k, n in Counter(got).items() if n > 1)[:5]}, missing "
        f"{sorted((Counter(want) - Counter(got)).elements())[:5]}")
