"""Bounded output for operators that can multiply records (flat_map, process functions).

One input record may become millions of output records. Such operators emit in chunks of at
most ``batch_size`` records (the size of a network buffer), read the user's iterators lazily,
and, when the task is back-pressured after a chunk, suspend: the rest of their work waits
(as a generator) until the task resumes them, and whatever reaches them meanwhile (batches,
watermarks, watermark status) queues behind it in order. The task takes no new input while
an operator of its chain has such a backlog, so memory stays bounded by a few buffers.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

from strom.runtime.operators.base import ChainOutput, OperatorContext, StreamOperator

__all__ = ["BoundedOutputOperator", "call_later", "emit_in_chunks", "flat_map_none_error"]


def call_later(function: Callable[..., None], *args: Any) -> Iterator[None]:
    """Work that calls ``function(*args)`` when it is driven (a backlog entry)."""
    function(*args)
    return
    yield  # a generator: the call happens when the backlog reaches it


def emit_in_chunks(
    emit: Callable[[list[Any], list[int] | None], None], values: list[Any],
    timestamps: list[int] | None, size: int,
) -> Iterator[None]:
    """Work that emits ``values`` in chunks of at most ``size``; it yields before each chunk,
    so a blocked output holds back even the first."""
    for start in range(0, len(values), size):
        yield
        end = start + size
        emit(values[start:end], None if timestamps is None else timestamps[start:end])


def _never() -> bool:
    return False


def flat_map_none_error(operator: StreamOperator, function: Any, value: Any) -> TypeError:
    """PyFlink's error for a flat_map function that returned None, saying what to do."""
    shown = repr(value)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    name = getattr(function, "__qualname__", None) or type(function).__name__
    return TypeError(
        f"'NoneType' object is not iterable: the flat_map function {name} of operator "
        f"'{operator.name}' returned None for the record {shown}. A flat_map function must "
        "return an iterable (a list, a tuple) or yield its results; did you forget a return?"
    )


class BoundedOutputOperator(StreamOperator):
    """Base of operators whose output per input batch is not bounded by the input's size.

    Subclasses turn each input batch into *work*: a generator that emits its output in chunks
    of at most :attr:`batch_size` records and yields after each chunk it emitted. The
    operator runs the work at once and suspends it where the task's output is blocked.
    """

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.batch_size = 1024
        self._suspended: Iterator[None] | None = None
        self._backlog: deque[Iterator[None]] = deque()
        self._output_blocked: Callable[[], bool] = _never

    def setup(self, ctx: OperatorContext, output: ChainOutput) -> None:
        super().setup(ctx, output)
        self.batch_size = max(1, ctx.batch_size)
        self._output_blocked = ctx.output_blocked

    def has_backlog(self) -> bool:
        """True while suspended work waits for the task to :meth:`resume` it."""
        return self._suspended is not None

    def submit(self, work: Iterator[None]) -> None:
        """Run ``work`` now, or queue it behind suspended work (keeping the order)."""
        if self._suspended is not None:
            self._backlog.append(work)
        else:
            self._drive(work)

    def in_order(self, function: Callable[..., None], *args: Any) -> None:
        """Call ``function(*args)`` now, or after the suspended work and the backlog: for
        the operator's inputs, and for output that must stay in order with its records
        (watermarks, side outputs)."""
        if self._suspended is None:
            function(*args)
        else:
            self._backlog.append(call_later(function, *args))

    def emit_bounded(self, values: list[Any], timestamps: list[int] | None) -> None:
        """Emit output produced all at once (a window firing, a round of timers) in chunks of
        at most :attr:`batch_size`, in order with the rest of the operator's work; what the
        blocked output cannot take waits in the backlog."""
        if (self._suspended is None and len(values) <= self.batch_size
                and not self._output_blocked()):
            self.output.emit(values, timestamps)
        else:
            self.submit(emit_in_chunks(self.output.emit, values, timestamps, self.batch_size))

    def _drive(self, work: Iterator[None]) -> bool:
        """Run ``work`` until it is done (True) or suspended. Work that ``work`` submits while
        something is suspended (its own output in chunks) goes before the older backlog."""
        older, self._backlog = self._backlog, deque()
        blocked = self._output_blocked
        try:
            for _ in work:
                if self._suspended is not None:  # output it submitted was suspended
                    self._backlog.append(work)
                    break
                if blocked():
                    self._suspended = work
                    break
        finally:
            older.extendleft(reversed(self._backlog))
            self._backlog = older
        return self._suspended is None

    def resume(self) -> None:
        """Continue the suspended work, then the backlog, until done or blocked again."""
        work, self._suspended = self._suspended, None
        if work is not None and not self._drive(work):
            return
        while self._backlog:
            if not self._drive(self._backlog.popleft()):
                # the rest of the backlog stays queued behind the newly suspended work
                return

    def process_watermark(self, timestamp: int) -> None:
        self.in_order(super().process_watermark, timestamp)

    def process_watermark_status(self, idle: bool) -> None:
        self.in_order(super().process_watermark_status, idle)
