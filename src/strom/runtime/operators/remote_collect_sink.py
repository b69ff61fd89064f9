"""The collect sink of a job on a remote cluster: batches go to the JobMaster's collect
coordinator against credit (see :mod:`strom.runtime.collect_protocol`)."""

from __future__ import annotations

import threading
from typing import Any

from strom.runtime.collect_protocol import (
    CREDIT,
    CollectBatch,
    CollectCredit,
    CollectDrained,
    CollectEnd,
    CollectRelease,
)
from strom.runtime.operators.base import StreamOperator

__all__ = ["RemoteCollectSinkOperator"]

#: how long one wait for credit lasts before the wait is looked at again
_WAIT_S = 0.1


class RemoteCollectSinkOperator(StreamOperator):
    """Sends each batch to the coordinator once it has credit; blocks (backpressure) while it
    has none. Events from the coordinator arrive on the TaskExecutor's loop thread."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self._condition = threading.Condition(threading.Lock())
        self._credit = CREDIT
        self._drained = False
        self._released = False

    def open(self) -> None:
        assert self.ctx is not None
        self._send = self.ctx.extra["send_operator_event"]
        self.ctx.extra["set_operator_event_handler"](self._handle_event)

    def _handle_event(self, event: Any) -> None:
        with self._condition:
            if isinstance(event, CollectCredit):
                self._credit += event.batches
            elif isinstance(event, CollectDrained):
                self._drained = True
            elif isinstance(event, CollectRelease):
                self._released = True
            self._condition.notify_all()

    def process_batch(
        self, values: list[Any], timestamps: list[int] | None, keys: list[Any] | None
    ) -> None:
        with self._condition:
            while self._credit <= 0 and not self._released:
                self._condition.wait(_WAIT_S)
            if self._released:
                return
            self._credit -= 1
        self._send(None, CollectBatch(list(values)))

    def cancel(self) -> None:
        # waiting for credit or for the client to drain must not hold a cancelled task
        with self._condition:
            self._released = True
            self._condition.notify_all()

    def end_input(self) -> None:
        self._send(None, CollectEnd())
        with self._condition:
            while not (self._drained or self._released):
                self._condition.wait(_WAIT_S)
