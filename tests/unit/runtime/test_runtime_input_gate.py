"""The InputGate's watermark valve (Flink's StatusWatermarkValve) and channel polling."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from strom.network.elements import RecordBatch, WatermarkEvent
from strom.network.local_channel import LocalChannel
from strom.runtime.input_gate import LONG_MAX, LONG_MIN, InputGate


def gate(*inputs: int) -> InputGate:
    """A gate whose channel i belongs to logical input ``inputs[i]``."""
    return InputGate([(LocalChannel(2), i) for i in inputs], 1 + max(inputs))


def test_the_watermark_is_the_minimum_over_channels_and_only_advances() -> None:
    g = gate(0, 0, 0)
    assert g.on_watermark(0, 10) is None  # channels 1 and 2 are still at MIN
    assert g.on_watermark(1, 5) is None
    assert g.on_watermark(2, 7) == 5
    assert g.on_watermark(1, 20) == 7
    assert g.on_watermark(2, 8) == 8
    assert g.on_watermark(2, 3) is None  # a channel's watermark never goes back
    assert g.on_watermark(0, 30) is None  # min is channel 2 at 8
    assert g.combined == 8


def test_an_idle_channel_does_not_hold_the_watermark_back() -> None:
    g = gate(0, 0, 0)
    g.on_watermark(0, 10)
    g.on_watermark(1, 20)
    watermark, status = g.on_status(2, True)
    assert (watermark, status) == (10, None)  # the task itself is still active
    assert g.on_watermark(0, 15) == 15


def test_a_channel_becoming_active_again_does_not_move_the_watermark_back() -> None:
    g = gate(0, 0)
    g.on_watermark(0, 10)
    g.on_status(1, True)
    assert g.combined == 10
    assert g.on_status(1, False) == (None, None)
    assert g.combined == 10
    # the re-activated channel (at MIN) now holds progress back until it catches up
    assert g.on_watermark(0, 50) is None
    assert g.on_watermark(1, 40) == 40


def test_all_channels_idle_flushes_the_highest_watermark_and_makes_the_task_idle() -> None:
    g = gate(0, 0)
    g.on_watermark(0, 10)
    g.on_watermark(1, 30)
    assert g.combined == 10
    assert g.on_status(1, True) == (None, None)
    # the last active channel goes idle: Flink flushes the max watermark over all channels
    assert g.on_status(0, True) == (30, True)
    assert g.is_idle
    assert g.on_status(0, False) == (None, False)
    assert not g.is_idle


def test_idle_status_is_reported_once_per_change() -> None:
    g = gate(0)
    assert g.on_status(0, True) == (None, True)
    assert g.on_status(0, True) == (None, None)
    assert g.on_status(0, False) == (None, False)
    assert g.on_status(0, False) == (None, None)


def test_ended_channels_no_longer_count() -> None:
    g = gate(0, 0)
    g.on_watermark(0, 10)
    assert g.on_end(1) == (10, None)  # channel 1 was at MIN; now only channel 0 counts
    assert not g.finished()
    watermark, ended_input = g.on_end(0)
    assert ended_input == 0
    assert watermark == LONG_MAX
    assert g.finished()


def test_two_logical_inputs_combine_as_the_minimum_of_their_minima() -> None:
    g = gate(0, 0, 1)
    g.on_watermark(0, 10)
    g.on_watermark(1, 20)
    assert g.combined == LONG_MIN  # input 1 is still at MIN
    assert g.on_watermark(2, 15) == 10
    assert g.on_watermark(0, 30) == 15  # input 0 is at 20 now, input 1 at 15
    assert g.on_watermark(2, 100) == 20


def test_an_idle_input_is_left_out_of_the_combination() -> None:
    g = gate(0, 1)
    g.on_watermark(0, 10)
    assert g.on_status(1, True) == (10, None)  # only input 0 remains
    assert g.on_watermark(0, 12) == 12
    # input 0 goes idle too: everything is idle, the max over the channels is flushed
    assert g.on_status(0, True) == (None, True)
    assert g.is_idle


def test_an_ended_input_lets_the_other_input_decide() -> None:
    g = gate(0, 1, 1)
    g.on_watermark(1, 5)
    g.on_watermark(2, 6)
    assert g.on_end(0) == (5, 0)
    assert g.on_watermark(1, 9) == 6


def test_poll_is_round_robin_over_channels() -> None:
    channels = [LocalChannel(4) for _ in range(3)]
    g = InputGate([(c, 0) for c in channels], 1)
    for i, c in enumerate(channels):
        c.send_batch(RecordBatch([f"{i}a"]))
        c.send_batch(RecordBatch([f"{i}b"]))
    assert g.has_data()
    order = []
    while (polled := g.poll()) is not None:
        index, element = polled
        order.append((index, element.values[0]))
    assert order == [(0, "0a"), (1, "1a"), (2, "2a"), (0, "0b"), (1, "1b"), (2, "2b")]
    assert not g.has_data()
    channels[1].send_event(WatermarkEvent(3))
    polled = g.poll()
    assert polled is not None and polled[0] == 1


# ---------------------------------------------------------------- the valve at scale
class ReferenceValve:
    """The valve's rules, computed by scanning every channel each time."""

    def __init__(self, inputs: list[int], num_inputs: int) -> None:
        self.input_of = inputs
        self.num_inputs = num_inputs
        self.watermarks = [LONG_MIN] * len(inputs)
        self.idle = [False] * len(inputs)
        self.ended = [False] * len(inputs)
        self.combined = LONG_MIN
        self.is_idle = False

    def input_watermark(self, index: int) -> int | None:
        open_channels = [c for c, i in enumerate(self.input_of) if i == index and not self.ended[c]]
        if not open_channels:
            return LONG_MAX
        active = [self.watermarks[c] for c in open_channels if not self.idle[c]]
        return min(active) if active else None

    def recompute(self, flushed_input: int = -1, flushed: int = LONG_MIN) -> int | None:
        candidates = [w for w in (flushed if i == flushed_input else self.input_watermark(i)
                                  for i in range(self.num_inputs)) if w is not None]
        if candidates and min(candidates) > self.combined:
            self.combined = min(candidates)
            return self.combined
        return None

    def status(self) -> bool | None:
        all_idle = all(self.input_watermark(i) is None for i in range(self.num_inputs))
        if all_idle != self.is_idle:
            self.is_idle = all_idle
            return all_idle
        return None

    def on_watermark(self, c: int, ts: int) -> int | None:
        self.watermarks[c] = max(self.watermarks[c], ts)
        return self.recompute()

    def on_status(self, c: int, idle: bool) -> tuple[int | None, bool | None]:
        was_idle, self.idle[c] = self.idle[c], idle
        index, watermark = self.input_of[c], None
        if idle and not was_idle and self.input_watermark(index) is None:
            flushed = max(w for k, w in enumerate(self.watermarks)
                          if self.input_of[k] == index and not self.ended[k])
            watermark = self.recompute(index, flushed)
        later = self.recompute()
        return (later if later is not None else watermark), self.status()

    def on_end(self, c: int) -> int | None:
        self.ended[c] = True
        return self.recompute()


@settings(max_examples=300, deadline=None)
@given(
    inputs=st.lists(st.integers(0, 1), min_size=1, max_size=6),
    events=st.lists(st.tuples(st.sampled_from(["wm", "idle", "active", "end"]),
                              st.integers(0, 5), st.integers(0, 50)), max_size=60),
)
def test_the_valve_agrees_with_a_full_scan_after_every_event(
    inputs: list[int], events: list[tuple[str, int, int]]
) -> None:
    num_inputs = 1 + max(inputs)
    g = InputGate([(LocalChannel(), i) for i in inputs], num_inputs)
    ref = ReferenceValve(inputs, num_inputs)
    for kind, channel, ts in events:
        c = channel % len(inputs)
        if ref.ended[c]:
            continue
        if kind == "wm":
            assert g.on_watermark(c, ts) == ref.on_watermark(c, ts)
        elif kind in ("idle", "active"):
            assert g.on_status(c, kind == "idle") == ref.on_status(c, kind == "idle")
        else:
            assert g.on_end(c)[0] == ref.on_end(c)
        assert g.combined == ref.combined and g.is_idle == ref.is_idle


def test_a_lagging_channel_does_not_make_the_valve_grow() -> None:
    g = gate(*([0] * 10))
    for ts in range(1, 10_000):
        g.on_watermark(1 + ts % 9, ts)  # channel 0 stays at MIN, the others advance
    assert g.combined == LONG_MIN
    assert len(g.heaps[0]) <= 2 * 10 + 8
    g.on_watermark(0, 20_000)
    assert g.combined == 9_991  # the lowest of the others: each ended at one of 9991..9999
