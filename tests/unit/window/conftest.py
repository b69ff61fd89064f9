"""Test fixtures of the window tests.

``make_harness(assigner, window_function, ...)`` drives WindowOperatorLogic with the real
heap backend and timer service, as the runtime would: elements in, watermarks and processing
time advanced through the timer service, fired timers dispatched to the logic, emissions
collected."""

from __future__ import annotations

from typing import Any

import pytest

from strom.common.watermark_strategy import LONG_MAX
from strom.datastream.functions import RuntimeContext
from strom.datastream.output_tag import OutputTag
from strom.datastream.window import Trigger, WindowAssigner
from strom.runtime.window_contexts import KeyedStateStore
from strom.runtime.window_functions import InternalWindowFunction
from strom.runtime.window_logic import WindowOperatorLogic
from strom.state.heap_backend import HeapKeyedStateBackend
from strom.state.key_groups import KeyGroupRange
from strom.state.namespaces import VOID_NAMESPACE

MAX_PARALLELISM = 128


class FakeRuntimeContext(RuntimeContext):
    """A one-subtask runtime context whose keyed state is the backend's (void namespace)."""

    def __init__(self, backend: HeapKeyedStateBackend) -> None:
        self._store = KeyedStateStore(backend, VOID_NAMESPACE)
        self.metrics: Any = object()

    def get_task_name(self) -> str:
        return "Window"

    def get_number_of_parallel_subtasks(self) -> int:
        return 1

    def get_max_number_of_parallel_subtasks(self) -> int:
        return MAX_PARALLELISM

    def get_index_of_this_subtask(self) -> int:
        return 0

    def get_attempt_number(self) -> int:
        return 0

    def get_task_name_with_subtasks(self) -> str:
        return "Window (1/1)"

    def get_job_parameter(self, key: str, default_value: str) -> str:
        return default_value

    def get_metrics_group(self) -> Any:
        return self.metrics

    def get_state(self, state_descriptor: Any) -> Any:
        return self._store.get_state(state_descriptor)

    def get_list_state(self, state_descriptor: Any) -> Any:
        return self._store.get_list_state(state_descriptor)

    def get_map_state(self, state_descriptor: Any) -> Any:
        return self._store.get_map_state(state_descriptor)

    def get_reducing_state(self, state_descriptor: Any) -> Any:
        return self._store.get_reducing_state(state_descriptor)

    def get_aggregating_state(self, state_descriptor: Any) -> Any:
        return self._store.get_aggregating_state(state_descriptor)


class Harness:
    """One window operator over a fresh backend, with a manual processing-time clock.

    ``batched`` feeds it through the batch entry points (``process_batch`` with one-element
    batches, ``advance_watermark``), which have their own loops for the built-in
    EventTimeTrigger; otherwise element by element and timer by timer."""

    batched = False

    def __init__(
        self,
        assigner: WindowAssigner[Any, Any],
        window_function: InternalWindowFunction,
        *,
        trigger: Trigger[Any, Any] | None = None,
        allowed_lateness: int = 0,
        late_data_tag: OutputTag | None = None,
        is_batch: bool = False,
        start_time: int = 0,
        key_groups: KeyGroupRange = KeyGroupRange(0, MAX_PARALLELISM - 1),
        restore: list[Any] | None = None,
    ) -> None:
        self.now = start_time
        self.backend = HeapKeyedStateBackend(MAX_PARALLELISM, key_groups, clock=lambda: self.now)
        if restore is not None:
            self.backend.restore(restore)
        self.timers = self.backend.get_timer_service("window-timers")
        self.runtime_context = FakeRuntimeContext(self.backend)
        self.output: list[tuple[Any, int]] = []
        self.side_output: list[tuple[OutputTag, Any, int]] = []
        self.logic = WindowOperatorLogic(
            assigner=assigner,
            trigger=trigger if trigger is not None else assigner.get_default_trigger(None),
            window_function=window_function,
            allowed_lateness=allowed_lateness,
            late_data_tag=late_data_tag,
            backend=self.backend,
            timer_service=self.timers,
            runtime_context=self.runtime_context,
            emit=lambda value, ts: self.output.append((value, ts)),
            emit_side=lambda tag, value, ts: self.side_output.append((tag, value, ts)),
            processing_time=lambda: self.now,
            is_batch=is_batch,
        )
        self.logic.open()

    def element(self, key: Any, value: Any, timestamp: int | None = None) -> None:
        if self.batched:
            self.logic.process_batch([key], [value], None if timestamp is None else [timestamp])
        else:
            self.logic.process_element(key, value, timestamp)

    def watermark(self, watermark: int) -> int:
        """Advance the watermark; returns how many timers fired."""
        fired = 0
        if self.batched:
            logic = self.logic
            if logic._event_time_trigger:  # its loop registers no timers while firing
                before = self.timers.num_event_time_timers()
                logic.advance_watermark(watermark)
                return before - self.timers.num_event_time_timers()
            on_event_time = logic.on_event_time

            def counted(timer: Any) -> None:
                nonlocal fired
                fired += 1
                on_event_time(timer)

            logic.on_event_time = counted  # type: ignore[method-assign]
            try:
                logic.advance_watermark(watermark)
            finally:
                del logic.on_event_time
            return fired
        for timer in self.timers.advance_watermark(watermark):
            fired += 1
            self.logic.on_event_time(timer)
        return fired

    def end_of_input(self) -> int:
        return self.watermark(LONG_MAX)

    def advance_time(self, now: int) -> int:
        """Move the processing-time clock to ``now``; returns how many timers fired."""
        self.now = now
        fired = 0
        for timer in self.timers.advance_processing_time(now):
            fired += 1
            self.logic.on_processing_time(timer)
        return fired

    def values(self) -> list[Any]:
        return [value for value, _ in self.output]


class BatchedHarness(Harness):
    batched = True


@pytest.fixture(params=[Harness, BatchedHarness], ids=["per_element", "batched"])
def make_harness(request: pytest.FixtureRequest) -> type[Harness]:
    """The :class:`Harness` class: ``make_harness(assigner, window_function, **options)``;
    every test runs once element by element and once through the batch entry points."""
    return request.param  # type: ignore[no-any-return]
