"""The contexts the window operator hands to assigners, triggers and window functions.

Each is one reusable object per operator whose current window the operator sets before a
call, so no object is created per record. All state goes through the keyed state backend,
namespaced by window (per-window state) or by ``VOID_NAMESPACE`` (per-key state).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Any

from strom.datastream.functions import RuntimeContext
from strom.datastream.state import (
    AggregatingState,
    AggregatingStateDescriptor,
    ListState,
    ListStateDescriptor,
    MapState,
    MapStateDescriptor,
    ReducingState,
    ReducingStateDescriptor,
    State,
    StateDescriptor,
    ValueState,
    ValueStateDescriptor,
)
from strom.datastream.window import OnMergeContext, Trigger, TriggerResult, WindowAssignerContext
from strom.runtime.window_functions import InternalWindowContext

if TYPE_CHECKING:
    from strom.state.backends import KeyedStateBackend
    from strom.state.timers import InternalTimerService

__all__ = [
    "AssignerContext",
    "AssignerRuntimeContext",
    "KeyedStateStore",
    "MergingWindowStateStore",
    "WindowProcessContext",
    "WindowTriggerContext",
]


class KeyedStateStore:
    """Keyed state of the backend's current key under one namespace (settable), with the
    ``RuntimeContext`` state accessors."""

    def __init__(self, backend: KeyedStateBackend, namespace: Any) -> None:
        self._backend = backend
        self.namespace = namespace

    def get_state(self, state_descriptor: ValueStateDescriptor) -> ValueState:
        return self._backend.get_partitioned_state(self.namespace, state_descriptor)

    def get_list_state(self, state_descriptor: ListStateDescriptor) -> ListState:
        return self._backend.get_partitioned_state(self.namespace, state_descriptor)

    def get_map_state(self, state_descriptor: MapStateDescriptor) -> MapState:
        return self._backend.get_partitioned_state(self.namespace, state_descriptor)

    def get_reducing_state(self, state_descriptor: ReducingStateDescriptor) -> ReducingState:
        return self._backend.get_partitioned_state(self.namespace, state_descriptor)

    def get_aggregating_state(
        self, state_descriptor: AggregatingStateDescriptor
    ) -> AggregatingState:
        return self._backend.get_partitioned_state(self.namespace, state_descriptor)


class MergingWindowStateStore:
    """``window_state()`` of merging (session) windows: per-window state cannot follow merges,
    so every accessor fails, as in Flink."""

    def _refuse(self, state_descriptor: StateDescriptor) -> Any:
        raise TypeError(
            "per-window state (context.window_state()) is not allowed with merging windows "
            f"(session windows); asked for state {getattr(state_descriptor, 'name', '?')!r}. "
            "Use context.global_state() or a non-merging window assigner."
        )

    get_state = _refuse
    get_list_state = _refuse
    get_map_state = _refuse
    get_reducing_state = _refuse
    get_aggregating_state = _refuse


class AssignerRuntimeContext(RuntimeContext):
    """The runtime context a window assigner sees: the task's own answers, with keyed state of
    the current key kept under a namespace of its own (apart from windows and user state)."""

    def __init__(self, runtime_context: RuntimeContext, store: KeyedStateStore) -> None:
        self._runtime_context = runtime_context
        self._store = store

    def get_task_name(self) -> str:
        return self._runtime_context.get_task_name()

    def get_number_of_parallel_subtasks(self) -> int:
        return self._runtime_context.get_number_of_parallel_subtasks()

    def get_max_number_of_parallel_subtasks(self) -> int:
        return self._runtime_context.get_max_number_of_parallel_subtasks()

    def get_index_of_this_subtask(self) -> int:
        return self._runtime_context.get_index_of_this_subtask()

    def get_attempt_number(self) -> int:
        return self._runtime_context.get_attempt_number()

    def get_task_name_with_subtasks(self) -> str:
        return self._runtime_context.get_task_name_with_subtasks()

    def get_job_parameter(self, key: str, default_value: str) -> str:
        return self._runtime_context.get_job_parameter(key, default_value)

    def get_metrics_group(self) -> Any:
        return self._runtime_context.get_metrics_group()

    def get_state(self, state_descriptor: ValueStateDescriptor) -> ValueState:
        return self._store.get_state(state_descriptor)

    def get_list_state(self, state_descriptor: ListStateDescriptor) -> ListState:
        return self._store.get_list_state(state_descriptor)

    def get_map_state(self, state_descriptor: MapStateDescriptor) -> MapState:
        return self._store.get_map_state(state_descriptor)

    def get_reducing_state(self, state_descriptor: ReducingStateDescriptor) -> ReducingState:
        return self._store.get_reducing_state(state_descriptor)

    def get_aggregating_state(
        self, state_descriptor: AggregatingStateDescriptor
    ) -> AggregatingState:
        return self._store.get_aggregating_state(state_descriptor)


class AssignerContext(WindowAssignerContext):
    def __init__(self, processing_time: Callable[[], int],
                 runtime_context: AssignerRuntimeContext) -> None:
        self._processing_time = processing_time
        self._runtime_context = runtime_context

    def get_current_processing_time(self) -> int:
        return self._processing_time()

    def get_runtime_context(self) -> RuntimeContext:
        return self._runtime_context


class WindowTriggerContext(OnMergeContext):
    """Runs the trigger for ``self.window`` of the backend's current key; timers and state
    are namespaced by that window."""

    def __init__(self, trigger: Trigger[Any, Any], backend: KeyedStateBackend,
                 timer_service: InternalTimerService, runtime_context: RuntimeContext,
                 processing_time: Callable[[], int], watermark: Callable[[], int]) -> None:
        self._trigger = trigger
        self._backend = backend
        self._timers = timer_service
        self._runtime_context = runtime_context
        self._processing_time = processing_time
        self._watermark = watermark
        self.window: Any = None
        self._merged_windows: Collection[Any] = ()

    def get_current_processing_time(self) -> int:
        return self._processing_time()

    def get_metric_group(self) -> Any:
        return self._runtime_context.get_metrics_group()

    def get_current_watermark(self) -> int:
        return self._watermark()

    def register_processing_time_timer(self, time: int) -> None:
        self._timers.register_processing_time_timer(self.window, time)

    def register_event_time_timer(self, time: int) -> None:
        self._timers.register_event_time_timer(self.window, time)

    def delete_processing_time_timer(self, time: int) -> None:
        self._timers.delete_processing_time_timer(self.window, time)

    def delete_event_time_timer(self, time: int) -> None:
        self._timers.delete_event_time_timer(self.window, time)

    def get_partitioned_state(self, state_descriptor: StateDescriptor) -> State:
        return self._backend.get_partitioned_state(self.window, state_descriptor)

    def merge_partitioned_state(self, state_descriptor: StateDescriptor) -> None:
        if not self._merged_windows:
            return
        state = self._backend.get_partitioned_state(self.window, state_descriptor)
        merge = getattr(state, "merge_namespaces", None)
        if merge is None:
            raise TypeError(
                f"state {getattr(state_descriptor, 'name', '?')!r} "
                f"({type(state_descriptor).__name__}) cannot be merged; merge_partitioned_state "
                "needs a list, reducing or aggregating state descriptor"
            )
        merge(self.window, list(self._merged_windows))

    def on_element(self, value: Any, timestamp: Any) -> TriggerResult:
        return self._trigger.on_element(value, timestamp, self.window, self)

    def on_processing_time(self, time: int) -> TriggerResult:
        return self._trigger.on_processing_time(time, self.window, self)

    def on_event_time(self, time: int) -> TriggerResult:
        return self._trigger.on_event_time(time, self.window, self)

    def on_merge(self, merged_windows: Collection[Any]) -> None:
        self._merged_windows = merged_windows
        try:
            self._trigger.on_merge(self.window, self)
        finally:
            self._merged_windows = ()

    def clear(self) -> None:
        self._trigger.clear(self.window, self)


class WindowProcessContext(InternalWindowContext):
    """The ``ProcessWindowFunction.Context`` (and ``ProcessAllWindowFunction.Context``) of the
    window being evaluated or cleared."""

    def __init__(self, backend: KeyedStateBackend, global_namespace: Any, merging: bool,
                 processing_time: Callable[[], int], watermark: Callable[[], int]) -> None:
        self._processing_time = processing_time
        self._watermark = watermark
        self._window_state: KeyedStateStore | MergingWindowStateStore = (
            MergingWindowStateStore() if merging else KeyedStateStore(backend, None)
        )
        self._global_state = KeyedStateStore(backend, global_namespace)
        self.current_window: Any = None

    def window(self) -> Any:
        return self.current_window

    def current_processing_time(self) -> int:
        return self._processing_time()

    def current_watermark(self) -> int:
        return self._watermark()

    def window_state(self) -> Any:
        """Keyed state scoped to the current key and this window (cleared by the user in
        ``ProcessWindowFunction.clear``)."""
        store = self._window_state
        if isinstance(store, KeyedStateStore):
            store.namespace = self.current_window
        return store

    def global_state(self) -> KeyedStateStore:
        """Keyed state scoped to the current key, shared by all its windows."""
        return self._global_state
