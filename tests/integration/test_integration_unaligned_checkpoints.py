"""Unaligned checkpoints in running jobs, over in-process channels and over TCP: a keyed job
back-pressured by a slow stage completes a checkpoint while the slow stage still holds back
records the sources emitted before the barrier (an aligned checkpoint cannot complete before
they are all processed), persists them as channel state, and a new job restored from that
checkpoint replays them: every record counted exactly once."""

from __future__ import annotations

import asyncio
import pickle
import time
from pathlib import Path
from typing import Any

import pytest

from strom.common import WatermarkStrategy
from strom.datastream import StreamExecutionEnvironment
from strom.jobmanager.checkpoint import (
    CheckpointAbortedError,
    CheckpointCoordinator,
    CompletedCheckpoint,
)
from strom.jobmanager.jobmaster import JobMaster
from strom.minicluster import MiniCluster
from strom.rpc.messages import SerializedValue, TaskDeploymentDescriptor
from strom.state.checkpoint_metadata import CheckpointMetadata
from strom.state.checkpoint_storage import read_state
from strom.testing import CollectSink, Latch, MiniClusterFixture, TestingSource, wait_until

DEADLINE_S = 60.0
KEYS = 7
N = 3000


#: records counted per _Counter (thread mode: the tasks run in this process)
_SEEN: dict[int, list[None]] = {}


class _Counter:
    """Counts the records that left the sources' chain; pickled by its key."""

    def __init__(self) -> None:
        self.key = id(self)
        _SEEN[self.key] = []

    @property
    def value(self) -> int:
        return len(_SEEN[self.key])

    def __call__(self, x: int) -> int:
        _SEEN[self.key].append(None)  # one atomic append: the subtasks' threads share it
        return x


def _job(env: StreamExecutionEnvironment, elements: list[Any], counter: _Counter,
         sink: CollectSink, slow_s: float) -> None:
    """Counts per key (running (key, sum, count)), then a slow stage in its own task, so
    the keyed tasks are back-pressured by it."""

    def slow(record: tuple[int, int, int]) -> tuple[int, int, int]:
        if slow_s:
            time.sleep(slow_s)  # the slow stage; the test never waits on time
        return record

    env.set_buffer_timeout(0)  # small buffers: back-pressure sets in at once
    (env.from_source(TestingSource(elements, splits=2, batch_size=8),
                     WatermarkStrategy.no_watermarks(), "numbers").uid("numbers")
        .map(counter).uid("counted")
        .map(lambda x: (x % KEYS, x, 1)).uid("pairs")
        .key_by(lambda t: t[0])
        .reduce(lambda a, b: (a[0], a[1] + b[1], a[2] + b[2])).uid("sums")
        .map(slow).uid("slow").disable_chaining()
        .sink_to(sink))


def _coordinator(cluster: MiniCluster, job_id: Any) -> CheckpointCoordinator:
    assert cluster.dispatcher is not None
    master = cluster.dispatcher.job_masters[job_id]
    coordinator = master.checkpoint_coordinator
    assert coordinator is not None
    return coordinator


def _trigger(cluster: MiniCluster, coordinator: CheckpointCoordinator) -> CompletedCheckpoint:
    assert cluster.rpc is not None
    done: list[CompletedCheckpoint] = []

    async def trigger() -> CompletedCheckpoint:
        return await coordinator.trigger_checkpoint()

    def attempt() -> bool:
        try:
            done.append(asyncio.run_coroutine_threadsafe(
                trigger(), cluster.rpc.loop).result(DEADLINE_S))  # type: ignore[union-attr]
        except CheckpointAbortedError:
            return False
        return True

    wait_until(attempt, DEADLINE_S)
    return done[0]


def _channel_records(metadata: CheckpointMetadata) -> int:
    """Records persisted as channel state, over all subtasks."""
    total = 0
    for operator in metadata.operators:
        for entry in operator.subtasks.values():
            if entry.channel_state is None:
                continue
            state = pickle.loads(read_state(entry.channel_state))
            for frozen in [*state.inputs.values(), *state.outputs.values()]:
                total += sum(len(getattr(pickle.loads(d), "values", ())) for d in frozen)
    return total


def _enable_unaligned(env: StreamExecutionEnvironment, tmp_path: Path) -> None:
    env.enable_checkpointing(3_600_000)  # triggered by hand
    config = env.get_checkpoint_config()
    config.enable_unaligned_checkpoints()
    config.set_checkpoint_storage_dir(str(tmp_path))


def _check_exactly_once(results: list[tuple[int, int, int]], splits: list[list[int]],
                        second: list[int]) -> None:
    """The restored job's last (sum, count) per key, less what it read itself, must be
    what the records before the barriers add up to: a prefix of each of the first job's
    splits (the records its sources emitted before their barriers), each counted once."""
    last: dict[int, tuple[int, int]] = {}
    for key, total, count in results:
        if count > last.get(key, (0, 0))[1]:
            last[key] = (total, count)
    restored = {k: (total - sum(x for x in second if x % KEYS == k),
                    count - sum(1 for x in second if x % KEYS == k))
                for k, (total, count) in last.items()}
    counted = sum(count for _, count in restored.values())
    first, other = splits
    for a in range(max(0, counted - len(other)), min(counted, len(first)) + 1):
        prefix = first[:a] + other[:counted - a]
        expected: dict[int, tuple[int, int]] = {}
        for x in prefix:
            total, count = expected.get(x % KEYS, (0, 0))
            expected[x % KEYS] = (total + x, count + 1)
        if all(restored.get(k, (0, 0)) == expected.get(k, (0, 0)) for k in range(KEYS)):
            return
    raise AssertionError(f"the restored state {restored} is not what a prefix of each split "
                         "adds up to: a record was lost or counted twice")


@pytest.mark.parametrize("network", ["local", "tcp"])
def test_a_back_pressured_job_completes_an_unaligned_checkpoint_and_restores_from_it(
        tmp_path: Path, network: str, monkeypatch: pytest.MonkeyPatch) -> None:
    latch, counter, sink = Latch(), _Counter(), CollectSink()
    elements = [*range(N), TestingSource.AWAIT(latch), TestingSource.AWAIT(latch)]
    with MiniClusterFixture(parallelism=2, network=network) as cluster:
        env = StreamExecutionEnvironment.get_execution_environment()
        _enable_unaligned(env, tmp_path)
        _job(env, elements, counter, sink, slow_s=0.05)
        client = env.execute_async("unaligned")
        # back-pressure has set in: the sources are well ahead of the slow stage
        wait_until(lambda: sink.results and counter.value >= len(sink.results) + 64,
                   DEADLINE_S, what="the sources well ahead of the slow stage")
        coordinator = _coordinator(cluster, client.get_job_id())
        completed = _trigger(cluster, coordinator)
        client.cancel().result(DEADLINE_S)
        latch.trigger()
        try:
            client.get_job_execution_result().result(DEADLINE_S)
        except Exception:
            pass  # cancelled
    # the slow stage had not processed every record emitted before the barriers when the
    # checkpoint was taken: they were persisted as channel state, which an aligned checkpoint
    # never has (it waits until they are processed). Counts, not times: how long the
    # checkpoint took on a loaded machine does not matter.
    persisted = _channel_records(completed.metadata)
    assert persisted > 0
    metadata = completed.metadata

    # a new job from that checkpoint: operator state plus the replayed channel state
    original = JobMaster._deployment_descriptor

    def restoring(self: JobMaster, execution: Any) -> TaskDeploymentDescriptor:
        tdd = original(self, execution)
        coordinator = self.checkpoint_coordinator
        assert coordinator is not None
        assigned = coordinator.restore_assignment(metadata, self.job_graph)
        tdd.restored = SerializedValue(assigned.get((execution.vertex.id, execution.subtask),
                                                    {}))
        return tdd

    monkeypatch.setattr(JobMaster, "_deployment_descriptor", restoring)
    rest, second = CollectSink(), list(range(N, N + 700))
    with MiniClusterFixture(parallelism=2, network=network):
        env = StreamExecutionEnvironment.get_execution_environment()
        _job(env, second, _Counter(), rest, slow_s=0)
        env.execute("restored")
    _check_exactly_once(rest.results, [list(range(0, N, 2)), list(range(1, N, 2))], second)
