"""Failover time: from ``kill -9`` of the leading JobManager to the job RUNNING again on the
next leader, as a client sees it through REST.

A ZooKeeper server (:mod:`strom.testing.zookeeper`), two JobManagers with
``high-availability.type: zookeeper`` and two TaskManagers of one slot
(:class:`strom.testing.ha_process_cluster.HaProcessCluster`) run the checkpointed window job
of ``examples/exactly_once_windows.py`` (checkpoints every 500 ms, windows at parallelism 2,
its source paced at 2,000 readings per second), submitted with ``strom run -d``. Once the
job runs and a checkpoint has completed, the leader is killed with SIGKILL, and the clock
runs (REST polled every 10 ms on every live JobManager) until

* ``leader``: a standby answers REST as the leader (it won the election and recovered);
* ``running``: the job is RUNNING on it (``/jobs/:jobid``);
* ``tasks``: every subtask of the recovered job is RUNNING.

Then a new standby is started for the next kill. ``repeat`` kills (at least 1; ``warmup``
and ``scale`` do not change this benchmark); the line shows the median and the maximum of
each milestone, with the timeouts used (:data:`HA_TIMEOUTS`: the ZooKeeper session timeout
bounds how soon a standby can take over, since the killed leader's latch node lives until
its session expires). There is no target; the issue asks for the number.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the ``benchmarks`` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import json
import re
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from benchmarks._harness import parse_options, report
from strom.client.rest import RestClient
from strom.testing.ha_process_cluster import HA_TIMEOUTS, HaProcessCluster, rest_get
from strom.testing.zookeeper import ZooKeeperServer

__all__ = ["CHECKPOINT_INTERVAL_MS", "Failover", "FailoverTimeResult", "measure_failovers",
           "run"]

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "exactly_once_windows.py"
CHECKPOINT_INTERVAL_MS = 500
RATE = 2_000
TIMEOUT_S = 120.0
POLL_S = 0.01
SESSION_TIMEOUT = HA_TIMEOUTS["high-availability.zookeeper.client.session-timeout"]


@dataclass(frozen=True)
class Failover:
    """Seconds from the kill to each milestone (see the module docstring)."""

    leader_s: float
    running_s: float
    tasks_s: float


def _poll(condition: Callable[[], bool], what: str, timeout_s: float = TIMEOUT_S) -> float:
    """Wait for ``condition``; the ``perf_counter`` when it held."""
    deadline = time.perf_counter() + timeout_s
    while not condition():
        if time.perf_counter() > deadline:
            raise TimeoutError(f"ha_failover: waited {timeout_s} s for {what}")
        time.sleep(POLL_S)
    return time.perf_counter()


def _completed_checkpoint(checkpoints: Path) -> int:
    return max((int(m.parent.name[4:]) for m in checkpoints.glob("*/chk-*/_metadata")),
               default=0)


def _submit(cluster: HaProcessCluster, work_dir: Path) -> str:
    """``strom run -d`` of the example, endless, against the leader; the job id."""
    rest = cluster.leader().extra["rest"].split("://", 1)[1]
    run = subprocess.run(
        [sys.executable, "-m", "strom.cli.main", "run", "-m", rest, "-d", "-p", "2",
         str(EXAMPLE), "--output", str(work_dir / "out"),
         "--checkpoint-dir", str(work_dir / "checkpoints"),
         "--checkpoint-interval", str(CHECKPOINT_INTERVAL_MS), "--records", str(10**12),
         "--rate", str(RATE)], cwd=work_dir, capture_output=True, text=True, timeout=120)
    job_id = re.search(r"submitted with JobID ([0-9a-f]{32})", run.stdout)
    if run.returncode != 0 or job_id is None:
        raise RuntimeError(f"ha_failover: strom run failed:\n{run.stdout}{run.stderr}")
    return job_id.group(1)


class _Watched:
    """The job as a REST client sees it on whichever JobManager leads."""

    def __init__(self, cluster: HaProcessCluster, job_id: str) -> None:
        self.cluster = cluster
        self.job_id = job_id

    def details(self) -> dict[str, Any] | None:
        for process in self.cluster.live_jobmanagers():
            answer = rest_get(process.extra["rest"], f"/jobs/{self.job_id}", timeout_s=2)
            if answer.status == 200 and isinstance(answer.body, dict):
                return answer.body
        return None

    def has_leader(self) -> bool:
        return any(rest_get(p.extra["rest"], "/overview", timeout_s=2).status == 200
                   for p in self.cluster.live_jobmanagers())

    def running(self) -> bool:
        details = self.details()
        return details is not None and details.get("state") == "RUNNING"

    def all_tasks_running(self) -> bool:
        details = self.details()
        return (details is not None and details.get("state") == "RUNNING"
                and bool(details["vertices"])
                and all(v["tasks"].get("RUNNING", 0) == v["parallelism"]
                        for v in details["vertices"]))


def measure_failovers(kills: int, work_dir: Path) -> list[Failover]:
    """Run the job on a fresh HA cluster and kill its leading JobManager ``kills`` times."""
    checkpoints = work_dir / "checkpoints"
    failovers: list[Failover] = []
    with ZooKeeperServer(work_dir / "zookeeper") as zookeeper, \
            HaProcessCluster(zookeeper.connect_string, work_dir, jobmanagers=2,
                             task_managers=2, slots=1) as cluster:
        watched = _Watched(cluster, _submit(cluster, work_dir))
        try:
            for _ in range(kills):
                _poll(watched.all_tasks_running, "every task to run")
                after = _completed_checkpoint(checkpoints)
                _poll(lambda after=after: _completed_checkpoint(checkpoints) > after,
                      "a checkpoint of the running job")
                leader = cluster.leader()
                killed_at = time.perf_counter()
                cluster.kill(leader)
                led = _poll(watched.has_leader, "a standby to lead")
                running = _poll(watched.running, "the job to run again")
                tasks = _poll(watched.all_tasks_running, "every recovered task to run")
                failovers.append(Failover(led - killed_at, running - killed_at,
                                          tasks - killed_at))
                cluster.start_jobmanager()  # the standby for the next kill
        finally:
            try:
                RestClient(cluster.leader(30).extra["rest"]).cancel_job(watched.job_id)
            except Exception as e:  # the cluster is stopped anyway; say why it was not clean
                print(f"ha_failover: could not cancel the job: {e}", file=sys.stderr)
    return failovers


@dataclass(frozen=True)
class FailoverTimeResult:
    """The failovers of one benchmark run, and the timeouts they ran with."""

    name: str
    failovers: tuple[Failover, ...]

    def _stats(self, pick: Callable[[Failover], float]) -> tuple[float, float]:
        values = [pick(f) for f in self.failovers]
        return statistics.median(values), max(values)

    def line(self) -> str:
        parts = []
        for label, pick in _MILESTONES:
            median, worst = self._stats(pick)
            parts.append(f"{label}: median={median * 1000:.0f} ms max={worst * 1000:.0f} ms")
        return (f"{self.name:<31} kills={len(self.failovers)}  " + "  ".join(parts)
                + f"  (ZooKeeper session timeout {SESSION_TIMEOUT}, heartbeat "
                  f"{HA_TIMEOUTS['heartbeat.interval']} / {HA_TIMEOUTS['heartbeat.timeout']})")

    def as_json(self) -> str:
        row: dict[str, Any] = {"name": self.name, "target": None, "kills": len(self.failovers),
                               "session_timeout": SESSION_TIMEOUT,
                               "heartbeat_interval": HA_TIMEOUTS["heartbeat.interval"],
                               "heartbeat_timeout": HA_TIMEOUTS["heartbeat.timeout"]}
        for label, pick in _MILESTONES:
            row[f"{label}_s"] = [round(pick(f), 4) for f in self.failovers]
        return json.dumps(row)


_MILESTONES: tuple[tuple[str, Callable[[Failover], float]], ...] = (
    ("leader", lambda f: f.leader_s),
    ("running", lambda f: f.running_s),
    ("tasks", lambda f: f.tasks_s),
)


def run(scale: float = 1.0, repeat: int = 3, warmup: int = 1) -> list[FailoverTimeResult]:
    with tempfile.TemporaryDirectory(prefix="strom-bench-ha-") as work_dir:
        failovers = measure_failovers(max(1, repeat), Path(work_dir))
    return [FailoverTimeResult("ha_failover.kill_leader", tuple(failovers))]


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_options(argv, "time from kill -9 of the leading JobManager to the job "
                                  "RUNNING again on the next leader")
    report(run(options.scale, options.repeat, options.warmup), options.as_json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
