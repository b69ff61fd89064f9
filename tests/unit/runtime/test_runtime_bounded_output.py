"""An operator that multiplies records suspends between chunks while its output is blocked,
and what reaches it meanwhile waits behind the suspended work, in order."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from strom.datastream import KeyedProcessFunction
from strom.runtime.operators.base import ChainOutput, OperatorContext
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


def test_a_suspended_keyed_process_function_gets_its_key_back_after_a_timer() -> None:
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
    op.on_processing_time(10)  # the timer of "a" fires between two chunks of "b"
    assert events[2:] == [("timer", "a")]
    blocked[0] = False
    op.resume()
    assert events[3:] == [("b", 1), ("b", 2), ("b", 3), ("b", 4)]
