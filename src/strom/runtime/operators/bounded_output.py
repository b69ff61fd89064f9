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

__all__ = ["BoundedOutputOperator", "call_later", "flat_map_none_error"]


def call_later(function: Callable[..., None], *args: Any) -> Iterator[None]:
    """Work that calls ``function(*args)`` when it is driven (a backlog entry)."""
    function(*args)
    return
    yield  # a generator: the call happens when the backlog reaches it


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

    def _drive(self, work: Iterator[None]) -> bool:
        blocked = self._output_blocked
        for _ in work:
            if blocked():
                self._suspended = work
                return False
        return True

    def resume(self) -> None:
        """Continue the suspended work, then the backlog, until done or blocked again."""
        work, self._suspended = self._suspended, None
        if work is not None and not self._drive(work):
            return
        backlog = self._backlog
        while backlog:
            if not self._drive(backlog.popleft()):
                # the rest of the backlog stays queued behind the newly suspended work
                return

    def process_watermark(self, timestamp: int) -> None:
        if self._suspended is not None:
            self._backlog.append(call_later(super().process_watermark, timestamp))
        else:
            super().process_watermark(timestamp)

    def process_watermark_status(self, idle: bool) -> None:
        if self._suspended is not None:
            self._backlog.append(call_later(super().process_watermark_status, idle))
        else:
            super().process_watermark_status(idle)
