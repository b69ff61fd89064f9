"""A task's input channels: round-robin polling and the watermark valve.

Polling visits only channels with data, as Flink's ``inputChannelsWithData`` queue does: a
channel joins the queue when data arrives and, after a poll, goes to its back while it still
has more. A poll then costs O(1), not a scan over all channels (which, with one wake-up per
arriving element, made a task's work grow with the square of the parallelism).

The valve is Flink's ``StatusWatermarkValve``: each logical input's watermark is the minimum
over its channels that are neither idle nor finished; the operator's watermark is the
minimum over its non-idle inputs, and is emitted only when it advances. When every input is
idle the task is idle and says so downstream.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable
from functools import partial
from typing import Any

from strom.network.environment import InputChannel

__all__ = ["InputGate"]

LONG_MIN = -(2**63)
LONG_MAX = 2**63 - 1


def _noop() -> None:
    return None


class InputGate:
    """Reads the channels ``channels`` (each with the logical input it belongs to) and calls
    ``waker`` from the sending thread when data arrives. The gate becomes each channel's
    receiver (it sets ``receiver_waker``). A channel is local or remote: both call their
    ``receiver_waker`` when data (or a remote channel's failure) arrives, so the gate reads
    them the same way."""

    def __init__(self, channels: list[tuple[InputChannel, int]], num_inputs: int,
                 waker: Callable[[], None] = _noop) -> None:
        self.channels = [c for c, _ in channels]
        self.input_of = [i for _, i in channels]
        self.num_inputs = num_inputs
        n = len(channels)
        self.watermarks = [LONG_MIN] * n
        self.idle = [False] * n
        self.ended = [False] * n
        self.open_channels = n
        self.channels_of: list[list[int]] = [[] for _ in range(num_inputs)]
        for c, i in enumerate(self.input_of):
            self.channels_of[i].append(c)
        self.open_per_input = [len(cs) for cs in self.channels_of]
        #: per input: channels neither idle nor ended (the ones its watermark is the min of)
        self.active_per_input = list(self.open_per_input)
        #: per input: a min-heap of (watermark, channel) holding an entry for every active
        #: channel at its current watermark, plus stale entries dropped when they surface.
        #: A watermark or an end then costs O(log n), not a scan over all n channels, which
        #: made the end of input O(n^2) per task at high parallelism.
        self.heaps: list[list[tuple[int, int]]] = [
            [(LONG_MIN, c) for c in cs] for cs in self.channels_of
        ]
        self.combined = LONG_MIN
        self.is_idle = False
        self.waker = waker
        #: channels that may have data, in the order to poll them; a channel is in it at
        #: most once while ``_queued`` says so (and rarely twice after a race, harmlessly)
        self._available: deque[int] = deque()
        self._queued = [False] * n
        #: channels not to poll while a checkpoint aligns (see ``block``)
        self._blocked = [False] * n
        #: channels that received a priority barrier (an unaligned checkpoint's), in order
        self._priority: deque[int] = deque()
        for i, channel in enumerate(self.channels):
            channel.receiver_waker = partial(self._data_available, i)
            channel.priority_waker = partial(self._priority_available, i)
        for i, channel in enumerate(self.channels):  # events sent before the gate existed
            if not channel.is_empty():
                self._data_available(i)

    def _data_available(self, i: int) -> None:
        """Called by the sender after it put something into channel ``i`` (any thread)."""
        if not self._queued[i]:
            self._queued[i] = True
            self._available.append(i)
        self.waker()

    def _priority_available(self, i: int) -> None:
        """A priority barrier went to the head of channel ``i`` (any thread)."""
        self._priority.append(i)
        self.waker()

    def has_priority(self) -> bool:
        return bool(self._priority)

    def poll_priority(self) -> tuple[int, Any] | None:
        """The next priority barrier, ahead of all other input (also of blocked channels and
        while the task's output is back-pressured), or None. One the round-robin ``poll``
        already returned is not returned again."""
        priority, channels = self._priority, self.channels
        while priority:
            i = priority.popleft()
            element = channels[i].poll_priority()
            if element is not None:
                return i, element
        return None

    def inflight_before(self, channel: int, checkpoint_id: int) -> list[Any] | None:
        """What channel ``channel`` holds before its in-order barrier of ``checkpoint_id``
        (copies; still to be polled), or None while that barrier is not in it."""
        found: list[Any] | None = self.channels[channel].inflight_before(checkpoint_id)
        return found

    def poll(self) -> tuple[int, Any] | None:
        """The next element from a channel with data (round-robin over those channels), or
        None when all are empty."""
        available, queued, channels = self._available, self._queued, self.channels
        blocked = self._blocked
        while available:
            i = available.popleft()
            if blocked[i]:  # aligning: it is queued again when unblocked
                queued[i] = False
                continue
            channel = channels[i]
            element = channel.poll()
            if not channel.is_empty():
                available.append(i)  # more to read: to the back of the queue
            else:
                queued[i] = False
                # a sender that saw the flag still set did not queue the channel: check again
                if not channel.is_empty() and not queued[i]:
                    queued[i] = True
                    available.append(i)
            if element is not None:
                return i, element
        return None

    def block(self, channel: int) -> None:
        """Stop polling ``channel`` (its checkpoint barrier arrived; the others' are awaited)."""
        self._blocked[channel] = True

    def unblock(self, channel: int) -> None:
        """Poll ``channel`` again, first in line if it holds data."""
        self._blocked[channel] = False
        if not self._queued[channel] and not self.channels[channel].is_empty():
            self._queued[channel] = True
            self._available.appendleft(channel)

    def has_data(self) -> bool:
        return any(not c.is_empty() for c in self.channels)

    def may_have_data(self) -> bool:
        """Whether some channel was signalled to hold data and not polled empty since
        (O(1); what a task's time accounting asks after every step)."""
        return bool(self._available)

    def on_watermark(self, channel: int, timestamp: int) -> int | None:
        """A channel's watermark; returns the operator's new watermark if it advanced."""
        if timestamp > self.watermarks[channel]:
            self.watermarks[channel] = timestamp
            if not self.idle[channel] and not self.ended[channel]:
                self._push(channel)
        return self._recompute()

    def on_status(self, channel: int, idle: bool) -> tuple[int | None, bool | None]:
        """A channel went idle/active; returns (new watermark or None, new idle status or None).

        When the last active channel of a logical input goes idle, that input's watermark is
        flushed to the highest watermark over its channels first (no channel will advance it
        any more), as Flink's ``StatusWatermarkValve`` does; then the input stops counting.
        """
        was_idle = self.idle[channel]
        self.idle[channel] = idle
        index = self.input_of[channel]
        if not self.ended[channel] and idle != was_idle:
            if idle:
                self.active_per_input[index] -= 1
            else:
                self.active_per_input[index] += 1
                self._push(channel)
        watermark = None
        if idle and not was_idle and self._input_watermark(index) is None:
            flushed = max(self.watermarks[c] for c in self.channels_of[index]
                          if not self.ended[c])
            watermark = self._recompute(index, flushed)
        later = self._recompute()
        return (later if later is not None else watermark), self._recompute_status()

    def on_end(self, channel: int) -> tuple[int | None, int | None]:
        """A channel ended. Returns (new watermark or None, input index that fully ended or None)."""
        if self.ended[channel]:
            return None, None
        self.ended[channel] = True
        self.open_channels -= 1
        index = self.input_of[channel]
        self.open_per_input[index] -= 1
        if not self.idle[channel]:
            self.active_per_input[index] -= 1
        ended_input = index if self.open_per_input[index] == 0 else None
        return self._recompute(), ended_input

    def finished(self) -> bool:
        return self.open_channels == 0

    def _push(self, channel: int) -> None:
        index = self.input_of[channel]
        heap = self.heaps[index]
        heapq.heappush(heap, (self.watermarks[channel], channel))
        if len(heap) > 2 * len(self.channels_of[index]) + 8:
            # stale entries above the minimum pile up while one channel lags: rebuild
            heap[:] = [(self.watermarks[c], c) for c in self.channels_of[index]
                       if not self.idle[c] and not self.ended[c]]
            heapq.heapify(heap)

    def _input_watermark(self, index: int) -> int | None:
        """The input's watermark: the minimum over its active channels; None when the input
        is idle (all its open channels idle); LONG_MAX when all its channels ended."""
        if self.open_per_input[index] == 0:
            return LONG_MAX
        if self.active_per_input[index] == 0:
            return None
        heap = self.heaps[index]
        watermarks, idle, ended = self.watermarks, self.idle, self.ended
        while True:
            w, c = heap[0]
            if w == watermarks[c] and not idle[c] and not ended[c]:
                return w
            heapq.heappop(heap)

    def _recompute(self, flushed_input: int = -1, flushed: int = LONG_MIN) -> int | None:
        """Advance the combined watermark; ``flushed_input`` counts at ``flushed`` (an input
        whose channels all just went idle)."""
        candidates = [
            w for w in (flushed if i == flushed_input else self._input_watermark(i)
                        for i in range(self.num_inputs))
            if w is not None
        ]
        if not candidates:
            return None
        watermark = min(candidates)
        if watermark > self.combined:
            self.combined = watermark
            return watermark
        return None

    def _recompute_status(self) -> bool | None:
        all_idle = all(self._input_watermark(i) is None for i in range(self.num_inputs))
        if all_idle != self.is_idle:
            self.is_idle = all_idle
            return all_idle
        return None
