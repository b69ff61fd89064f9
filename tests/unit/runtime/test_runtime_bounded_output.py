"""An operator that multiplies records suspends between chunks while its output is blocked,
and what reaches it meanwhile waits behind the suspended work, in order."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from strom.datastream import KeyedProcessFunction
from strom.runtime.operators.base import ChainOutput, OperatorContext
from strom.runtime.operators.bounded_output import BoundedOutputOperator
from strom.runtime.operators.keyed import KeyedProcessOperator
from strom.runtime.operators.stateless import FlatMapOperator
from strom.state.heap_backend import HeapKeyedStateBackend
from strom.state.key_groups import KeyGroupRange


def _setup(blocked: list[bool]) -> tuple[FlatMapOperator, list[Any]]:
    events: list[Any] = []
    output = ChainOutput()
    output.add_target(lambda values, ts: events.append(("batch", list(values), ts)),
                      lambda wm: events.append(("watermark", wm)),
                      lambda idle: events.append(("idle", idle)))
    ctx = OperatorContext(
        task_name="t", operator_name="flat", subtask_index=0, parallelism=1,
        max_parallelism=128, attempt_number=0, job_parameters={}, is_batch=False,
        clock=lambda: 0, auto_watermark_interval=200, batch_size=4,
        output_blocked=lambda: blocked[0],
    )

    def repeat(n: int) -> Iterator[int]:
        yield from range(n)

    op = FlatMapOperator("flat", repeat)
    op.setup(ctx, output)
    op.open()
    return op, events


def test_suspends_while_blocked_and_keeps_the_order_of_what_follows() -> None:
    blocked = [True]
    op, events = _setup(blocked)
    op.process_batch([10], None, None)
    assert events == [("batch", [0, 1, 2, 3], None)]
    assert op.has_backlog()
    op.process_watermark(5)
    op.process_watermark_status(True)
    op.process_batch([2], None, None)
    assert len(events) == 1  # all of it waits behind the suspended work

    op.resume()  # still blocked: one more chunk, then it stops again
    assert events[1:] == [("batch", [4, 5, 6, 7], None)]
    blocked[0] = False
    op.resume()
    assert events[2:] == [("batch", [8, 9], None), ("watermark", 5), ("idle", True),
                          ("batch", [0, 1], None)]
    assert not op.has_backlog()


def test_without_back_pressure_every_chunk_goes_at_once() -> None:
    op, events = _setup([False])
    op.process_batch([9], [42], None)
    assert events == [("batch", [0, 1, 2, 3], [42] * 4), ("batch", [4, 5, 6, 7], [42] * 4),
                      ("batch", [8], [42])]
    assert not op.has_backlog()


class _KeyTagger(KeyedProcessFunction):
    """Yields ``(current key, i)`` ``value`` times; a record of 1 sets a timer, which yields
    the timer's key."""

    def process_element(self, value: int, ctx: KeyedProcessFunction.Context) -> Iterator[Any]:
        if value == 1:
            ctx.timer_service().register_processing_time_timer(10)
        for i in range(value):
            yield (ctx.get_current_key(), i)

    def on_timer(self, timestamp: int, ctx: KeyedProcessFunction.OnTimerContext
                 ) -> Iterator[Any]:
        yield ("timer", ctx.get_current_key())


def test_a_timer_due_while_suspended_fires_after_the_suspended_work() -> None:
    blocked = [True]
    events: list[Any] = []
    output = ChainOutput()
    output.add_target(lambda values, ts: events.extend(values), lambda wm: None,
                      lambda idle: None)
    ctx = OperatorContext(
        task_name="t", operator_name="keyed", subtask_index=0, parallelism=1,
        max_parallelism=128, attempt_number=0, job_parameters={}, is_batch=False,
        clock=lambda: 0, auto_watermark_interval=200, batch_size=2,
        output_blocked=lambda: blocked[0],
        keyed_backend_factory=lambda: HeapKeyedStateBackend(128, KeyGroupRange(0, 127),
                                                            clock=lambda: 0),
    )
    op = KeyedProcessOperator("keyed", _KeyTagger(), lambda v: v)
    op.setup(ctx, output)
    op.open()
    op.process_batch([1, 5], None, ["a", "b"])
    assert events == [("a", 0), ("b", 0)] and op.has_backlog()  # suspended inside "b"
    assert op.next_processing_time() is None  # the task does not poll timers meanwhile
    op.on_processing_time(10)  # the timer of "a": as in Flink, not inside "b"'s output
    assert events[2:] == []
    blocked[0] = False
    op.resume()
    assert events[2:] == [("b", 1), ("b", 2), ("b", 3), ("b", 4), ("timer", "a")]
    assert not op.has_backlog()


class _Firing(BoundedOutputOperator):
    """Like a window operator: one input produces several results at once (``emit_bounded``)
    followed by a watermark (``in_order``)."""

    def process_batch(self, values: list[Any], timestamps: list[int] | None,
                      keys: list[Any] | None) -> None:
        self.in_order(self._fire, values)

    def _fire(self, values: list[Any]) -> None:
        for value in values:
            self.emit_bounded(list(range(value, value + 5)), None)
        self.in_order(self.output.emit_watermark, values[-1])


def test_output_produced_at_once_keeps_its_order_with_what_follows() -> None:
    blocked = [False]
    events: list[Any] = []
    output = ChainOutput()
    output.add_target(lambda values, ts: events.append(list(values)),
                      lambda wm: events.append(("watermark", wm)), lambda idle: None)
    ctx = OperatorContext(
        task_name="t", operator_name="firing", subtask_index=0, parallelism=1,
        max_parallelism=128, attempt_number=0, job_parameters={}, is_batch=False,
        clock=lambda: 0, auto_watermark_interval=200, batch_size=2,
        output_blocked=lambda: blocked[0] and len(events) >= 1,
    )
    op = _Firing("firing")
    op.setup(ctx, output)
    blocked[0] = True
    op.process_batch([0, 10], None, None)  # the first chunk goes, then the output blocks
    op.process_batch([20], None, None)  # waits behind all of it
    assert events == [[0, 1]] and op.has_backlog()
    blocked[0] = False
    op.resume()
    assert events == [[0, 1], [2, 3], [4], [10, 11], [12, 13], [14], ("watermark", 10),
                      [20, 21], [22, 23], [24], ("watermark", 20)]
    assert not op.has_backlog()
