"""An in-process channel from one producer subtask to one consumer subtask.

Flow control is credit-based, as in Flink: the receiver announces credit (one per buffer it
can accept: ``buffers-per-channel`` exclusive plus its share of floating buffers) with
:meth:`LocalChannel.announce_credit`, the sender sends a record batch only against credit, and
consuming a batch returns its credit. A channel the sender reaches first has no credit until
the receiver announces it, so the window is always the receiver's to decide. Events
(watermarks, end of partition) need no credit: they are small and must never be stuck
behind a full channel's data forever. Batches are handed over by reference.

An unaligned checkpoint's barrier overtakes the channel's queue
(:meth:`LocalChannel.send_priority_event`): its :class:`~strom.network.elements.PriorityBarrier`
goes to the head, the barrier itself to the tail, and the receiver is told through
``priority_waker``. Neither takes credit.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

from strom.network.elements import CheckpointBarrier, PriorityBarrier, RecordBatch

__all__ = ["LocalChannel"]


def _noop() -> None:
    return None


class LocalChannel:
    """One producer thread sends, one consumer thread receives; no lock is taken.

    The queue is a ``deque`` (its appends and pops are atomic), and credit is the difference
    of two counters with one writer each: ``_granted`` (the receiver: announced credit and
    consumed batches) and ``_used`` (the sender: batches sent). At high parallelism a lock per
    channel made hundreds of task threads queue behind each other for the GIL.

    When the channel's reader is a remote consumer, the receiver is the network thread: it
    forwards elements with :meth:`take`, announces the credit the consumer returns, and
    marks the channel failed with :meth:`fail` when the consumer is gone. ``_failure`` has
    that one writer too; the sender reads it and raises it on its next send.
    """

    __slots__ = ("_failure", "_granted", "_queue", "_used", "bytes_sent", "priority_waker",
                 "receiver_waker", "sender_waker")

    def __init__(self, credit: int = 0) -> None:
        if credit < 0:
            raise ValueError(f"a channel's credit cannot be negative, got {credit}")
        self._queue: deque[Any] = deque()
        self._granted = credit
        self._used = 0
        #: set when the channel's remote reader is gone: the next send raises it
        self._failure: BaseException | None = None
        self.receiver_waker: Callable[[], None] = _noop
        #: called (after ``receiver_waker``) when a priority event went to the head
        self.priority_waker: Callable[[], None] = _noop
        self.sender_waker: Callable[[], None] = _noop
        #: bytes of the frames sent to a remote reader (its ``SubpartitionView`` counts them;
        #: 0 while the reader is local: batches handed over in-process have no size)
        self.bytes_sent = 0

    # receiver side: initial credit
    def announce_credit(self, credit: int) -> None:
        """The receiver can take ``credit`` more batches; wakes a waiting sender."""
        if credit < 1:
            raise ValueError(f"a receiver announces at least 1 credit, got {credit}")
        self._granted += credit
        self.sender_waker()

    # sender side
    def has_credit(self) -> bool:
        """True when a batch may be sent (also when the channel failed: the send raises)."""
        return self._granted > self._used or self._failure is not None

    def send_batch(self, batch: RecordBatch) -> None:
        """Send a batch against one credit. Raises ``RuntimeError`` without credit: a sender
        checks :meth:`has_credit` first and waits (is back-pressured) while there is none."""
        if self._failure is not None:
            raise self._failure
        if self._granted <= self._used:
            raise RuntimeError(
                "LocalChannel.send_batch() without credit: the receiver has no buffer for "
                "this batch. Check has_credit() and keep the batch queued until the "
                "receiver returns credit (the sender is woken then)."
            )
        self._used += 1
        self._queue.append(batch)
        self.receiver_waker()

    def send_event(self, event: Any) -> None:
        if self._failure is not None:
            raise self._failure
        self._queue.append(event)
        self.receiver_waker()

    def send_priority_event(self, barrier: CheckpointBarrier) -> None:
        """An unaligned ``barrier``: its :class:`PriorityBarrier` jumps to the head of the
        queue, ahead of the batches the receiver has not read yet, and the barrier itself
        goes to the tail, marking where those batches end. One sender thread appends, so
        nothing can come between the two."""
        if self._failure is not None:
            raise self._failure
        self._queue.appendleft(PriorityBarrier(barrier))
        self._queue.append(barrier)
        self.receiver_waker()
        self.priority_waker()

    # receiver side
    def poll_priority(self) -> PriorityBarrier | None:
        """The priority barrier at the head of the queue (taken), or None."""
        queue = self._queue
        if queue and type(queue[0]) is PriorityBarrier:
            # only the sender adds at the head, and only priority barriers
            element: PriorityBarrier = queue.popleft()
            return element
        return None

    def inflight_before(self, checkpoint_id: int) -> list[Any] | None:
        """A copy of what is queued before the in-order barrier of ``checkpoint_id`` (priority
        barriers left out), or None while that barrier has not been sent yet. The elements
        stay queued: the receiver still processes them."""
        items = list(self._queue)  # one C call: the sender cannot change it meanwhile
        return _before_barrier(items, checkpoint_id)

    def poll(self) -> Any:
        """The next element, or None when the channel is empty right now."""
        queue = self._queue
        if not queue:  # only this thread takes from the queue: it stays non-empty
            return None
        element = queue.popleft()
        if type(element) is RecordBatch:
            self._granted += 1
            self.sender_waker()
        return element

    def take(self) -> Any:
        """The next element without returning its credit, or None: for a reader that forwards
        elements to a remote receiver, whose credit comes back with :meth:`announce_credit`."""
        try:  # fail() may empty the queue from the network thread at any moment
            return self._queue.popleft()
        except IndexError:
            return None

    def fail(self, error: BaseException) -> None:
        """The channel's reader is gone (network thread): the sender's next send raises
        ``error``, and what it had queued is dropped."""
        self._failure = error
        self._queue.clear()
        self.sender_waker()

    def is_empty(self) -> bool:
        return not self._queue

    def queued(self) -> int:
        return len(self._queue)


def _before_barrier(items: list[Any], checkpoint_id: int) -> list[Any] | None:
    for i, element in enumerate(items):
        if type(element) is CheckpointBarrier and element.checkpoint_id == checkpoint_id:
            return [e for e in items[:i] if type(e) is not PriorityBarrier]
    return None
