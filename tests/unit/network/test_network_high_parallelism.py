"""Channel wiring, polling and flushing at high parallelism: each costs work in proportion to
the channels that have something to do, not to all channels of a gate or an edge."""

from __future__ import annotations

import threading
import time

import pytest

from strom.common.job import JobID
from strom.graph.partitioning import HashPartitioning, RebalancePartitioning
from strom.network import wire
from strom.network.elements import RecordBatch, WatermarkEvent
from strom.network.errors import RemoteTransportError
from strom.network.local_channel import LocalChannel
from strom.network.local_network import LocalNetwork
from strom.network.partitioners import create_channel_selector
from strom.network.record_writer import RecordWriter
from strom.network.remote_input_channel import RemoteInputChannel
from strom.runtime.input_gate import InputGate


class CountingChannel(LocalChannel):
    """A LocalChannel that counts how often it is polled and asked for credit."""

    __slots__ = ("credit_checks", "polls")

    def __init__(self, credit: int = 0) -> None:
        super().__init__(credit)
        self.polls = 0
        self.credit_checks = 0

    def poll(self) -> object:
        self.polls += 1
        return super().poll()

    def has_credit(self) -> bool:
        self.credit_checks += 1
        return super().has_credit()


def test_a_gate_polls_only_the_channels_that_have_data() -> None:
    channels = [CountingChannel(2) for _ in range(1000)]
    gate = InputGate([(c, 0) for c in channels], 1)
    assert gate.poll() is None
    channels[700].send_batch(RecordBatch(["x"]))
    polled = gate.poll()
    assert polled is not None and polled[0] == 700
    assert gate.poll() is None
    assert sum(c.polls for c in channels) == 1, "a poll scanned channels without data"


class CountingRemoteChannel(RemoteInputChannel):
    __slots__ = ("polls",)

    def __init__(self, index: int) -> None:
        super().__init__(f"channel {index}", "job", credit=2)
        self.polls = 0

    def poll(self) -> object:
        self.polls += 1
        return super().poll()


class _Connection:
    """Records the credit a remote channel returns."""

    def __init__(self) -> None:
        self.credit: list[tuple[int, int]] = []

    def add_credit(self, channel_id: int, credit: int) -> None:
        self.credit.append((channel_id, credit))


def _receive(channel: RemoteInputChannel, element: object) -> None:
    """What the network thread does with a chunk of frames: append them, then wake."""
    (kind, _, payload), = wire.FrameParser().feed(wire.encode_element(channel.channel_id,
                                                                      element))
    channel.on_frame(kind, payload)
    channel.receiver_waker()


def test_remote_channels_join_the_gate_queue_as_local_ones_do() -> None:
    """A gate reads local and remote channels alike: a remote channel's arriving frames and
    its failure put it into the queue of channels with data and wake the task."""
    connection = _Connection()
    remote = [CountingRemoteChannel(i) for i in range(500)]
    for i, channel in enumerate(remote):
        channel.connection, channel.channel_id = connection, i
    local = [CountingChannel(2) for _ in range(500)]
    wakes = []
    gate = InputGate([(c, 0) for c in [*local, *remote]], 1, waker=lambda: wakes.append(1))
    _receive(remote[300], RecordBatch(["far"]))
    local[7].send_batch(RecordBatch(["near"]))
    assert len(wakes) == 2
    first, second = gate.poll(), gate.poll()
    assert first is not None and second is not None and gate.poll() is None
    assert (first[0], first[1].values) == (500 + 300, ["far"])
    assert (second[0], second[1].values) == (7, ["near"])
    assert sum(c.polls for c in [*local, *remote]) == 2, "a poll scanned channels without data"
    assert connection.credit == [(300, 1)]  # half its credit of 2: returned at once
    remote[42].on_failure(RemoteTransportError("the connection was lost"))
    assert len(wakes) == 3
    with pytest.raises(RemoteTransportError, match="was lost"):
        gate.poll()


def test_a_gate_stays_round_robin_over_busy_channels_and_wakes_its_task() -> None:
    wakes = []
    channels = [LocalChannel(4) for _ in range(3)]
    gate = InputGate([(c, 0) for c in channels], 1, waker=lambda: wakes.append(1))
    for value in range(2):
        for i in (2, 0, 1):
            channels[i].send_batch(RecordBatch([f"{i}{value}"]))
    assert len(wakes) == 6
    order = []
    while (polled := gate.poll()) is not None:
        order.append(polled[1].values[0])
    assert order == ["20", "00", "10", "21", "01", "11"]


def test_a_gate_sees_events_sent_before_it_was_created() -> None:
    channels = [LocalChannel() for _ in range(3)]
    channels[1].send_event(WatermarkEvent(7))
    gate = InputGate([(c, 0) for c in channels], 1)
    polled = gate.poll()
    assert polled is not None and polled[0] == 1
    assert isinstance(polled[1], WatermarkEvent) and polled[1].timestamp == 7


def test_a_gate_loses_no_data_sent_from_another_thread_while_it_polls() -> None:
    channels = [LocalChannel(10_000) for _ in range(4)]
    gate = InputGate([(c, 0) for c in channels], 1)
    per_channel = 2000

    def produce(channel: LocalChannel, tag: int) -> None:
        for n in range(per_channel):
            channel.send_batch(RecordBatch([(tag, n)]))

    threads = [threading.Thread(target=produce, args=(c, i)) for i, c in enumerate(channels)]
    for thread in threads:
        thread.start()
    received: list[tuple[int, int]] = []
    deadline = time.monotonic() + 60
    while len(received) < 4 * per_channel and time.monotonic() < deadline:
        polled = gate.poll()
        if polled is not None:
            received.extend(polled[1].values)
    for thread in threads:
        thread.join(timeout=10)
    assert gate.poll() is None
    for tag in range(4):
        assert [n for t, n in received if t == tag] == list(range(per_channel))


def test_flushing_touches_only_channels_with_partial_buffers() -> None:
    channels = [CountingChannel(2) for _ in range(1000)]
    selector = create_channel_selector(HashPartitioning(lambda x: x, 128), len(channels))
    writer = RecordWriter(channels, selector, batch_size=100)
    writer.emit([1, 2, 3], None)  # three keys: at most three channels
    writer.flush()
    writer.flush()
    assert sum(c.credit_checks for c in channels) <= 3
    assert sum(c.queued() for c in channels) == sum(1 for c in channels if c.queued())
    assert sum(c.queued() for c in channels) <= 3
    assert not writer.has_partial_buffers() and writer.send()


def test_a_writer_blocked_on_one_channel_retries_only_that_channel() -> None:
    channels = [CountingChannel(1) for _ in range(500)]
    selector = create_channel_selector(RebalancePartitioning(), len(channels))
    writer = RecordWriter(channels, selector, batch_size=1)
    writer.emit(list(range(500)), None)  # a batch of one record for each channel
    writer.emit([500], None)  # the next channel's second batch: no credit left for it
    assert writer.is_blocked()
    before = sum(c.credit_checks for c in channels)
    assert writer.is_blocked()
    assert sum(c.credit_checks for c in channels) - before == 1
    for channel in channels:  # the receivers take their batches and return the credit
        channel.poll()
    assert not writer.is_blocked()


def test_both_sides_of_a_channel_get_the_same_channel_from_many_threads() -> None:
    network = LocalNetwork()
    job = JobID.generate()
    found: list[list[LocalChannel]] = []
    barrier = threading.Barrier(8)

    def wire() -> None:
        # each side has its own (equal) job id object, as after decoding a deployment
        own_job = JobID.from_hex_string(job.to_hex_string())
        keys = [(own_job, 0, "edge", p, c) for p in range(30) for c in range(30)]
        barrier.wait()
        found.append(network.channels(keys))

    threads = [threading.Thread(target=wire) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(found) == 8
    assert all(a is b for seen in found[1:] for a, b in zip(found[0], seen))
    assert network.stats() == {"channels": 900}
    network.release_job(job)
    assert network.stats() == {"channels": 0}
