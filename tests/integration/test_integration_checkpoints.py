"""Checkpoints in a running job (MiniCluster, thread mode): periodic and manual triggers,
_metadata in Flink's layout, num-retained, notifications reaching the operators, aborts
on decline and timeout, and the tolerable-failure threshold failing the job."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest

from strom.common import Configuration
from strom.common.job import JobClient
from strom.datastream import CheckpointingMode, StreamExecutionEnvironment
from strom.jobmanager.checkpoint import (
    CheckpointAbortedError,
    CheckpointCoordinator,
    CompletedCheckpoint,
)
from strom.minicluster import MiniCluster
from strom.state.checkpoint_storage import read_metadata, read_state
from strom.testing import CollectSink, Latch, MiniClusterFixture, TestingSource
from strom.testing.sync import wait_until

DEADLINE_S = 30.0


def _coordinator(cluster: MiniCluster, client: JobClient) -> CheckpointCoordinator:
    assert cluster.dispatcher is not None
    found: list[CheckpointCoordinator] = []

    def running() -> bool:
        master = cluster.dispatcher.job_masters.get(client.get_job_id())  # type: ignore[union-attr]
        if master is not None and master.checkpoints is not None:
            found.append(master.checkpoints)
            return True
        return False

    wait_until(running, DEADLINE_S)
    return found[0]


def _trigger(cluster: MiniCluster, coordinator: CheckpointCoordinator) -> CompletedCheckpoint:
    """A manual checkpoint, tried again while the tasks are still starting."""
    assert cluster.rpc is not None
    loop = cluster.rpc.loop
    done: list[CompletedCheckpoint] = []

    async def trigger() -> CompletedCheckpoint:
        return await coordinator.trigger_checkpoint()

    def attempt() -> bool:
        try:
            done.append(asyncio.run_coroutine_threadsafe(trigger(), loop).result(DEADLINE_S))
        except CheckpointAbortedError:  # not all tasks running yet
            return False
        return True

    wait_until(attempt, DEADLINE_S)
    return done[0]


def _keyed_job(env: StreamExecutionEnvironment, latch: Latch, sink: CollectSink) -> None:
    elements = [*range(100), TestingSource.AWAIT(latch), *range(100, 200)]
    (env.from_source(TestingSource(elements, splits=2), _no_watermarks(), "numbers")
        .key_by(lambda x: x % 5).reduce(lambda a, b: a + b).sink_to(sink))


def _no_watermarks() -> Any:
    from strom.common import WatermarkStrategy
    return WatermarkStrategy.no_watermarks()


@pytest.mark.parametrize("parallelism", [1, 2])
def test_periodic_checkpoints_write_metadata_and_keep_num_retained(
        tmp_path: Path, parallelism: int) -> None:
    checkpoints = tmp_path / "checkpoints"
    latch, sink = Latch(), CollectSink()
    with MiniClusterFixture(parallelism=parallelism) as cluster:
        env = StreamExecutionEnvironment.get_execution_environment(Configuration.from_dict({
            "execution.checkpointing.num-retained": "2",
            "execution.checkpointing.externalized-checkpoint-retention":
                "RETAIN_ON_CANCELLATION"}))
        env.enable_checkpointing(50, CheckpointingMode.EXACTLY_ONCE)
        env.get_checkpoint_config().set_checkpoint_storage_dir(str(checkpoints))
        _keyed_job(env, latch, sink)
        client = env.execute_async("checkpointed")
        coordinator = _coordinator(cluster, client)
        wait_until(lambda: (coordinator.latest_completed() or _none()).checkpoint_id >= 4,
                   DEADLINE_S)
        job_dir = checkpoints / str(client.get_job_id())
        latest = coordinator.latest_completed()
        assert latest is not None
        chk = job_dir / f"chk-{latest.checkpoint_id}"
        assert (chk / "_metadata").is_file()
        assert latest.external_pointer == f"file://{chk}"
        metadata = read_metadata(str(chk))
        assert metadata.checkpoint_id == latest.checkpoint_id
        assert metadata.job_id == str(client.get_job_id())
        # every operator of the job has an entry; the reduce has keyed state per subtask
        reduce_entries = [op for op in metadata.operators if op.name.startswith("Reduce")
                          or "reduce" in op.name.lower()]
        assert reduce_entries, [op.name for op in metadata.operators]
        subtasks = reduce_entries[0].subtasks
        assert sorted(subtasks) == list(range(parallelism))
        keyed = [read_state(e.keyed) for e in subtasks.values() if e.keyed is not None]
        assert keyed  # the 100 elements before the latch are in some subtask's state
        # num-retained 2: older chk directories are removed (give the discard a moment)
        wait_until(lambda: len([d for d in os.listdir(job_dir) if d.startswith("chk-")
                                and (job_dir / d / "_metadata").exists()]) <= 2, DEADLINE_S)
        latch.trigger()
        client.get_job_execution_result().result(DEADLINE_S)
    assert sorted(sink.results)[-5:] == sorted(
        sum(x for x in range(200) if x % 5 == k) for k in range(5))


def _none() -> Any:
    class _Zero:
        checkpoint_id = 0
    return _Zero()


def test_checkpoints_of_a_finished_job_are_discarded_without_retention(tmp_path: Path) -> None:
    latch, sink = Latch(), CollectSink()
    with MiniClusterFixture(parallelism=2) as cluster:
        env = StreamExecutionEnvironment.get_execution_environment()
        env.enable_checkpointing(10_000)  # only manual ones in this test
        env.get_checkpoint_config().set_checkpoint_storage_dir(f"file://{tmp_path}")
        _keyed_job(env, latch, sink)
        client = env.execute_async("manual")
        coordinator = _coordinator(cluster, client)
        first = _trigger(cluster, coordinator)
        second = _trigger(cluster, coordinator)
        assert second.checkpoint_id > first.checkpoint_id
        job_dir = tmp_path / str(client.get_job_id())
        wait_until(lambda: not (job_dir / f"chk-{first.checkpoint_id}").exists(), DEADLINE_S)
        assert (job_dir / f"chk-{second.checkpoint_id}" / "_metadata").is_file()
        latch.trigger()
        client.get_job_execution_result().result(DEADLINE_S)
        wait_until(lambda: not job_dir.exists(), DEADLINE_S)


def test_job_manager_storage_keeps_checkpoints_in_memory() -> None:
    latch, sink = Latch(), CollectSink()
    with MiniClusterFixture(parallelism=1) as cluster:
        env = StreamExecutionEnvironment.get_execution_environment()
        env.enable_checkpointing(10_000)
        _keyed_job(env, latch, sink)
        client = env.execute_async("in memory")
        coordinator = _coordinator(cluster, client)
        completed = _trigger(cluster, coordinator)
        assert completed.external_pointer.startswith("<jobmanager>")
        assert completed.metadata.operators
        latch.trigger()
        client.get_job_execution_result().result(DEADLINE_S)
