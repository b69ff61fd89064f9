"""``execute_and_collect`` against a cluster reached over REST: results travel back through
the JobMaster's collect coordinator, bounded by credit, and end, fail or cancel as locally."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from strom.client.rest_cluster_client import RestClusterClient
from strom.common import WatermarkStrategy
from strom.common.job import JobStatus
from strom.datastream import StreamExecutionEnvironment
from strom.jobmanager.collect_coordinator import CollectCoordinator
from strom.minicluster import MiniCluster
from strom.runtime.collect_protocol import CREDIT
from strom.testing import TestingSource
from strom.testing.sync import wait_until


@pytest.fixture
def cluster() -> Iterator[MiniCluster]:
    with MiniCluster(num_task_managers=1, slots_per_task_manager=4, rest_port=0) as c:
        yield c
        wait_until(lambda: c.leftovers() == [], what="the cluster to be idle")


def remote_env(cluster: MiniCluster, parallelism: int = 2) -> StreamExecutionEnvironment:
    env = StreamExecutionEnvironment.get_execution_environment()
    env._cluster = RestClusterClient(cluster.rest_url)
    env.set_parallelism(parallelism)
    return env


def test_collects_every_result_from_a_remote_cluster(cluster: MiniCluster) -> None:
    env = remote_env(cluster)
    stream = env.from_collection(list(range(10_000))).map(lambda x: x * 2)
    with stream.execute_and_collect("remote collect") as results:
        assert sorted(results) == [x * 2 for x in range(10_000)]
    statuses = RestClusterClient(cluster.rest_url).list_jobs()
    assert [(j.name, j.state) for j in statuses] == [("remote collect", "FINISHED")]


def coordinator_of(cluster: MiniCluster) -> CollectCoordinator:
    assert cluster.dispatcher is not None
    [job_master] = cluster.dispatcher.job_masters.values()
    [coordinator] = [c for c in job_master.coordinators.values()
                     if isinstance(c, CollectCoordinator)]
    return coordinator


def test_the_jobmaster_holds_at_most_the_credit_while_the_client_waits(
    cluster: MiniCluster,
) -> None:
    env = remote_env(cluster, parallelism=1)
    # one record per batch: 200 batches against a credit of CREDIT
    stream = env.from_source(TestingSource(list(range(200)), batch_size=1),
                             WatermarkStrategy.no_watermarks(), "one per batch")
    results = stream.execute_and_collect("bounded")
    try:
        first = next(results)  # the client stops fetching; the sink fills its credit and waits
        wait_until(lambda: len(coordinator_of(cluster)) >= CREDIT - 1,
                   what="the sink to use up its credit")
        assert len(coordinator_of(cluster)) <= CREDIT
        assert [first, *results] == list(range(200))
    finally:
        results.close()


def test_a_failing_remote_job_raises_the_users_exception_while_collecting(
    cluster: MiniCluster,
) -> None:
    env = remote_env(cluster)

    def check(x: int) -> int:
        if x == 7:
            raise ValueError("seven is bad")
        return x

    with pytest.raises(ValueError, match="seven is bad"):
        list(env.from_collection(list(range(20))).map(check).execute_and_collect())


def test_closing_the_iterator_early_cancels_the_remote_job(cluster: MiniCluster) -> None:
    env = remote_env(cluster, parallelism=1)
    results = env.from_collection(list(range(100_000))).execute_and_collect("closed early")
    assert next(results) == 0
    results.close()
    client = RestClusterClient(cluster.rest_url)
    wait_until(lambda: [j.state for j in client.list_jobs()] == [JobStatus.CANCELED.value],
               what="the job to be cancelled")


def test_execute_and_collect_refuses_to_run_detached(cluster: MiniCluster) -> None:
    env = remote_env(cluster)
    env._cluster = RestClusterClient(cluster.rest_url, detached=True)
    with pytest.raises(RuntimeError, match=r"cannot run detached.*without -d"):
        env.from_collection([1, 2]).execute_and_collect()
    assert RestClusterClient(cluster.rest_url).list_jobs() == []


def test_a_sink_waiting_for_credit_ends_with_a_cancelled_job(cluster: MiniCluster) -> None:
    env = remote_env(cluster, parallelism=1)
    stream = env.from_source(TestingSource(list(range(200)), batch_size=1),
                             WatermarkStrategy.no_watermarks(), "one per batch")
    results = stream.execute_and_collect("cancelled while waiting")
    try:
        assert next(results) == 0
        wait_until(lambda: len(coordinator_of(cluster)) >= CREDIT - 1,
                   what="the sink to wait for credit")
        client = RestClusterClient(cluster.rest_url)
        [job] = client.list_jobs()
        from strom.common.job import JobID

        client.cancel(JobID(job.jid))
        wait_until(lambda: [j.state for j in client.list_jobs()] == ["CANCELED"],
                   what="the waiting sink to let its job be cancelled")
    finally:
        results.close()
