"""A channel between two real processes over TCP: every record arrives in order, and a
killed producer process fails the consumer naming the peer it lost."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from strom.graph.ids import ResourceID
from strom.network.elements import END_OF_PARTITION, RecordBatch
from strom.network.environment import NetworkEnvironment
from strom.network.errors import RemoteTransportError
from strom.rpc.messages import ProducerLocation
from strom.testing import wait_until

pytestmark = pytest.mark.slow

KEY = ("job", 0, "edge", 0, 0)

#: a producer TaskManager's network environment: writes ``count`` records (forever if < 0)
_PRODUCER = """
import sys, threading
from strom.graph.partitioning import ForwardPartitioning
from strom.network.elements import END_OF_PARTITION
from strom.network.environment import NetworkEnvironment
from strom.network.partitioners import create_channel_selector
from strom.network.record_writer import RecordWriter

count = int(sys.argv[1])
env = NetworkEnvironment(tcp=True)
env.start()
print("ready", env.resource_id, env.data_address, flush=True)
wake = threading.Event()
channel = env.result_subpartition(("job", 0, "edge", 0, 0))
channel.sender_waker = wake.set
writer = RecordWriter([channel], create_channel_selector(ForwardPartitioning(), 1), 100)

def send_all():
    while True:
        wake.clear()
        if writer.send():
            return
        wake.wait(1.0)

i = 0
while count < 0 or i < count:
    stop = i + 100 if count < 0 else min(count, i + 100)
    writer.emit([(n, "record %d" % n) for n in range(i, stop)], None)
    send_all()
    i = stop
writer.broadcast_event(END_OF_PARTITION)
send_all()
sys.stdin.readline()
env.close()
"""


class _Producer:
    def __init__(self, count: int) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", _PRODUCER, str(count)], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        stdout = self.process.stdout
        assert stdout is not None
        found: list[str] = []
        reader = threading.Thread(target=lambda: found.append(stdout.readline()), daemon=True)
        reader.start()
        reader.join(30)
        if not found or not found[0].startswith("ready"):
            self.stop()
            raise RuntimeError(f"the producer process did not get ready: {found!r}, "
                               f"stderr: {self.stderr()}")
        _, resource_id, self.address = found[0].split()
        self.location = ProducerLocation(ResourceID(resource_id), self.address)

    def stderr(self) -> str:
        if self.process.poll() is None:
            return "(still running)"
        assert self.process.stderr is not None
        return self.process.stderr.read()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(10)


@pytest.fixture
def producers() -> Iterator[list[_Producer]]:
    """The producer processes a test starts: killed by PID when it ends, pass or fail; their
    stderr is printed (pytest shows it when the test failed)."""
    started: list[_Producer] = []
    try:
        yield started
    finally:
        for producer in started:
            producer.stop()
            print(f"producer pid {producer.process.pid} stderr:\n{producer.stderr()}")


@pytest.fixture
def consumer_env() -> Iterator[NetworkEnvironment]:
    env = NetworkEnvironment(tcp=True)
    env.start()
    try:
        yield env
    finally:
        env.close()


def _read(channel: Any, until_end: bool, limit: int) -> list[Any]:
    wake = threading.Event()
    channel.receiver_waker = wake.set
    records: list[Any] = []
    while len(records) < limit:
        wake.clear()
        element = channel.poll()
        if element is None:
            if not wake.wait(30):
                raise TimeoutError(f"nothing arrived for 30 s after {len(records)} records")
        elif type(element) is RecordBatch:
            records += element.values
        elif element is END_OF_PARTITION and until_end:
            break
    return records


def test_every_record_crosses_processes_in_order(producers: list[_Producer],
                                                 consumer_env: NetworkEnvironment) -> None:
    producer = _Producer(25_000)
    producers.append(producer)
    channel = consumer_env.input_channel(KEY, producer.location, 3)
    records = _read(channel, until_end=True, limit=10**9)
    assert records == [(n, f"record {n}") for n in range(25_000)]


def test_a_killed_producer_fails_the_consumer_naming_it(producers: list[_Producer],
                                                        consumer_env: NetworkEnvironment
                                                        ) -> None:
    producer = _Producer(-1)
    producers.append(producer)
    channel = consumer_env.input_channel(KEY, producer.location, 3)
    assert len(_read(channel, until_end=False, limit=1_000)) >= 1_000
    producer.process.kill()
    producer.process.wait(10)

    def drained() -> bool:
        channel.poll()  # what arrived before the loss, then the loss itself raises
        return False

    with pytest.raises(RemoteTransportError, match=f"at {producer.address} was lost"):
        wait_until(drained, timeout_s=30, what="the lost connection")
