"""Smoke tests of the checkpoint and recovery benchmarks: the checkpointed window job
computes what the unchecked one does and really checkpoints; the recovery benchmark
measures one kill. Nothing here looks at timings beyond their order."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

if str(Path(__file__).resolve().parents[2]) not in sys.path:  # benchmarks/ is at the root
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks import checkpoint_overhead, recovery_time, windows


def test_the_checkpointed_window_job_emits_what_the_plain_loop_emits_and_checkpoints() -> None:
    # a fast machine may finish a short job before its first checkpoint completes: the job
    # grows until one did (a count, not a time, decides)
    for n in (200_000, 1_000_000, 4_000_000):
        expected = windows.baseline_same_functions(n)
        assert checkpoint_overhead.emitted(n, checkpointed=False) == (expected, 0)
        count, checkpoints = checkpoint_overhead.emitted(n, checkpointed=True, interval_ms=20)
        assert count == expected
        if checkpoints >= 1:
            break
    assert checkpoints >= 1


def test_checkpoint_overhead_line_and_json_say_how_many_checkpoints() -> None:
    result = checkpoint_overhead.CheckpointOverheadResult(
        "checkpoint_overhead.window_1s", 1_000, 1.0, 0.95, 0.9, (1.0,), (0.95,), checkpoints=3)
    assert "checkpoints=3" in result.line() and "ok" in result.line()
    row = json.loads(result.as_json())
    assert row["checkpoints"] == 3 and row["checkpoint_interval_ms"] == 1_000
    assert row["ratio"] == 0.95 and row["target"] == 0.9


def test_recovery_time_line_and_json_name_the_heartbeat_settings() -> None:
    result = recovery_time.RecoveryTimeResult(
        "recovery_time.kill_task_manager",
        (recovery_time.Recovery(1.0, 1.5, 2.0), recovery_time.Recovery(0.5, 0.75, 1.0)))
    line = result.line()
    assert "kills=2" in line and "detected: best=500 ms median=750 ms" in line
    assert "heartbeat 500 ms / 3 s" in line
    row = json.loads(result.as_json())
    assert row["tasks_s"] == [2.0, 1.0] and row["heartbeat_timeout"] == "3 s"


@pytest.mark.slow
def test_recovery_time_measures_a_kill_until_every_task_runs_again(tmp_path: Path) -> None:
    [recovery] = recovery_time.measure_recoveries(1, tmp_path)
    assert 0 < recovery.detected_s <= recovery.running_s <= recovery.tasks_s < 60
