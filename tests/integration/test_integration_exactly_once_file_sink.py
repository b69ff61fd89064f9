"""Exactly-once end to end in a running job (MiniCluster, thread mode): a NumberSequenceSource
feeding a keyed event-time window and a FileSink, checkpointing every 100 ms, cancelled
after a few checkpoints and restored from the latest one, finishes the same files' lines as
an uninterrupted run, each once.

The JobMaster does not restore jobs by itself yet (restart strategies and ``strom run -s``
bring that); the restored run gets its state the way the JobMaster will hand it out: the
CheckpointCoordinator's ``restore_assignment`` for the deployments and
``SourceCoordinator.reset_to_checkpoint`` for the source's enumerator.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any

import msgspec
import pytest

import strom.connectors.sequence
from strom.common import Configuration, Duration, WatermarkStrategy
from strom.common.serialization import Encoder
from strom.datastream import CheckpointingMode, StreamExecutionEnvironment
from strom.datastream.connectors.file_system import FileSink, RollingPolicy
from strom.datastream.connectors.number_seq import NumberSequenceSource
from strom.datastream.window import TumblingEventTimeWindows
from strom.jobmanager.checkpoint import CheckpointCoordinator, CompletedCheckpoint
from strom.jobmanager.jobmaster import JobMaster
from strom.jobmanager.source_coordinator import SourceCoordinator
from strom.minicluster import MiniCluster
from strom.rpc.messages import SerializedValue, TaskDeploymentDescriptor
from strom.state.checkpoint_storage import read_state
from strom.testing import MiniClusterFixture
from strom.testing.sync import wait_until

DEADLINE_S = 60.0
NUMBERS = 6000


def _slow(value: int) -> int:
    time.sleep(0.0005)  # about 3 s of input per subtask: checkpoints fall in the middle
    return value


def _job(env: StreamExecutionEnvironment, out: Path) -> None:
    watermarks = WatermarkStrategy.for_monotonous_timestamps() \
        .with_timestamp_assigner(lambda value, _: value)
    (env.from_source(NumberSequenceSource(1, NUMBERS), watermarks, "numbers").uid("numbers")
        .map(_slow).uid("slow")
        .key_by(lambda value: value % 7)
        .window(TumblingEventTimeWindows.of(Duration.of_millis(100)))
        .reduce(lambda a, b: a + b).uid("window")
        .map(lambda total: str(total)).uid("format")
        .sink_to(FileSink.for_row_format(str(out), Encoder.simple_string_encoder())
                 .with_rolling_policy(RollingPolicy.on_checkpoint_rolling_policy())
                 .build()).uid("files"))


def _environment(checkpoints: Path) -> StreamExecutionEnvironment:
    env = StreamExecutionEnvironment.get_execution_environment(Configuration.from_dict({
        "execution.checkpointing.externalized-checkpoint-retention":
            "RETAIN_ON_CANCELLATION"}))
    env.enable_checkpointing(100, CheckpointingMode.EXACTLY_ONCE)
    env.get_checkpoint_config().set_checkpoint_storage_dir(str(checkpoints))
    return env


def _finished_lines(out: Path) -> list[str]:
    return sorted(line for path in out.rglob("part-*") for line in path.read_text().split())


def _checkpoints_of(cluster: MiniCluster, job_id: Any) -> CheckpointCoordinator | None:
    assert cluster.dispatcher is not None
    master = cluster.dispatcher.job_masters.get(job_id)
    return None if master is None else master.checkpoint_coordinator


def _restore_deployments_from(monkeypatch: pytest.MonkeyPatch,
                              checkpoint: CompletedCheckpoint) -> None:
    """New jobs start from ``checkpoint``, as the JobMaster will start them."""
    metadata = checkpoint.metadata
    deploy = JobMaster._deployment_descriptor
    start_coordinators = JobMaster._start_coordinators

    def restored_deployment(self: JobMaster, execution: Any) -> TaskDeploymentDescriptor:
        tdd = deploy(self, execution)
        assert self.checkpoint_coordinator is not None
        assignment = self.checkpoint_coordinator.restore_assignment(metadata, self.job_graph)
        states = assignment.get((execution.vertex.id, execution.subtask))
        return msgspec.structs.replace(
            tdd, restored=SerializedValue(states) if states else None)

    def reset_sources(self: JobMaster) -> None:
        start_coordinators(self)
        entries = {entry.state_id: entry for entry in metadata.operators}
        for vertex in self.job_graph.vertices:
            if vertex.is_source:
                coordinator = self.coordinators[f"{vertex.id}:{vertex.head.node_id}"]
                assert isinstance(coordinator, SourceCoordinator)
                entry = entries[vertex.head.state_id]
                data = None if entry.coordinator_state is None else read_state(
                    entry.coordinator_state)
                coordinator.reset_to_checkpoint(metadata.checkpoint_id, data)

    monkeypatch.setattr(JobMaster, "_deployment_descriptor", restored_deployment)
    monkeypatch.setattr(JobMaster, "_start_coordinators", reset_sources)


@pytest.mark.parametrize("parallelism", [1, 2])
def test_a_restored_job_finishes_the_files_of_an_uninterrupted_run(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, parallelism: int) -> None:
    # small source batches, so that checkpoints do not wait behind seconds of slow maps
    monkeypatch.setattr(strom.connectors.sequence, "BATCH_SIZE", 50)
    with MiniClusterFixture(parallelism=parallelism) as cluster:
        env = _environment(tmp_path / "checkpoints-expected")
        _job(env, tmp_path / "expected")
        env.execute("uninterrupted")

        env = _environment(tmp_path / "checkpoints")
        _job(env, tmp_path / "out")
        client = env.execute_async("interrupted")
        job_id = client.get_job_id()

        def some_checkpoints_completed() -> bool:
            coordinator = _checkpoints_of(cluster, job_id)
            latest = None if coordinator is None else coordinator.latest_completed()
            return latest is not None and latest.checkpoint_id >= 3

        wait_until(some_checkpoints_completed, DEADLINE_S, what="three checkpoints")
        coordinator = _checkpoints_of(cluster, job_id)
        assert coordinator is not None
        client.cancel().result(timeout=DEADLINE_S)
        with pytest.raises(Exception, match=r"(?i)cancel"):
            client.get_job_execution_result().result(DEADLINE_S)
        latest = coordinator.latest_completed()
        assert latest is not None
        committed_before = _finished_lines(tmp_path / "out")

        _restore_deployments_from(monkeypatch, latest)
        env = _environment(tmp_path / "checkpoints-restored")
        _job(env, tmp_path / "out")
        env.execute("restored")

    expected = _finished_lines(tmp_path / "expected")
    assert len(expected) == len(set(expected)) > NUMBERS // 100
    actual = _finished_lines(tmp_path / "out")
    assert Counter(actual) == Counter(expected), (
        f"missing {sorted((Counter(expected) - Counter(actual)).elements())[:5]}, "
        f"twice {sorted((Counter(actual) - Counter(expected)).elements())[:5]}")
    # the interrupted run had finished files already, and the restored one added the rest
    assert 0 < len(committed_before) < len(expected)
