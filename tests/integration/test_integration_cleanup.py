"""A finished job leaves nothing behind on the cluster: slots free, channels released."""

from __future__ import annotations

from strom.datastream import StreamExecutionEnvironment
from strom.testing import CollectSink, MiniClusterFixture


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
        network = cluster.task_executors[0].network
        assert network.stats() == {"channels": 0}
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
