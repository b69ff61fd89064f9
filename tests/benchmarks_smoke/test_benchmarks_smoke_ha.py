"""Smoke tests of the failover benchmark: its line and JSON name the timeouts; it measures one
kill of the leading JobManager. Nothing here looks at timings beyond their order."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

if str(Path(__file__).resolve().parents[2]) not in sys.path:  # benchmarks/ is at the root
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks import ha_failover


def test_ha_failover_line_and_json_show_median_max_and_the_timeouts() -> None:
    result = ha_failover.FailoverTimeResult(
        "ha_failover.kill_leader",
        (ha_failover.Failover(4.0, 5.0, 6.0), ha_failover.Failover(5.0, 6.5, 7.0),
         ha_failover.Failover(6.0, 7.0, 9.0)))
    line = result.line()
    assert "kills=3" in line
    assert "leader: median=5000 ms max=6000 ms" in line
    assert "running: median=6500 ms max=7000 ms" in line
    assert "ZooKeeper session timeout 4 s, heartbeat 1 s / 5 s" in line
    row = json.loads(result.as_json())
    assert row["tasks_s"] == [6.0, 7.0, 9.0] and row["session_timeout"] == "4 s"
    assert row["target"] is None


@pytest.mark.slow
def test_ha_failover_measures_a_kill_until_every_task_runs_on_the_next_leader(
        tmp_path: Path) -> None:
    [failover] = ha_failover.measure_failovers(1, tmp_path)
    assert 0 < failover.leader_s <= failover.running_s <= failover.tasks_s < 120
