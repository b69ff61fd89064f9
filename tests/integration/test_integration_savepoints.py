"""Savepoints end to end in thread mode: a keyed job at parallelism 2 takes a savepoint, is
stopped with another, and resumes from it at parallelism 1 and 4; what the stopped run and
a resumed run emitted together is exactly what an uninterrupted run emits."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from strom.common import WatermarkStrategy
from strom.common.job import JobStatus
from strom.datastream import StreamExecutionEnvironment
from strom.minicluster import MiniCluster
from strom.state import savepoint as savepoint_reader
from strom.testing import CollectSink, Latch, TestingSource
from strom.testing.sync import wait_until

N = 600
#: even: a key's numbers all come from one of the two splits (the even or the odd ones), in
#: order, so its running sums are the same in every run
KEYS = 6


def elements(latch: Latch) -> list[Any]:
    """The first half, a pause until ``latch`` in each of the two splits, the second half."""
    half = N // 2
    return [*range(half), TestingSource.AWAIT(latch), TestingSource.AWAIT(latch),
            *range(half, N)]


def keyed_job(latch: Latch, parallelism: int, sink: CollectSink,
              restore_from: str | None = None, backend: str = "hashmap") -> Any:
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(parallelism)
    env._configuration.set_string("state.backend.type", backend)
    if restore_from is not None:
        env._configuration.set_string("execution.state-recovery.path", restore_from)
    (env.from_source(TestingSource(elements(latch), splits=2, batch_size=16),
                     WatermarkStrategy.no_watermarks(), "numbers").uid("numbers")
        .map(lambda x: (x % KEYS, x)).uid("pairs")
        .key_by(lambda pair: pair[0])
        .reduce(lambda a, b: (a[0], a[1] + b[1])).uid("sums")
        .sink_to(sink).uid("sink"))
    return env._job_graph(f"sums at p={parallelism}")


def reference() -> Counter[Any]:
    """What an uninterrupted run emits: each key's running sums."""
    sums: dict[int, int] = {}
    out: Counter[Any] = Counter()
    for x in range(N):
        key = x % KEYS
        sums[key] = sums.get(key, 0) + x
        out[(key, sums[key])] += 1
    return out


def wait_running(cluster: MiniCluster, job: Any) -> None:
    """Until every task of the job runs or has finished (a savepoint needs them so)."""
    assert cluster.dispatcher is not None

    def all_running() -> bool:
        job_master = cluster.dispatcher.job_masters.get(job.get_job_id())  # type: ignore[union-attr]
        return job_master is not None and all(
            e.state in ("RUNNING", "FINISHED") for e in job_master.graph.all())

    wait_until(all_running, what="every task of the job to run")


@pytest.fixture
def cluster() -> Any:
    with MiniCluster(num_task_managers=1, slots_per_task_manager=4) as c:
        yield c
        # a job's status turns terminal before its slots are released (as in Flink)
        wait_until(lambda: c.leftovers() == [], what="the cluster to be idle")


def test_stop_with_savepoint_and_resume_at_another_parallelism(cluster: MiniCluster,
                                                                tmp_path: Path) -> None:
    latch = Latch()
    first = CollectSink()
    job = cluster.submit(keyed_job(latch, 2, first))
    wait_until(lambda: len(first.results) == N // 2, what="the first half to be processed")

    savepoint = job.trigger_savepoint(str(tmp_path)).result(timeout=60)
    assert savepoint.startswith(f"file:{tmp_path}/savepoint-{str(job.get_job_id())[:6]}-")
    assert (Path(savepoint.removeprefix("file:")) / "_metadata").is_file()
    assert job.get_job_status().result(timeout=10) is JobStatus.RUNNING

    stopped = job.stop_with_savepoint(False, str(tmp_path)).result(timeout=60)
    assert stopped != savepoint
    assert job.get_job_status().result(timeout=10) is JobStatus.FINISHED
    assert len(first.results) == N // 2
    # the savepoint holds each key's sum of the first half, as a user can read it
    reader = savepoint_reader.read(stopped)
    assert [op.state_id for op in reader.operators()] == ["numbers", "pairs", "sums", "sink"]
    [sums] = [op for op in reader.operators() if op.state_id == "sums"]
    assert dict(reader.keyed_state("sums", sums.state_names[0])) == {
        key: (key, sum(range(key, N // 2, KEYS))) for key in range(KEYS)}

    latch.trigger()  # the resumed jobs read on past the pause
    for parallelism in (1, 4):
        resumed = CollectSink()
        cluster.submit(keyed_job(latch, parallelism, resumed, restore_from=stopped)) \
            .get_job_execution_result().result(timeout=60)
        assert Counter(first.results) + Counter(resumed.results) == reference(), parallelism

    # the savepoint taken while the job ran holds the same state
    resumed = CollectSink()
    cluster.submit(keyed_job(latch, 3, resumed, restore_from=savepoint)) \
        .get_job_execution_result().result(timeout=60)
    assert Counter(first.results) + Counter(resumed.results) == reference()


def window_job(latch: Latch, sink: CollectSink, seen: CollectSink) -> Any:
    """Per key, counts in event-time windows of 100 ms; all records fall into [0, 100).
    ``seen`` gets the records as they are read."""
    from strom.common import Time
    from strom.datastream.window import TumblingEventTimeWindows

    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(2)
    strategy = WatermarkStrategy.for_monotonous_timestamps()
    records = [((k, 1), t) for t in range(0, 50) for k in ("a", "b")]
    events = env.from_source(
        TestingSource([*records, TestingSource.AWAIT(latch)], timestamped=True), strategy,
        "events")
    events.sink_to(seen)
    (events
        .key_by(lambda pair: pair[0])
        .window(TumblingEventTimeWindows.of(Time.milliseconds(100)))
        .reduce(lambda a, b: (a[0], a[1] + b[1]))
        .sink_to(sink))
    return env._job_graph("windows")


@pytest.mark.parametrize("drain", [True, False])
def test_stop_fires_event_time_windows_only_with_drain(cluster: MiniCluster, tmp_path: Path,
                                                       drain: bool) -> None:
    latch = Latch()
    sink, seen = CollectSink(), CollectSink()
    job = cluster.submit(window_job(latch, sink, seen))
    wait_running(cluster, job)
    wait_until(lambda: len(seen.results) == 100, what="every record to be read")
    path = job.stop_with_savepoint(drain, str(tmp_path)).result(timeout=60)
    assert (Path(path.removeprefix("file:")) / "_metadata").is_file()
    assert job.get_job_status().result(timeout=10) is JobStatus.FINISHED
    # without --drain the open window stays in the savepoint, to fire in the resumed job
    assert sorted(sink.results) == ([("a", 50), ("b", 50)] if drain else [])
    latch.trigger()


def test_a_failed_stop_with_savepoint_leaves_the_job_running(cluster: MiniCluster,
                                                            tmp_path: Path) -> None:
    latch = Latch()
    sink, seen = CollectSink(), CollectSink()
    job = cluster.submit(window_job(latch, sink, seen))
    wait_running(cluster, job)
    wait_until(lambda: len(seen.results) == 100, what="every record to be read")
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("a file where the savepoint directory would go")
    with pytest.raises(Exception, match=r"was aborted: .*NotADirectoryError"):
        job.stop_with_savepoint(False, str(blocked)).result(timeout=60)
    assert job.get_job_status().result(timeout=10) is JobStatus.RUNNING
    latch.trigger()  # the job reads on to its end: the sources were not stopped
    job.get_job_execution_result().result(timeout=60)
    assert sorted(sink.results) == [("a", 50), ("b", 50)]


def test_a_savepoint_of_a_job_without_state_for_an_operator_needs_allow_non_restored(
        cluster: MiniCluster, tmp_path: Path) -> None:
    latch = Latch()
    first = CollectSink()
    job = cluster.submit(keyed_job(latch, 2, first))
    wait_until(lambda: len(first.results) == N // 2, what="the first half to be processed")
    stopped = job.stop_with_savepoint(False, str(tmp_path)).result(timeout=60)
    latch.trigger()

    def without_sums(allow: bool) -> Any:
        env = StreamExecutionEnvironment.get_execution_environment()
        env.set_parallelism(2)
        env._configuration.set_string("execution.state-recovery.path", stopped)
        if allow:
            env._configuration.set_string(
                "execution.state-recovery.ignore-unclaimed-state", "true")
        (env.from_source(TestingSource(elements(latch), splits=2),
                         WatermarkStrategy.no_watermarks(), "numbers").uid("numbers")
            .sink_to(CollectSink()).uid("sink"))
        return env._job_graph("without the sums")

    with pytest.raises(Exception, match=r"allowNonRestoredState|ignore-unclaimed-state"):
        cluster.submit(without_sums(False)).get_job_execution_result().result(timeout=60)
    cluster.submit(without_sums(True)).get_job_execution_result().result(timeout=60)


def test_stop_with_savepoint_from_execute_async(tmp_path: Path) -> None:
    """The JobClient of ``execute_async()`` on the embedded cluster, as a program uses it."""
    latch = Latch()
    sink = CollectSink()
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(1)
    env.get_checkpoint_config().set_checkpoint_storage_dir(str(tmp_path / "checkpoints"))
    env._configuration.set_string("execution.checkpointing.savepoint-dir",
                                  str(tmp_path / "savepoints"))
    env.from_source(TestingSource([1, 2, TestingSource.AWAIT(latch)]),
                    WatermarkStrategy.no_watermarks(), "numbers").sink_to(sink)
    client = env.execute_async("local stop")
    wait_until(lambda: len(sink.results) == 2, what="the records before the pause")
    path = client.stop_with_savepoint(False).result(timeout=60)
    assert path.startswith(f"file:{tmp_path}/savepoints/savepoint-")
    client.get_job_execution_result().result(timeout=60)
    assert client.get_job_status().result(timeout=10) is JobStatus.FINISHED
    latch.trigger()


def test_a_restart_before_the_first_checkpoint_starts_from_the_savepoint_again(
        cluster: MiniCluster, tmp_path: Path) -> None:
    latch = Latch()
    first = CollectSink()
    job = cluster.submit(keyed_job(latch, 2, first))
    wait_until(lambda: len(first.results) == N // 2, what="the first half to be processed")
    stopped = job.stop_with_savepoint(False, str(tmp_path)).result(timeout=60)
    latch.trigger()

    failed_once = Latch()

    def fail_once(pair: tuple[int, int]) -> tuple[int, int]:
        # once a key is three quarters through: the first attempt fails
        if pair[1] > sum(range(pair[0], 3 * N // 4, KEYS)) and not failed_once.is_triggered():
            failed_once.trigger()
            raise RuntimeError("the first attempt fails")
        return pair

    resumed = CollectSink()
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(2)
    for key, value in {"execution.state-recovery.path": stopped,
                       "restart-strategy.type": "fixed-delay",
                       "restart-strategy.fixed-delay.attempts": "1",
                       "restart-strategy.fixed-delay.delay": "10 ms"}.items():
        env._configuration.set_string(key, value)
    (env.from_source(TestingSource(elements(latch), splits=2, batch_size=16),
                     WatermarkStrategy.no_watermarks(), "numbers").uid("numbers")
        .map(lambda x: (x % KEYS, x)).uid("pairs")
        .key_by(lambda pair: pair[0])
        .reduce(lambda a, b: (a[0], a[1] + b[1])).uid("sums")
        .map(fail_once)
        .sink_to(resumed).uid("sink"))
    cluster.submit(env._job_graph("restarts")).get_job_execution_result().result(timeout=60)
    assert failed_once.is_triggered()
    # both attempts went on from the savepoint's sums, never from scratch
    for key, total in resumed.results:
        assert total > sum(range(key, N // 2, KEYS)), (key, total)
    assert {key: max(t for k, t in resumed.results if k == key) for key in range(KEYS)} == {
        key: sum(range(key, N, KEYS)) for key in range(KEYS)}


@pytest.mark.parametrize(("before", "after"), [("hashmap", "rocksdb"), ("rocksdb", "hashmap")])
def test_a_savepoint_moves_between_state_backends(cluster: MiniCluster, tmp_path: Path,
                                                  before: str, after: str) -> None:
    latch = Latch()
    first = CollectSink()
    job = cluster.submit(keyed_job(latch, 2, first, backend=before))
    wait_until(lambda: len(first.results) == N // 2, what="the first half to be processed")
    stopped = job.stop_with_savepoint(False, str(tmp_path)).result(timeout=60)
    latch.trigger()
    resumed = CollectSink()
    cluster.submit(keyed_job(latch, 3, resumed, restore_from=stopped, backend=after)) \
        .get_job_execution_result().result(timeout=60)
    assert Counter(first.results) + Counter(resumed.results) == reference()
