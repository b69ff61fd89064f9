"""A task's input channels: round-robin polling and the watermark valve.

The valve is Flink's ``StatusWatermarkValve``: each logical input's watermark is the minimum
over its channels that are neither idle nor finished; the operator's watermark is the
minimum over its non-idle inputs, and is emitted only when it advances. When every input is
idle the task is idle and says so downstream.
"""

from __future__ import annotations

from typing import Any

from strom.network.environment import InputChannel

__all__ = ["InputGate"]

LONG_MIN = -(2**63)
LONG_MAX = 2**63 - 1


class InputGate:
    def __init__(self, channels: list[tuple[InputChannel, int]], num_inputs: int) -> None:
        """``channels``: (channel, logical input index) pairs; a channel is local or remote,
        the gate reads both the same way."""
        self.channels = [c for c, _ in channels]
        self.input_of = [i for _, i in channels]
        self.num_inputs = num_inputs
        n = len(channels)
        self.watermarks = [LONG_MIN] * n
        self.idle = [False] * n
        self.ended = [False] * n
        self.open_channels = n
        self.open_per_input = [0] * num_inputs
        for i in self.input_of:
            self.open_per_input[i] += 1
        self.combined = LONG_MIN
        self.is_idle = False
        self._next = 0

    def poll(self) -> tuple[int, Any] | None:
        """The next element from any channel (round-robin), or None when all are empty."""
        channels = self.channels
        n = len(channels)
        start = self._next
        for offset in range(n):
            i = (start + offset) % n
            element = channels[i].poll()
            if element is not None:
                self._next = (i + 1) % n
                return i, element
        return None

    def has_data(self) -> bool:
        return any(not c.is_empty() for c in self.channels)

    def on_watermark(self, channel: int, timestamp: int) -> int | None:
        """A channel's watermark; returns the operator's new watermark if it advanced."""
        if timestamp > self.watermarks[channel]:
            self.watermarks[channel] = timestamp
        return self._recompute()

    def on_status(self, channel: int, idle: bool) -> tuple[int | None, bool | None]:
        """A channel went idle/active; returns (new watermark or None, new idle status or None).

        When the last active channel of a logical input goes idle, that input's watermark is
        flushed to the highest watermark over its channels first (no channel will advance it
        any more), as Flink's ``StatusWatermarkValve`` does; then the input stops counting.
        """
        was_idle = self.idle[channel]
        self.idle[channel] = idle
        watermark = None
        index = self.input_of[channel]
        if idle and not was_idle and self._input_watermark(index) is None:
            flushed = max(w for c, w in enumerate(self.watermarks)
                          if self.input_of[c] == index and not self.ended[c])
            watermark = self._recompute(index, flushed)
        later = self._recompute()
        return (later if later is not None else watermark), self._recompute_status()

    def on_end(self, channel: int) -> tuple[int | None, int | None]:
        """A channel ended. Returns (new watermark or None, input index that fully ended or None)."""
        self.ended[channel] = True
        self.open_channels -= 1
        index = self.input_of[channel]
        self.open_per_input[index] -= 1
        ended_input = index if self.open_per_input[index] == 0 else None
        return self._recompute(), ended_input

    def finished(self) -> bool:
        return self.open_channels == 0

    def _input_watermark(self, index: int) -> int | None:
        """None when the input is idle (all its open channels idle)."""
        best: int | None = None
        any_open = False
        for c in range(len(self.channels)):
            if self.input_of[c] != index or self.ended[c]:
                continue
            any_open = True
            if self.idle[c]:
                continue
            w = self.watermarks[c]
            if best is None or w < best:
                best = w
        if not any_open:
            return LONG_MAX
        return best

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
