"""The window operator: a thin runtime wrapper around :class:`WindowOperatorLogic`.

Elements go in a batch at a time; window results are collected per batch or per timer round
and emitted with their timestamps (each window's ``max_timestamp``) in chunks of at most
``batch_size``; when the output is back-pressured the rest waits (see ``bounded_output``).
"""

from __future__ import annotations

from typing import Any

from strom.runtime.checkpoint_snapshots import keyed_backend_state
from strom.runtime.operators.base import LONG_MAX, StreamRuntimeContext
from strom.runtime.operators.bounded_output import BoundedOutputOperator
from strom.runtime.task_metrics import CallbackCounter
from strom.runtime.window_logic import WindowOperatorLogic
from strom.state.canonical_keys import group_keys

__all__ = ["WindowOperator"]

_WINDOW_TIMERS = "_strom_window_timers"


class WindowOperator(BoundedOutputOperator):
    uses_processing_time = True

    def __init__(self, name: str, spec: Any) -> None:
        super().__init__(name)
        self.spec = spec
        self.num_late_records_dropped = 0

    def open(self) -> None:
        ctx = self.ctx
        assert ctx is not None and ctx.keyed_backend_factory is not None
        spec = self.spec
        self.backend = ctx.keyed_backend_factory()
        self.timers = self.backend.get_timer_service(_WINDOW_TIMERS)
        self._out: list[Any] = []
        self._out_ts: list[int] = []
        self.is_batch = ctx.is_batch
        self.logic = WindowOperatorLogic(
            assigner=spec.assigner, trigger=spec.trigger,
            window_function=spec.window_function, allowed_lateness=spec.allowed_lateness,
            late_data_tag=spec.late_data_tag, backend=self.backend, timer_service=self.timers,
            runtime_context=StreamRuntimeContext(ctx, self.backend),
            emit=self._emit, emit_side=self._emit_side, processing_time=ctx.clock,
            is_batch=ctx.is_batch, emit_many=self._emit_many,
        )
        self.logic.open()
        ctx.metric_group.counter("numLateRecordsDropped", CallbackCounter(
            lambda: self.logic.num_late_records_dropped))

    def _emit(self, value: Any, timestamp: int) -> None:
        self._out.append(value)
        self._out_ts.append(timestamp)

    def _emit_many(self, values: list[Any], timestamp: int) -> None:
        self._out.extend(values)
        self._out_ts.extend([timestamp] * len(values))

    def _emit_side(self, tag: Any, value: Any, timestamp: int) -> None:
        self._flush()
        self.in_order(self.output.emit_side, tag, [value], [timestamp])

    def _flush(self) -> None:
        if self._out:
            out, ts = self._out, self._out_ts
            self._out, self._out_ts = [], []
            self.emit_bounded(out, ts)

    def process_batch(
        self, values: list[Any], timestamps: list[int] | None, keys: list[Any] | None
    ) -> None:
        self.in_order(self._process_batch, values, timestamps, keys)

    def _process_batch(
        self, values: list[Any], timestamps: list[int] | None, keys: list[Any] | None
    ) -> None:
        if keys is None:
            from strom.network.partitioners import key_selector_function

            get_key = key_selector_function(self.spec.key_selector)
            keys = [get_key(v) for v in values]
        keys = group_keys(keys)
        self.logic.process_batch(keys, values, timestamps)
        self._flush()

    def process_watermark(self, timestamp: int) -> None:
        self.in_order(self._process_watermark, timestamp)

    def _process_watermark(self, timestamp: int) -> None:
        self.current_watermark = timestamp
        self.logic.advance_watermark(timestamp)
        self._flush()
        self.in_order(self.output.emit_watermark, timestamp)

    def next_processing_time(self) -> int | None:
        if self.is_batch or self.has_backlog():
            return None  # the task asks again once the backlog is done
        return self.timers.next_processing_time()  # type: ignore[no-any-return]

    def on_processing_time(self, now: int) -> None:
        self.in_order(self._on_processing_time, now)

    def _on_processing_time(self, now: int) -> None:
        on_processing_time = self.logic.on_processing_time
        for timer in self.timers.advance_processing_time(now):
            on_processing_time(timer)
        self._flush()

    def end_input(self) -> None:
        if self.is_batch:
            self.in_order(self._end_input)

    def _end_input(self) -> None:
        if self.is_batch:
            self.logic.advance_watermark(LONG_MAX)
            for timer in self.timers.advance_processing_time(LONG_MAX):
                self.logic.on_processing_time(timer)
            self._flush()

    def close(self) -> None:
        self.num_late_records_dropped = self.logic.num_late_records_dropped
        self.logic.close()

    def snapshot_state(self, checkpoint_id: int) -> Any:
        return keyed_backend_state(self.backend)
