"""The JobMaster's side of a remote ``execute_and_collect``: holds the collect sink's
batches until the client fetches them (see :mod:`strom.runtime.collect_protocol`).

Decisions only: events and requests in, events to the sink out (through ``send``); it runs
on the JobMaster's loop.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

import msgspec

from strom.common import _pickling
from strom.runtime.collect_protocol import (
    CollectBatch,
    CollectCredit,
    CollectDrained,
    CollectEnd,
    CollectRelease,
    CollectRequest,
    CollectResponse,
)

__all__ = ["CollectCoordinator"]


class CollectCoordinator:
    def __init__(self, send: Callable[[int, Any], None]) -> None:
        self._send = send
        self._batches: deque[list[Any]] = deque()
        #: the number of the first batch in ``_batches`` (batches counted from 0)
        self._first = 0
        self._ended = False
        self._drained_sent = False
        #: the job is ending without the client: batches are dropped, requests get none
        self._released = False

    def start(self) -> None:
        """Nothing to start: the sink begins with its initial credit."""

    def handle_event(self, subtask: int, event: Any) -> None:
        if isinstance(event, CollectBatch):
            if not self._released:  # batches in flight when the job began to end are dropped
                self._batches.append(event.values)
        elif isinstance(event, CollectEnd):
            self._ended = True
        else:
            raise TypeError(f"The collect coordinator got an unknown event {event!r}.")

    def handle_request(self, request: bytes) -> bytes:
        offset = msgspec.msgpack.decode(request, type=CollectRequest).offset
        if self._released:
            # the job fails or is cancelled: the client learns how from the job's result
            return msgspec.msgpack.encode(CollectResponse(offset, _pickling.dumps([]), False))
        if offset < self._first or offset > self._first + len(self._batches):
            raise ValueError(
                f"The collect client asked for results from batch {offset}, but the "
                f"coordinator holds batches {self._first} to "
                f"{self._first + len(self._batches)}; a client fetches in order.")
        fetched = offset - self._first
        for _ in range(fetched):
            self._batches.popleft()
        self._first = offset
        if fetched:
            self._send(0, CollectCredit(fetched))
        ended = self._ended and not self._batches
        if ended and not self._drained_sent:
            self._drained_sent = True
            self._send(0, CollectDrained())
        response = CollectResponse(offset, _pickling.dumps(list(self._batches)), ended)
        return msgspec.msgpack.encode(response)

    def release(self) -> None:
        """The job is being cancelled or failing: let the sink finish without the client."""
        self._released = True
        self._batches.clear()
        self._send(0, CollectRelease())

    def close(self) -> None:
        self._batches.clear()

    def __len__(self) -> int:
        return len(self._batches)
