"""Internal TLS on the data plane: channels between TaskManagers over mutually authenticated
TLS; a TaskManager without the right certificate gets no channel, and the producer's side
logs the rejected peer."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from strom.common.configuration import Configuration
from strom.common.security import InternalTls, internal_tls
from strom.graph.partitioning import ForwardPartitioning
from strom.network.elements import END_OF_PARTITION, RecordBatch
from strom.network.environment import NetworkEnvironment
from strom.network.errors import RemoteTransportError
from strom.network.partitioners import create_channel_selector
from strom.network.record_writer import RecordWriter
from strom.rpc.messages import ProducerLocation
from strom.testing import wait_until
from strom.testing.tls import CertificateFiles

KEY = ("job-1", 0, "edge-1", 0, 0)


def tls_of(files: CertificateFiles, trust: CertificateFiles | None = None) -> InternalTls | None:
    config = files.internal_config()
    if trust is not None:
        config["security.ssl.internal.truststore"] = str(trust.ca)
    return internal_tls(Configuration.from_dict(config))


def environment(tls: InternalTls | None) -> NetworkEnvironment:
    env = NetworkEnvironment(tcp=True, tls=tls, partition_request_timeout_s=5.0)
    env.start()
    return env


def receive_all(consumer: Any, writer: RecordWriter) -> list[Any]:
    received: list[Any] = []

    def ended() -> bool:
        writer.send()
        while (element := consumer.poll()) is not None:
            received.append(element)
        return bool(received) and received[-1] is END_OF_PARTITION

    wait_until(ended, what="every element to arrive")
    return received


def test_records_travel_between_taskmanagers_over_tls(certs: CertificateFiles) -> None:
    producer, consumer_env = environment(tls_of(certs)), environment(tls_of(certs))
    try:
        consumer = consumer_env.input_channel(
            KEY, ProducerLocation(producer.resource_id, producer.data_address), 4)
        writer = RecordWriter([producer.result_subpartition(KEY)],
                              create_channel_selector(ForwardPartitioning(), 1), 100)
        for i in range(50):
            writer.emit(list(range(i * 100, (i + 1) * 100)), None)
        writer.broadcast_event(END_OF_PARTITION)
        received = receive_all(consumer, writer)
        values = [v for e in received if type(e) is RecordBatch for v in e.values]
        assert values == list(range(5000))
        manager = consumer_env._manager
        assert manager is not None
        [connection] = manager.connections()
        assert connection.transport is not None
        assert connection.transport.get_extra_info("ssl_object") is not None
    finally:
        consumer_env.close()
        producer.close()


@pytest.mark.parametrize("who", ["plain", "rogue certificate"])
def test_a_taskmanager_without_the_right_certificate_gets_no_channel(
    who: str, certs: CertificateFiles, rogue: CertificateFiles,
    caplog: pytest.LogCaptureFixture,
) -> None:
    producer = environment(tls_of(certs))
    # the rogue trusts the producer's CA: only the producer's check can stop it
    intruder = environment(None if who == "plain" else tls_of(rogue, trust=certs))
    try:
        writer = RecordWriter([producer.result_subpartition(KEY)],
                              create_channel_selector(ForwardPartitioning(), 1), 4)
        writer.emit(["secret"], None)
        writer.flush()
        with caplog.at_level(logging.WARNING, logger="strom.network.connection_manager"):
            consumer = intruder.input_channel(
                KEY, ProducerLocation(producer.resource_id, producer.data_address), 2)
            failures: list[BaseException] = []

            def failed() -> bool:
                try:
                    element = consumer.poll()
                except RemoteTransportError as e:
                    failures.append(e)
                    return True
                assert element is None, f"the intruder received {element!r}"
                return False

            wait_until(failed, what="the intruder's channel to fail")
            wait_until(lambda: any("Rejected a data connection" in r.getMessage()
                                   for r in caplog.records),
                       what="the producer to log the rejected peer")
        message = next(r.getMessage() for r in caplog.records
                       if "Rejected a data connection" in r.getMessage())
        assert "127.0.0.1:" in message and producer.data_address in message
    finally:
        intruder.close()
        producer.close()
