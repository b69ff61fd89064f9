"""The window operator's decision logic, without I/O: elements and fired timers in, window
results out through the ``emit`` callbacks.

Everything the operator remembers lives in the keyed state backend, namespaced by window:
window contents (a list, or one reduced/aggregated value), trigger state, per-window user
state, and for session windows the merging-window set (namespace ``VOID_NAMESPACE``). Windows
fire only from timers the trigger registered, and each window gets a cleanup timer at
``max_timestamp + allowed_lateness`` (event time) or ``max_timestamp`` (processing time) that
clears all of it; global and count windows (``max_timestamp == LONG_MAX``) get none.

The runtime feeds it like this::

    logic.open()
    logic.process_batch(keys, values, timestamps)         # per batch (or process_element)
    logic.advance_watermark(wm)                           # per watermark
    for timer in timer_service.advance_processing_time(now):
        logic.on_processing_time(timer)
    logic.close()

``process_batch`` is ``process_element`` for each element, and ``advance_watermark`` is
``on_event_time`` for each timer of ``timer_service.advance_watermark(wm)``; both have a
batch loop for the built-in ``EventTimeTrigger`` with tumbling or sliding event-time windows
(the trigger's decisions inlined, windows computed once per batch), with the same state,
timers and results as the general per-element code.

Semantics follow Flink's ``WindowOperator`` (see flink-reference §5.10): an element is late
when ``timestamp + allowed_lateness <= watermark`` (event time only); a late element that
falls in no live window is dropped and counted in :attr:`num_late_records_dropped`, or goes
to ``late_data_tag``. In batch mode (``is_batch=True``) the runtime advances the watermark to
``LONG_MAX`` after each key; elements then see the watermark as ``LONG_MIN`` (nothing is late,
nothing fires early) and timers fire with the real one, as in Flink's BATCH execution.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from typing import TYPE_CHECKING, Any, cast

from strom.common.watermark_strategy import LONG_MAX, LONG_MIN
from strom.datastream.functions import RuntimeContext
from strom.datastream.output_tag import OutputTag
from strom.datastream.state import MapStateDescriptor, _CallableReduceFunction
from strom.datastream.window import (
    EventTimeTrigger,
    MergingWindowAssigner,
    SlidingEventTimeWindows,
    TimeWindow,
    Trigger,
    TriggerResult,
    TumblingEventTimeWindows,
    WindowAssigner,
)
from strom.runtime.window_contexts import (
    AssignerContext,
    AssignerRuntimeContext,
    KeyedStateStore,
    WindowProcessContext,
    WindowTriggerContext,
)
from strom.runtime.window_functions import InternalWindowFunction
from strom.runtime.window_merging import MergingWindowSet
from strom.state.canonical_keys import CanonicalKey, user_key
from strom.state.namespaces import VOID_NAMESPACE

if TYPE_CHECKING:
    from strom.state.backends import KeyedStateBackend
    from strom.state.timers import InternalTimerService

__all__ = [
    "MERGING_WINDOW_SET_STATE_NAME",
    "WindowMergeError",
    "WindowOperatorLogic",
]

MERGING_WINDOW_SET_STATE_NAME = "merging-window-set"

_CONTINUE = TriggerResult.CONTINUE
_UNKNOWN: Any = object()


class WindowMergeError(RuntimeError):
    """A merge would move a window's end to before the current watermark (or processing
    time), which would make already-emitted results wrong."""


class WindowOperatorLogic:
    """The complete logic of a (keyed or all-) window operator.

    ``emit(value, timestamp)`` receives each window result with timestamp
    ``window.max_timestamp()``; ``emit_side(tag, value, timestamp)`` receives late elements
    (when ``late_data_tag`` is set) and ``(OutputTag, value)`` pairs yielded by the user's
    window function. ``processing_time()`` is the task's clock. Call :meth:`open` first.
    """

    def __init__(
        self,
        *,
        assigner: WindowAssigner[Any, Any],
        trigger: Trigger[Any, Any],
        window_function: InternalWindowFunction,
        allowed_lateness: int,
        late_data_tag: OutputTag | None,
        backend: KeyedStateBackend,
        timer_service: InternalTimerService,
        runtime_context: RuntimeContext,
        emit: Callable[[Any, int], None],
        emit_side: Callable[[OutputTag, Any, int], None],
        processing_time: Callable[[], int],
        count_windows_state_name: str = "window-assigner-state",
        is_batch: bool = False,
        emit_many: Callable[[list[Any], int], None] | None = None,
    ) -> None:
        """``count_windows_state_name`` is the state namespace under which the assigner keeps
        what it stores through ``context.get_runtime_context()`` (the count assigners' per-key
        element counters), apart from the windows' namespaces and from user state.
        ``emit_many(values, timestamp)``, if given, receives several results with one
        timestamp at once (as ``emit`` for each, in order)."""
        if not isinstance(assigner, WindowAssigner):
            raise TypeError(f"assigner must be a WindowAssigner, got {type(assigner).__name__}")
        if not isinstance(trigger, Trigger):
            raise TypeError(f"trigger must be a Trigger, got {type(trigger).__name__}")
        if not isinstance(window_function, InternalWindowFunction):
            raise TypeError(
                "window_function must be an InternalWindowFunction (build it with "
                "strom.runtime.window_functions), got " + type(window_function).__name__
            )
        if (isinstance(allowed_lateness, bool) or not isinstance(allowed_lateness, int)
                or allowed_lateness < 0):
            raise ValueError(
                f"allowed_lateness must be an int >= 0 (milliseconds), got {allowed_lateness!r}"
            )
        if late_data_tag is not None and not isinstance(late_data_tag, OutputTag):
            raise TypeError(
                f"late_data_tag must be an OutputTag or None, got {type(late_data_tag).__name__}"
            )
        self._merging = isinstance(assigner, MergingWindowAssigner)
        if self._merging and not trigger.can_merge():
            raise ValueError(
                f"the merging window assigner {assigner!r} needs a trigger that can merge, but "
                f"{trigger!r}.can_merge() is False; implement can_merge/on_merge in the trigger"
            )
        self._assigner = assigner
        self._trigger = trigger
        self._window_function = window_function
        self._allowed_lateness = allowed_lateness
        self._late_data_tag = late_data_tag
        self._backend = backend
        self._timers = timer_service
        self._runtime_context = runtime_context
        self._emit = emit
        self._emit_many = emit_many if emit_many is not None else self._emit_each
        self._emit_side = emit_side
        self._processing_time = processing_time
        self._is_batch = is_batch
        self._event_time = assigner.is_event_time()
        self._in_timer = False
        self.num_late_records_dropped = 0
        """Late elements dropped because no live window took them and no late tag was set."""

        self._list_contents = not window_function.single_value
        # the built-in EventTimeTrigger's decisions are inlined (see _add_batch_to_time_windows)
        self._event_time_trigger = type(trigger) is EventTimeTrigger and not self._merging
        self._time_window_assigner = (
            type(assigner) in (TumblingEventTimeWindows, SlidingEventTimeWindows)
        )
        self._trigger_context = WindowTriggerContext(
            trigger, backend, timer_service, runtime_context, processing_time,
            self.current_watermark,
        )
        self._process_context = WindowProcessContext(
            backend, VOID_NAMESPACE, self._merging, processing_time, self.current_watermark
        )
        self._assigner_context = AssignerContext(
            processing_time,
            AssignerRuntimeContext(
                runtime_context, KeyedStateStore(backend, count_windows_state_name)
            ),
        )
        self._window_state: Any = None
        self._direct_contents: tuple[Any, Any, Any] | None = None
        self._merging_windows: MergingWindowSet | None = None

    # ------------------------------------------------------------------ lifecycle

    def open(self) -> None:
        """Create the state handles and open the user functions."""
        self._window_state = self._backend.get_partitioned_state(
            VOID_NAMESPACE, self._window_function.state_descriptor
        )
        if self._merging:
            if not hasattr(self._window_state, "merge_namespaces"):
                raise TypeError(
                    "session (merging) windows need mergeable window contents (list, reducing "
                    f"or aggregating state), got {type(self._window_state).__name__}"
                )
            sets_state = self._backend.get_partitioned_state(
                VOID_NAMESPACE, MapStateDescriptor(MERGING_WINDOW_SET_STATE_NAME, None, None)
            )
            self._merging_windows = MergingWindowSet(
                cast(MergingWindowAssigner[Any, Any], self._assigner), sets_state
            )
        self._window_function.open(self._runtime_context)
        self._direct_contents = self._direct_contents_access()

    def _direct_contents_access(self) -> tuple[Any, Any, Any] | None:
        """``(namespaces, reduce, aggregate_function)`` when the window contents are heap
        reducing or aggregating state without TTL: the batch loops then read and write its
        namespace maps themselves, with the state's own conventions (``None`` is absent, an
        emptied namespace map is dropped), instead of a state call per element and timer."""
        state = self._window_state
        kind = getattr(state, "kind", None)
        if getattr(state, "has_ttl", True) or kind not in ("reducing", "aggregating"):
            return None
        if not hasattr(state, "namespaces"):  # not the hashmap backend's dicts (rocksdb)
            return None
        descriptor = self._window_function.state_descriptor
        if kind == "reducing":
            function = descriptor.get_reduce_function()  # type: ignore[attr-defined]
            reduce = (function._fn if type(function) is _CallableReduceFunction
                      else function.reduce)
            return state.namespaces, reduce, None
        return state.namespaces, None, descriptor.get_agg_function()  # type: ignore[attr-defined]

    def close(self) -> None:
        self._window_function.close()

    def _emit_each(self, values: list[Any], timestamp: int) -> None:
        emit = self._emit
        for value in values:
            emit(value, timestamp)

    # ------------------------------------------------------------------ clocks

    def current_watermark(self) -> int:
        """The watermark triggers and window functions see (``LONG_MIN`` while a batch-mode
        key's elements are processed)."""
        if self._is_batch and not self._in_timer:
            return LONG_MIN
        return self._timers.current_watermark()

    def cleanup_time(self, window: Any) -> int:
        """When ``window``'s state is cleared: ``max_timestamp + allowed_lateness`` (capped at
        ``LONG_MAX``) for event time, ``max_timestamp`` for processing time."""
        if self._event_time:
            return min(window.max_timestamp() + self._allowed_lateness, LONG_MAX)
        return window.max_timestamp()

    # ------------------------------------------------------------------ elements

    def process_batch(self, keys: list[Any], values: list[Any],
                      timestamps: list[int] | None) -> None:
        """:meth:`process_element` for each element of a batch, in order."""
        if (timestamps is not None and self._event_time_trigger
                and self._time_window_assigner):
            self._add_batch_to_time_windows(keys, values, timestamps)
            return
        process = self.process_element
        if timestamps is None:
            for key, value in zip(keys, values):
                process(key, value, None)
        else:
            for key, value, timestamp in zip(keys, values, timestamps):
                process(key, value, timestamp)

    def _add_batch_to_time_windows(self, keys: list[Any], values: list[Any],
                                   timestamps: list[int]) -> None:
        """:meth:`_add_to_windows` for a batch, with the built-in tumbling or sliding
        event-time assigner and EventTimeTrigger: the windows are computed inline (one object
        per window and batch, so namespace switches are identity checks), the trigger's
        ``on_element`` is inlined (fire if the watermark passed the window's max_timestamp,
        else a timer there) and the cleanup timer is registered only when it is another
        timer than the trigger's (allowed lateness > 0)."""
        assigner: Any = self._assigner
        size: int = assigner._size
        offset: int = assigner._offset
        slide: int = getattr(assigner, "_slide", size)
        lateness = self._allowed_lateness
        watermark = self._timers.current_watermark()
        streaming = not self._is_batch
        trigger_watermark = watermark if streaming else LONG_MIN
        set_key = self._backend.set_current_key
        state = self._window_state
        set_namespace = state.set_current_namespace
        add = state.add
        timer_bucket = self._timers.event_timers.bucket
        # start -> (window, timer bucket of its max_timestamp or None: fire at once, timer
        # bucket of its cleanup time or None: none or the same), or None: the window is gone
        windows: dict[int, tuple[TimeWindow, Any, Any] | None] = {}
        current: Any = None
        starts: Any
        namespaces: Any = None
        reduce = agg_add = create_accumulator = None
        if self._direct_contents is not None:
            namespaces, reduce, aggregate = self._direct_contents
            if aggregate is not None:
                agg_add, create_accumulator = aggregate.add, aggregate.create_accumulator
        contents_map: Any = None
        for key, value, t in zip(keys, values, timestamps):
            set_key(key)
            # the assigners' formulas without "+ size": Python's % is never negative
            if slide == size:
                starts = (t - (t - offset) % size,)
            else:
                starts = range(t - (t - offset) % slide, t - size, -slide)
            skipped = True
            for start in starts:
                known = windows.get(start, _UNKNOWN)
                if known is _UNKNOWN:
                    max_ts = start + size - 1
                    cleanup = min(max_ts + lateness, LONG_MAX)
                    known = windows[start] = None if streaming and cleanup <= watermark else (
                        TimeWindow(start, start + size),
                        None if max_ts <= trigger_watermark else timer_bucket(max_ts),
                        None if cleanup in (max_ts, LONG_MAX) else timer_bucket(cleanup),
                    )
                if known is None:
                    continue
                skipped = False
                window, fire_timers, cleanup_timers = known
                if window is not current:
                    if namespaces is not None:
                        contents_map = namespaces.get(window)
                        if contents_map is None:
                            contents_map = namespaces[window] = {}
                    set_namespace(window)
                    current = window
                if reduce is not None and value is not None:  # HeapReducingState.add
                    old = contents_map.get(key)
                    contents_map[key] = value if old is None else reduce(old, value)
                elif agg_add is not None and value is not None:  # HeapAggregatingState.add
                    acc = contents_map.get(key)
                    contents_map[key] = agg_add(
                        value, create_accumulator() if acc is None else acc  # type: ignore[misc]
                    )
                else:
                    add(value)
                    current = None  # add(None) clears, which may drop the namespace's map
                if fire_timers is None:  # EventTimeTrigger.on_element: FIRE
                    contents = self._contents(window)
                    if contents is None:
                        continue
                    self._emit_window_contents(key, window, contents)
                else:  # EventTimeTrigger.on_element: a timer at max_timestamp
                    fire_timers[key, window] = None
                if cleanup_timers is not None:
                    cleanup_timers[key, window] = None
            if skipped and streaming and t + lateness <= watermark:
                if self._late_data_tag is not None:
                    self._emit_side(self._late_data_tag, value, t)
                else:
                    self.num_late_records_dropped += 1

    def process_element(self, key: Any, value: Any, timestamp: int | None) -> None:
        """Add ``value`` (of ``key``, with event timestamp ``timestamp``) to its windows."""
        self._backend.set_current_key(key)
        windows = self._assigner.assign_windows(value, timestamp, self._assigner_context)
        if self._merging:
            skipped = self._add_to_merging_windows(key, value, timestamp, windows)
        else:
            skipped = self._add_to_windows(key, value, timestamp, windows)
        if skipped and self._is_element_late(timestamp):
            if self._late_data_tag is not None:
                self._emit_side(self._late_data_tag, value, timestamp)  # type: ignore[arg-type]
            else:
                self.num_late_records_dropped += 1

    def _add_to_windows(self, key: Any, value: Any, timestamp: int | None,
                        windows: Collection[Any]) -> bool:
        skipped = True
        state = self._window_state
        trigger_context = self._trigger_context
        check_late = self._event_time and not self._is_batch
        for window in windows:
            cleanup_time = self.cleanup_time(window)
            if check_late and cleanup_time <= self._timers.current_watermark():
                continue
            skipped = False
            state.set_current_namespace(window)
            state.add(value)
            trigger_context.window = window
            result = trigger_context.on_element(value, timestamp)
            if result is not _CONTINUE:
                if result.is_fire():
                    contents = self._contents(window)
                    if contents is None:
                        continue
                    self._emit_window_contents(key, window, contents)
                if result.is_purge():
                    state.set_current_namespace(window)
                    state.clear()
            if cleanup_time != LONG_MAX:
                if self._event_time:
                    self._timers.register_event_time_timer(window, cleanup_time)
                else:
                    self._timers.register_processing_time_timer(window, cleanup_time)
        return skipped

    def _add_to_merging_windows(self, key: Any, value: Any, timestamp: int | None,
                                windows: Collection[Any]) -> bool:
        skipped = True
        state = self._window_state
        trigger_context = self._trigger_context
        merging_windows = self._merging_windows.load()  # type: ignore[union-attr]
        for window in windows:
            actual_window = merging_windows.add_window(window, self._merge)
            if self._is_window_late(actual_window):
                merging_windows.retire_window(actual_window)
                continue
            skipped = False
            state_window = merging_windows.get_state_window(actual_window)
            if state_window is None:
                raise RuntimeError(f"window {actual_window!r} is not in the in-flight window set")
            state.set_current_namespace(state_window)
            state.add(value)
            trigger_context.window = actual_window
            result = trigger_context.on_element(value, timestamp)
            if result is not _CONTINUE:
                if result.is_fire():
                    contents = self._contents(state_window)
                    if contents is None:
                        continue
                    self._emit_window_contents(key, actual_window, contents)
                if result.is_purge():
                    state.set_current_namespace(state_window)
                    state.clear()
            self._register_cleanup_timer(actual_window)
        merging_windows.persist()
        return skipped

    def _merge(self, merge_result: Any, merged_windows: Collection[Any],
               state_window_result: Any, merged_state_windows: Collection[Any]) -> None:
        if not self._is_batch:
            if self._event_time:
                watermark = self._timers.current_watermark()
                if merge_result.max_timestamp() + self._allowed_lateness <= watermark:
                    raise WindowMergeError(
                        "the end of an event-time window cannot move before the current "
                        f"watermark by merging; watermark {watermark}, window {merge_result!r}"
                    )
            else:
                now = self._processing_time()
                if merge_result.max_timestamp() <= now:
                    raise WindowMergeError(
                        "the end of a processing-time window cannot move before the current "
                        f"processing time by merging; time {now}, window {merge_result!r}"
                    )
        trigger_context = self._trigger_context
        trigger_context.window = merge_result
        trigger_context.on_merge(merged_windows)
        for merged in merged_windows:
            trigger_context.window = merged
            trigger_context.clear()
            self._delete_cleanup_timer(merged)
        if merged_state_windows:
            self._window_state.merge_namespaces(state_window_result, list(merged_state_windows))

    # ------------------------------------------------------------------ timers

    def advance_watermark(self, watermark: int) -> None:
        """Advance the event-time clock to ``watermark`` and handle every event-time timer
        that is due (:meth:`on_event_time` for each)."""
        if not self._event_time_trigger:
            on_event_time = self.on_event_time
            for timer in self._timers.advance_watermark(watermark):
                on_event_time(timer)
            return
        # EventTimeTrigger inlined: a timer at the window's max_timestamp fires it. Its clear()
        # would delete that timer, which has always fired by the window's cleanup time (it is
        # earlier, or the same timer), so it is left out; no timer is registered while timers
        # fire, which lets the timers of a timestamp be taken as one group.
        set_key = self._backend.set_current_key
        state = self._window_state
        set_namespace = state.set_current_namespace
        get_contents = state.get
        clear_contents = state.clear
        event_time = self._event_time
        lateness = self._allowed_lateness
        list_contents = self._list_contents
        process = self._window_function.process
        clear_function = (self._window_function.clear if self._window_function.needs_clear
                          else None)
        context = self._process_context
        emit_many, emit_side = self._emit_many, self._emit_side
        direct = self._direct_contents
        namespaces: Any = None
        get_result: Any = None
        if direct is not None:
            namespaces = direct[0]
            if direct[2] is not None:
                get_result = direct[2].get_result
        contents_map: Any = None
        self._in_timer = True
        try:
            for time, timers in self._timers.advance_watermark_groups(watermark):
                # a timer fires only the windows whose max_timestamp it is: every result of
                # this group has the timestamp ``time``
                out: list[Any] = []
                append = out.append
                current: Any = None
                contents_map = None
                fire = cleanup = False
                max_ts = 0
                for key, window in timers:
                    set_key(key)
                    if window is not current:
                        if direct is not None:
                            if contents_map is not None and not contents_map:
                                _drop_namespace(namespaces, current, contents_map)
                            contents_map = namespaces.get(window)
                        set_namespace(window)
                        current = context.current_window = window
                        max_ts = window.max_timestamp()
                        fire = time == max_ts
                        cleanup = event_time and time == min(max_ts + lateness, LONG_MAX)
                    if direct is not None:
                        # HeapReducingState/HeapAggregatingState get() and clear()
                        if contents_map is None:
                            contents = None
                        elif cleanup:
                            contents = contents_map.pop(key, None)
                        elif fire:
                            contents = contents_map.get(key)
                        else:
                            continue
                        if contents is not None and get_result is not None:
                            contents = get_result(contents)
                    elif fire:
                        contents = get_contents()
                    if fire:
                        if contents is not None and (not list_contents or contents):
                            results = process(
                                key.value if type(key) is CanonicalKey else key,  # user_key
                                window, context, contents,
                            )
                            if results is not None:
                                for result in results:
                                    if (isinstance(result, tuple) and len(result) == 2
                                            and isinstance(result[0], OutputTag)):
                                        if out:
                                            emit_many(out, time)
                                            out.clear()
                                        emit_side(result[0], result[1], max_ts)
                                    else:
                                        append(result)
                    if cleanup:
                        if direct is None:
                            clear_contents()
                        if clear_function is not None:
                            clear_function(window, context)
                if out:
                    emit_many(out, time)
                if contents_map is not None and not contents_map:
                    _drop_namespace(namespaces, current, contents_map)
                    contents_map = None
                    set_namespace(current)  # the state's cached map of it is gone too
        finally:
            self._in_timer = False

    def on_event_time(self, timer: Any) -> None:
        """Handle one fired event-time timer (``timer.timestamp``, ``.key``, ``.namespace``)."""
        self._on_timer(timer.key, timer.namespace, timer.timestamp, True)

    def on_processing_time(self, timer: Any) -> None:
        """Handle one fired processing-time timer."""
        self._on_timer(timer.key, timer.namespace, timer.timestamp, False)

    def _on_timer(self, key: Any, window: Any, time: int, event_timer: bool) -> None:
        self._backend.set_current_key(key)
        self._in_timer = True
        try:
            merging_windows = None
            state_window = window
            if self._merging:
                merging_windows = self._merging_windows.load()  # type: ignore[union-attr]
                state_window = merging_windows.get_state_window(window)
                if state_window is None:
                    # The window was already merged away or cleaned up; a trigger left a timer.
                    return
            trigger_context = self._trigger_context
            trigger_context.window = window
            if event_timer:
                result = trigger_context.on_event_time(time)
            else:
                result = trigger_context.on_processing_time(time)
            if result is not _CONTINUE:
                if result.is_fire():
                    contents = self._contents(state_window)
                    if contents is not None:
                        self._emit_window_contents(key, window, contents)
                if result.is_purge():
                    self._window_state.set_current_namespace(state_window)
                    self._window_state.clear()
            if event_timer == self._event_time and time == self.cleanup_time(window):
                self._clear_all_state(window, state_window, merging_windows)
            if merging_windows is not None:
                merging_windows.persist()
        finally:
            self._in_timer = False

    def _clear_all_state(self, window: Any, state_window: Any,
                         merging_windows: MergingWindowSet | None) -> None:
        self._window_state.set_current_namespace(state_window)
        self._window_state.clear()
        self._trigger_context.window = window
        self._trigger_context.clear()
        self._process_context.current_window = window
        self._window_function.clear(window, self._process_context)
        if merging_windows is not None:
            merging_windows.retire_window(window)

    def _register_cleanup_timer(self, window: Any) -> None:
        cleanup_time = self.cleanup_time(window)
        if cleanup_time == LONG_MAX:
            return
        if self._event_time:
            self._timers.register_event_time_timer(window, cleanup_time)
        else:
            self._timers.register_processing_time_timer(window, cleanup_time)

    def _delete_cleanup_timer(self, window: Any) -> None:
        cleanup_time = self.cleanup_time(window)
        if cleanup_time == LONG_MAX:
            return
        if self._event_time:
            self._timers.delete_event_time_timer(window, cleanup_time)
        else:
            self._timers.delete_processing_time_timer(window, cleanup_time)

    # ------------------------------------------------------------------ helpers

    def _is_window_late(self, window: Any) -> bool:
        return (
            self._event_time
            and not self._is_batch
            and self.cleanup_time(window) <= self._timers.current_watermark()
        )

    def _is_element_late(self, timestamp: int | None) -> bool:
        return (
            self._event_time
            and not self._is_batch
            and timestamp is not None
            and timestamp + self._allowed_lateness <= self._timers.current_watermark()
        )

    def _contents(self, state_window: Any) -> Any:
        state = self._window_state
        state.set_current_namespace(state_window)
        contents = state.get()
        if contents is None:
            return None
        if self._list_contents:
            # a copy: the user function must not see (or change) the state's own list
            contents = list(contents)
            if not contents:
                return None
        return contents

    def _emit_window_contents(self, key: Any, window: Any, contents: Any) -> None:
        context = self._process_context
        context.current_window = window
        results: Iterable[Any] | None = self._window_function.process(
            user_key(key), window, context, contents
        )
        if results is None:
            return
        timestamp = window.max_timestamp()
        emit = self._emit
        for result in results:
            if (isinstance(result, tuple) and len(result) == 2
                    and isinstance(result[0], OutputTag)):
                self._emit_side(result[0], result[1], timestamp)
            else:
                emit(result, timestamp)


def _drop_namespace(namespaces: dict[Any, Any], window: Any, contents_map: dict[Any, Any]
                    ) -> None:
    """Drop the emptied map of ``window``, as heap state does when a namespace empties."""
    if namespaces.get(window) is contents_map:
        del namespaces[window]
