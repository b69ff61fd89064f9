"""Recovery time: from ``kill -9`` of a TaskManager to the job RUNNING again.

A standalone cluster of real processes (:class:`strom.testing.ProcessCluster`: a JobManager
and three TaskManagers of one slot, a spare among them) runs the checkpointed window job of
``examples/exactly_once_windows.py`` (checkpoints every 500 ms, fixed-delay restarts with a
100 ms delay), its source paced at 2,000 readings per second. Once all its tasks run and a
checkpoint has completed, a TaskManager running some of them is killed with SIGKILL, and
the clock runs until

* ``detected``: the job leaves RUNNING (the JobMaster noticed the loss);
* ``running``: the job is RUNNING again (restarted from the latest checkpoint);
* ``tasks``: every subtask of the restarted job is RUNNING.

Two rows: ``recovery_time.kill_task_manager`` runs the windows at parallelism 2, so the
killed TaskManager has data connections to tasks on another one, whose failing channels
give the loss away; ``recovery_time.kill_task_manager_p1`` runs the whole job in one
TaskManager, so the JobManager itself must notice. On one host both are immediate: the
kernel closes a killed process's connections, and the next heartbeat or RPC to it fails at
once. ``heartbeat.interval`` 500 ms / ``heartbeat.timeout`` 3 s (Flink's defaults are 10 s and
50 s) bound the detection only when a host or its network vanishes silently, which this
benchmark does not stage. ``repeat`` kills per row (a new spare
TaskManager is started after each); the line shows the best and the median of each
milestone. There is no target; the issue asks for the number. ``scale`` does not change
this benchmark.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the ``benchmarks`` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import json
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import cloudpickle

from benchmarks._harness import parse_options, report
from strom.common.job import JobID, JobStatus
from strom.datastream import StreamExecutionEnvironment
from strom.rpc.gateways import TaskExecutorGateway
from strom.rpc.messages import ExecutionState
from strom.testing.process_cluster import ProcessCluster

__all__ = ["HEARTBEATS", "RESTART_DELAY_MS", "Recovery", "RecoveryTimeResult",
           "measure_recoveries", "run"]

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
HEARTBEATS = {"heartbeat.interval": "500 ms", "heartbeat.timeout": "3 s",
              "cluster.registration.error-delay": "200 ms"}
RESTART_DELAY_MS = 100
CHECKPOINT_INTERVAL_MS = 500
RATE = 2_000
TIMEOUT_S = 90.0


def _job_module() -> ModuleType:
    """The example job, shipped by value (the TaskManagers do not have examples/)."""
    sys.path.insert(0, str(EXAMPLES))
    try:
        import exactly_once_windows  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(EXAMPLES))
    cloudpickle.register_pickle_by_value(exactly_once_windows)
    return exactly_once_windows


@dataclass(frozen=True)
class Recovery:
    """Seconds from the kill to each milestone (see the module docstring)."""

    detected_s: float
    running_s: float
    tasks_s: float


def _poll(condition: Callable[[], bool], what: str, timeout_s: float = TIMEOUT_S,
          interval_s: float = 0.005) -> float:
    """Wait for ``condition``; the ``perf_counter`` when it held."""
    deadline = time.perf_counter() + timeout_s
    while not condition():
        if time.perf_counter() > deadline:
            raise TimeoutError(f"recovery_time: waited {timeout_s} s for {what}")
        time.sleep(interval_s)
    return time.perf_counter()


def _completed_checkpoint(checkpoints: Path) -> int:
    return max((int(m.parent.name[4:]) for m in checkpoints.glob("*/chk-*/_metadata")),
               default=0)


class _Job:
    """The running job as the benchmark watches it."""

    def __init__(self, cluster: ProcessCluster, job_id: JobID) -> None:
        self.cluster = cluster
        self.job_id = job_id

    def status(self) -> JobStatus:
        gateway = self.cluster.dispatcher_gateway
        status: JobStatus = self.cluster.rpc.run_sync(gateway.request_job_status(self.job_id),
                                                      timeout=30)
        return status

    def all_tasks_running(self) -> bool:
        gateway = self.cluster.dispatcher_gateway
        details = self.cluster.rpc.run_sync(gateway.request_job_details(self.job_id),
                                            timeout=30)
        return details.status is JobStatus.RUNNING and bool(details.vertices) and all(
            v.tasks.get(ExecutionState.RUNNING.name, 0) == v.parallelism
            for v in details.vertices)

    def busy_task_manager(self) -> int:
        """The index of a live TaskManager that runs a task."""
        for index, tm in enumerate(self.cluster.task_managers):
            if not tm.running():
                continue
            gateway: TaskExecutorGateway = self.cluster.rpc.connect(tm.address,
                                                                    TaskExecutorGateway)
            statuses = self.cluster.rpc.run_sync(gateway.request_task_status(), timeout=30)
            if any(s.state is ExecutionState.RUNNING for s in statuses):
                return index
        raise RuntimeError("recovery_time: no live TaskManager runs a task of the job")


def measure_recoveries(kills: int, work_dir: Path, parallelism: int = 2) -> list[Recovery]:
    """Run the job (windows at ``parallelism``) on a fresh process cluster and kill a busy
    TaskManager ``kills`` times."""
    job = _job_module()
    checkpoints = work_dir / "checkpoints"
    recoveries: list[Recovery] = []
    with ProcessCluster(task_managers=3, slots=1, config=HEARTBEATS,
                        log_dir=work_dir / "log") as cluster:
        env = StreamExecutionEnvironment.get_execution_environment(job.configuration(
            str(checkpoints), CHECKPOINT_INTERVAL_MS, restart_delay_ms=RESTART_DELAY_MS))
        job.build(env, str(work_dir / "out"), records=10**12, rate=RATE,
                  parallelism=parallelism)
        client = env.execute_async("benchmark: recovery time")
        watched = _Job(cluster, client.get_job_id())
        try:
            for _ in range(kills):
                _poll(watched.all_tasks_running, "every task to run")
                after = _completed_checkpoint(checkpoints)
                _poll(lambda after=after: _completed_checkpoint(checkpoints) > after,
                      "a checkpoint of the running job")
                victim = watched.busy_task_manager()
                killed_at = time.perf_counter()
                cluster.kill_task_manager(victim)
                detected = _poll(lambda: watched.status() is not JobStatus.RUNNING,
                                 "the job to leave RUNNING")
                running = _poll(lambda: watched.status() is JobStatus.RUNNING,
                                "the job to run again")
                tasks = _poll(watched.all_tasks_running, "every restarted task to run")
                recoveries.append(Recovery(detected - killed_at, running - killed_at,
                                           tasks - killed_at))
                cluster.start_task_manager()
        finally:
            client.cancel().result(timeout=60)
    return recoveries


@dataclass(frozen=True)
class RecoveryTimeResult:
    """The recoveries of one benchmark run, and the settings they ran with."""

    name: str
    recoveries: tuple[Recovery, ...]

    def _stats(self, pick: Callable[[Recovery], float]) -> tuple[float, float]:
        values = [pick(r) for r in self.recoveries]
        return min(values), statistics.median(values)

    def line(self) -> str:
        parts = []
        for label, pick in (("detected", _detected), ("running", _running),
                            ("tasks", _tasks)):
            best, median = self._stats(pick)
            parts.append(f"{label}: best={best * 1000:.0f} ms median={median * 1000:.0f} ms")
        return (f"{self.name:<31} kills={len(self.recoveries)}  " + "  ".join(parts)
                + f"  (heartbeat {HEARTBEATS['heartbeat.interval']} / "
                  f"{HEARTBEATS['heartbeat.timeout']}, restart delay {RESTART_DELAY_MS} ms)")

    def as_json(self) -> str:
        row: dict[str, Any] = {"name": self.name, "target": None,
                               "kills": len(self.recoveries),
                               "heartbeat_interval": HEARTBEATS["heartbeat.interval"],
                               "heartbeat_timeout": HEARTBEATS["heartbeat.timeout"],
                               "restart_delay_ms": RESTART_DELAY_MS}
        for label, pick in (("detected", _detected), ("running", _running),
                            ("tasks", _tasks)):
            row[f"{label}_s"] = [round(pick(r), 4) for r in self.recoveries]
        return json.dumps(row)


def _detected(r: Recovery) -> float:
    return r.detected_s


def _running(r: Recovery) -> float:
    return r.running_s


def _tasks(r: Recovery) -> float:
    return r.tasks_s


def run(scale: float = 1.0, repeat: int = 3, warmup: int = 1) -> list[RecoveryTimeResult]:
    results = []
    for name, parallelism in (("recovery_time.kill_task_manager", 2),
                              ("recovery_time.kill_task_manager_p1", 1)):
        with tempfile.TemporaryDirectory(prefix="strom-bench-recovery-") as work_dir:
            recoveries = measure_recoveries(max(1, repeat), Path(work_dir), parallelism)
        results.append(RecoveryTimeResult(name, tuple(recoveries)))
    return results


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_options(argv, "time from kill -9 of a TaskManager to the job RUNNING again")
    report(run(options.scale, options.repeat, options.warmup), options.as_json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
