"""The metric fetcher: every TaskExecutor at once within a timeout, at most once per update
interval, one fetch for concurrent callers, and only TaskManagers and jobs that exist."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from strom.common import WatermarkStrategy
from strom.common.configuration import Configuration
from strom.common.job import JobID, JobStatus
from strom.datastream import StreamExecutionEnvironment
from strom.jobmanager.cluster_info import TaskManagerDetails
from strom.jobmanager.metrics.fetcher import MetricFetcher
from strom.metrics.dump import MetricDump
from strom.metrics.registry import MetricRegistry, add_job_group
from strom.minicluster import MiniCluster
from strom.rpc.messages import JobOverview
from strom.testing import CollectSink, Latch, TestingSource
from strom.testing.sync import wait_until

JOB = JobID.generate()


def run_async(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run the coroutine test on a loop of its own (as the fetcher runs on the RPC loop)."""
    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> None:
        asyncio.run(test(*args, **kwargs))
    return run


class FakeTaskExecutor:
    """Answers ``request_metric_dump`` with what the test sets, or never (``hang``)."""

    def __init__(self, tm_id: str, subtask: int) -> None:
        self.tm_id = tm_id
        self.subtask = subtask
        self.records_in = 0
        self.hang = False
        self.calls = 0

    async def request_metric_dump(self) -> list[MetricDump]:
        self.calls += 1
        if self.hang:
            await asyncio.Event().wait()
        return [MetricDump("tm", "Status.Process.Threads.Count", "7", self.tm_id),
                MetricDump("task", "numRecordsIn", str(self.records_in), self.tm_id,
                           str(JOB), "vertex-1", self.subtask)]


class FakeCluster:
    """The Dispatcher's listing and an RPC service that connects to the fakes."""

    def __init__(self, *tm_ids: str) -> None:
        self.task_executors = {f"tcp://te-{tm_id}": FakeTaskExecutor(tm_id, i)
                               for i, tm_id in enumerate(tm_ids)}
        self.jobs = [JobOverview(JOB, "job", JobStatus.RUNNING)]
        self.ask_timeout_s = 10.0

    def connect(self, address: str, protocol: Any) -> FakeTaskExecutor:
        return self.task_executors[address]

    async def list_task_managers(self) -> list[TaskManagerDetails]:
        return [TaskManagerDetails(te.tm_id, address, 1, 1)
                for address, te in self.task_executors.items()]

    async def list_jobs(self) -> list[JobOverview]:
        return list(self.jobs)


def _fetcher(cluster: FakeCluster, now: list[float], registry: MetricRegistry | None = None,
             timeout_s: float = 10.0) -> MetricFetcher:
    configuration = Configuration.from_dict({"metrics.fetcher.update-interval": "10 s"})
    return MetricFetcher(cluster, cluster, registry, configuration,  # type: ignore[arg-type]
                         timeout_s=timeout_s, clock=lambda: now[0])


@run_async
async def test_fetches_every_taskmanager_and_the_jobmanager() -> None:
    cluster, now = FakeCluster("a", "b"), [0.0]
    registry = MetricRegistry()
    jm = registry.jobmanager_group("h")
    jm.gauge("numRunningJobs", lambda: 1)
    add_job_group(jm, str(JOB), "job").gauge("numRestarts", lambda: 2)
    # a TaskExecutor sharing the registry (a local cluster) answers for itself
    registry.taskmanager_group("h", "a").gauge("ignored", lambda: 1)
    cluster.task_executors["tcp://te-a"].records_in = 5
    fetcher = _fetcher(cluster, now, registry)

    await fetcher.update()

    store = fetcher.store
    assert store.jobmanager.metrics == {"numRunningJobs": "1"}
    assert store.jobs[str(JOB)].metrics == {"numRestarts": "2"}
    assert set(store.taskmanagers) == {"a", "b"}
    assert store.taskmanagers["a"].metrics == {"Status.Process.Threads.Count": "7"}
    task = store.task(str(JOB), "vertex-1")
    assert task is not None
    assert task.metrics == {"0.numRecordsIn": "5", "1.numRecordsIn": "0"}


@run_async
async def test_at_most_once_per_update_interval() -> None:
    cluster, now = FakeCluster("a"), [0.0]
    te = cluster.task_executors["tcp://te-a"]
    fetcher = _fetcher(cluster, now)
    await fetcher.update()
    te.records_in = 9
    now[0] = 9.9
    await fetcher.update()
    assert te.calls == 1
    assert fetcher.store.task(str(JOB), "vertex-1").metrics["0.numRecordsIn"] == "0"
    now[0] = 10.0
    await fetcher.update()
    assert te.calls == 2
    assert fetcher.store.task(str(JOB), "vertex-1").metrics["0.numRecordsIn"] == "9"


@run_async
async def test_concurrent_updates_share_one_fetch() -> None:
    cluster, now = FakeCluster("a", "b"), [0.0]
    fetcher = _fetcher(cluster, now)
    now[0] = 100.0
    await asyncio.gather(*(fetcher.update() for _ in range(5)))
    assert [te.calls for te in cluster.task_executors.values()] == [1, 1]


@run_async
async def test_a_taskmanager_that_does_not_answer_keeps_its_old_values(
        caplog: pytest.LogCaptureFixture) -> None:
    cluster, now = FakeCluster("a", "b"), [0.0]
    a, b = cluster.task_executors["tcp://te-a"], cluster.task_executors["tcp://te-b"]
    fetcher = _fetcher(cluster, now, timeout_s=0.2)
    await fetcher.update()

    a.hang, b.records_in = True, 4
    a.records_in = 99  # never delivered
    now[0] = 20.0
    with caplog.at_level("DEBUG", logger="strom.jobmanager.metrics.fetcher"):
        await fetcher.update()
    assert fetcher.store.taskmanagers["a"].metrics == {"Status.Process.Threads.Count": "7"}
    assert "metrics of TaskManager a at tcp://te-a could not be fetched" in caplog.text
    assert fetcher.store.task(str(JOB), "vertex-1").metrics == {"0.numRecordsIn": "0",
                                                                "1.numRecordsIn": "4"}


@run_async
async def test_forgets_taskmanagers_and_jobs_that_are_gone() -> None:
    cluster, now = FakeCluster("a", "b"), [0.0]
    fetcher = _fetcher(cluster, now)
    await fetcher.update()
    assert set(fetcher.store.taskmanagers) == {"a", "b"}

    del cluster.task_executors["tcp://te-b"]
    cluster.jobs = []
    now[0] = 20.0
    await fetcher.update()
    assert set(fetcher.store.taskmanagers) == {"a"}
    # the job's metrics came again from "a" in this fetch, but the job is gone
    assert fetcher.store.jobs == {}


@run_async
async def test_close_cancels_a_fetch_in_progress() -> None:
    cluster, now = FakeCluster("a"), [0.0]
    cluster.task_executors["tcp://te-a"].hang = True
    fetcher = _fetcher(cluster, now)
    waiting = asyncio.ensure_future(fetcher.update())
    await asyncio.sleep(0)
    await fetcher.close()
    with pytest.raises(asyncio.CancelledError):
        await waiting


def test_dumps_cross_the_codec_into_the_store_of_a_minicluster() -> None:
    """request_metric_dump over the TCP codec (as between processes), each TaskExecutor
    answering for its own metrics only although the process shares one registry."""
    with MiniCluster(num_task_managers=2, slots_per_task_manager=1, rpc="codec",
                     configuration=Configuration.from_dict(
                         {"metrics.fetcher.update-interval": "1 ms"})) as cluster:
        env = StreamExecutionEnvironment.get_execution_environment()
        env.set_parallelism(2)
        latch = Latch()
        # both splits wait for the latch: a task that finished has closed its metric group
        (env.from_source(TestingSource([1, 2, TestingSource.AWAIT(latch),
                                        TestingSource.AWAIT(latch), 3], splits=2),
                         WatermarkStrategy.no_watermarks(), "numbers")
            .map(lambda x: x).sink_to(CollectSink()))
        client = cluster.submit(env._job_graph("fetched"))
        job_id = str(client.get_job_id())
        try:
            wait_until(lambda: sum(len(te.tasks) for te in cluster.task_executors) == 2,
                       timeout_s=30, interval_s=0.05, what="both subtasks deployed")
            # metrics registered in the tasks' groups, as the task metrics will be
            for te in cluster.task_executors:
                for task in list(te.tasks.values()):
                    task.metric_group.counter("myRecords").inc(10 + task.tdd.subtask_index)
            fetcher, rpc = cluster.metric_fetcher, cluster.rpc
            assert fetcher is not None and rpc is not None
            rpc.run_sync(fetcher.update(), timeout=30)
            store = fetcher.store
            vertices = store.jobs[job_id].tasks
            [vertex] = [v for v in vertices.values() if "0.myRecords" in v.metrics]
            assert vertex.metrics["0.myRecords"] == "10"
            assert vertex.metrics["1.myRecords"] == "11"
            assert vertex.subtasks[1].metrics["myRecords"] == "11"
            assert set(store.taskmanagers) == {str(te.resource_id)
                                               for te in cluster.task_executors}
            for te in cluster.task_executors:
                tm = store.taskmanagers[str(te.resource_id)].metrics
                assert "Status.Process.Memory.RSS" in tm
            assert store.jobs[job_id].metrics["numRestarts"] == "0"
            assert store.jobmanager.metrics["numRegisteredTaskManagers"] == "2"

            # each TaskExecutor's dump holds its own metrics only
            te = cluster.task_executors[0]
            dumps = rpc.run_sync(te.request_metric_dump(), timeout=30)
            assert {d.tm_id for d in dumps} == {str(te.resource_id)}
        finally:
            latch.trigger()
        client.get_job_execution_result().result()
