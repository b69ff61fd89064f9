"""Jobs whose channels between TaskManagers run over loopback TCP (MiniCluster
``network="tcp"``): a trickle of records is not held back, and a cut connection fails the
job naming the peer. The whole integration suite also runs in this mode (``make test``)."""

from __future__ import annotations

import pytest

from strom.common.watermark_strategy import WatermarkStrategy
from strom.datastream.stream_execution_environment import StreamExecutionEnvironment
from strom.network.errors import RemoteTransportError
from strom.testing import CollectSink, Latch, MiniClusterFixture, TestingSource, wait_until


def test_a_trickle_of_records_crosses_tcp_before_the_source_ends() -> None:
    """Each record is far smaller than a buffer; it reaches the sink on the other
    TaskManager while the source still waits, because partial buffers are flushed."""
    latches = [Latch() for _ in range(3)]
    elements: list[object] = []
    for i, latch in enumerate(latches):
        elements += [i, TestingSource.AWAIT(latch)]
    with MiniClusterFixture(parallelism=2, network="tcp") as cluster:
        assert len(cluster.task_executors) == 2
        env = StreamExecutionEnvironment.get_execution_environment()
        sink = CollectSink()
        env.from_source(TestingSource(elements), WatermarkStrategy.no_watermarks(), "src") \
            .set_parallelism(1).rebalance().map(lambda x: x * 10).sink_to(sink)
        client = env.execute_async()
        for i, latch in enumerate(latches):
            wait_until(lambda i=i: len(sink.results) == i + 1,
                       what=f"record {i} at the sink while the source waits")
            latch.trigger()
        client.get_job_execution_result().result(timeout=30)
        assert sorted(sink.results) == [0, 10, 20]
        stats = [te.network.stats() for te in cluster.task_executors]
        assert all(s["connections"] >= 1 for s in stats), stats


def test_a_cut_connection_fails_the_job_naming_the_peer() -> None:
    latch = Latch()
    with MiniClusterFixture(parallelism=2, network="tcp") as cluster:
        env = StreamExecutionEnvironment.get_execution_environment()
        sink = CollectSink()
        env.from_source(TestingSource([1, 2, TestingSource.AWAIT(latch), 3]),
                        WatermarkStrategy.no_watermarks(), "src") \
            .set_parallelism(1).rebalance().map(lambda x: x).sink_to(sink)
        client = env.execute_async()
        wait_until(lambda: len(sink.results) == 2, what="the first records at the sink")
        producer = cluster.task_executors[0].network
        producer.drop_connections()
        with pytest.raises(RemoteTransportError, match=r"The connection to .*TaskManager "
                                                       r".* was lost"):
            client.get_job_execution_result().result(timeout=30)
        latch.trigger()
