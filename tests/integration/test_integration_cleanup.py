"""A finished job leaves nothing behind on the cluster, and the test kit proves it: every
MiniClusterFixture validates its endpoints when the test ends (slots, tasks, channels,
background tasks, jobs, threads), so a leak fails the test that caused it."""

from __future__ import annotations

import asyncio
import threading

import pytest

from strom.common.job import JobID
from strom.datastream import StreamExecutionEnvironment
from strom.minicluster import MiniCluster
from strom.rpc.gateways import ResourceManagerGateway
from strom.testing import ClusterLeakError, CollectSink, MiniClusterFixture, wait_until


def test_a_finished_job_frees_its_slots_and_channels() -> None:
    with MiniClusterFixture(parallelism=2) as cluster:
        env = StreamExecutionEnvironment.get_execution_environment()
        sink = CollectSink()
        env.from_collection(list(range(100))).rebalance().map(lambda x: x + 1) \
            .key_by(lambda x: x % 3).reduce(lambda a, b: a + b).sink_to(sink)
        env.execute()
        assert len(sink.results) == 100
        assert cluster.rpc is not None and cluster.resource_manager is not None
        free = cluster.rpc.run_sync(cluster.resource_manager.free_slot_count(), timeout=10)
        assert free == cluster.num_task_managers * cluster.slots_per_task_manager
        for te in cluster.task_executors:  # connections between TaskManagers stay open
            wait_until(lambda te=te: not any(v for k, v in te.network.stats().items()
                                             if k != "connections"),
                       what=f"the channels of {te.address} are released")
        assert all(not te.tasks for te in cluster.task_executors)


def test_collect_sinks_of_finished_jobs_do_not_accumulate() -> None:
    import gc
    import weakref

    from strom.testing import sinks

    gc.collect()
    before = len(sinks._collected)
    dropped = []
    with MiniClusterFixture(parallelism=2):
        for n in range(300):
            env = StreamExecutionEnvironment.get_execution_environment()
            sink = CollectSink()
            env.from_collection([n] * 50).map(lambda x: x + 1).sink_to(sink)
            env.execute()
            # readable after the job ended, for as long as the test holds the sink
            assert sink.results == [n + 1] * 50
            assert sink.timestamps == [None] * 50
            dropped.append(weakref.ref(sink._collected))
            del sink, env
    gc.collect()
    assert len(sinks._collected) <= before
    assert all(ref() is None for ref in dropped), "records of dropped sinks are still held"


def test_the_cluster_reports_itself_idle_through_its_gateways() -> None:
    with MiniClusterFixture(parallelism=2) as cluster:
        env = StreamExecutionEnvironment.get_execution_environment()
        env.from_collection(list(range(100))).rebalance().map(lambda x: x + 1) \
            .sink_to(CollectSink())
        env.execute()
        assert cluster.rpc is not None and cluster.resource_manager is not None
        rm = cluster.rpc.connect(cluster.resource_manager.address, ResourceManagerGateway)
        free = cluster.rpc.run_sync(rm.free_slot_count(), timeout=10)
        assert free == cluster.num_task_managers * cluster.slots_per_task_manager
        wait_until(lambda: not cluster.leftovers(), what="an idle cluster")
        assert cluster.task_statuses() == []


def allocate_a_slot(cluster: MiniCluster) -> None:
    assert cluster.rpc is not None and cluster.resource_manager is not None
    rm = cluster.rpc.connect(cluster.resource_manager.address, ResourceManagerGateway)
    granted = cluster.rpc.run_sync(
        rm.request_slots(JobID.generate(), cluster.rpc.address_of("nobody"), 1), timeout=10)
    assert granted == 1


def test_an_allocated_slot_fails_the_test() -> None:
    with pytest.raises(ClusterLeakError, match=r"slot 0 .*is still allocated to job"):
        with MiniClusterFixture(leak_timeout_s=0.2) as cluster:
            allocate_a_slot(cluster)


def test_a_forgotten_background_task_fails_the_test() -> None:
    with pytest.raises(ClusterLeakError, match="background task forgotten is still running"):
        with MiniClusterFixture(leak_timeout_s=0.2) as cluster:
            assert cluster.rpc is not None and cluster.dispatcher is not None
            dispatcher = cluster.dispatcher
            cluster.rpc.call_soon(lambda: dispatcher.spawn(asyncio.sleep(3600), "forgotten"))


def test_a_job_left_running_fails_the_test() -> None:
    from test_integration_execution import UnboundedSource

    with pytest.raises(ClusterLeakError, match=r"job .* \(left running\) still runs"):
        with MiniClusterFixture(leak_timeout_s=0.2):
            env = StreamExecutionEnvironment.get_execution_environment()
            UnboundedSource.stream(env).sink_to(CollectSink())
            env.execute_async("left running")


def test_a_thread_left_running_fails_the_test() -> None:
    release = threading.Event()
    leaky = threading.Thread(target=release.wait, name="leaky", daemon=True)
    try:
        with pytest.raises(ClusterLeakError, match="thread 'leaky' still runs"):
            with MiniClusterFixture(leak_timeout_s=0.2):
                leaky.start()
    finally:
        release.set()
        leaky.join(5)


def test_a_failing_test_is_not_hidden_by_the_leak_check() -> None:
    with pytest.raises(ZeroDivisionError):
        with MiniClusterFixture(leak_timeout_s=0.2) as cluster:
            allocate_a_slot(cluster)
            _ = 1 / 0


def test_a_cluster_that_was_never_stopped_is_found() -> None:
    from strom.testing.cluster import strom_threads_left

    before = set(threading.enumerate())
    cluster = MiniCluster(slots_per_task_manager=2).start()
    try:
        left = strom_threads_left(before, timeout_s=0.1)
        assert "strom-rpc" in left and sum(n.startswith("strom-slot-") for n in left) == 2
    finally:
        cluster.stop()
    assert strom_threads_left(before, timeout_s=10) == []
