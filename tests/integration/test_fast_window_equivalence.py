"""The fast event-time window path gives exactly the general window operator's results.

Random out-of-order input with a punctuated watermark (deterministic), tumbling and sliding
windows, reduce and aggregate, with and without allowed lateness and a late-data side output.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from strom.common import Time, WatermarkStrategy
from strom.common.watermark_strategy import Watermark, WatermarkGenerator
from strom.datastream import AggregateFunction, OutputTag, StreamExecutionEnvironment
from strom.datastream.window import SlidingEventTimeWindows, TumblingEventTimeWindows
from strom.runtime.operators import fast_window
from strom.testing import CollectSink, TestingSource


class EveryEvent(WatermarkGenerator):
    """Watermark after every element: max timestamp seen - 20 - 1."""

    def __init__(self) -> None:
        self.max_ts = -(2**63) + 21

    def on_event(self, event: Any, event_timestamp: int, output: Any) -> None:
        self.max_ts = max(self.max_ts, event_timestamp)
        output.emit_watermark(Watermark(self.max_ts - 20 - 1))

    def on_periodic_emit(self, output: Any) -> None:
        pass


class Average(AggregateFunction):
    def create_accumulator(self) -> list[int]:
        return [0, 0]

    def add(self, value: tuple[str, int, int], acc: list[int]) -> list[int]:
        return [acc[0] + value[2], acc[1] + 1]

    def get_result(self, acc: list[int]) -> tuple[int, int]:
        return (acc[0], acc[1])

    def merge(self, a: list[int], b: list[int]) -> list[int]:
        return [a[0] + b[0], a[1] + b[1]]


def events(seed: int) -> list[Any]:
    rnd = random.Random(seed)
    out: list[Any] = []
    for i in range(600):
        out.append(((f"k{rnd.randrange(7)}", i * 3 + rnd.randrange(-120, 10), i), 0))
        if i % 25 == 0:
            out.append(TestingSource.PAUSE)
    return [e if e is TestingSource.PAUSE else (e[0], e[0][1]) for e in out]


def run(parallelism: int, assigner: Any, kind: str, lateness: int) -> tuple[list, list]:
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(parallelism)
    late = OutputTag("late")
    strategy = WatermarkStrategy.for_generator(EveryEvent)
    # one source instance, so every window instance sees one deterministic watermark sequence
    stream = env.from_source(TestingSource(events(parallelism), timestamped=True), strategy,
                             "events").set_parallelism(1)
    windowed = stream.key_by(lambda e: e[0]).window(assigner).allowed_lateness(lateness) \
        .side_output_late_data(late)
    if kind == "reduce":
        result = windowed.reduce(lambda a, b: (a[0], max(a[1], b[1]), a[2] + b[2]))
    else:
        result = windowed.aggregate(Average())
    main, side = CollectSink(), CollectSink()
    result.sink_to(main)
    result.get_side_output(late).sink_to(side)
    env.execute()
    return (sorted(zip(map(repr, main.results), main.timestamps)),
            sorted(map(repr, side.results)))


@pytest.mark.parametrize("parallelism", [1, 2])
@pytest.mark.parametrize("kind", ["reduce", "aggregate"])
@pytest.mark.parametrize("lateness", [0, 30])
@pytest.mark.parametrize("assigner", [
    TumblingEventTimeWindows.of(Time.milliseconds(50)),
    SlidingEventTimeWindows.of(Time.milliseconds(60), Time.milliseconds(20)),
], ids=["tumbling", "sliding"])
def test_fast_path_matches_general_operator(
    monkeypatch: pytest.MonkeyPatch, parallelism: int, kind: str, lateness: int, assigner: Any
) -> None:
    fast = run(parallelism, assigner, kind, lateness)
    monkeypatch.setattr(fast_window, "ENABLED", False)
    general = run(parallelism, assigner, kind, lateness)
    assert fast == general
    assert fast[0], "the windows produced output"
    assert fast[1], "some elements were late (the test exercises lateness)"
