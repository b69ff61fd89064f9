import pickle
from typing import Any

import cloudpickle
import pytest

from strom.common import (
    Duration,
    TimestampAssigner,
    Watermark,
    WatermarkGenerator,
    WatermarkOutput,
    WatermarkStrategy,
)
from strom.common.watermark_strategy import (
    LONG_MAX,
    LONG_MIN,
    BoundedOutOfOrdernessWatermarks,
    NoWatermarksGenerator,
    WatermarksWithIdleness,
)


class RecordingOutput:
    """A WatermarkOutput that records what it was told."""

    def __init__(self) -> None:
        self.events: list[Any] = []

    def emit_watermark(self, watermark: Watermark) -> None:
        self.events.append(watermark.timestamp)

    def mark_idle(self) -> None:
        self.events.append("idle")

    def mark_active(self) -> None:
        self.events.append("active")


class FakeClock:
    def __init__(self, now: float = 0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_constants_and_watermark() -> None:
    assert LONG_MIN == -9223372036854775808
    assert LONG_MAX == 9223372036854775807
    assert Watermark(5) < Watermark(6)
    assert Watermark(5) == Watermark(5)
    assert Watermark.MAX_WATERMARK == Watermark(LONG_MAX)
    assert Watermark(3).get_timestamp() == 3
    with pytest.raises(AttributeError):
        Watermark(1).timestamp = 2  # type: ignore[misc]
    assert isinstance(RecordingOutput(), WatermarkOutput)


def test_bounded_out_of_orderness_exact_watermarks() -> None:
    out = RecordingOutput()
    gen = BoundedOutOfOrdernessWatermarks(5000)
    gen.on_periodic_emit(out)
    assert out.events == [LONG_MIN]
    gen.on_event("a", 10_000, out)
    gen.on_event("b", 8_000, out)  # late records do not move the watermark back
    gen.on_periodic_emit(out)
    gen.on_event("c", 12_000, out)
    gen.on_periodic_emit(out)
    gen.on_periodic_emit(out)
    assert out.events == [LONG_MIN, 4_999, 6_999, 6_999]


def test_monotonous_and_batch_events() -> None:
    out = RecordingOutput()
    gen = WatermarkStrategy.for_monotonous_timestamps().create_watermark_generator()
    gen.on_periodic_emit(out)
    gen.on_event_batch(["a", "b", "c"], [3, 9, 7], out)
    gen.on_periodic_emit(out)
    gen.on_event_batch([], [], out)
    gen.on_periodic_emit(out)
    assert out.events == [LONG_MIN, 8, 8]


def test_bounded_strategy_uses_duration() -> None:
    gen = WatermarkStrategy.for_bounded_out_of_orderness(
        Duration.of_seconds(1)
    ).create_watermark_generator()
    out = RecordingOutput()
    gen.on_event(None, 2_000, out)
    gen.on_periodic_emit(out)
    assert out.events == [999]
    with pytest.raises(ValueError, match="must not be negative"):
        WatermarkStrategy.for_bounded_out_of_orderness(Duration.of_millis(-1))


def test_no_watermarks() -> None:
    strategy = WatermarkStrategy.no_watermarks()
    assert strategy.is_no_watermarks
    gen = strategy.create_watermark_generator()
    assert isinstance(gen, NoWatermarksGenerator)
    out = RecordingOutput()
    gen.on_event(None, 5, out)
    gen.on_event_batch([None], [6], out)
    gen.on_periodic_emit(out)
    assert out.events == []
    assert not WatermarkStrategy.for_monotonous_timestamps().is_no_watermarks


def test_idleness_with_fake_clock() -> None:
    clock = FakeClock(0)
    strategy = WatermarkStrategy.for_monotonous_timestamps().with_idleness(Duration.of_millis(100))
    assert strategy.idle_timeout_ms == 100
    gen = strategy.create_watermark_generator(clock)
    assert isinstance(gen, WatermarksWithIdleness)
    out = RecordingOutput()

    gen.on_event(None, 1000, out)
    gen.on_periodic_emit(out)  # activity since last check: emit normally
    assert out.events == [999]
    clock.now = 50
    gen.on_periodic_emit(out)  # no activity: the countdown starts at t=50, still active
    assert out.events == [999, 999]
    clock.now = 150
    gen.on_periodic_emit(out)  # exactly 100 ms elapsed: not yet more than the timeout
    assert out.events == [999, 999, 999]
    clock.now = 151
    gen.on_periodic_emit(out)  # more than 100 ms without records: idle, no watermark
    assert out.events == [999, 999, 999, "idle"]
    assert gen.is_idle
    clock.now = 400
    gen.on_periodic_emit(out)  # idle is marked once
    assert out.events == [999, 999, 999, "idle"]

    gen.on_event(None, 2000, out)  # the next record makes the output active again
    assert out.events[-1] == "active" and not gen.is_idle
    gen.on_periodic_emit(out)
    assert out.events == [999, 999, 999, "idle", "active", 1999]
    clock.now = 450
    gen.on_periodic_emit(out)  # countdown restarts from scratch
    clock.now = 500
    gen.on_periodic_emit(out)
    assert out.events[-2:] == [1999, 1999]


def test_idleness_validation() -> None:
    with pytest.raises(ValueError, match="greater than zero"):
        WatermarkStrategy.for_monotonous_timestamps().with_idleness(Duration.of_millis(0))
    with pytest.raises(ValueError, match="greater than zero"):
        WatermarksWithIdleness(NoWatermarksGenerator(), 0, FakeClock())


def test_timestamp_assigners() -> None:
    class FirstField(TimestampAssigner):
        def extract_timestamp(self, value: Any, record_timestamp: int) -> int:
            return int(value[0])

    base = WatermarkStrategy.for_monotonous_timestamps()
    assert base.create_timestamp_assigner() is None
    instance = FirstField()
    assert base.with_timestamp_assigner(instance).create_timestamp_assigner() is instance

    two_args = base.with_timestamp_assigner(lambda v, ts: v[1] + ts)
    assigner = two_args.create_timestamp_assigner()
    assert assigner is not None
    assert assigner.extract_timestamp((0, 5), 10) == 15
    assert isinstance(assigner, TimestampAssigner)

    one_arg = base.with_timestamp_assigner(lambda v: v[1])
    one = one_arg.create_timestamp_assigner()
    assert one is not None and one.extract_timestamp((0, 7), LONG_MIN) == 7

    with pytest.raises(TypeError, match="needs a TimestampAssigner or a function"):
        base.with_timestamp_assigner(42)  # type: ignore[arg-type]


def test_strategies_are_immutable() -> None:
    base = WatermarkStrategy.for_monotonous_timestamps()
    with_idle = base.with_idleness(Duration.of_seconds(1))
    aligned = with_idle.with_watermark_alignment("g", Duration.of_seconds(20))
    assert base.idle_timeout_ms is None and base.watermark_alignment is None
    assert with_idle.idle_timeout_ms == 1000 and with_idle.watermark_alignment is None
    params = aligned.watermark_alignment
    assert params is not None
    assert (params.group, params.max_drift_ms, params.update_interval_ms) == ("g", 20_000, 1000)
    assert aligned.idle_timeout_ms == 1000
    custom = base.with_watermark_alignment("g", Duration.of_seconds(1), Duration.of_millis(250))
    assert custom.watermark_alignment is not None
    assert custom.watermark_alignment.update_interval_ms == 250
    with pytest.raises(ValueError, match="non-empty"):
        base.with_watermark_alignment("", Duration.of_seconds(1))
    assert repr(with_idle) == (
        "WatermarkStrategy.for_monotonous_timestamps().with_idleness(1000 ms)"
    )


class Punctuated(WatermarkGenerator):
    """Emits a watermark for every record whose value is 'mark'."""

    def on_event(self, event: Any, event_timestamp: int, output: WatermarkOutput) -> None:
        if event == "mark":
            output.emit_watermark(Watermark(event_timestamp))

    def on_periodic_emit(self, output: WatermarkOutput) -> None:
        pass


def test_custom_generators() -> None:
    strategy = WatermarkStrategy.for_generator(Punctuated)
    first, second = strategy.create_watermark_generator(), strategy.create_watermark_generator()
    assert first is not second  # one generator per split
    out = RecordingOutput()
    first.on_event_batch(["x", "mark", "y"], [1, 2, 3], out)
    first.on_periodic_emit(out)
    assert out.events == [2]

    from_lambda = WatermarkStrategy.for_generator(lambda: BoundedOutOfOrdernessWatermarks(10))
    gen = from_lambda.create_watermark_generator()
    gen.on_event(None, 100, out)
    gen.on_periodic_emit(out)
    assert out.events == [2, 89]

    with pytest.raises(TypeError, match="not an instance"):
        WatermarkStrategy.for_generator(Punctuated())  # type: ignore[arg-type]
    broken = WatermarkStrategy.for_generator(lambda: 5)  # type: ignore[arg-type,return-value]
    with pytest.raises(TypeError, match="not a WatermarkGenerator"):
        broken.create_watermark_generator()


def test_strategies_pickle() -> None:
    strategy = (
        WatermarkStrategy.for_bounded_out_of_orderness(Duration.of_millis(5))
        .with_timestamp_assigner(lambda v, ts: v)
        .with_idleness(Duration.of_seconds(2))
    )
    copy = cloudpickle.loads(cloudpickle.dumps(strategy))
    assert copy.idle_timeout_ms == 2000
    assigner = copy.create_timestamp_assigner()
    assert assigner is not None and assigner.extract_timestamp(42, 0) == 42
    plain = pickle.loads(pickle.dumps(WatermarkStrategy.for_monotonous_timestamps()))
    out = RecordingOutput()
    gen = plain.create_watermark_generator()
    gen.on_event(None, 10, out)
    gen.on_periodic_emit(out)
    assert out.events == [9]
