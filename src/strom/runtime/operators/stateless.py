"""Stateless one- and two-input operators: map, flat_map, filter, process, co-functions.

Each processes a whole batch in one comprehension or loop; chained together they form the
fused loop the data path is built on.
"""

from __future__ import annotations

from typing import Any

from strom.datastream.functions import ProcessFunction, TimerService
from strom.datastream.output_tag import OutputTag
from strom.runtime.functions import call_close, call_open, user_callable
from strom.runtime.operators.base import StreamOperator, StreamRuntimeContext, TwoInputOperator

__all__ = ["CoFlatMapOperator", "CoMapOperator", "CoProcessOperator", "FilterOperator",
           "FlatMapOperator", "MapOperator", "ProcessOperator", "collect_results"]


class _FunctionOperator(StreamOperator):
    method = ""

    def __init__(self, name: str, function: Any) -> None:
        super().__init__(name)
        self.function = function
        self.fn: Any = None

    def open(self) -> None:
        assert self.ctx is not None
        call_open(self.function, StreamRuntimeContext(self.ctx, self._backend()))
        self.fn = user_callable(self.function, self.method)

    def _backend(self) -> Any:
        return None

    def close(self) -> None:
        call_close(self.function)


class MapOperator(_FunctionOperator):
    method = "map"

    def process_batch(
        self, values: list[Any], timestamps: list[int] | None, keys: list[Any] | None
    ) -> None:
        fn = self.fn
        self.output.emit([fn(v) for v in values], timestamps)


class FilterOperator(_FunctionOperator):
    method = "filter"

    def process_batch(
        self, values: list[Any], timestamps: list[int] | None, keys: list[Any] | None
    ) -> None:
        fn = self.fn
        if timestamps is None:
            out = [v for v in values if fn(v)]
            if out:
                self.output.emit(out, None)
            return
        keep = [fn(v) for v in values]
        out = [v for v, k in zip(values, keep) if k]
        if out:
            self.output.emit(out, [t for t, k in zip(timestamps, keep) if k])


class FlatMapOperator(_FunctionOperator):
    method = "flat_map"

    def process_batch(
        self, values: list[Any], timestamps: list[int] | None, keys: list[Any] | None
    ) -> None:
        fn = self.fn
        out: list[Any] = []
        extend = out.extend
        if timestamps is None:
            for v in values:
                r = fn(v)
                if r is not None:
                    extend(r)
            if out:
                self.output.emit(out, None)
            return
        out_ts: list[int] = []
        for v, t in zip(values, timestamps):
            r = fn(v)
            if r is not None:
                before = len(out)
                extend(r)
                out_ts.extend([t] * (len(out) - before))
        if out:
            self.output.emit(out, out_ts)


def collect_results(
    results: Any, timestamp: int | None, out: list[Any], out_ts: list[int] | None,
    operator: StreamOperator,
) -> None:
    """Append a process function's results to ``out``; ``(OutputTag, v)`` go to side outputs."""
    if results is None:
        return
    for r in results:
        if type(r) is tuple and len(r) == 2 and type(r[0]) is OutputTag:
            operator.output.emit_side(r[0], [r[1]], None if timestamp is None else [timestamp])
        else:
            out.append(r)
            if out_ts is not None:
                out_ts.append(timestamp)  # type: ignore[arg-type]


class _NonKeyedTimerService(TimerService):
    def __init__(self, operator: StreamOperator) -> None:
        self._op = operator

    def current_processing_time(self) -> int:
        assert self._op.ctx is not None
        return self._op.ctx.clock()

    def current_watermark(self) -> int:
        return self._op.current_watermark

    def register_processing_time_timer(self, timestamp: int) -> None:
        _no_timers()

    def register_event_time_timer(self, timestamp: int) -> None:
        _no_timers()

    def delete_processing_time_timer(self, timestamp: int) -> None:
        _no_timers()

    def delete_event_time_timer(self, timestamp: int) -> None:
        _no_timers()


def _no_timers() -> None:
    raise RuntimeError(
        "Setting timers is only supported on a keyed stream. Call key_by(...) and use a "
        "KeyedProcessFunction to register timers."
    )


class _ProcessContext(ProcessFunction.Context):
    __slots__ = ("_timer_service", "current_timestamp")

    def __init__(self, timer_service: TimerService) -> None:
        self._timer_service = timer_service
        self.current_timestamp: int | None = None

    def timer_service(self) -> TimerService:
        return self._timer_service

    def timestamp(self) -> int | None:
        return self.current_timestamp


class ProcessOperator(_FunctionOperator):
    """``DataStream.process(ProcessFunction)``."""

    method = "process_element"

    def open(self) -> None:
        super().open()
        self.context = _ProcessContext(_NonKeyedTimerService(self))

    def process_batch(
        self, values: list[Any], timestamps: list[int] | None, keys: list[Any] | None
    ) -> None:
        fn, ctx = self.fn, self.context
        out: list[Any] = []
        out_ts: list[int] | None = None if timestamps is None else []
        if timestamps is None:
            for v in values:
                collect_results(fn(v, ctx), None, out, None, self)
        else:
            for v, t in zip(values, timestamps):
                ctx.current_timestamp = t
                collect_results(fn(v, ctx), t, out, out_ts, self)
        if out:
            self.output.emit(out, out_ts)


class _CoOperator(TwoInputOperator):
    methods = ("", "")

    def __init__(self, name: str, function: Any) -> None:
        super().__init__(name)
        self.function = function

    def open(self) -> None:
        assert self.ctx is not None
        call_open(self.function, StreamRuntimeContext(self.ctx))
        self.fn1 = user_callable(self.function, self.methods[0])
        self.fn2 = user_callable(self.function, self.methods[1])

    def close(self) -> None:
        call_close(self.function)


class CoMapOperator(_CoOperator):
    methods = ("map1", "map2")

    def process_batch1(
        self, values: list[Any], timestamps: list[int] | None, keys: list[Any] | None
    ) -> None:
        fn = self.fn1
        self.output.emit([fn(v) for v in values], timestamps)

    def process_batch2(
        self, values: list[Any], timestamps: list[int] | None, keys: list[Any] | None
    ) -> None:
        fn = self.fn2
        self.output.emit([fn(v) for v in values], timestamps)


class CoFlatMapOperator(_CoOperator):
    methods = ("flat_map1", "flat_map2")

    def _run(self, fn: Any, values: list[Any], timestamps: list[int] | None) -> None:
        out: list[Any] = []
        out_ts: list[int] | None = None if timestamps is None else []
        ts_iter = timestamps if timestamps is not None else [None] * len(values)
        for v, t in zip(values, ts_iter):
            collect_results(fn(v), t, out, out_ts, self)
        if out:
            self.output.emit(out, out_ts)

    def process_batch1(
        self, values: list[Any], timestamps: list[int] | None, keys: list[Any] | None
    ) -> None:
        self._run(self.fn1, values, timestamps)

    def process_batch2(
        self, values: list[Any], timestamps: list[int] | None, keys: list[Any] | None
    ) -> None:
        self._run(self.fn2, values, timestamps)


class CoProcessOperator(_CoOperator):
    methods = ("process_element1", "process_element2")

    def open(self) -> None:
        super().open()
        self.context = _ProcessContext(_NonKeyedTimerService(self))

    def _run(self, fn: Any, values: list[Any], timestamps: list[int] | None) -> None:
        ctx = self.context
        out: list[Any] = []
        out_ts: list[int] | None = None if timestamps is None else []
        ts_iter = timestamps if timestamps is not None else [None] * len(values)
        for v, t in zip(values, ts_iter):
            ctx.current_timestamp = t
            collect_results(fn(v, ctx), t, out, out_ts, self)
        if out:
            self.output.emit(out, out_ts)

    def process_batch1(
        self, values: list[Any], timestamps: list[int] | None, keys: list[Any] | None
    ) -> None:
        self._run(self.fn1, values, timestamps)

    def process_batch2(
        self, values: list[Any], timestamps: list[int] | None, keys: list[Any] | None
    ) -> None:
        self._run(self.fn2, values, timestamps)
