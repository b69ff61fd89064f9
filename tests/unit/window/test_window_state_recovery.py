"""Window state lives in the keyed state backend: a snapshot taken mid-stream, restored into
one backend or re-sliced over two, continues to the exact output of an uninterrupted run."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest

from strom.common.time import Time
from strom.datastream.functions import WindowFunction
from strom.datastream.window import (
    CountSlidingWindowAssigner,
    EventTimeSessionWindows,
    SlidingEventTimeWindows,
)
from strom.runtime.window_functions import iterable_window_function, reduce_window_function
from strom.state.key_groups import KeyGroupRange, assign_to_key_group

MAX_P = 128
KEYS = [f"user-{i}" for i in range(12)]


class Describe(WindowFunction[Any, Any, Any, Any]):
    def apply(self, key: Any, window: Any, inputs: Iterable[Any]) -> Iterable[Any]:
        return [(key, repr(window), sorted(v[1] for v in inputs))]


def _events() -> list[tuple[str, int]]:
    # out-of-order timestamps per key so that sessions merge across the snapshot
    pattern = [0, 9, 4, 20, 13, 17, 40, 31, 35]
    return [(key, ts + i) for ts in pattern for i, key in enumerate(KEYS)]


def _run(harnesses: list[Any], events: list[tuple[str, int]], watermarks: bool) -> None:
    for key, ts in events:
        for harness in harnesses:
            if assign_to_key_group(key, MAX_P) in harness.backend.key_group_range:
                harness.element(key, (key, ts), ts)
        if watermarks and ts % 10 == 0:
            for harness in harnesses:
                harness.watermark(ts - 15)


def _assigner_and_function(kind: str) -> tuple[Any, Any]:
    if kind == "session":
        return (
            EventTimeSessionWindows.with_gap(Time.milliseconds(6)),
            iterable_window_function(Describe()),
        )
    if kind == "sliding":
        return (
            SlidingEventTimeWindows.of(Time.milliseconds(10), Time.milliseconds(5)),
            reduce_window_function(lambda a, b: (a[0], a[1] + b[1]), Describe()),
        )
    return CountSlidingWindowAssigner.of(3, 2), iterable_window_function(Describe())


@pytest.mark.parametrize("kind", ["session", "sliding", "count"])
@pytest.mark.parametrize("parallelism_after", [1, 2])
def test_snapshot_restore_and_rescale(make_harness: Any, kind: str, parallelism_after: int) -> None:
    events = _events()
    half = len(events) // 2

    assigner, function = _assigner_and_function(kind)
    reference = make_harness(assigner, function)
    _run([reference], events, watermarks=True)
    reference.end_of_input()

    assigner, function = _assigner_and_function(kind)
    before = make_harness(assigner, function)
    _run([before], events[:half], watermarks=True)
    snapshot = before.backend.snapshot()
    watermark = before.timers.current_watermark()

    ranges = (
        [KeyGroupRange(0, MAX_P - 1)]
        if parallelism_after == 1
        else [KeyGroupRange(0, MAX_P // 2 - 1), KeyGroupRange(MAX_P // 2, MAX_P - 1)]
    )
    after = []
    for key_groups in ranges:
        assigner, function = _assigner_and_function(kind)
        harness = make_harness(assigner, function, key_groups=key_groups, restore=[snapshot])
        harness.watermark(watermark)  # the runtime re-establishes the watermark
        after.append(harness)
    _run(after, events[half:], watermarks=True)
    for harness in after:
        harness.end_of_input()

    combined = before.output + [item for harness in after for item in harness.output]
    assert sorted(combined) == sorted(reference.output)
    assert len(reference.output) > len(KEYS)
