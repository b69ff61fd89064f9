"""Jobs whose channels between TaskManagers run over loopback TCP (MiniCluster
``network="tcp"``): a trickle of records is not held back, and a cut connection fails the
job naming the peer. The whole integration suite also runs in this mode (``make test``)."""

from __future__ import annotations

import threading
import time

import pytest

from strom.common.job import JobStatus
from strom.common.watermark_strategy import WatermarkStrategy
from strom.connectors.sequence import NumberSequenceSource
from strom.datastream.functions import MapFunction, RuntimeContext
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


class _SlowOnSubtask1(MapFunction[int, int]):
    """Slow on subtask 1 only: subtask 0 shares the source's slot, so slowing it would slow
    the source itself, and nothing would queue up for subtask 1 on the other TaskManager."""

    def open(self, runtime_context: RuntimeContext) -> None:
        self.slow = runtime_context.get_index_of_this_subtask() == 1

    def map(self, value: int) -> int:
        if self.slow:
            time.sleep(0.0002)
        return value


def test_a_slow_consumer_back_pressures_its_remote_producer_which_still_cancels() -> None:
    """An unbounded source feeds a slow map on the other TaskManager: the map's TaskManager
    holds no more than its channel's credit, and the back-pressured source still reacts to
    cancellation."""
    with MiniClusterFixture(parallelism=2, network="tcp") as cluster:
        env = StreamExecutionEnvironment.get_execution_environment()
        sink = CollectSink()
        env.from_source(NumberSequenceSource(0, 10**12), WatermarkStrategy.no_watermarks(),
                        "numbers").set_parallelism(1).rebalance().map(_SlowOnSubtask1()).sink_to(sink)
        client = env.execute_async()
        wait_until(lambda: len(sink.results) >= 3000, what="records at the sink")
        credit = 2 + 8  # buffers-per-channel + floating buffers of its one-channel gate
        for _ in range(20):
            stats = [te.network.stats() for te in cluster.task_executors]
            assert sum(s["remote_inputs"] for s in stats) == 1, stats  # one map is remote
            assert all(s["buffered"] <= credit for s in stats), stats
        client.cancel().result(timeout=10)
        wait_until(lambda: client.get_job_status().result(timeout=10) is JobStatus.CANCELED,
                   what="the job is cancelled")


def test_an_unpicklable_record_fails_the_job_that_sends_it_across() -> None:
    with MiniClusterFixture(parallelism=2, network="tcp"):
        env = StreamExecutionEnvironment.get_execution_environment()
        env.from_collection(list(range(10))).map(lambda x: threading.Lock()) \
            .set_parallelism(1).rebalance().sink_to(CollectSink())
        with pytest.raises(TypeError, match="cannot be sent to another TaskManager"):
            env.execute()


def test_the_buffer_timeout_flushes_a_busy_tasks_trickle_across_tcp() -> None:
    """The source never runs dry, so its task never idles; the few records its filter lets
    through still cross to the other TaskManager, flushed by the buffer timeout rather than
    when a buffer of 1,024 fills (which would take minutes here)."""
    with MiniClusterFixture(parallelism=2, network="tcp"):
        env = StreamExecutionEnvironment.get_execution_environment()
        env.set_buffer_timeout(20)
        sink = CollectSink()
        env.from_source(NumberSequenceSource(0, 10**12), WatermarkStrategy.no_watermarks(),
                        "numbers").set_parallelism(1) \
            .filter(lambda x: x % 100_000 == 0).set_parallelism(1) \
            .rebalance().map(lambda x: x).sink_to(sink)
        client = env.execute_async()
        wait_until(lambda: len(sink.results) >= 4, timeout_s=30,
                   what="filtered records at both sinks while the source is busy")
        client.cancel().result(timeout=10)
        wait_until(lambda: client.get_job_status().result(timeout=10) is JobStatus.CANCELED,
                   what="the job is cancelled")
        assert all(x % 100_000 == 0 for x in sink.results)


def test_a_wide_all_to_all_job_across_two_taskmanagers_gets_every_record() -> None:
    """At parallelism 12 over two TaskManagers every keyed task reads 12 channels, half of
    them over TCP: remote channels wake their gate as local ones do, none is starved."""
    with MiniClusterFixture(parallelism=12, num_task_managers=2, network="tcp") as cluster:
        env = StreamExecutionEnvironment.get_execution_environment()
        env.set_parallelism(12)
        sink = CollectSink()
        env.from_collection(list(range(3000))).map(lambda x: (x % 31, 1)) \
            .key_by(lambda t: t[0]).reduce(lambda a, b: (a[0], a[1] + b[1])).sink_to(sink)
        env.execute("wide over tcp")
        finals: dict[int, int] = {}
        for key, count in sink.results:
            finals[key] = max(finals.get(key, 0), count)
        assert finals == {k: sum(1 for x in range(3000) if x % 31 == k) for k in range(31)}
        stats = [te.network.stats() for te in cluster.task_executors]
        assert all(s["connections"] >= 1 for s in stats), stats
