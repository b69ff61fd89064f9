"""The operator contract, the chain's output plumbing and what operators get from the task."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from strom.datastream.functions import RuntimeContext
from strom.datastream.output_tag import OutputTag
from strom.metrics.groups import MetricGroup, unregistered_group

__all__ = ["ChainOutput", "OperatorContext", "StreamOperator", "StreamRuntimeContext",
           "TwoInputOperator", "split_side_outputs"]

LONG_MIN = -(2**63)
LONG_MAX = 2**63 - 1

BatchFn = Callable[[list[Any], "list[int] | None"], None]


@dataclass
class OperatorContext:
    """What the task gives each operator of its chain."""

    task_name: str
    operator_name: str
    subtask_index: int
    parallelism: int
    max_parallelism: int
    attempt_number: int
    job_parameters: dict[str, str]
    is_batch: bool
    clock: Callable[[], int]
    auto_watermark_interval: int
    #: creates the keyed state backend for a keyed operator (set by the task)
    keyed_backend_factory: Callable[[], Any] | None = None
    #: request an earlier wake-up of the task for a processing-time deadline
    request_wakeup: Callable[[], None] = field(default=lambda: None)
    #: records per output batch (the size of a network buffer)
    batch_size: int = 1024
    #: True while the task's output is back-pressured (operators that multiply records
    #: stop between chunks then; see ``bounded_output``)
    output_blocked: Callable[[], bool] = field(default=lambda: False)
    #: the state this operator starts from when the task is restored from a checkpoint or
    #: savepoint (a ``strom.state.snapshots.RestoredOperatorState``); None on a fresh start.
    #: The keyed backend factory restores ``restored.keyed`` itself.
    restored: Any = None
    extra: dict[str, Any] = field(default_factory=dict)
    #: the operator's metric group (its system metrics and the user's): what
    #: ``RuntimeContext.get_metrics_group()`` returns. The task gives each operator its
    #: group; an operator built without a task reports nowhere.
    metric_group: MetricGroup = field(default_factory=lambda: unregistered_group("operator"))


class ChainOutput:
    """Routes one operator's output to chained operators and record writers.

    ``emit(values, timestamps)`` is rebound at wiring time to the single target when there is
    only one, so the common case costs one call per batch.
    """

    def __init__(self) -> None:
        self.targets: list[BatchFn] = []
        self.watermark_targets: list[Callable[[int], None]] = []
        self.status_targets: list[Callable[[bool], None]] = []
        self.side_targets: dict[OutputTag, list[BatchFn]] = {}
        self.emit: BatchFn = self._emit_many

    def add_target(
        self, emit: BatchFn, watermark: Callable[[int], None], status: Callable[[bool], None],
        tag: OutputTag | None = None,
    ) -> None:
        if tag is None:
            self.targets.append(emit)
        else:
            self.side_targets.setdefault(tag, []).append(emit)
        if watermark not in self.watermark_targets:
            self.watermark_targets.append(watermark)
            self.status_targets.append(status)
        self.emit = self.targets[0] if len(self.targets) == 1 else self._emit_many

    def _emit_many(self, values: list[Any], timestamps: list[int] | None) -> None:
        for target in self.targets:
            target(values, timestamps)

    def emit_side(self, tag: OutputTag, values: list[Any], timestamps: list[int] | None) -> None:
        for target in self.side_targets.get(tag, ()):
            target(values, timestamps)

    def emit_watermark(self, timestamp: int) -> None:
        for target in self.watermark_targets:
            target(timestamp)

    def emit_watermark_status(self, idle: bool) -> None:
        for target in self.status_targets:
            target(idle)


class StreamOperator:
    """A one-input (or source) operator processing a batch at a time.

    Lifecycle: ``setup`` → ``open`` → ``process_batch``/``process_watermark``… →
    ``end_input`` (bounded input finished) → ``close``. ``close`` runs on failure too.
    """

    #: True when the operator has processing-time work (timers, periodic watermarks)
    uses_processing_time = False

    def __init__(self, name: str) -> None:
        self.name = name
        self.output: ChainOutput = ChainOutput()
        self.ctx: OperatorContext | None = None
        self.current_watermark = LONG_MIN

    def setup(self, ctx: OperatorContext, output: ChainOutput) -> None:
        self.ctx = ctx
        self.output = output

    def open(self) -> None:
        """Open user functions and state."""

    def process_batch(
        self, values: list[Any], timestamps: list[int] | None, keys: list[Any] | None
    ) -> None:
        """Process one batch of the (single) input. One-input operators override this; a
        source or a two-input operator has no such input."""
        raise TypeError(f"{type(self).__name__} '{self.name}' takes no single input")

    def process_watermark(self, timestamp: int) -> None:
        self.current_watermark = timestamp
        self.output.emit_watermark(timestamp)

    def process_watermark_status(self, idle: bool) -> None:
        self.output.emit_watermark_status(idle)

    def next_processing_time(self) -> int | None:
        """When :meth:`on_processing_time` should next run, or None."""
        return None

    def on_processing_time(self, now: int) -> None:
        """Processing time reached :meth:`next_processing_time`."""

    def end_input(self) -> None:
        """All input has arrived (bounded input). Emit what waits for the end."""

    def close(self) -> None:
        """Release resources and close user functions."""

    def cancel(self) -> None:
        """The task is being cancelled: make a call of this operator that blocks (a sink
        waiting for room) return soon, dropping what it could not hand on. Called from
        another thread than the task's, maybe before :meth:`open` or after :meth:`close`;
        the task's thread then closes the operator as usual."""

    def prepare_snapshot_pre_barrier(self, checkpoint_id: int) -> None:
        """A barrier for ``checkpoint_id`` is about to be forwarded: emit what must go
        before it (Flink's ``prepareSnapshotPreBarrier``). Output emitted here is part of the
        checkpoint."""

    def snapshot_state(self, checkpoint_id: int) -> Any:
        """The synchronous part of this operator's snapshot, taken in the task's thread
        when the barrier is aligned: an ``OperatorSubtaskState`` (or None: no state). Copy
        references only; anything slow goes into its deferred keyed part."""
        return None

    def notify_checkpoint_complete(self, checkpoint_id: int) -> None:
        """Checkpoint ``checkpoint_id`` completed (and subsumed older ones): commit what
        was pre-committed for it."""

    def notify_checkpoint_aborted(self, checkpoint_id: int) -> None:
        """Checkpoint ``checkpoint_id`` was aborted; nothing of it will be committed."""


class TwoInputOperator(StreamOperator, ABC):
    """An operator with two logical inputs (``connect``). The task combines the watermarks
    of both inputs (their minimum) before calling :meth:`process_watermark`."""

    @abstractmethod
    def process_batch1(
        self, values: list[Any], timestamps: list[int] | None, keys: list[Any] | None
    ) -> None:
        """Process one batch of the first input."""

    @abstractmethod
    def process_batch2(
        self, values: list[Any], timestamps: list[int] | None, keys: list[Any] | None
    ) -> None:
        """Process one batch of the second input."""


def split_side_outputs(
    results: list[Any], timestamps: list[int] | None, output: ChainOutput
) -> tuple[list[Any], list[int] | None]:
    """Separate ``(OutputTag, value)`` results from main results and emit the side ones."""
    main: list[Any] = []
    main_ts: list[int] | None = [] if timestamps is not None else None
    for i, r in enumerate(results):
        if type(r) is tuple and len(r) == 2 and type(r[0]) is OutputTag:
            output.emit_side(r[0], [r[1]], [timestamps[i]] if timestamps is not None else None)
        else:
            main.append(r)
            if main_ts is not None and timestamps is not None:
                main_ts.append(timestamps[i])
    return main, main_ts


class StreamRuntimeContext(RuntimeContext):
    """The RuntimeContext user functions see."""

    def __init__(self, ctx: OperatorContext, keyed_backend: Any = None) -> None:
        self._ctx = ctx
        self._backend = keyed_backend

    def get_task_name(self) -> str:
        return self._ctx.task_name

    def get_number_of_parallel_subtasks(self) -> int:
        return self._ctx.parallelism

    def get_max_number_of_parallel_subtasks(self) -> int:
        return self._ctx.max_parallelism

    def get_index_of_this_subtask(self) -> int:
        return self._ctx.subtask_index

    def get_attempt_number(self) -> int:
        return self._ctx.attempt_number

    def get_task_name_with_subtasks(self) -> str:
        c = self._ctx
        return f"{c.task_name} ({c.subtask_index + 1}/{c.parallelism})"

    def get_job_parameter(self, key: str, default_value: str) -> str:
        return self._ctx.job_parameters.get(key, default_value)

    def get_metrics_group(self) -> MetricGroup:
        """The operator's metric group: user metrics registered here are reported with
        the operator's system metrics (below the task, named after the operator)."""
        return self._ctx.metric_group

    def _keyed(self, what: str) -> Any:
        if self._backend is None:
            raise RuntimeError(
                f"{what}: keyed state is only available on a keyed stream. Call key_by(...) "
                "before this operator, or keep the value in a field of your function."
            )
        return self._backend

    def get_state(self, state_descriptor: Any) -> Any:
        return self._state(state_descriptor, "get_state")

    def get_list_state(self, state_descriptor: Any) -> Any:
        return self._state(state_descriptor, "get_list_state")

    def get_map_state(self, state_descriptor: Any) -> Any:
        return self._state(state_descriptor, "get_map_state")

    def get_reducing_state(self, state_descriptor: Any) -> Any:
        return self._state(state_descriptor, "get_reducing_state")

    def get_aggregating_state(self, state_descriptor: Any) -> Any:
        return self._state(state_descriptor, "get_aggregating_state")

    def _state(self, descriptor: Any, what: str) -> Any:
        from strom.state import VOID_NAMESPACE

        return self._keyed(what).get_partitioned_state(VOID_NAMESPACE, descriptor)
