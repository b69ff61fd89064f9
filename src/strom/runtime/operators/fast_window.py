"""A fast path for the most common windows: event-time tumbling or sliding windows with the
default EventTimeTrigger and an incremental ``reduce``/``aggregate``, with or without a
window function (``WindowFunction``, ``ProcessWindowFunction`` and their all-window kinds),
which only runs when a window fires: it gets the pre-aggregated value and a context.

It keeps exactly the state the general window operator keeps — one pre-aggregated value per
(key, window) in the backend's window-contents state, namespaced by window — but instead of
one trigger timer per (key, window) it keeps one entry per window, and when the watermark
passes a window's end it emits the results of every key in that window. The outputs are
those of Flink's WindowOperator with EventTimeTrigger: a window fires when the watermark
reaches its ``max_timestamp``, late elements within the allowed lateness re-fire it at once,
its state is dropped at ``max_timestamp + allowed_lateness``, and elements whose windows
are all past that are dropped (counted) or sent to the late-data side output. Results carry
the timestamp ``max_timestamp``. Keys of one window are emitted in the order they first
appeared in it. Windows fire and are cleaned up in timestamp order (a fire before a cleanup
at the same time); a window function's ``clear`` runs for each key of a window when the
window is cleaned up, after that window fired for all its keys.
"""

from __future__ import annotations

import heapq
from typing import Any

from strom.datastream.output_tag import OutputTag
from strom.datastream.state import AggregatingStateDescriptor, ReducingStateDescriptor
from strom.datastream.window import (
    EventTimeTrigger,
    SlidingEventTimeWindows,
    TimeWindow,
    TumblingEventTimeWindows,
)
from strom.network.partitioners import key_selector_function
from strom.runtime.checkpoint_snapshots import keyed_backend_state
from strom.runtime.functions import may_use_keyed_state
from strom.runtime.operators.base import LONG_MAX, LONG_MIN, StreamRuntimeContext
from strom.runtime.operators.bounded_output import BoundedOutputOperator
from strom.runtime.task_metrics import CallbackCounter
from strom.runtime.window_contexts import WindowProcessContext
from strom.runtime.window_functions import InternalWindowFunction, _PassThrough
from strom.state.canonical_keys import group_keys, user_key

__all__ = ["EventTimeWindowAggregator", "fast_path_applies"]

#: switched off by tests that compare the fast path with the general window operator
ENABLED = True


def fast_path_applies(spec: Any) -> bool:
    function = spec.window_function
    descriptor = getattr(function, "state_descriptor", None)
    user_function: Any
    if isinstance(descriptor, ReducingStateDescriptor):
        user_function = descriptor.get_reduce_function()
    elif isinstance(descriptor, AggregatingStateDescriptor):
        user_function = descriptor.get_agg_function()
    else:
        return False
    return (
        ENABLED
        and type(spec.assigner) in (TumblingEventTimeWindows, SlidingEventTimeWindows)
        and type(spec.trigger) is EventTimeTrigger
        and isinstance(function, InternalWindowFunction)
        and function.single_value
        and descriptor.get_ttl_config() is None
        # the fast path runs the function without a current key: no keyed state for it
        and not may_use_keyed_state(user_function)
    )


class EventTimeWindowAggregator(BoundedOutputOperator):
    """Results go out in chunks of at most ``batch_size``; when the output is back-pressured
    the rest waits (see ``bounded_output``)."""

    def __init__(self, name: str, spec: Any) -> None:
        super().__init__(name)
        self.spec = spec
        assigner = spec.assigner
        self.size = assigner._size
        self.offset = assigner._offset
        self.slide = getattr(assigner, "_slide", self.size)
        self.lateness = spec.allowed_lateness
        self.late_tag = spec.late_data_tag
        self.num_late_records_dropped = 0

    def open(self) -> None:
        from strom.state import VOID_NAMESPACE

        ctx = self.ctx
        assert ctx is not None and ctx.keyed_backend_factory is not None
        self.is_batch = ctx.is_batch
        ctx.metric_group.counter("numLateRecordsDropped", CallbackCounter(
            lambda: self.num_late_records_dropped))
        self.backend = ctx.keyed_backend_factory()
        function = self.spec.window_function
        descriptor = function.state_descriptor
        state = self.backend.get_partitioned_state(VOID_NAMESPACE, descriptor)
        #: window -> {key: value or accumulator}
        self.contents: dict[Any, dict[Any, Any]] = state.namespaces
        if isinstance(descriptor, ReducingStateDescriptor):
            reduce_function = descriptor.get_reduce_function()
            # a plain callable wrapped by the descriptor: call it directly
            self.reduce = getattr(reduce_function, "_fn", None) or reduce_function.reduce
            self.aggregate = None
        else:
            self.reduce = None
            self.aggregate = descriptor.get_agg_function()
        function.open(StreamRuntimeContext(ctx, self.backend))
        #: the window function, or None for reduce/aggregate whose result is the output
        self.window_function: InternalWindowFunction | None = (
            None if type(function) is _PassThrough else function
        )
        self.clears = self.window_function is not None and self.window_function.needs_clear
        self.context = WindowProcessContext(
            self.backend, VOID_NAMESPACE, False, ctx.clock, lambda: self.current_watermark
        )
        self.windows: dict[int, TimeWindow] = {}
        #: start -> the same per-key dict as contents[window] (saves hashing windows)
        self.by_start: dict[int, dict[Any, Any]] = {}
        self.fire_queue: list[tuple[int, int]] = []  # (max_timestamp, start)
        self.cleanup_queue: list[tuple[int, int]] = []
        for window in list(self.contents):  # restored state: schedule its windows again
            if isinstance(window, TimeWindow):
                self._track(window.start, window, self.current_watermark)

    def _track(self, start: int, window: TimeWindow, watermark: int) -> dict[Any, Any]:
        """Start keeping ``window``. Like EventTimeTrigger, a window that is already due when
        it is created fires from its elements only (no timer), then waits for its cleanup."""
        self.windows[start] = window
        per_key = self.contents.get(window)
        if per_key is None:
            per_key = self.contents[window] = {}
        self.by_start[start] = per_key
        max_ts = window.end - 1
        if max_ts > watermark:
            heapq.heappush(self.fire_queue, (max_ts, start))
        else:
            heapq.heappush(self.cleanup_queue, (max_ts + self.lateness, start))
        return per_key

    def process_batch(
        self, values: list[Any], timestamps: list[int] | None, keys: list[Any] | None
    ) -> None:
        if self.has_backlog():
            self.in_order(self.process_batch, values, timestamps, keys)
            return
        if timestamps is None:
            raise RuntimeError(
                "Record has no timestamp (the Long.MIN_VALUE marker). Event-time windows need "
                "timestamps: did you forget assign_timestamps_and_watermarks(...) or a "
                "WatermarkStrategy with a timestamp assigner on the source?"
            )
        if keys is None:
            get_key = key_selector_function(self.spec.key_selector)
            keys = [get_key(v) for v in values]
        keys = group_keys(keys)
        watermark = LONG_MIN if self.is_batch else self.current_watermark
        lateness, size, slide, offset = self.lateness, self.size, self.slide, self.offset
        by_start = self.by_start
        reduce, aggregate = self.reduce, self.aggregate
        late_bound = watermark - lateness  # a window with max_timestamp <= this is gone
        if slide == size and reduce is not None:
            self._reduce_tumbling(keys, values, timestamps, watermark)
            return
        for k, v, t in zip(keys, values, timestamps):
            if slide == size:
                starts: Any = (t - (t - offset + size) % size,)
            else:
                last = t - (t - offset + slide) % slide
                starts = range(last, t - size, -slide)
            accepted = False
            for start in starts:
                max_ts = start + size - 1
                if max_ts <= late_bound:
                    continue
                accepted = True
                per_key = by_start.get(start)
                if per_key is None:
                    per_key = self._track(start, TimeWindow(start, start + size), watermark)
                current = per_key.get(k)  # None is "absent", as in the reducing state
                if reduce is not None:
                    per_key[k] = v if current is None else reduce(current, v)
                else:
                    assert aggregate is not None
                    acc = aggregate.create_accumulator() if current is None else current
                    per_key[k] = aggregate.add(v, acc)
                if max_ts <= watermark:  # late but within the allowed lateness: fire again
                    self._emit_window(self.windows[start], (k,))
            if not accepted:
                self._late(v, t)

    def _reduce_tumbling(self, keys: list[Any], values: list[Any], timestamps: list[int],
                         watermark: int) -> None:
        """``process_batch`` for tumbling windows with a reduce function: one window per
        element, and the last window's map kept at hand (consecutive elements mostly share
        a window)."""
        size, offset, by_start, reduce = self.size, self.offset, self.by_start, self.reduce
        assert reduce is not None
        late_bound = watermark - self.lateness
        last_start: int | None = None
        per_key: dict[Any, Any] = {}
        get = per_key.get
        refire = False
        for k, v, t in zip(keys, values, timestamps):
            start = t - (t - offset) % size  # Python's % is never negative
            if start != last_start:
                if start + size - 1 <= late_bound:
                    self._late(v, t)
                    continue
                found = by_start.get(start)
                if found is None:
                    found = self._track(start, TimeWindow(start, start + size), watermark)
                per_key, last_start = found, start
                get = per_key.get
                # late but within the allowed lateness: each element fires the window again
                refire = start + size - 1 <= watermark
            current = get(k)
            # None is "absent", as in the general operator's reducing state
            per_key[k] = v if current is None else reduce(current, v)
            if refire:
                self._emit_window(self.windows[start], (k,))

    def _late(self, value: Any, timestamp: int) -> None:
        if self.late_tag is not None:
            self.in_order(self.output.emit_side, self.late_tag, [value], [timestamp])
        else:
            self.num_late_records_dropped += 1

    def _emit_window(self, window: TimeWindow, keys: Any) -> None:
        per_key = self.contents.get(window)
        if not per_key:
            return
        aggregate = self.aggregate
        if aggregate is None:
            out = [per_key[k] for k in keys]
        else:
            out = [aggregate.get_result(per_key[k]) for k in keys]
        if self.window_function is not None:
            self._apply_window_function(window, keys, out)
            return
        self.emit_bounded(out, [window.end - 1] * len(out))

    def _apply_window_function(self, window: TimeWindow, keys: Any, contents: list[Any]
                               ) -> None:
        """Call the window function for each key with its pre-aggregated value; results go
        out in order, ``(OutputTag, value)`` pairs to their side output."""
        assert self.window_function is not None
        process = self.window_function.process
        set_key = self.backend.set_current_key
        context = self.context
        context.current_window = window
        timestamp = window.end - 1
        out: list[Any] = []
        for key, value in zip(keys, contents):
            set_key(key)
            results = process(user_key(key), window, context, value)
            if results is None:
                continue
            for result in results:
                if (isinstance(result, tuple) and len(result) == 2
                        and isinstance(result[0], OutputTag)):
                    if out:
                        self.emit_bounded(out, [timestamp] * len(out))
                        out = []
                    self.in_order(self.output.emit_side, result[0], [result[1]], [timestamp])
                else:
                    out.append(result)
        if out:
            self.emit_bounded(out, [timestamp] * len(out))

    def process_watermark(self, timestamp: int) -> None:
        self.in_order(self._process_watermark, timestamp)

    def _process_watermark(self, timestamp: int) -> None:
        self.current_watermark = timestamp
        self._advance(timestamp)
        self.in_order(self.output.emit_watermark, timestamp)

    def _advance(self, watermark: int) -> None:
        """Fire and clean up, in timestamp order, the windows the watermark passed."""
        fire, cleanup, windows = self.fire_queue, self.cleanup_queue, self.windows
        lateness = self.lateness
        while True:
            fire_due = bool(fire) and fire[0][0] <= watermark
            cleanup_due = bool(cleanup) and cleanup[0][0] <= watermark
            if fire_due and (not cleanup_due or fire[0][0] <= cleanup[0][0]):
                max_ts, start = heapq.heappop(fire)
                window = windows[start]
                per_key = self.contents.get(window)
                if per_key:
                    self._emit_window(window, list(per_key))
                if lateness == 0:
                    self._drop(start)
                else:
                    heapq.heappush(cleanup, (max_ts + lateness, start))
            elif cleanup_due:
                self._drop(heapq.heappop(cleanup)[1])
            else:
                return

    def _drop(self, start: int) -> None:
        window = self.windows.pop(start, None)
        self.by_start.pop(start, None)
        if window is None:
            return
        per_key = self.contents.get(window)
        if per_key and self.clears:
            self._clear_window_function(window, list(per_key))
        self.contents.pop(window, None)

    def _clear_window_function(self, window: TimeWindow, keys: list[Any]) -> None:
        assert self.window_function is not None
        clear = self.window_function.clear
        set_key = self.backend.set_current_key
        context = self.context
        context.current_window = window
        for key in keys:
            set_key(key)
            clear(window, context)

    def end_input(self) -> None:
        if self.is_batch:
            self.in_order(self._end_input)

    def _end_input(self) -> None:
        self.current_watermark = LONG_MAX
        self._advance(LONG_MAX)

    def close(self) -> None:
        self.spec.window_function.close()

    def snapshot_state(self, checkpoint_id: int) -> Any:
        return keyed_backend_state(self.backend)
