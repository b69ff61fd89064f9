"""A task's system metrics (Flink's ``TaskIOMetricGroup`` and ``OperatorIOMetricGroup``).

Everything here is counted per batch or per state change, never per record:

- records in and out: ``len(values)`` of each batch a task reads or an operator emits;
- bytes: the payload sizes of the buffers that cross TCP (frames already have a size);
  records handed over in-process have no bytes, so a task whose channels are all local
  has no ``numBytesIn``/``numBytesOut``;
- time: :class:`TaskIOTimes` keeps a task's state (busy, back-pressured, idle) and reads
  the clock only when the state changes, at the boundary of a step.

A slot thread runs several tasks cooperatively, a step at a time, so a task's wall-clock
time is split at its step boundaries: its own steps are busy; after a step, until its next
one, it is back-pressured when its output is full (the step stopped for credit) or when
what it produced still waits in its channels for consumers that run meanwhile while it has
input to go on with, and idle otherwise (it found no input, waits for a timer, or waits
for its turn with nothing queued: on a thread of its own it would wait for input). A fast source sharing its slot with a slow map thus shows mostly back-pressured
and the map mostly busy, as their two threads would in Flink; the three shares of one
task add up to its wall-clock time.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from strom.metrics.groups import MetricGroup
from strom.metrics.metric_types import Counter, Gauge, Meter
from strom.metrics.registry import add_operator_group

if TYPE_CHECKING:
    from strom.network.record_writer import RecordWriter
    from strom.runtime.input_gate import InputGate
    from strom.runtime.operators.base import ChainOutput

__all__ = ["BACKPRESSURED", "BUSY", "ENABLED", "IDLE", "LONG_MIN", "CallbackCounter", "OperatorMetrics",
           "TaskIOTimes", "TaskMetrics", "TimeShareGauge"]

BUSY, BACKPRESSURED, IDLE = 0, 1, 2

#: whether tasks count records per operator and account their time. Only the benchmark
#: that measures what counting costs (``benchmarks/metrics_overhead.py``) turns it off; the
#: metrics are still registered then, but stay at 0.
ENABLED = True
LONG_MIN = -(2**63)

BatchFn = Callable[[list[Any], "list[int] | None"], None]


class TaskIOTimes:
    """How long a task was busy, back-pressured and idle (seconds of ``clock``).

    The task thread calls :meth:`enter` at its step boundaries (reading the clock only
    when the state changes). Other threads read :meth:`accumulated`, which includes the time
    spent in the current state so far. The state, its start and the totals are one tuple,
    replaced at each change, so a reader never sees them half updated.
    """

    __slots__ = ("_clock", "_mark", "state")

    def __init__(self, clock: Callable[[], float] = time.monotonic,
                 initial: int = IDLE) -> None:
        self._clock = clock
        self.state = initial
        #: (state, since, busy, back-pressured, idle)
        self._mark: tuple[int, float, float, float, float] = (initial, clock(), 0.0, 0.0, 0.0)

    def enter(self, state: int) -> None:
        """The task is now ``state`` (BUSY, BACKPRESSURED or IDLE)."""
        if state == self.state:
            return
        now = self._clock()
        current, since, busy, backpressured, idle = self._mark
        spent = now - since
        if current == BUSY:
            busy += spent
        elif current == BACKPRESSURED:
            backpressured += spent
        else:
            idle += spent
        self._mark = (state, now, busy, backpressured, idle)
        self.state = state

    def accumulated(self, state: int, now: float | None = None) -> float:
        """Seconds spent in ``state`` up to ``now`` (default: the clock's now)."""
        current, since, *totals = self._mark
        total = totals[state]
        if current == state:
            if now is None:
                now = self._clock()
            total += max(0.0, now - since)
        return total

    def accumulated_ms(self, state: int) -> int:
        return round(self.accumulated(state) * 1000)


class TimeShareGauge(Gauge):
    """Milliseconds per second a task spent in one state over the last refresh window
    (Flink's ``TimerGauge``): 0..1000, updated by the registry's ``refresh_views``."""

    __slots__ = ("_last", "_state", "_times", "_value")

    def __init__(self, times: TaskIOTimes, state: int) -> None:
        super().__init__(self.get_value)
        self._times = times
        self._state = state
        now = times._clock()
        self._last = (now, times.accumulated(state, now))
        self._value = 0

    def get_value(self) -> int:
        return self._value

    def refresh(self) -> None:
        times = self._times
        now = times._clock()
        spent = times.accumulated(self._state, now)
        then, before = self._last
        if now > then:
            share = (spent - before) / (now - then) * 1000
            self._value = round(min(1000.0, max(0.0, share)))
            self._last = (now, spent)


class CallbackCounter(Counter):
    """A counter whose count is computed when read: a sum over channels, or a count an
    operator keeps in a plain attribute (nothing extra on the hot path)."""

    __slots__ = ("_read",)

    def __init__(self, read: Callable[[], int]) -> None:
        super().__init__()
        self._read = read

    def get_count(self) -> int:
        return self._read()


def counted(emit: BatchFn, counter: Counter) -> BatchFn:
    """``emit`` that first counts the batch's records into ``counter``."""
    inc = counter.inc

    def emit_counted(values: list[Any], timestamps: list[int] | None) -> None:
        inc(len(values))
        emit(values, timestamps)

    return emit_counted


class OperatorMetrics:
    """One chained operator's group with its IO metrics (Flink's ``OperatorIOMetricGroup``)."""

    __slots__ = ("group", "input_watermark", "output_watermark", "records_in", "records_out")

    def __init__(self, group: MetricGroup, records_in: Counter | None = None,
                 records_out: Counter | None = None) -> None:
        self.group = group
        self.records_in = group.counter("numRecordsIn", records_in)
        self.records_out = group.counter("numRecordsOut", records_out)
        group.meter("numRecordsInPerSecond", meter=Meter(counter=self.records_in))
        group.meter("numRecordsOutPerSecond", meter=Meter(counter=self.records_out))
        self.input_watermark = LONG_MIN
        self.output_watermark = LONG_MIN
        group.gauge("currentInputWatermark", lambda: self.input_watermark)
        group.gauge("currentOutputWatermark", lambda: self.output_watermark)

    def watermark_input(self, process: Callable[[int], None]) -> Callable[[int], None]:
        """``process`` (an operator's ``process_watermark``) that records its input."""

        def process_watermark(timestamp: int) -> None:
            self.input_watermark = timestamp
            process(timestamp)

        return process_watermark

    def record_output_watermark(self, timestamp: int) -> None:
        self.output_watermark = timestamp

    def count_output(self, output: ChainOutput) -> None:
        """Count what the operator emits through ``output`` (main and side outputs, as
        Flink's ``CountingOutput``) and record its output watermark. Call it once the
        output's targets are all added."""
        output.emit = counted(output.emit, self.records_out)
        emit_side, inc = output.emit_side, self.records_out.inc

        def emit_side_counted(tag: Any, values: list[Any],
                              timestamps: list[int] | None) -> None:
            inc(len(values))
            emit_side(tag, values, timestamps)

        output.emit_side = emit_side_counted  # type: ignore[method-assign]
        output.watermark_targets.append(self.record_output_watermark)


class TaskMetrics:
    """The metrics of one task (a subtask attempt) in its group.

    The task counts records in (:attr:`records_in`), its record writers count records out,
    and its steps drive :attr:`times`. Gauges read the channels and writers when reported.
    """

    def __init__(self, group: MetricGroup, clock: Callable[[], float] = time.monotonic) -> None:
        self.group = group
        self.times = TaskIOTimes(clock)
        self._gate: InputGate | None = None
        self._writers: Sequence[RecordWriter] = ()
        self._input_credit = 0
        self.records_in = group.counter("numRecordsIn")
        self.records_out: Counter = group.counter("numRecordsOut", CallbackCounter(
            lambda: sum(writer.records_out for writer in self._writers)))
        group.meter("numRecordsInPerSecond", meter=Meter(counter=self.records_in))
        group.meter("numRecordsOutPerSecond", meter=Meter(counter=self.records_out))
        times = self.times
        idle_share = group.gauge("idleTimeMsPerSecond", TimeShareGauge(times, IDLE))
        backpressured_share = group.gauge("backPressuredTimeMsPerSecond",
                                          TimeShareGauge(times, BACKPRESSURED))
        # busy is the rest of the window, so the three add up to 1000 (Flink does the same)
        group.gauge("busyTimeMsPerSecond", lambda: float(
            max(0, 1000 - idle_share.get_value() - backpressured_share.get_value())))
        group.gauge("accumulatedBusyTime", lambda: times.accumulated_ms(BUSY))
        group.gauge("accumulatedBackpressuredTime", lambda: times.accumulated_ms(BACKPRESSURED))
        group.gauge("accumulatedIdleTime", lambda: times.accumulated_ms(IDLE))
        self.checkpoint_start_delay_nanos = 0
        group.gauge("currentInputWatermark", self._input_watermark)
        group.gauge("checkpointStartDelayNanos", lambda: self.checkpoint_start_delay_nanos)
        self.operators: list[OperatorMetrics] = []

    # ------------------------------------------------------------------ wiring
    def attach(self, gate: InputGate | None, input_credit: int,
               writers: Sequence[RecordWriter], remote_capable: bool) -> None:
        """The task's input gate and record writers, once the task has them: the buffer
        gauges read them (``input_credit``: the buffers each input channel may hold), and
        bytes are registered where channels cross TCP (``remote_capable``: this
        TaskManager serves its output over TCP)."""
        self._gate, self._writers, self._input_credit = gate, writers, input_credit
        group = self.group
        group.gauge("buffers.inputQueueLength", self._input_queue_length)
        group.gauge("buffers.outputQueueLength", self._output_queue_length)
        group.gauge("buffers.inPoolUsage", self._in_pool_usage)
        group.gauge("buffers.outPoolUsage", self._out_pool_usage)
        remote_inputs = [c for c in (gate.channels if gate is not None else ())
                         if hasattr(c, "bytes_received")]
        if remote_inputs:
            bytes_in = group.counter("numBytesIn", CallbackCounter(
                lambda: sum(c.bytes_received for c in remote_inputs)))
            group.meter("numBytesInPerSecond", meter=Meter(counter=bytes_in))
        if remote_capable and writers:
            channels = [c for w in writers for c in w.channels]
            bytes_out = group.counter("numBytesOut", CallbackCounter(
                lambda: sum(c.bytes_sent for c in channels)))
            group.meter("numBytesOutPerSecond", meter=Meter(counter=bytes_out))

    def add_operator(self, operator_id: str, name: str, position: int,
                     is_source: bool) -> OperatorMetrics:
        """The group of the chained operator at ``position``: the head shares the task's
        input counter (a source's records in are the records it emits, as in Flink)."""
        group = add_operator_group(self.group, operator_id, name)
        if is_source:
            emitted = Counter()
            metrics = OperatorMetrics(group, records_in=emitted, records_out=emitted)
        elif position == 0:
            metrics = OperatorMetrics(group, records_in=self.records_in)
        else:
            metrics = OperatorMetrics(group)
        self.operators.append(metrics)
        return metrics

    def close(self) -> None:
        """The task ended: unregister its metrics (and its operators')."""
        self.group.close()

    # ------------------------------------------------------------------ gauges
    def _input_watermark(self) -> int:
        gate = self._gate
        return gate.combined if gate is not None else LONG_MIN

    def _input_queue_length(self) -> int:
        gate = self._gate
        return 0 if gate is None else sum(c.queued() for c in gate.channels)

    def _output_queue_length(self) -> int:
        return sum(w.waiting + sum(c.queued() for c in w.channels) for w in self._writers)

    def _in_pool_usage(self) -> float:
        gate = self._gate
        if gate is None or not gate.channels or self._input_credit <= 0:
            return 0.0
        return min(1.0, self._input_queue_length() / (self._input_credit * len(gate.channels)))

    def _out_pool_usage(self) -> float:
        channels = [c for w in self._writers for c in w.channels]
        if not channels:
            return 0.0
        return sum(1 for c in channels if not c.has_credit()) / len(channels)
