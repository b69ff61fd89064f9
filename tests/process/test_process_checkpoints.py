"""Checkpoints across TaskManager processes: barriers cross TCP between two TaskManagers,
both write their state, and the JobManager writes ``_metadata`` in Flink's layout."""

from __future__ import annotations

from pathlib import Path

import pytest

from strom.common import WatermarkStrategy
from strom.common.job import JobStatus
from strom.datastream import StreamExecutionEnvironment
from strom.state.checkpoint_storage import read_metadata, read_state
from strom.testing import Latch, TestingSource, wait_until
from strom.testing.process_cluster import ProcessCluster

pytestmark = pytest.mark.slow


def test_checkpoints_complete_across_two_task_manager_processes(tmp_path: Path) -> None:
    checkpoints = tmp_path / "checkpoints"
    with ProcessCluster(task_managers=2, slots=1, log_dir=tmp_path / "log"):
        env = StreamExecutionEnvironment.get_execution_environment()
        env.set_parallelism(2)
        env.enable_checkpointing(100)
        config = env.get_checkpoint_config()
        config.set_checkpoint_storage_dir(str(checkpoints))
        from strom.datastream import ExternalizedCheckpointRetention
        config.set_externalized_checkpoint_retention(
            ExternalizedCheckpointRetention.RETAIN_ON_CANCELLATION)
        latch = Latch()  # never triggered in the TaskManagers' processes: runs until cancelled
        source = TestingSource([*range(50), TestingSource.AWAIT(latch), 99], splits=2)
        (env.from_source(source, WatermarkStrategy.no_watermarks(), "numbers")
            .key_by(lambda x: x % 7).reduce(lambda a, b: a + b).name("sums").print())
        client = env.execute_async("checkpointed on processes")
        job_dir = checkpoints / str(client.get_job_id())

        def completed() -> list[Path]:
            return sorted(job_dir.glob("chk-*/_metadata")) if job_dir.exists() else []

        wait_until(lambda: completed(), 60, "a completed checkpoint")
        client.cancel().result(timeout=60)
        assert client.get_job_result().result(timeout=60).status is JobStatus.CANCELED
    (metadata_file,) = completed()[-1:]
    metadata = read_metadata(str(metadata_file))
    (sums,) = [op for op in metadata.operators if op.name == "sums"]
    assert sorted(sums.subtasks) == [0, 1]
    ranges = sorted((e.key_group_start, e.key_group_end) for e in sums.subtasks.values())
    assert ranges[0][0] == 0 and ranges[1][1] == sums.max_parallelism - 1
    # the state is readable: the reduce's keyed snapshots of both subtasks
    assert all(read_state(e.keyed) for e in sums.subtasks.values() if e.keyed is not None)
