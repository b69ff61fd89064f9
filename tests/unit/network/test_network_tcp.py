"""Channels between network environments: one backpressure check over local and TCP
channels, and how a remote channel fails (producer failure, unknown partition, lost
connection)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from strom.graph.partitioning import ForwardPartitioning
from strom.network.elements import END_OF_PARTITION, RecordBatch, WatermarkEvent
from strom.network.environment import NetworkEnvironment
from strom.network.errors import (
    PartitionNotFoundError,
    ProducerFailedError,
    RemoteTransportError,
)
from strom.network.local_network import LocalNetwork
from strom.network.partitioners import create_channel_selector
from strom.network.record_writer import RecordWriter
from strom.rpc.messages import ProducerLocation
from strom.testing import wait_until

KEY = ("job-1", 0, "edge-1", 0, 1)
CREDIT = 2


class _Pair:
    """A producer environment and a consumer environment, local or over TCP."""

    def __init__(self, tcp: bool, timeout_s: float = 10.0) -> None:
        shared = None if tcp else LocalNetwork()
        self.producer_env = NetworkEnvironment(channels=shared, tcp=tcp,
                                               partition_request_timeout_s=timeout_s)
        self.consumer_env = NetworkEnvironment(channels=shared, tcp=tcp)
        self.producer_env.start()
        self.consumer_env.start()
        self.location = ProducerLocation(self.producer_env.resource_id,
                                         self.producer_env.data_address)

    def consumer(self, key: Any = KEY, credit: int = CREDIT) -> Any:
        return self.consumer_env.input_channel(key, self.location, credit)

    def writer(self, key: Any = KEY, batch_size: int = 4) -> RecordWriter:
        channel = self.producer_env.result_subpartition(key)
        return RecordWriter([channel], create_channel_selector(ForwardPartitioning(), 1),
                            batch_size)

    def close(self) -> None:
        self.consumer_env.close()
        self.producer_env.close()


@pytest.fixture(params=["local", "tcp"])
def pair(request: Any) -> Iterator[_Pair]:
    environments = _Pair(request.param == "tcp")
    try:
        yield environments
    finally:
        environments.close()


def _poll(channel: Any, writer: RecordWriter | None = None, what: str = "an element") -> Any:
    """The consumer's next element; meanwhile the producer sends what credit allows (as its
    task does when credit wakes it)."""
    found: list[Any] = []

    def arrived() -> bool:
        if writer is not None:
            writer.send()
        found.append(channel.poll())
        return found[-1] is not None

    wait_until(arrived, what=what)
    return found[-1]


def test_a_slow_consumer_bounds_what_its_producer_sends(pair: _Pair) -> None:
    """Without reads the producer sends ``credit`` batches and is then back-pressured;
    every batch read lets exactly one more through; all arrive in order with the events."""
    consumer = pair.consumer()
    writer = pair.writer(batch_size=4)
    for i in range(10):
        writer.emit([i] * 4, None)
        if i == 4:
            writer.broadcast_event(WatermarkEvent(100))
    writer.broadcast_event(END_OF_PARTITION)
    sender = writer.channels[0]
    wait_until(lambda: writer.is_blocked() and not sender.has_credit() and
               consumer.queued() == CREDIT,
               what="the producer is back-pressured")
    assert writer.waiting == 10 - CREDIT  # the rest waits at the producer, not in the network
    first = _poll(consumer, what="the first batch")
    assert first.values == [0] * 4
    wait_until(lambda: writer.send() or writer.waiting == 10 - CREDIT - 1,
               what="one more batch is sent")
    assert writer.is_blocked()
    received = [first]
    while len(received) < 12:
        received.append(_poll(consumer, writer, f"element {len(received)}"))
    batches = [e.values for e in received if type(e) is RecordBatch]
    assert batches == [[i] * 4 for i in range(10)]
    assert type(received[5]) is WatermarkEvent and received[5].timestamp == 100
    assert received[-1] is END_OF_PARTITION and writer.waiting == 0


def test_a_flushed_partial_buffer_reaches_the_consumer(pair: _Pair) -> None:
    """The buffer timeout's flush sends a partly filled buffer at once: a trickle of records
    is not held back in the network until a buffer fills."""
    consumer = pair.consumer()
    writer = pair.writer(batch_size=1024)
    writer.emit(["only one"], None)
    assert consumer.poll() is None and writer.has_partial_buffers()
    writer.flush()
    assert _poll(consumer, writer).values == ["only one"]


def test_the_consumer_may_ask_before_the_producer_exists(pair: _Pair) -> None:
    consumer = pair.consumer()
    writer = pair.writer()
    writer.emit([1, 2, 3, 4], None)
    assert _poll(consumer, writer).values == [1, 2, 3, 4]


def test_a_producer_failure_reaches_its_remote_consumer_by_name() -> None:
    pair = _Pair(tcp=True)
    try:
        consumer = pair.consumer()
        writer = pair.writer()
        writer.emit([1, 2, 3, 4], None)
        assert _poll(consumer, writer).values == [1, 2, 3, 4]
        pair.producer_env.fail_partitions([KEY], "Map (1/2)", ValueError("bad record 7"))
        with pytest.raises(ProducerFailedError,
                           match=r"producer Map \(1/2\).*ValueError: bad record 7"):
            _poll(consumer, what="the failure")
    finally:
        pair.close()


def test_an_unknown_partition_fails_the_consumer() -> None:
    pair = _Pair(tcp=True, timeout_s=0.05)
    try:
        consumer = pair.consumer(("job-1", 0, "no-such-edge", 3, 0))
        with pytest.raises(PartitionNotFoundError, match="no-such-edge, subtask 3"):
            _poll(consumer, what="the partition-not-found error")
        assert pair.producer_env.stats()["channels"] == 0
    finally:
        pair.close()


def test_a_partition_request_after_its_job_was_released_opens_no_channel() -> None:
    # the race behind "1 network channels are still open": a consumer's request reached the
    # producer's TaskManager after that one had released the job, and opened a channel
    # that nothing released any more
    pair = _Pair(tcp=True)
    try:
        pair.producer_env.release_job("job-1").result(timeout=10)
        consumer = pair.consumer()
        with pytest.raises(PartitionNotFoundError, match="job-1, which was already released"):
            _poll(consumer, what="the refused partition request")
        stats = pair.producer_env.stats()
        assert (stats["channels"], stats["views"]) == (0, 0)
        pair.producer_env.reopen_job("job-1")  # the job is deployed here again
        consumer = pair.consumer(("job-1", 1, "edge-1", 0, 1))
        writer = pair.writer(("job-1", 1, "edge-1", 0, 1))
        writer.emit([1, 2, 3, 4], None)
        assert _poll(consumer, writer).values == [1, 2, 3, 4]
    finally:
        pair.close()


def test_releasing_a_job_closes_its_channels_before_it_is_done(pair: _Pair) -> None:
    consumer = pair.consumer()
    writer = pair.writer()
    writer.emit([1, 2, 3, 4], None)
    assert _poll(consumer, writer).values == [1, 2, 3, 4]
    pair.consumer_env.release_job("job-1").result(timeout=10)
    pair.producer_env.release_job("job-1").result(timeout=10)
    for env in (pair.consumer_env, pair.producer_env):
        stats = env.stats()
        assert [stats.get(k, 0) for k in ("channels", "remote_inputs", "views")] == [0, 0, 0]


def test_a_lost_connection_fails_both_ends_naming_the_peer() -> None:
    pair = _Pair(tcp=True)
    try:
        consumer = pair.consumer()
        writer = pair.writer()
        writer.emit([1, 2, 3, 4], None)
        assert _poll(consumer, writer).values == [1, 2, 3, 4]
        producer_address = pair.producer_env.data_address
        pair.producer_env.close()  # the producer's TaskManager dies
        with pytest.raises(RemoteTransportError, match=f"at {producer_address} was lost"):
            _poll(consumer, what="the connection failure")
    finally:
        pair.close()


def test_a_lost_consumer_fails_its_producer() -> None:
    pair = _Pair(tcp=True)
    try:
        pair.consumer()
        writer = pair.writer()
        wait_until(lambda: writer.channels[0].has_credit(), what="the consumer's credit")
        consumer_id = str(pair.consumer_env.resource_id)
        pair.consumer_env.close()
        for _ in range(CREDIT + 1):  # one batch more than credit
            writer.emit([1, 2, 3, 4], None)
        with pytest.raises(RemoteTransportError, match=f"TaskManager {consumer_id}"):
            # the sends use up the credit, then fail once the connection is seen gone
            wait_until(lambda: writer.send() and False, what="a failed send")
    finally:
        pair.close()


def test_a_bad_data_port_is_named() -> None:
    taken = NetworkEnvironment(tcp=True)
    taken.start()
    try:
        port = int(taken.data_address.rsplit(":", 1)[1])
        with pytest.raises(OSError, match=f"data port 127.0.0.1:{port}.*taskmanager.data.port"):
            NetworkEnvironment(tcp=True, data_port=port).start()
    finally:
        taken.close()


def test_a_task_managers_environment_from_its_configuration() -> None:
    from strom.common.configuration import Configuration

    config = Configuration()
    config.set_string("taskmanager.bind-host", "127.0.0.1")
    config.set_string("taskmanager.data.port", "0")
    env = NetworkEnvironment.from_configuration(config)
    env.start()
    try:
        host, port = env.data_address.rsplit(":", 1)
        assert env.tcp and host == "127.0.0.1" and int(port) > 0
    finally:
        env.close()


def test_data_the_tls_layer_delivers_before_the_transport_is_handed_over_is_kept() -> None:
    """asyncio's SSL protocol passes on the data that came with the end of the handshake
    before ``start_tls`` returns the transport; a connection must not lose it (a peer's
    partition request answered to nobody hung TLS jobs)."""
    import asyncio

    from strom.network import connection_manager as cm
    from strom.network import wire

    class Manager:
        loop = asyncio.new_event_loop()

    class Transport(asyncio.Transport):
        pass

    connection = cm._Connection(Manager(), "")  # type: ignore[arg-type]
    seen: list[tuple[int, int, bytes, bool]] = []
    connection._on_frame = lambda kind, channel, payload, received: seen.append(  # type: ignore[method-assign]
        (kind, channel, bytes(payload), connection.transport is not None))
    data = wire.encode_add_credit(7, 2)
    connection.data_received(data[:3])
    connection.data_received(data[3:])
    assert seen == []  # nothing handled without a transport to answer on
    connection.connection_made(Transport())
    assert [(channel, has_transport) for _, channel, _, has_transport in seen] == [(7, True)]
    Manager.loop.close()
