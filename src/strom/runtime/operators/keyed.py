"""Keyed operators: rolling reduce, keyed map/flat_map/filter, KeyedProcessFunction and
KeyedCoProcessFunction with state and timers.

Keys arrive with each batch (the hash partitioner computed them for routing). State lives in
the operator's keyed state backend, scoped by key group.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from itertools import repeat
from typing import Any

from strom.datastream.functions import KeyedProcessFunction, TimeDomain, TimerService
from strom.datastream.output_tag import OutputTag
from strom.network.partitioners import key_selector_function
from strom.runtime.checkpoint_snapshots import keyed_backend_state
from strom.runtime.functions import call_close, call_open, may_use_keyed_state, user_callable
from strom.runtime.operators.base import (
    LONG_MAX,
    StreamOperator,
    StreamRuntimeContext,
    TwoInputOperator,
)
from strom.runtime.operators.bounded_output import (
    BoundedOutputOperator,
    call_later,
    flat_map_none_error,
)
from strom.state.canonical_keys import group_key, group_keys, user_key

__all__ = ["KeyedCoOperator", "KeyedFilterOperator", "KeyedFlatMapOperator", "KeyedMapOperator",
           "KeyedProcessOperator", "KeyedReduceOperator"]

_MISSING = object()
_REDUCE_STATE = "_strom_reduce"
_USER_TIMERS = "_strom_user_timers"


class _KeyedOperatorMixin:
    """Backend creation and key recovery shared by the keyed operators."""

    ctx: Any
    key_selector: Any

    def _create_backend(self) -> Any:
        assert self.ctx is not None and self.ctx.keyed_backend_factory is not None
        return self.ctx.keyed_backend_factory()

    def _raw_keys(self, values: list[Any], keys: list[Any] | None) -> list[Any]:
        if keys is not None:
            return keys
        get_key = key_selector_function(self.key_selector)
        return [get_key(v) for v in values]

    def _keys(self, values: list[Any], keys: list[Any] | None) -> list[Any]:
        """The batch's keys as state can group them (see :func:`group_keys`)."""
        return group_keys(self._raw_keys(values, keys))


class KeyedReduceOperator(_KeyedOperatorMixin, StreamOperator):
    """Rolling reduce. STREAMING emits every update; BATCH emits the final value per key."""

    def __init__(self, name: str, function: Any, key_selector: Any) -> None:
        super().__init__(name)
        self.function = function
        self.key_selector = key_selector

    def open(self) -> None:
        self.backend = self._create_backend()
        call_open(self.function, StreamRuntimeContext(self.ctx, self.backend))
        self.fn = user_callable(self.function, "reduce")
        self.table: dict[Any, Any] = self.backend.raw_value_map(_REDUCE_STATE)
        self.is_batch = self.ctx.is_batch if self.ctx is not None else False
        # Only a function that was handed the RuntimeContext (its own open()) can reach keyed
        # state; the others skip setting the backend's current key for every record.
        self.sets_current_key = may_use_keyed_state(self.function)
        #: validates a key's first value, which is stored without calling reduce (sum())
        self.check_first = getattr(self.function, "strom_check_first_value", None)

    def process_batch(
        self, values: list[Any], timestamps: list[int] | None, keys: list[Any] | None
    ) -> None:
        if self.sets_current_key:
            self._process_with_current_key(values, timestamps, self._keys(values, keys))
            return
        keys = self._raw_keys(values, keys)
        table, fn, check_first = self.table, self.fn, self.check_first
        get = table.get
        # A subscript that usually hits is cheaper than get() with a sentinel; the try covers
        # only the lookup, never the user's function. A miss is a new key, or a key a dict
        # cannot group by itself (unhashable, NaN): group_key gives its stand-in.
        if self.is_batch:
            for k, v in zip(keys, values):
                try:
                    current = table[k]
                except (KeyError, TypeError):
                    k = group_key(k)
                    current = get(k, _MISSING)
                    if current is _MISSING:
                        if check_first is not None:
                            check_first(v)
                        table[k] = v
                        continue
                table[k] = fn(current, v)
            return
        out: list[Any] = []
        append = out.append
        for k, v in zip(keys, values):
            try:
                current = table[k]
            except (KeyError, TypeError):
                k = group_key(k)
                current = get(k, _MISSING)
                if current is _MISSING:
                    if check_first is not None:
                        check_first(v)
                    table[k] = v
                    append(v)
                    continue
            v = fn(current, v)
            table[k] = v
            append(v)
        self.output.emit(out, timestamps)

    def _process_with_current_key(
        self, values: list[Any], timestamps: list[int] | None, keys: list[Any]
    ) -> None:
        """The loop for functions that may use keyed state: each record's key is the
        backend's current key while the function runs."""
        table, fn, set_key = self.table, self.fn, self.backend.set_current_key
        check_first = self.check_first
        get = table.get
        out: list[Any] = []
        append = out.append
        for k, v in zip(keys, values):
            set_key(k)
            current = get(k, _MISSING)
            if current is not _MISSING:
                v = fn(current, v)
            elif check_first is not None:
                check_first(v)
            table[k] = v
            append(v)
        if not self.is_batch:
            self.output.emit(out, timestamps)

    def end_input(self) -> None:
        if self.is_batch and self.table:
            self.output.emit(list(self.table.values()), None)

    def close(self) -> None:
        call_close(self.function)

    def snapshot_state(self, checkpoint_id: int) -> Any:
        return keyed_backend_state(self.backend)


class _KeyedFunctionOperator(_KeyedOperatorMixin, StreamOperator):
    method = ""

    def __init__(self, name: str, function: Any, key_selector: Any) -> None:
        super().__init__(name)
        self.function = function
        self.key_selector = key_selector

    def open(self) -> None:
        self.backend = self._create_backend()
        call_open(self.function, StreamRuntimeContext(self.ctx, self.backend))
        self.fn = user_callable(self.function, self.method)

    def close(self) -> None:
        call_close(self.function)

    def snapshot_state(self, checkpoint_id: int) -> Any:
        return keyed_backend_state(self.backend)


class KeyedMapOperator(_KeyedFunctionOperator):
    method = "map"

    def process_batch(
        self, values: list[Any], timestamps: list[int] | None, keys: list[Any] | None
    ) -> None:
        fn, set_key = self.fn, self.backend.set_current_key
        out = []
        for k, v in zip(self._keys(values, keys), values):
            set_key(k)
            out.append(fn(v))
        self.output.emit(out, timestamps)


class KeyedFilterOperator(_KeyedFunctionOperator):
    method = "filter"

    def process_batch(
        self, values: list[Any], timestamps: list[int] | None, keys: list[Any] | None
    ) -> None:
        fn, set_key = self.fn, self.backend.set_current_key
        keep = []
        for k, v in zip(self._keys(values, keys), values):
            set_key(k)
            keep.append(bool(fn(v)))
        out = [v for v, k in zip(values, keep) if k]
        if out:
            ts = None if timestamps is None else [t for t, k in zip(timestamps, keep) if k]
            self.output.emit(out, ts)


def _keyed_work(
    op: Any, fn: Any, ctx: _KeyedContext | None, keys: list[Any], values: list[Any],
    timestamps: list[int] | None, none_is_error: bool = True,
) -> Iterator[None]:
    """Work (see ``bounded_output``) for keyed flat_map (``ctx`` None: None results are an
    error unless ``none_is_error`` is false) and process functions: per record, set the key,
    call ``fn`` and read its results lazily into chunks of ``op.batch_size``; yields after
    each chunk, and sets the key again before reading on (timers may have changed it
    meanwhile)."""
    size, emit, emit_side = op.batch_size, op.output.emit, op.output.emit_side
    set_key: Callable[[Any], None] = op.backend.set_current_key
    out: list[Any] = []
    out_ts: list[Any] | None = None if timestamps is None else []
    ts_iter: Iterable[Any] = timestamps if timestamps is not None else repeat(None, len(values))
    for k, v, t in zip(keys, values, ts_iter):
        set_key(k)
        if ctx is None:
            results = fn(v)
            if results is None:
                if none_is_error:
                    raise flat_map_none_error(op, fn, v)
                continue
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
                set_key(k)
                if ctx is not None:
                    ctx.current_timestamp = t
    if out:
        emit(out, out_ts)


class KeyedFlatMapOperator(_KeyedFunctionOperator, BoundedOutputOperator):
    """Keyed ``flat_map``: bounded output chunks, as the non-keyed one."""

    method = "flat_map"

    def process_batch(
        self, values: list[Any], timestamps: list[int] | None, keys: list[Any] | None
    ) -> None:
        self.submit(_keyed_work(self, self.fn, None, self._keys(values, keys), values,
                                timestamps))


class _KeyedTimerService(TimerService):
    def __init__(self, operator: Any) -> None:
        self._op = operator

    def current_processing_time(self) -> int:
        return self._op.ctx.clock()  # type: ignore[no-any-return]

    def current_watermark(self) -> int:
        return self._op.current_watermark  # type: ignore[no-any-return]

    def register_processing_time_timer(self, timestamp: int) -> None:
        self._op.timers.register_processing_time_timer(self._op.namespace, timestamp)
        self._op.ctx.request_wakeup()

    def register_event_time_timer(self, timestamp: int) -> None:
        self._op.timers.register_event_time_timer(self._op.namespace, timestamp)

    def delete_processing_time_timer(self, timestamp: int) -> None:
        self._op.timers.delete_processing_time_timer(self._op.namespace, timestamp)

    def delete_event_time_timer(self, timestamp: int) -> None:
        self._op.timers.delete_event_time_timer(self._op.namespace, timestamp)


class _KeyedContext(KeyedProcessFunction.OnTimerContext):
    """Context for process_element and on_timer of keyed (co-)process functions."""

    __slots__ = ("_backend", "_timer_service", "current_timestamp", "domain")

    def __init__(self, timer_service: TimerService, backend: Any) -> None:
        self._timer_service = timer_service
        self._backend = backend
        self.current_timestamp: int | None = None
        self.domain = TimeDomain.EVENT_TIME

    def timer_service(self) -> TimerService:
        return self._timer_service

    def timestamp(self) -> int | None:
        return self.current_timestamp

    def get_current_key(self) -> Any:
        return user_key(self._backend.get_current_key())

    def time_domain(self) -> TimeDomain:
        return self.domain


class _TimerMixin(_KeyedOperatorMixin):
    """Timers for keyed process operators: event time on watermarks, processing time on
    the task's clock; BATCH fires everything at the end of input. What ``on_timer`` yields
    goes out in bounded chunks, as what ``process_element`` yields (see ``bounded_output``)."""

    uses_processing_time = True
    output: Any
    current_watermark: int
    batch_size: int
    submit: Callable[[Iterator[None]], None]
    has_backlog: Callable[[], bool]

    def _open_timers(self, function: Any) -> None:
        from strom.state import VOID_NAMESPACE

        self.namespace = VOID_NAMESPACE
        self.backend = self._create_backend()
        self.timers = self.backend.get_timer_service(_USER_TIMERS)
        call_open(function, StreamRuntimeContext(self.ctx, self.backend))
        self.context = _KeyedContext(_KeyedTimerService(self), self.backend)
        self.on_timer = getattr(function, "on_timer", None)

    def _fire(self, timers: Iterator[Any], domain: TimeDomain) -> Iterator[None]:
        """Work (see ``bounded_output``) that fires ``timers`` (popped lazily) and emits what
        ``on_timer`` yields in chunks of ``batch_size``, yielding after each chunk."""
        if self.on_timer is None:
            for _ in timers:
                pass
            return
        ctx, set_key, on_timer = self.context, self.backend.set_current_key, self.on_timer
        size, emit, emit_side = self.batch_size, self.output.emit, self.output.emit_side
        event_time = domain is TimeDomain.EVENT_TIME
        out: list[Any] = []
        out_ts: list[int] | None = [] if event_time else None
        for timer in timers:
            key, timestamp = timer.key, timer.timestamp
            set_key(key)
            ctx.domain, ctx.current_timestamp = domain, timestamp
            results = on_timer(timestamp, ctx)
            if results is None:
                continue
            ts = timestamp if event_time else None
            for r in results:
                if type(r) is tuple and len(r) == 2 and type(r[0]) is OutputTag:
                    emit_side(r[0], [r[1]], None if ts is None else [ts])
                    continue
                out.append(r)
                if out_ts is not None:
                    out_ts.append(timestamp)
                if len(out) >= size:
                    emit(out, out_ts)
                    out = []
                    out_ts = [] if event_time else None
                    yield
                    # other work of the task may have run: restore what on_timer sees
                    set_key(key)
                    ctx.domain, ctx.current_timestamp = domain, timestamp
        ctx.domain = TimeDomain.EVENT_TIME
        if out:
            emit(out, out_ts)

    def _watermark_work(self, timestamp: int) -> Iterator[None]:
        self.current_watermark = timestamp
        yield from self._fire(self.timers.advance_watermark(timestamp), TimeDomain.EVENT_TIME)
        self.output.emit_watermark(timestamp)

    def process_watermark(self, timestamp: int) -> None:
        # fires event-time timers: waits behind suspended work like any input
        self.submit(self._watermark_work(timestamp))

    def next_processing_time(self) -> int | None:
        if self.ctx.is_batch or self.has_backlog():
            return None  # the task asks again once the backlog is done
        return self.timers.next_processing_time()  # type: ignore[no-any-return]

    def on_processing_time(self, now: int) -> None:
        self.submit(self._fire(self.timers.advance_processing_time(now),
                               TimeDomain.PROCESSING_TIME))

    def _end_work(self) -> Iterator[None]:
        self.current_watermark = LONG_MAX
        yield from self._fire(self.timers.advance_watermark(LONG_MAX), TimeDomain.EVENT_TIME)
        yield from self._fire(self.timers.advance_processing_time(LONG_MAX),
                              TimeDomain.PROCESSING_TIME)

    def end_input(self) -> None:
        if self.ctx.is_batch:
            self.submit(self._end_work())

    def snapshot_state(self, checkpoint_id: int) -> Any:
        return keyed_backend_state(self.backend)


class KeyedProcessOperator(_TimerMixin, BoundedOutputOperator):
    """``KeyedStream.process(KeyedProcessFunction)``. What ``process_element`` and
    ``on_timer`` yield goes out in bounded chunks (see ``bounded_output``)."""

    def __init__(self, name: str, function: Any, key_selector: Any) -> None:
        super().__init__(name)
        self.function = function
        self.key_selector = key_selector

    def open(self) -> None:
        self._open_timers(self.function)
        self.fn = user_callable(self.function, "process_element")

    def process_batch(
        self, values: list[Any], timestamps: list[int] | None, keys: list[Any] | None
    ) -> None:
        self.submit(_keyed_work(self, self.fn, self.context, self._keys(values, keys), values,
                                timestamps))

    def close(self) -> None:
        call_close(self.function)


class KeyedCoOperator(_TimerMixin, BoundedOutputOperator, TwoInputOperator):
    """Keyed two-input operator: KeyedCoProcessFunction, or keyed CoMap/CoFlatMap functions.
    Output of flat_map, process_element and on_timer goes out in bounded chunks."""

    def __init__(
        self, name: str, function: Any, key_selector1: Any, key_selector2: Any, mode: str
    ) -> None:
        super().__init__(name)
        self.function = function
        self.key_selectors = (key_selector1, key_selector2)
        self.mode = mode  # "process", "map" or "flat_map"
        self.key_selector = key_selector1

    def open(self) -> None:
        self._open_timers(self.function)
        names = {"process": ("process_element1", "process_element2"),
                 "map": ("map1", "map2"), "flat_map": ("flat_map1", "flat_map2")}[self.mode]
        self.fns = (user_callable(self.function, names[0]), user_callable(self.function, names[1]))

    def _run(
        self, index: int, values: list[Any], timestamps: list[int] | None,
        keys: list[Any] | None,
    ) -> None:
        if keys is None:
            get_key = key_selector_function(self.key_selectors[index])
            keys = [get_key(v) for v in values]
        keys = group_keys(keys)
        fn, ctx = self.fns[index], self.context
        if self.mode == "process":
            self.submit(_keyed_work(self, fn, ctx, keys, values, timestamps))
        elif self.mode == "flat_map":
            self.submit(_keyed_work(self, fn, None, keys, values, timestamps,
                                    none_is_error=False))
        elif self.has_backlog():
            self.submit(call_later(self._map, fn, keys, values, timestamps))
        else:
            self._map(fn, keys, values, timestamps)

    def _map(self, fn: Any, keys: list[Any], values: list[Any], timestamps: list[int] | None
             ) -> None:
        set_key = self.backend.set_current_key
        out = []
        for k, v in zip(keys, values):
            set_key(k)
            out.append(fn(v))
        if out:
            self.output.emit(out, timestamps)

    def process_batch1(
        self, values: list[Any], timestamps: list[int] | None, keys: list[Any] | None
    ) -> None:
        self._run(0, values, timestamps, keys)

    def process_batch2(
        self, values: list[Any], timestamps: list[int] | None, keys: list[Any] | None
    ) -> None:
        self._run(1, values, timestamps, keys)

    def close(self) -> None:
        call_close(self.function)
