"""A standalone cluster of real processes: a JobManager and TaskManagers over loopback TCP.

Every process binds 127.0.0.1; the fixture ends each one by its pid, also when a test fails,
and prints their logs then.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from strom.common import Encoder, Types, WatermarkStrategy
from strom.common.job import JobStatus
from strom.datastream import RuntimeExecutionMode, StreamExecutionEnvironment
from strom.datastream.connectors.file_system import FileSink
from strom.jobmanager.jobmaster import TaskManagerLostError
from strom.minicluster import MiniCluster
from strom.rpc.gateways import TaskExecutorGateway
from strom.rpc.messages import ExecutionState
from strom.testing import Latch, TestingSource, wait_until
from strom.testing.process_cluster import ProcessCluster

pytestmark = pytest.mark.slow

#: fast failure detection for the tests (Flink's defaults are 10 s / 50 s)
FAST_HEARTBEATS = {"heartbeat.interval": "200 ms", "heartbeat.timeout": "2 s",
                   "cluster.registration.error-delay": "200 ms"}

TEXT = ["the quick brown fox", "jumps over the lazy dog", "the dog sleeps", "a fox runs"] * 25


def word_count(env: StreamExecutionEnvironment, output: Path) -> None:
    env.set_runtime_mode(RuntimeExecutionMode.BATCH)
    (env.from_collection(TEXT)
        .flat_map(lambda line: line.split())
        .map(lambda word: (word, 1), output_type=Types.TUPLE([Types.STRING(), Types.INT()]))
        .key_by(lambda pair: pair[0])
        .reduce(lambda a, b: (a[0], a[1] + b[1]))
        .sink_to(FileSink.for_row_format(str(output), Encoder.simple_string_encoder()).build()))


def read_lines(directory: Path) -> list[str]:
    return sorted(line for f in directory.rglob("*") if f.is_file()
                  for line in f.read_text().splitlines())


@pytest.mark.parametrize("task_managers, slots", [(1, 2), (2, 1)],
                         ids=["one-taskmanager", "two-taskmanagers"])
def test_a_job_on_a_process_cluster_gives_the_in_process_result(
        tmp_path: Path, task_managers: int, slots: int) -> None:
    with MiniClusterInstalled():
        env = StreamExecutionEnvironment.get_execution_environment()
        env.set_parallelism(2)
        word_count(env, tmp_path / "local")
        env.execute("word count in process")
    expected = read_lines(tmp_path / "local")
    assert "(the,75)" in expected

    # with two TaskManagers, the key_by exchange runs over TCP between their processes
    with ProcessCluster(task_managers=task_managers, slots=slots,
                        log_dir=tmp_path / "log") as cluster:
        env = StreamExecutionEnvironment.get_execution_environment()
        env.set_parallelism(2)
        word_count(env, tmp_path / "remote")
        result = env.execute("word count on processes")
        assert result.get_job_id() is not None
        assert all(tm.running() for tm in cluster.task_managers)
    assert read_lines(tmp_path / "remote") == expected


class MiniClusterInstalled:
    """The in-process run to compare with: the embedded local cluster."""

    def __enter__(self) -> None:
        self.cluster = MiniCluster(1, 2).start()
        from strom.datastream import stream_execution_environment as see

        see._context.cluster = self.cluster

    def __exit__(self, *exc: object) -> None:
        from strom.datastream import stream_execution_environment as see

        see._context.cluster = None
        self.cluster.stop()


def unbounded_job(env: StreamExecutionEnvironment) -> None:
    """Runs until cancelled: the latch is never triggered in the TaskManager's process."""
    latch = Latch()
    source = TestingSource([1, 2, TestingSource.AWAIT(latch), TestingSource.AWAIT(latch), 3, 4],
                           splits=2)  # each of the two splits waits
    (env.from_source(source, WatermarkStrategy.no_watermarks(), "endless")
        .map(lambda x: x * 2).name("doubler").print())


def running_tasks(cluster: ProcessCluster, index: int) -> list[str]:
    te: TaskExecutorGateway = cluster.rpc.connect(
        f"{cluster.task_managers[index].address}", TaskExecutorGateway)
    statuses = cluster.rpc.run_sync(te.request_task_status(), timeout=30)
    return [s.name for s in statuses if s.state is ExecutionState.RUNNING]


@pytest.mark.parametrize("config, detected_within_s", [
    # failed heartbeat RPCs, well before heartbeat.timeout (2 s) on a loaded machine
    (FAST_HEARTBEATS, 15.0),
    # Flink's defaults (10 s / 50 s): the dropped connections give it away long before
    ({}, 8.0),
], ids=["fast-heartbeats", "connection-drop"])
def test_a_killed_task_manager_fails_its_job_with_the_task_manager_named(
        tmp_path: Path, config: dict[str, str], detected_within_s: float) -> None:
    with ProcessCluster(task_managers=1, slots=2, config=config,
                        log_dir=tmp_path) as cluster:
        env = StreamExecutionEnvironment.get_execution_environment()
        env.set_parallelism(2)
        unbounded_job(env)
        client = env.execute_async("endless")
        wait_until(lambda: len(running_tasks(cluster, 0)) == 2, 60, "both tasks to run")
        killed = cluster.kill_task_manager(0)
        started = time.monotonic()
        result = client.get_job_result().result(timeout=60)
        detected_after_s = time.monotonic() - started

        assert result.status is JobStatus.FAILED
        assert result.error is not None
        error = result.error.rebuild()
        assert isinstance(error, TaskManagerLostError)
        message = str(error)
        assert killed.extra["resource_id"] in message
        assert "127.0.0.1" in message
        assert "Source: endless" in message and "(1/2)" in message and "(2/2)" in message
        assert detected_after_s < detected_within_s, cluster.logs()
        wait_until(lambda: cluster.registered_task_managers() == [], 30,
                   "the ResourceManager to forget the lost TaskManager")


@pytest.mark.parametrize("config, noticed_within_s", [
    (FAST_HEARTBEATS, 30.0),
    # heartbeat.timeout 50 s: only the dropped connections can tell it this soon (the
    # deadline allows two failed checks on a loaded machine, still half the timeout)
    ({"cluster.registration.error-delay": "200 ms"}, 25.0),
], ids=["fast-heartbeats", "connection-drop"])
def test_task_managers_free_their_slots_and_register_again_when_the_jobmanager_is_back(
        tmp_path: Path, config: dict[str, str], noticed_within_s: float) -> None:
    with ProcessCluster(task_managers=1, slots=2, config=config,
                        log_dir=tmp_path) as cluster:
        env = StreamExecutionEnvironment.get_execution_environment()
        env.set_parallelism(2)
        unbounded_job(env)
        env.execute_async("endless")
        wait_until(lambda: len(running_tasks(cluster, 0)) == 2, 60, "both tasks to run")
        task_manager = cluster.task_managers[0]
        assert cluster.jobmanager is not None
        cluster.jobmanager.kill()

        task_manager.wait_for_log("lost its ResourceManager", noticed_within_s)
        wait_until(lambda: running_tasks(cluster, 0) == [], 30,
                   "the TaskManager to cancel the tasks of the lost JobManager")

        cluster.start_jobmanager()  # same port
        cluster.wait_for_task_managers(1)
        [info] = cluster.registered_task_managers()
        assert str(info.resource_id) == task_manager.extra["resource_id"]
        assert info.free_slots == 2
        assert task_manager.running()  # the same process registered again
