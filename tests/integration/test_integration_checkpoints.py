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
        if master is not None and master.checkpoint_coordinator is not None:
            found.append(master.checkpoint_coordinator)
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


def test_notifications_reach_every_operator(monkeypatch: pytest.MonkeyPatch) -> None:
    from strom.runtime.operators.base import StreamOperator

    notified: list[tuple[str, int]] = []
    monkeypatch.setattr(StreamOperator, "notify_checkpoint_complete",
                        lambda self, checkpoint_id: notified.append((self.name, checkpoint_id)))
    latch, sink = Latch(), CollectSink()
    with MiniClusterFixture(parallelism=2) as cluster:
        env = StreamExecutionEnvironment.get_execution_environment()
        env.enable_checkpointing(10_000)
        _keyed_job(env, latch, sink)
        client = env.execute_async("notified")
        completed = _trigger(cluster, _coordinator(cluster, client))
        expected = {("Source: numbers", completed.checkpoint_id),
                    ("Keyed Reduce", completed.checkpoint_id),
                    ("Sink: Collect Sink", completed.checkpoint_id)}
        wait_until(lambda: expected <= set(notified)
                   # both reduce and sink subtasks; the source subtask without the latch's split
                   # may have finished before the checkpoint (then it is not notified)
                   and len([n for n in notified if n[1] == completed.checkpoint_id]) >= 5,
                   DEADLINE_S, what=f"all notified (so far {notified})")
        latch.trigger()
        client.get_job_execution_result().result(DEADLINE_S)


def test_completion_reaches_the_split_enumerators(monkeypatch: pytest.MonkeyPatch) -> None:
    """Operator coordinators hear of completed checkpoints, as Flink's do: the source
    coordinator stops tracking the split assignments the checkpoint covers."""
    from strom.jobmanager.source_coordinator import SourceCoordinator

    heard: list[int] = []
    original = SourceCoordinator.notify_checkpoint_complete

    def notify(self: SourceCoordinator, checkpoint_id: int) -> None:
        heard.append(checkpoint_id)
        original(self, checkpoint_id)

    monkeypatch.setattr(SourceCoordinator, "notify_checkpoint_complete", notify)
    latch, sink = Latch(), CollectSink()
    with MiniClusterFixture(parallelism=1) as cluster:
        env = StreamExecutionEnvironment.get_execution_environment()
        env.enable_checkpointing(10_000)
        _keyed_job(env, latch, sink)
        client = env.execute_async("enumerators notified")
        completed = _trigger(cluster, _coordinator(cluster, client))
        wait_until(lambda: completed.checkpoint_id in heard, DEADLINE_S,
                   what=f"the source coordinator notified (heard {heard})")
        latch.trigger()
        client.get_job_execution_result().result(DEADLINE_S)


class _SnapshotFailure(RuntimeError):
    pass


def _failing_snapshots(failures: int) -> type:
    """A TestingSource whose readers' snapshots fail the first ``failures`` times."""
    from strom.testing.sources import _Reader

    class Reader(_Reader):
        attempts = 0

        def snapshot_state(self, checkpoint_id: int) -> Any:
            Reader.attempts += 1
            if Reader.attempts <= failures:
                raise _SnapshotFailure(f"snapshot {checkpoint_id} fails on purpose")
            return super().snapshot_state(checkpoint_id)

    class Source(TestingSource):
        def create_reader(self, context: Any) -> Any:
            return Reader(self.batch_size, self.timestamped)

    return Source


def test_a_declined_checkpoint_is_aborted_and_the_next_one_completes() -> None:
    latch, sink = Latch(), CollectSink()
    source = _failing_snapshots(1)([*range(10), TestingSource.AWAIT(latch)])
    with MiniClusterFixture(parallelism=1) as cluster:
        env = StreamExecutionEnvironment.get_execution_environment()
        env.enable_checkpointing(10_000)
        env.get_checkpoint_config().set_tolerable_checkpoint_failure_number(1)
        env.from_source(source, _no_watermarks(), "numbers").sink_to(sink)
        client = env.execute_async("declined")
        coordinator = _coordinator(cluster, client)
        assert cluster.rpc is not None

        async def trigger() -> CompletedCheckpoint:
            return await coordinator.trigger_checkpoint()

        errors: list[BaseException] = []

        def declined() -> bool:
            try:
                asyncio.run_coroutine_threadsafe(trigger(), cluster.rpc.loop).result(  # type: ignore[union-attr]
                    DEADLINE_S)
            except CheckpointAbortedError as e:
                errors.append(e)
                return "declined" in str(e)
            return False

        wait_until(declined, DEADLINE_S)
        assert "snapshot 1 fails on purpose" in str(errors[-1]) or "fails on purpose" in str(
            errors[-1])
        assert _trigger(cluster, coordinator).checkpoint_id > 1
        latch.trigger()
        client.get_job_execution_result().result(DEADLINE_S)


#: the failure ends the job instead of restarting it
NO_RESTARTS = Configuration.from_dict({"restart-strategy.type": "none"})


def test_failures_beyond_the_tolerable_number_fail_the_job() -> None:
    latch = Latch()
    source = _failing_snapshots(10**6)([*range(10), TestingSource.AWAIT(latch)])
    with MiniClusterFixture(parallelism=1):
        # with checkpointing the default restart strategy (exponential-delay) restarts forever
        env = StreamExecutionEnvironment.get_execution_environment(NO_RESTARTS)
        env.enable_checkpointing(20)
        env.from_source(source, _no_watermarks(), "numbers").sink_to(CollectSink())
        client = env.execute_async("intolerable")
        with pytest.raises(Exception, match="Exceeded checkpoint tolerable failure threshold"):
            client.get_job_execution_result().result(DEADLINE_S)


def test_a_checkpoint_that_times_out_is_aborted_and_counts_as_a_failure() -> None:
    latch = Latch()

    def stuck(x: int) -> int:
        while x == 5 and not latch.is_triggered():
            import time
            time.sleep(0.005)
        return x

    with MiniClusterFixture(parallelism=1) as cluster:
        env = StreamExecutionEnvironment.get_execution_environment(NO_RESTARTS)
        env.enable_checkpointing(50)
        env.get_checkpoint_config().set_checkpoint_timeout(100)
        (env.from_source(TestingSource(list(range(10)), batch_size=1), _no_watermarks(), "n")
            .key_by(lambda x: x).map(stuck).sink_to(CollectSink()))
        client = env.execute_async("stuck")
        assert cluster.dispatcher is not None
        try:
            wait_until(lambda: cluster.dispatcher.job_masters[  # type: ignore[union-attr]
                client.get_job_id()].failure is not None, DEADLINE_S)
        finally:
            latch.trigger()
        with pytest.raises(Exception, match="Exceeded checkpoint tolerable failure") as caught:
            client.get_job_execution_result().result(DEADLINE_S)
        assert "expired before completing (timeout 100 ms)" in "".join(
            getattr(caught.value, "__notes__", [])) + str(caught.value)


@pytest.mark.parametrize("mode", [CheckpointingMode.EXACTLY_ONCE,
                                  CheckpointingMode.AT_LEAST_ONCE])
def test_two_input_tasks_align_both_inputs(mode: CheckpointingMode,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from strom.datastream import CoMapFunction
    from strom.runtime.checkpoint_barriers import BarrierHandler

    modes: list[bool] = []
    original = BarrierHandler.__init__

    def recording(self: BarrierHandler, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        modes.append(self.exactly_once)

    monkeypatch.setattr(BarrierHandler, "__init__", recording)

    class Tag(CoMapFunction):
        def map1(self, value: int) -> str:
            return f"a{value}"

        def map2(self, value: int) -> str:
            return f"b{value}"

    latch, sink = Latch(), CollectSink()
    with MiniClusterFixture(parallelism=2) as cluster:
        env = StreamExecutionEnvironment.get_execution_environment()
        env.enable_checkpointing(20, mode)
        a = env.from_source(TestingSource([*range(20), TestingSource.AWAIT(latch)] * 1,
                                          splits=1), _no_watermarks(), "a")
        b = env.from_source(TestingSource([*range(20), TestingSource.AWAIT(latch)], splits=1),
                            _no_watermarks(), "b")
        a.connect(b).key_by(lambda x: x % 3, lambda x: x % 3).map(Tag()).sink_to(sink)
        client = env.execute_async("two inputs")
        coordinator = _coordinator(cluster, client)
        wait_until(lambda: (coordinator.latest_completed() or _none()).checkpoint_id >= 3,
                   DEADLINE_S)
        latest = coordinator.latest_completed()
        assert latest is not None
        names = {op.name for op in latest.metadata.operators}
        assert {"a", "b"} <= {n.removeprefix("Source: ") for n in names}
        latch.trigger()
        client.get_job_execution_result().result(DEADLINE_S)
    assert sorted(sink.results) == sorted([f"a{i}" for i in range(20)] +
                                          [f"b{i}" for i in range(20)])
    # the tasks with network inputs got the job's mode
    assert modes and set(modes) == {mode is CheckpointingMode.EXACTLY_ONCE}
