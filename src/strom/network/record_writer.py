"""Buffers a task's output for one edge and sends it over that edge's channels.

Records accumulate per channel until a buffer holds ``batch_size`` records, an event must
follow them, or the task flushes (when it runs out of input, or after the buffer timeout).
Full buffers wait for credit; while any wait, the task is back-pressured and stops taking
input.

The writer remembers which channels hold a partial buffer and which have something waiting
to be sent, so flushing and sending touch only those: with hundreds of channels per edge a
scan over all of them at every flush cost more than the records.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from strom.network.elements import RecordBatch
from strom.network.local_channel import LocalChannel
from strom.network.partitioners import ChannelSelector

__all__ = ["RecordWriter"]


class RecordWriter:
    __slots__ = ("batch_size", "channels", "n", "outbox", "partial", "pending_keys",
                 "pending_ts", "pending_values", "records_out", "selector", "unsent",
                 "waiting")

    def __init__(
        self, channels: list[LocalChannel], selector: ChannelSelector, batch_size: int
    ) -> None:
        self.channels = channels
        self.n = len(channels)
        self.selector = selector
        self.batch_size = batch_size
        self.pending_values: list[list[Any]] = [[] for _ in channels]
        self.pending_ts: list[list[int] | None] = [None] * self.n
        self.pending_keys: list[list[Any] | None] = [None] * self.n
        #: per channel: batches and events ready to go, in order, waiting for credit
        self.outbox: list[deque[Any]] = [deque() for _ in channels]
        self.waiting = 0  # number of batches in outboxes
        #: channels whose pending buffer may hold records (a superset)
        self.partial: set[int] = set()
        #: channels whose outbox is not empty
        self.unsent: set[int] = set()
        #: records emitted (the task's ``numRecordsOut`` sums its writers')
        self.records_out = 0

    def emit(self, values: list[Any], timestamps: list[int] | None) -> None:
        self.records_out += len(values)
        parts = self.selector.split(values, timestamps)
        batch_size = self.batch_size
        for i, part in enumerate(parts):
            if part is None:
                continue
            vals, ts, keys = part
            pending = self.pending_values[i]
            if not pending:
                if len(vals) >= batch_size:
                    self._enqueue(i, RecordBatch(vals, ts, keys))
                    continue
                self.partial.add(i)
            pending.extend(vals)
            if ts is not None:
                pts = self.pending_ts[i]
                if pts is None:
                    self.pending_ts[i] = list(ts)
                else:
                    pts.extend(ts)
            if keys is not None:
                pk = self.pending_keys[i]
                if pk is None:
                    self.pending_keys[i] = list(keys)
                else:
                    pk.extend(keys)
            if len(pending) >= batch_size:
                self._cut(i)

    def _cut(self, i: int) -> None:
        values = self.pending_values[i]
        if not values:
            return
        self._enqueue(i, RecordBatch(values, self.pending_ts[i], self.pending_keys[i]))
        self.pending_values[i] = []
        self.pending_ts[i] = None
        self.pending_keys[i] = None

    def _enqueue(self, i: int, batch: RecordBatch) -> None:
        self.outbox[i].append(batch)
        self.unsent.add(i)
        self.waiting += 1

    def broadcast_event(self, event: Any) -> None:
        """Send ``event`` to every channel after everything emitted before it."""
        for i in range(self.n):
            self._cut(i)
            self.outbox[i].append(event)
        self.partial.clear()
        self.unsent.update(range(self.n))
        self.send()

    def broadcast_priority(self, barrier: Any) -> list[list[Any]]:
        """Send an unaligned ``barrier`` to every channel ahead of what waits there (partial
        buffers are cut first). Returns, per channel, what it overtook: the buffers and
        events still waiting for credit, which stay queued and are sent after it (the
        task persists them as output channel state)."""
        overtaken = []
        for i in range(self.n):
            self._cut(i)
            overtaken.append(list(self.outbox[i]))
            self.channels[i].send_priority_event(barrier)
        self.partial.clear()
        return overtaken

    def restore_output(self, i: int, elements: list[Any]) -> None:
        """Queue restored output channel state for channel ``i``, to go before anything
        emitted from now on."""
        if not elements:
            return
        self.outbox[i].extend(elements)
        self.waiting += sum(1 for e in elements if type(e) is RecordBatch)
        self.unsent.add(i)

    def flush(self) -> None:
        """Cut partial buffers and send what credit allows."""
        for i in self.partial:
            self._cut(i)
        self.partial.clear()
        self.send()

    def has_partial_buffers(self) -> bool:
        pending = self.pending_values
        return any(pending[i] for i in self.partial)

    def send(self) -> bool:
        """Send queued buffers against credit. True when nothing waits any more."""
        unsent = self.unsent
        if not unsent:
            return True
        for i in list(unsent):
            box = self.outbox[i]
            channel = self.channels[i]
            while box:
                head = box[0]
                if type(head) is RecordBatch:
                    if not channel.has_credit():
                        break
                    channel.send_batch(head)
                    self.waiting -= 1
                else:
                    channel.send_event(head)
                box.popleft()
            if not box:
                unsent.discard(i)
        return not unsent

    def has_unconsumed(self) -> bool:
        """True while batches wait for credit or sit in a channel not yet read by its
        consumer (the task's time after a step then counts as back-pressured)."""
        if self.waiting:
            return True
        for channel in self.channels:
            if not channel.is_empty():
                return True
        return False

    def is_blocked(self) -> bool:
        """True while full buffers wait for credit (the task is back-pressured)."""
        return self.waiting > 0 and not self.send()
