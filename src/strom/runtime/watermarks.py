"""Timestamp assignment and watermark generation inside the source and the
``assign_timestamps_and_watermarks`` operator.

One generator per source split; the operator's watermark is the minimum over its non-idle
splits (Flink's ``WatermarkOutputMultiplexer``) and is emitted only when it advances.
Periodic generators are asked every ``pipeline.auto-watermark-interval``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["TimestampsAndWatermarks"]

LONG_MIN = -(2**63)


class _SplitOutput:
    """The WatermarkOutput one split's generator writes to."""

    __slots__ = ("idle", "mux", "watermark")

    def __init__(self, mux: TimestampsAndWatermarks) -> None:
        self.watermark = LONG_MIN
        self.idle = False
        self.mux = mux

    def emit_watermark(self, watermark: Any) -> None:
        ts = watermark if isinstance(watermark, int) else watermark.timestamp
        if ts > self.watermark:
            self.watermark = ts
        self.idle = False
        self.mux.update()

    def mark_idle(self) -> None:
        if not self.idle:
            self.idle = True
            self.mux.update()

    def mark_active(self) -> None:
        if self.idle:
            self.idle = False
            self.mux.update()


class TimestampsAndWatermarks:
    """Applies a WatermarkStrategy to batches, per split."""

    def __init__(
        self,
        strategy: Any,
        clock: Callable[[], int],
        interval_ms: int,
        emit_watermark: Callable[[int], None],
        emit_status: Callable[[bool], None],
        is_batch: bool,
    ) -> None:
        self.strategy = strategy
        self.clock = clock
        self.interval = interval_ms
        self.emit_watermark = emit_watermark
        self.emit_status = emit_status
        self.is_batch = is_batch
        assigner = strategy.create_timestamp_assigner() if strategy is not None else None
        self.assign = None
        if assigner is not None:
            self.assign = getattr(assigner, "extract_timestamp", assigner)
        self.generates = (
            strategy is not None and not is_batch and not getattr(strategy, "is_no_watermarks", False)
        )
        self.generators: dict[Any, tuple[Any, _SplitOutput]] = {}
        self.current = LONG_MIN
        self.idle = False
        self.next_periodic = clock() + interval_ms if self.generates and interval_ms > 0 else None

    def _generator(self, split_id: Any) -> tuple[Any, _SplitOutput]:
        entry = self.generators.get(split_id)
        if entry is None:
            generator = self.strategy.create_watermark_generator(clock=self.clock)
            entry = (generator, _SplitOutput(self))
            self.generators[split_id] = entry
        return entry

    def process(
        self, values: list[Any], timestamps: list[int] | None, split_id: Any = None
    ) -> list[int] | None:
        """Assign timestamps (if the strategy has an assigner) and feed the generator."""
        assign = self.assign
        if assign is not None:
            if timestamps is None:
                timestamps = [assign(v, LONG_MIN) for v in values]
            else:
                timestamps = [assign(v, t) for v, t in zip(values, timestamps)]
        if self.generates and timestamps is not None:
            generator, output = self._generator(split_id)
            generator.on_event_batch(values, timestamps, output)
        return timestamps

    def update(self) -> None:
        active = [o for _, o in self.generators.values() if not o.idle]
        if not active:
            if self.generators and not self.idle:
                self.idle = True
                self.emit_status(True)
            return
        if self.idle:
            self.idle = False
            self.emit_status(False)
        watermark = min(o.watermark for o in active)
        if watermark > self.current:
            self.current = watermark
            self.emit_watermark(watermark)

    def on_periodic(self, now: int) -> None:
        for generator, output in list(self.generators.values()):
            generator.on_periodic_emit(output)
        self.next_periodic = now + self.interval

    def release_split(self, split_id: Any) -> None:
        """A finished split no longer holds the watermark back."""
        self.generators.pop(split_id, None)
        self.update()
