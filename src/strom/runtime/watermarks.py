"""Timestamp assignment and watermark generation inside the source and the
``assign_timestamps_and_watermarks`` operator.

One generator per source split; the operator's watermark is the minimum over its non-idle
splits (Flink's ``WatermarkOutputMultiplexer``) and is emitted only when it advances.
Periodic generators are asked every ``pipeline.auto-watermark-interval``.

A watermark (or idleness change) a generator emits while it sees a batch goes downstream
after the records before it: generators that only implement ``on_event`` (punctuated ones)
are called record by record and the batch is cut where they emit; a generator with its own
``on_event_batch`` sees the whole batch, and what it emits follows the batch.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any

from strom.common.watermark_strategy import WatermarkGenerator, WatermarksWithIdleness

__all__ = ["TimestampsAndWatermarks"]

LONG_MIN = -(2**63)


BatchEmit = Callable[[list[Any], "list[int] | None"], None]


def _calls_per_event(generator: Any) -> bool:
    """True when ``generator`` (or the one an idleness wrapper wraps) has no ``on_event_batch``
    of its own, so it must see records one by one to place its watermarks between them."""
    inner = generator.generator if isinstance(generator, WatermarksWithIdleness) else generator
    batch = getattr(type(inner), "on_event_batch", None)
    return batch is None or batch is WatermarkGenerator.on_event_batch


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


class _SplitOutput:
    """The WatermarkOutput one split's generator writes to."""

    __slots__ = ("idle", "mux", "per_event", "watermark")

    def __init__(self, mux: TimestampsAndWatermarks, per_event: bool) -> None:
        self.watermark = LONG_MIN
        self.idle = False
        self.mux = mux
        self.per_event = per_event

    def emit_watermark(self, watermark: Any) -> None:
        ts = watermark if isinstance(watermark, int) else watermark.timestamp
        if ts > self.watermark:
            self.watermark = ts
        self.idle = False
        self.mux.changed()

    def mark_idle(self) -> None:
        if not self.idle:
            self.idle = True
            self.mux.changed()

    def mark_active(self) -> None:
        if self.idle:
            self.idle = False
            self.mux.changed()


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
        operator_name: str = "",
    ) -> None:
        self.operator_name = operator_name
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
        # while a batch goes through a generator, changes wait until its records are emitted
        self.holding = False
        self.pending = False
        self.next_periodic = clock() + interval_ms if self.generates and interval_ms > 0 else None

    def _generator(self, split_id: Any) -> tuple[Any, _SplitOutput]:
        entry = self.generators.get(split_id)
        if entry is None:
            generator = self.strategy.create_watermark_generator(clock=self.clock)
            entry = (generator, _SplitOutput(self, _calls_per_event(generator)))
            self.generators[split_id] = entry
        return entry

    def process(
        self, values: list[Any], timestamps: list[int] | None, split_id: Any, emit: BatchEmit
    ) -> None:
        """Assign timestamps (if the strategy has an assigner), feed the split's generator and
        ``emit`` the records, with what the generator emits placed after the records it saw."""
        assign = self.assign
        if timestamps is not None and len(timestamps) != len(values):
            raise self._count_error(values, timestamps)
        if assign is not None:
            if timestamps is None:
                timestamps = [assign(v, LONG_MIN) for v in values]
            else:
                timestamps = [assign(v, t) for v, t in zip(values, timestamps)]
        if timestamps is not None:
            # one C-level pass per batch: sum() fails on None or str and turns float
            try:
                valid = type(sum(timestamps)) is int
            except TypeError:
                valid = False
            if not valid:
                timestamps = self._integral_or_raise(values, timestamps)
        if not self.generates or timestamps is None:
            emit(values, timestamps)
            return
        generator, output = self._generator(split_id)
        self.holding = True
        try:
            if output.per_event:
                self._per_event(generator, output, values, timestamps, emit)
                return
            generator.on_event_batch(values, timestamps, output)
        finally:
            self.holding = False
        emit(values, timestamps)
        self._release()

    def _count_error(self, values: list[Any], timestamps: list[int]) -> ValueError:
        return ValueError(
            f"The reader of '{self.operator_name}' emitted {len(values)} records with "
            f"{len(timestamps)} timestamps; ReaderOutput.collect(values, timestamps) needs "
            "exactly one timestamp per record, or timestamps=None."
        )

    def _integral_or_raise(self, values: list[Any], timestamps: list[Any]) -> list[int]:
        """Integral timestamps of other types (numpy's int64, for instance) become ints;
        anything else (None, str, float, bool) is an error naming the record."""
        if all(isinstance(t, numbers.Integral) and not isinstance(t, bool) for t in timestamps):
            return [int(t) for t in timestamps]
        raise self._type_error(values, timestamps)

    def _type_error(self, values: list[Any], timestamps: list[Any]) -> TypeError:
        index = next(i for i, t in enumerate(timestamps)
                     if not isinstance(t, numbers.Integral) or isinstance(t, bool))
        bad, record = timestamps[index], _shown(values[index])
        if self.assign is not None:
            what = f"The timestamp assigner of '{self.operator_name}' returned"
            fix = "Make extract_timestamp return an int"
        else:
            what = f"The reader of '{self.operator_name}' emitted the timestamp"
            fix = "Emit int timestamps"
        return TypeError(
            f"{what} {_shown(bad)} (a {type(bad).__name__}) for the record {record}; a "
            f"timestamp must be an int, in milliseconds since the epoch. {fix} "
            "(e.g. int(seconds * 1000))."
        )

    def _per_event(self, generator: Any, output: _SplitOutput, values: list[Any],
                   timestamps: list[int], emit: BatchEmit) -> None:
        on_event = generator.on_event
        start = 0
        for i, (value, timestamp) in enumerate(zip(values, timestamps)):
            on_event(value, timestamp, output)
            if self.pending:
                emit(values[start:i + 1], timestamps[start:i + 1])
                start = i + 1
                self.holding = False
                self._release()
                self.holding = True
        if start < len(values):
            emit(values[start:] if start else values, timestamps[start:] if start else timestamps)

    def _release(self) -> None:
        if self.pending:
            self.pending = False
            self.update()

    def changed(self) -> None:
        """A split's watermark or idleness changed."""
        if self.holding:
            self.pending = True
        else:
            self.update()

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
