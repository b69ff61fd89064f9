"""The data plane between hosts: a producer TaskManager's network environment in one network
namespace, its consumer in another, every record crossing over their real addresses.

Each side binds its own namespace address; neither namespace has a route anywhere else, so
an address advertised wrong (loopback, the wildcard) fails the exchange instead of finding
a peer on the machine. Skipped, with the reason, where the machine forbids namespaces.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from netns import namespace_network

pytestmark = pytest.mark.slow

DATA_PORT = 6121
RECORDS = 20_000

#: a producer TaskManager's network environment on ``argv[1]``:``argv[2]``: writes
#: ``argv[3]`` records on one subpartition, then stays up until the test ends it
PRODUCER = """
import sys, threading, time
from strom.graph.partitioning import ForwardPartitioning
from strom.network.elements import END_OF_PARTITION
from strom.network.environment import NetworkEnvironment
from strom.network.partitioners import create_channel_selector
from strom.network.record_writer import RecordWriter

host, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
env = NetworkEnvironment(tcp=True, bind_host=host, data_port=port)
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

for start in range(0, count, 100):
    writer.emit([(n, "record %d" % n) for n in range(start, min(count, start + 100))], None)
    send_all()
writer.broadcast_event(END_OF_PARTITION)
send_all()
print("sent", count, flush=True)
time.sleep(600)
"""

#: a consumer TaskManager's network environment on ``argv[1]`` reading the subpartition of
#: the producer ``argv[2]`` at ``argv[3]`` to its end
CONSUMER = """
import sys, threading
from strom.graph.ids import ResourceID
from strom.network.elements import END_OF_PARTITION, RecordBatch
from strom.network.environment import NetworkEnvironment
from strom.rpc.messages import ProducerLocation

host, producer_id, producer_address = sys.argv[1], sys.argv[2], sys.argv[3]
env = NetworkEnvironment(tcp=True, bind_host=host)
env.start()
print("listening at", env.data_address, flush=True)
channel = env.input_channel(("job", 0, "edge", 0, 0),
                            ProducerLocation(ResourceID(producer_id), producer_address), 3)
wake = threading.Event()
channel.receiver_waker = wake.set
records = []
while True:
    wake.clear()
    element = channel.poll()
    if element is None:
        if not wake.wait(30):
            sys.exit("nothing arrived for 30 s after %d records" % len(records))
    elif type(element) is RecordBatch:
        records += element.values
    elif element is END_OF_PARTITION:
        break
env.close()
expected = [(n, "record %d" % n) for n in range(int(sys.argv[4]))]
print("in order" if records == expected else "wrong: %r" % records[:10], len(records),
      flush=True)
"""


def test_every_record_crosses_between_two_hosts_in_order(tmp_path: Path) -> None:
    with namespace_network(["producer", "consumer"], tmp_path) as network:
        producer_host, consumer_host = network["producer"], network["consumer"]
        producer = producer_host.spawn(
            [sys.executable, "-c", PRODUCER, producer_host.address, str(DATA_PORT),
             str(RECORDS)], label="producer")
        producer.wait_for_output("ready ")
        _, producer_id, data_address = producer.output().split("\n")[0].split()
        assert data_address == f"{producer_host.address}:{DATA_PORT}"
        producer.wait_listening(DATA_PORT)

        consumer = consumer_host.spawn(
            [sys.executable, "-c", CONSUMER, consumer_host.address, producer_id,
             data_address, str(RECORDS)], label="consumer")
        assert consumer.wait(timeout_s=120) == 0, network.logs()
        assert f"listening at {consumer_host.address}:" in consumer.output()
        assert consumer.output().splitlines()[-1] == f"in order {RECORDS}", network.logs()
        producer.wait_for_output(f"sent {RECORDS}")


def test_a_producer_advertised_at_a_wrong_address_fails_the_consumer_at_once(
        tmp_path: Path) -> None:
    # the producer listens on its host, but the consumer is told loopback: in its own
    # namespace nothing listens there, and no route leads to the producer's machine
    with namespace_network(["producer", "consumer"], tmp_path) as network:
        producer_host = network["producer"]
        producer = producer_host.spawn(
            [sys.executable, "-c", PRODUCER, producer_host.address, str(DATA_PORT), "10"],
            label="producer")
        producer.wait_for_output("ready ")
        _, producer_id, _ = producer.output().split("\n")[0].split()
        consumer = network["consumer"].spawn(
            [sys.executable, "-c", CONSUMER, network["consumer"].address, producer_id,
             f"127.0.0.1:{DATA_PORT}", "10"], label="consumer")
        assert consumer.wait(timeout_s=120) != 0
        output = consumer.output()
    assert f"RemoteTransportError: Could not connect to the TaskManager at 127.0.0.1:{DATA_PORT}" \
        in output, output
    assert "in order" not in output
