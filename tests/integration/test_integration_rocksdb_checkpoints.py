"""Incremental checkpoints of the rocksdb backend in running jobs: the keyed state goes to
the job's ``shared/`` directory as SST files, a later checkpoint re-uses them, the
coordinator keeps exactly the files its retained checkpoints need, savepoints stay
canonical, and a new job restored from the checkpoint (on rocksdb, or on hashmap after a
switch of backends) goes on as an uninterrupted run."""

from __future__ import annotations

import asyncio
import pickle
from pathlib import Path
from typing import Any

import pytest

from strom.common import WatermarkStrategy
from strom.common.configuration import Configuration
from strom.common.job import JobStatus
from strom.datastream import ExternalizedCheckpointRetention, StreamExecutionEnvironment
from strom.datastream.functions import MapFunction, RuntimeContext
from strom.jobmanager.checkpoint import CheckpointAbortedError, CompletedCheckpoint
from strom.jobmanager.jobmaster import JobMaster
from strom.minicluster import MiniCluster
from strom.network.elements import CheckpointType
from strom.rpc.messages import SerializedValue, TaskDeploymentDescriptor
from strom.state import savepoint
from strom.state.assignment import assign_state
from strom.state.checkpoint_storage import read_state
from strom.state.rocksdb_incremental import IncrementalKeyedSnapshot
from strom.state.snapshots import KeyedStateSnapshot
from strom.testing import CollectSink, Latch, MiniClusterFixture, TestingSource, wait_until

DEADLINE_S = 30.0
KEYS = 5
P = 2


def _env(local_dir: Path, backend: str = "rocksdb") -> StreamExecutionEnvironment:
    config = Configuration()
    config.set_string("state.backend.type", backend)
    config.set_string("state.backend.rocksdb.localdir", str(local_dir))
    config.set_string("execution.checkpointing.incremental", "true")
    config.set_string("execution.checkpointing.num-retained", "1")
    return StreamExecutionEnvironment.get_execution_environment(config)


def _job(env: StreamExecutionEnvironment, elements: list[Any], sink: CollectSink) -> None:
    (env.from_source(TestingSource(elements, splits=P), WatermarkStrategy.no_watermarks(),
                     "numbers").uid("numbers")
        .map(lambda x: (x % KEYS, x)).uid("pairs")
        .key_by(lambda pair: pair[0]).reduce(lambda a, b: (a[0], a[1] + b[1])).uid("sums")
        .sink_to(sink))


def _final_sums(results: list[tuple[int, int]]) -> dict[int, int]:
    by_key: dict[int, int] = {}
    for key, total in results:
        by_key[key] = max(by_key.get(key, total), total)
    return by_key


def _keyed_states(checkpoint: CompletedCheckpoint) -> list[Any]:
    sums = checkpoint.metadata.operator("sums")
    assert sums is not None
    return [pickle.loads(read_state(entry.keyed)) for entry in sums.subtasks.values()
            if entry.keyed is not None]


@pytest.mark.parametrize("restore_into", ["rocksdb", "hashmap"])
def test_incremental_checkpoints_share_files_and_restore(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, restore_into: str) -> None:
    first, second = list(range(250)), list(range(250, 500))
    whole = CollectSink()
    with MiniClusterFixture(parallelism=P):
        env = _env(tmp_path / "db")
        _job(env, first + second, whole)
        env.execute("uninterrupted")

    latch, sink = Latch(), CollectSink()
    checkpoints = tmp_path / "checkpoints"
    completed: list[CompletedCheckpoint] = []
    with MiniClusterFixture(parallelism=P) as cluster:
        env = _env(tmp_path / "db")
        env.enable_checkpointing(60_000)
        config = env.get_checkpoint_config()
        config.set_checkpoint_storage_dir(str(checkpoints))
        config.set_externalized_checkpoint_retention(
            ExternalizedCheckpointRetention.RETAIN_ON_CANCELLATION)
        _job(env, [*first, *[TestingSource.AWAIT(latch)] * P], sink)
        client = env.execute_async("first half")
        wait_until(lambda: len(sink.results) == len(first), DEADLINE_S)
        assert cluster.dispatcher is not None and cluster.rpc is not None
        coordinator = cluster.dispatcher.job_masters[client.get_job_id()].checkpoint_coordinator
        assert coordinator is not None
        shared_dir = checkpoints / str(client.get_job_id()) / "shared"

        def take(kind: CheckpointType = CheckpointType.CHECKPOINT) -> bool:
            async def trigger() -> CompletedCheckpoint:
                return await coordinator.trigger_checkpoint(kind, str(tmp_path / "sp"))
            try:
                completed.append(asyncio.run_coroutine_threadsafe(
                    trigger(), cluster.rpc.loop).result(DEADLINE_S))  # type: ignore[union-attr]
            except CheckpointAbortedError:
                return False
            return True

        wait_until(take, DEADLINE_S)
        one = _keyed_states(completed[-1])
        assert len(one) == P and all(isinstance(s, IncrementalKeyedSnapshot) for s in one)
        assert all(s.uploaded for s in one)
        files = set().union(*(s.shared_urls() for s in one))
        assert {p.name for p in shared_dir.iterdir()} == {u.rsplit("/", 1)[1] for u in files}

        wait_until(take, DEADLINE_S)  # nothing changed: it uploads nothing new
        two = _keyed_states(completed[-1])
        assert all(s.uploaded == () for s in two)
        assert set().union(*(s.shared_urls() for s in two)) == files
        # checkpoint one was dropped (num-retained 1); its files are still referenced
        assert coordinator.shared_state.checkpoints() == [completed[-1].checkpoint_id]
        assert {p.name for p in shared_dir.iterdir()} == {u.rsplit("/", 1)[1] for u in files}

        assert completed[-1].metadata.format == "native"
        # readable from Python like a savepoint (the reader converts the native snapshot)
        sums = dict(savepoint.read(completed[-1].external_pointer).keyed_state(
            "sums", "_strom_reduce"))
        assert {k: v[1] for k, v in sums.items()} == _final_sums(sink.results)

        wait_until(lambda: take(CheckpointType.SAVEPOINT), DEADLINE_S)
        assert all(isinstance(s, KeyedStateSnapshot) for s in _keyed_states(completed[-1]))
        assert completed[-1].metadata.format == "canonical"

        client.cancel().result(DEADLINE_S)
        latch.trigger()
        try:
            client.get_job_execution_result().result(DEADLINE_S)
        except Exception:
            pass  # cancelled
    assert list((tmp_path / "db").iterdir()) == []  # every backend removed its DB

    metadata = completed[1].metadata  # the second incremental checkpoint (retained)
    original = JobMaster._deployment_descriptor

    def restoring(self: JobMaster, execution: Any) -> TaskDeploymentDescriptor:
        tdd = original(self, execution)
        operators = [(v.id, v.parallelism, v.max_parallelism,
                      [op.state_id for op in v.operators]) for v in self.job_graph.vertices]
        states = assign_state(metadata, operators, False)[(execution.vertex.id,
                                                           execution.subtask)]
        tdd.restored = SerializedValue(states)
        return tdd

    monkeypatch.setattr(JobMaster, "_deployment_descriptor", restoring)
    rest = CollectSink()
    with MiniClusterFixture(parallelism=P):
        env = _env(tmp_path / "db", restore_into)  # hashmap: the job switched backends
        _job(env, second, rest)
        env.execute("second half")
    assert _final_sums(rest.results) == _final_sums(whole.results)
    assert len(rest.results) == len(second)


class FailAfterTheCheckpointOnFirstAttempt(MapFunction):
    """Fails attempt 0 at the first running sum above 6 (the records after the latch)."""

    def open(self, runtime_context: RuntimeContext) -> None:
        self.attempt = runtime_context.get_attempt_number()

    def map(self, value: Any) -> Any:
        if self.attempt == 0 and value[1] > 6:
            raise ValueError("the record after the checkpoint fails attempt 0")
        return (*value, self.attempt)


def test_a_restart_restores_rocksdb_state_from_an_incremental_checkpoint(
        tmp_path: Path) -> None:
    latch, sink = Latch(), CollectSink()
    settings = {"state.backend.type": "rocksdb",
                "state.backend.rocksdb.localdir": str(tmp_path / "db"),
                "execution.checkpointing.incremental": "true",
                "restart-strategy.type": "fixed-delay",
                "restart-strategy.fixed-delay.delay": "10 ms"}
    with MiniCluster(num_task_managers=1, slots_per_task_manager=1) as cluster:
        env = StreamExecutionEnvironment.get_execution_environment(
            Configuration.from_dict(settings))
        env.set_parallelism(1)
        env._cluster = cluster
        env.enable_checkpointing(20)
        env.get_checkpoint_config().set_checkpoint_storage_dir(str(tmp_path / "checkpoints"))
        (env.from_source(TestingSource([1, 2, 3, TestingSource.AWAIT(latch), 4, 5]),
                         WatermarkStrategy.no_watermarks(), "numbers").uid("numbers")
         .key_by(lambda x: 0).reduce(lambda a, b: a + b).uid("sums")
         .map(lambda total: (0, total)).map(FailAfterTheCheckpointOnFirstAttempt())
         .sink_to(sink))
        client = env.execute_async("restores rocksdb")
        assert cluster.dispatcher is not None
        checkpoints = cluster.dispatcher.job_masters[client.get_job_id()].checkpoint_coordinator
        assert checkpoints is not None
        wait_until(lambda: len(sink.results) == 3 and checkpoints.latest_completed() is not None
                   and checkpoints.latest_completed().metadata.format == "native", DEADLINE_S,
                   "an incremental checkpoint while the source waits")
        latch.trigger()
        result = client.get_job_result().result(timeout=60)
        assert result.status is JobStatus.FINISHED, result.error
    # attempt 1 went on from the checkpointed sum 6: 10 and 15, as an uninterrupted run
    assert [r for r in sink.results if r[2] == 1][-2:] == [(0, 10, 1), (0, 15, 1)]
    assert list((tmp_path / "db").iterdir()) == []
