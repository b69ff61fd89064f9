"""A new job starts from a checkpoint of an earlier one (thread mode): the tasks read the
state handles, set each operator's ``ctx.restored`` and restore the keyed backends, so the
keyed results go on exactly as in an uninterrupted run.

The JobMaster's own restore paths (restarts, ``strom run -s``) are wired elsewhere; this test
hands the assignment to the new job's deployments through a patched JobMaster."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from strom.common import WatermarkStrategy
from strom.datastream import StreamExecutionEnvironment
from strom.jobmanager.checkpoint import CheckpointAbortedError, CompletedCheckpoint
from strom.jobmanager.jobmaster import JobMaster
from strom.rpc.messages import SerializedValue, TaskDeploymentDescriptor
from strom.state.assignment import assign_state
from strom.state.checkpoint_storage import read_metadata
from strom.testing import CollectSink, Latch, MiniClusterFixture, TestingSource, wait_until

DEADLINE_S = 30.0
KEYS = 5


def _job(env: StreamExecutionEnvironment, elements: list[Any], sink: CollectSink,
         splits: int = 2) -> None:
    """A keyed running sum; a reader reads its splits one after the other, so a source with
    an AWAIT marker has one split per subtask."""
    (env.from_source(TestingSource(elements, splits=splits), WatermarkStrategy.no_watermarks(),
                     "numbers").uid("numbers")
        .map(lambda x: (x % KEYS, x)).uid("pairs")
        .key_by(lambda pair: pair[0]).reduce(lambda a, b: (a[0], a[1] + b[1])).uid("sums")
        .sink_to(sink))


def _final_sums(results: list[tuple[int, int]]) -> dict[int, int]:
    """The last (largest) running sum per key."""
    by_key: dict[int, int] = {}
    for key, total in results:
        by_key[key] = max(by_key.get(key, total), total)
    return by_key


@pytest.mark.parametrize("parallelism", [1, 2])
def test_a_new_job_restores_keyed_state_from_a_checkpoint(
        tmp_path: Path, parallelism: int, monkeypatch: pytest.MonkeyPatch) -> None:
    # every key in both halves: the second run's sums start from the first's
    first, second = list(range(250)), list(range(250, 500))
    # the uninterrupted run
    whole = CollectSink()
    with MiniClusterFixture(parallelism=parallelism):
        env = StreamExecutionEnvironment.get_execution_environment()
        _job(env, first + second, whole)
        env.execute("uninterrupted")

    # the first half, checkpointed, then cancelled
    latch, sink = Latch(), CollectSink()
    with MiniClusterFixture(parallelism=parallelism) as cluster:
        env = StreamExecutionEnvironment.get_execution_environment()
        env.enable_checkpointing(60_000)
        env.get_checkpoint_config().set_checkpoint_storage_dir(str(tmp_path))
        # each split ends waiting (with more splits than subtasks a reader would wait in its
        # first split and never read the next)
        _job(env, [*first, *[TestingSource.AWAIT(latch)] * parallelism], sink, parallelism)
        client = env.execute_async("first half")
        wait_until(lambda: len(sink.results) == len(first), DEADLINE_S)
        assert cluster.dispatcher is not None and cluster.rpc is not None
        master = cluster.dispatcher.job_masters[client.get_job_id()]
        coordinator = master.checkpoint_coordinator
        assert coordinator is not None
        completed: list[CompletedCheckpoint] = []

        def checkpointed() -> bool:
            async def trigger() -> CompletedCheckpoint:
                return await coordinator.trigger_checkpoint()
            try:
                completed.append(asyncio.run_coroutine_threadsafe(
                    trigger(), cluster.rpc.loop).result(DEADLINE_S))  # type: ignore[union-attr]
            except CheckpointAbortedError:
                return False
            return True

        wait_until(checkpointed, DEADLINE_S)
        client.cancel().result(DEADLINE_S)
        latch.trigger()
        try:
            client.get_job_execution_result().result(DEADLINE_S)
        except Exception:
            pass  # cancelled
    # NO_EXTERNALIZED_CHECKPOINTS deletes it on cancel: read the metadata we kept in memory
    metadata = completed[0].metadata
    assert {"numbers", "pairs", "sums"} <= {op.state_id for op in metadata.operators}

    # a new job from that checkpoint, reading the rest
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
    with MiniClusterFixture(parallelism=parallelism):
        env = StreamExecutionEnvironment.get_execution_environment()
        _job(env, second, rest)
        env.execute("second half")
    assert _final_sums(rest.results) == _final_sums(whole.results)
    assert len(rest.results) == len(second)


def test_the_checkpoint_directory_is_readable_after_a_retained_cancel(tmp_path: Path) -> None:
    latch, sink = Latch(), CollectSink()
    with MiniClusterFixture(parallelism=2) as cluster:
        env = StreamExecutionEnvironment.get_execution_environment()
        env.enable_checkpointing(20)
        config = env.get_checkpoint_config()
        config.set_checkpoint_storage_dir(str(tmp_path))
        from strom.datastream import ExternalizedCheckpointRetention
        config.set_externalized_checkpoint_retention(
            ExternalizedCheckpointRetention.RETAIN_ON_CANCELLATION)
        _job(env, [*range(100), TestingSource.AWAIT(latch), TestingSource.AWAIT(latch)], sink)
        client = env.execute_async("retained")
        job_dir = tmp_path / str(client.get_job_id())
        assert cluster.dispatcher is not None
        job_master = cluster.dispatcher.job_masters[client.get_job_id()]

        def completed() -> bool:
            # a _metadata file alone is not a completed checkpoint: a cancel may still abort
            # it while it is added to the completed checkpoint store
            coordinator = job_master.checkpoint_coordinator
            return coordinator is not None and coordinator.latest_completed() is not None

        wait_until(lambda: len(sink.results) == 100 and completed(), DEADLINE_S)
        client.cancel().result(DEADLINE_S)
        latch.trigger()
        try:
            client.get_job_execution_result().result(DEADLINE_S)
        except Exception:
            pass
    (chk,) = [p.parent for p in job_dir.glob("chk-*/_metadata")]
    metadata = read_metadata(str(chk))
    assert {op.state_id for op in metadata.operators} >= {"numbers", "sums"}
