"""The consumer's end of a channel whose producer runs on another TaskManager.

It reads like a :class:`~strom.network.local_channel.LocalChannel` (``poll``, ``is_empty``,
``receiver_waker``), so an input gate never knows which of its channels are remote. The
network thread appends the frames it receives (still encoded); the consumer's task thread
decodes each one as it polls it, so decoding costs the consumer's core, once per buffer.
Every batch polled returns one credit to the producer; the credit goes back in groups of
half the channel's credit (at least 1), so a steady stream costs the producer one wake-up
per few buffers rather than one per buffer, while it always keeps the other half to send.

A priority barrier (an unaligned checkpoint's) goes to the head of the queue when it
arrives, and ``priority_waker`` tells the consumer; it takes no credit.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

from strom.network import wire

__all__ = ["RemoteInputChannel"]


#: a frame's header: the frame sizes the producer counts include it
_HEADER = wire.HEADER.size


def _noop() -> None:
    return None


class RemoteInputChannel:
    __slots__ = ("_announce_at", "_ended", "_error", "_queue", "_unannounced", "bytes_received",
                 "channel_id", "connection", "description", "job_id", "priority_waker",
                 "receiver_waker", "released")

    def __init__(self, description: str, job_id: str, credit: int = 1) -> None:
        if credit < 1:
            raise ValueError(f"a remote input channel needs at least 1 credit, got {credit}")
        #: names the channel in errors: edge, subtasks and the producer's TaskManager
        self.description = description
        self.job_id = job_id
        self._queue: deque[tuple[int, bytes]] = deque()
        self._error: BaseException | None = None
        self._ended = False
        self._unannounced = 0
        self._announce_at = max(1, credit // 2)
        self.receiver_waker: Callable[[], None] = _noop
        self.priority_waker: Callable[[], None] = _noop
        #: set by the network thread once the partition request is on its way
        self.connection: Any = None
        self.channel_id = -1
        #: the consumer's job was released: do not open the channel any more
        self.released = False
        #: bytes of the frames the consumer polled (its task's ``numBytesIn``)
        self.bytes_received = 0

    # ------------------------------------------------------------ network thread
    def on_frame(self, kind: int, payload: bytes) -> None:
        if kind == wire.END_OF_PARTITION_KIND:
            self._ended = True
        elif kind == wire.PRIORITY_BARRIER:
            self._queue.appendleft((kind, payload))
            self.priority_waker()
            return
        self._queue.append((kind, payload))  # the connection wakes the consumer after a burst

    def on_failure(self, error: BaseException) -> None:
        """The channel failed (an error response, a lost connection); the consumer's next
        poll raises ``error``. A channel that already ended ignores it."""
        if self._ended or self._error is not None:
            return
        self._error = error
        self.receiver_waker()

    @property
    def ended(self) -> bool:
        return self._ended

    # ------------------------------------------------------------ consumer thread
    def poll(self) -> Any:
        """The next element, or None when none has arrived; raises the channel's failure."""
        queue = self._queue
        if not queue:
            if self._error is not None:
                raise self._error
            return None
        kind, payload = queue.popleft()
        self.bytes_received += _HEADER + len(payload)
        element = wire.decode_element(kind, payload)
        if kind == wire.BUFFER:
            self._unannounced += 1
            if self._unannounced >= self._announce_at:
                self.connection.add_credit(self.channel_id, self._unannounced)
                self._unannounced = 0
        return element

    def poll_priority(self) -> Any:
        """The priority barrier at the head of the queue (taken), or None."""
        queue = self._queue
        if queue and queue[0][0] == wire.PRIORITY_BARRIER:
            # only the network thread adds at the head, and only priority barriers
            _, payload = queue.popleft()
            self.bytes_received += _HEADER + len(payload)
            return wire.decode_element(wire.PRIORITY_BARRIER, payload)
        return None

    def inflight_before(self, checkpoint_id: int) -> list[Any] | None:
        """The elements queued before the in-order barrier of ``checkpoint_id`` (decoded
        copies; priority barriers left out), or None while that barrier has not arrived."""
        frames = list(self._queue)  # one C call: the network thread cannot change it meanwhile
        for i, (kind, payload) in enumerate(frames):
            if kind == wire.BARRIER and wire.decode_barrier(payload).checkpoint_id == \
                    checkpoint_id:
                return [wire.decode_element(k, p) for k, p in frames[:i]
                        if k != wire.PRIORITY_BARRIER]
        return None

    def is_empty(self) -> bool:
        return not self._queue and self._error is None

    def queued(self) -> int:
        return len(self._queue)
