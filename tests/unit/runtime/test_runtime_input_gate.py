"""The InputGate's watermark valve (Flink's StatusWatermarkValve) and channel polling."""

from __future__ import annotations

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
