"""Stateless one- and two-input operators: map, flat_map, filter, process, co-functions.

Each processes a whole batch in one comprehension or loop; chained together they form the
fused loop the data path is built on.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import repeat
from typing import Any

from strom.datastream.functions import ProcessFunction, TimerService
from strom.datastream.output_tag import OutputTag
from strom.runtime.functions import call_close, call_open, user_callable
from strom.runtime.operators.base import StreamOperator, StreamRuntimeContext, TwoInputOperator
from strom.runtime.operators.bounded_output import BoundedOutputOperator, flat_map_none_error

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


class FlatMapOperator(_FunctionOperator, BoundedOutputOperator):
    """``flat_map``: output in chunks of at most ``batch_size`` records; a generator the
    function returns is read as the chunks go, never materialised whole."""

    method = "flat_map"

    def process_batch(
        self, values: list[Any], timestamps: list[int] | None, keys: list[Any] | None
    ) -> None:
        self.submit(self._flat_map(values) if timestamps is None
                    else self._flat_map_timestamped(values, timestamps))

    def _flat_map(self, values: list[Any]) -> Iterator[None]:
        fn, size, emit = self.fn, self.batch_size, self.output.emit
        out: list[Any] = []
        extend, append = out.extend, out.append
        for v in values:
            r = fn(v)
            if type(r) is list or type(r) is tuple:
                extend(r)
                if len(out) >= size:
                    for start in range(0, len(out), size):
                        emit(out[start:start + size], None)
                        yield
                    out = []
                    extend, append = out.extend, out.append
            elif r is None:
                raise flat_map_none_error(self, fn, v)
            else:
                for x in r:
                    append(x)
                    if len(out) >= size:
                        emit(out, None)
                        yield
                        out = []
                        extend, append = out.extend, out.append
        if out:
            emit(out, None)

    def _flat_map_timestamped(self, values: list[Any], timestamps: list[int]) -> Iterator[None]:
        fn, size, emit = self.fn, self.batch_size, self.output.emit
        out: list[Any] = []
        out_ts: list[int] = []
        extend, append = out.extend, out.append
        for v, t in zip(values, timestamps):
            r = fn(v)
            if type(r) is list or type(r) is tuple:
                extend(r)
                out_ts.extend([t] * len(r))
                if len(out) >= size:
                    for start in range(0, len(out), size):
                        emit(out[start:start + size], out_ts[start:start + size])
                        yield
                    out, out_ts = [], []
                    extend, append = out.extend, out.append
            elif r is None:
                raise flat_map_none_error(self, fn, v)
            else:
                append_ts = out_ts.append
                for x in r:
                    append(x)
                    append_ts(t)
                    if len(out) >= size:
                        emit(out, out_ts)
                        yield
                        out, out_ts = [], []
                        extend, append, append_ts = out.extend, out.append, out_ts.append
        if out:
            emit(out, out_ts)


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


def _collect_work(
    op: BoundedOutputOperator, fn: Any, ctx: _ProcessContext | None, values: list[Any],
    timestamps: list[int] | None,
) -> Iterator[None]:
    """Work for process and co-flat-map functions: call ``fn`` per record (with ``ctx`` when
    given), read what it returns lazily, emit main output in chunks of ``op.batch_size``
    and ``(OutputTag, value)`` pairs to side outputs; yields after each chunk."""
    size, emit, emit_side = op.batch_size, op.output.emit, op.output.emit_side
    out: list[Any] = []
    out_ts: list[Any] | None = None if timestamps is None else []
    ts_iter: Iterable[Any] = timestamps if timestamps is not None else repeat(None, len(values))
    for v, t in zip(values, ts_iter):
        if ctx is None:
            results = fn(v)
        else:
            ctx.current_timestamp = t
            results = fn(v, ctx)
        if results is None:
            continue
        for r in results:
            if type(r) is tuple and len(r) == 2 and type(r[0]) is OutputTag:
                emit_side(r[0], [r[1]], None if t is None else [t])
                continue
            out.append(r)
            if out_ts is not None:
                out_ts.append(t)
            if len(out) >= size:
                emit(out, out_ts)
                yield
                out = []
                out_ts = None if timestamps is None else []
                if ctx is not None:
                    ctx.current_timestamp = t
    if out:
        emit(out, out_ts)


class ProcessOperator(_FunctionOperator, BoundedOutputOperator):
    """``DataStream.process(ProcessFunction)``."""

    method = "process_element"

    def open(self) -> None:
        super().open()
        self.context = _ProcessContext(_NonKeyedTimerService(self))

    def process_batch(
        self, values: list[Any], timestamps: list[int] | None, keys: list[Any] | None
    ) -> None:
        self.submit(_collect_work(self, self.fn, self.context, values, timestamps))


class _CoOperator(BoundedOutputOperator, TwoInputOperator):
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

    def process_batch1(
        self, values: list[Any], timestamps: list[int] | None, keys: list[Any] | None
    ) -> None:
        self.submit(_collect_work(self, self.fn1, None, values, timestamps))

    def process_batch2(
        self, values: list[Any], timestamps: list[int] | None, keys: list[Any] | None
    ) -> None:
        self.submit(_collect_work(self, self.fn2, None, values, timestamps))


class CoProcessOperator(_CoOperator):
    methods = ("process_element1", "process_element2")

    def open(self) -> None:
        super().open()
        self.context = _ProcessContext(_NonKeyedTimerService(self))

    def process_batch1(
        self, values: list[Any], timestamps: list[int] | None, keys: list[Any] | None
    ) -> None:
        self.submit(_collect_work(self, self.fn1, self.context, values, timestamps))

    def process_batch2(
        self, values: list[Any], timestamps: list[int] | None, keys: list[Any] | None
    ) -> None:
        self.submit(_collect_work(self, self.fn2, self.context, values, timestamps))
