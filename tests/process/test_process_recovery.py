"""Exactly-once recovery with real processes: a keyed event-time window job writing with the
FileSink, checkpointing every 250 ms, whose TaskManagers are killed with ``kill -9`` (once
while a checkpoint is in flight), or whose user function fails on its first attempt only.
The finished part files must hold exactly the lines the plain-Python oracle computes: no
line missing, none twice. In-progress and pending files (hidden ``.part-*``) do not count.

The job is ``examples/exactly_once_windows.py`` (also the README's walkthrough). The source
is slowed down (``rate``) so that the failures land while the job runs; the job and its
restarts are still short, since these tests are about correctness, not load.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

import cloudpickle
import pytest

from strom.client.job_client import ClusterJobClient
from strom.common.job import JobStatus
from strom.datastream import StreamExecutionEnvironment
from strom.rpc.gateways import TaskExecutorGateway
from strom.rpc.messages import ExecutionState
from strom.testing import wait_until
from strom.testing.process_cluster import ProcessCluster

pytestmark = pytest.mark.slow

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

#: fast failure detection (Flink's defaults are 10 s / 50 s)
FAST_HEARTBEATS = {"heartbeat.interval": "500 ms", "heartbeat.timeout": "3 s",
                   "cluster.registration.error-delay": "200 ms"}
CHECKPOINT_INTERVAL_MS = 250
RESULT_TIMEOUT_S = 120


def _job_module() -> ModuleType:
    """The example job, shipped by value: the TaskManagers cannot import it from examples/."""
    sys.path.insert(0, str(EXAMPLES))
    try:
        import exactly_once_windows  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(EXAMPLES))
    cloudpickle.register_pickle_by_value(exactly_once_windows)
    return exactly_once_windows


job = _job_module()


def finished_lines(output: Path) -> list[str]:
    """The lines of the finished part files (``part-*``; in-progress and pending files are
    hidden ``.part-*`` files), sorted."""
    return sorted(line for part in output.glob(f"{job.PART_PREFIX}-*")
                  for line in part.read_text().splitlines())


def assert_exactly_once(output: Path, records: int) -> None:
    got, expected = Counter(finished_lines(output)), Counter(job.expected_lines(records))
    duplicated = sorted(line for line, n in got.items() if n > 1)
    missing = sorted((expected - got).elements())
    unexpected = sorted((got - expected).elements())
    assert not (duplicated or missing or unexpected), (
        f"finished output differs from the oracle ({sum(expected.values())} lines): "
        f"{len(duplicated)} duplicated, e.g. {duplicated[:3]}; {len(missing)} missing, e.g. "
        f"{missing[:3]}; {len(unexpected)} unexpected, e.g. {unexpected[:3]}")


def completed_checkpoints(checkpoints: Path) -> list[int]:
    """The ids of the checkpoints whose ``_metadata`` is written (``<dir>/<job>/chk-<n>``)."""
    return sorted(int(chk.parent.name[4:]) for chk in checkpoints.glob("*/chk-*/_metadata"))


def latest_checkpoint(checkpoints: Path) -> int:
    return max(completed_checkpoints(checkpoints), default=0)


_TRIGGERED = re.compile(r"triggering checkpoint (\d+) of job")
_ENDED = re.compile(r"(?:completed checkpoint (\d+) of job|checkpoint (\d+) of job \w+ aborted)")


def checkpoint_in_flight(cluster: ProcessCluster) -> bool:
    """The JobManager logged that it triggered a checkpoint, and not yet that it completed
    or aborted it."""
    assert cluster.jobmanager is not None
    log = cluster.jobmanager.log()
    ended = {int(a or b) for a, b in _ENDED.findall(log)}
    return any(int(n) not in ended for n in _TRIGGERED.findall(log))


@contextmanager
def cluster_of(tmp_path: Path, task_managers: int) -> Iterator[ProcessCluster]:
    with ProcessCluster(task_managers=task_managers, slots=1, config=FAST_HEARTBEATS,
                        log_dir=tmp_path / "log") as cluster:
        yield cluster


def submit(tmp_path: Path, records: int, rate: float, fail_after: int = 0,
           checkpoint_interval_ms: int = CHECKPOINT_INTERVAL_MS) -> ClusterJobClient:
    config = job.configuration(str(tmp_path / "checkpoints"), checkpoint_interval_ms,
                               restart_delay_ms=100)
    env = StreamExecutionEnvironment.get_execution_environment(config)
    job.build(env, str(tmp_path / "out"), records, rate=rate, fail_after=fail_after,
              parallelism=2)
    client: ClusterJobClient = env.execute_async("exactly-once windows")
    return client


def job_status(client: ClusterJobClient) -> JobStatus:
    return client.get_job_status().result(timeout=30)


def finish(client: ClusterJobClient, cluster: ProcessCluster) -> None:
    result = client.get_job_result().result(timeout=RESULT_TIMEOUT_S)
    assert result.status is JobStatus.FINISHED, (result.status, result.error, cluster.logs())


def wait_for_checkpoint(client: ClusterJobClient, checkpoints: Path, checkpoint_id: int
                        ) -> None:
    """Wait until checkpoint ``checkpoint_id`` (or a later one) completed, or the job ended."""
    wait_until(lambda: latest_checkpoint(checkpoints) >= checkpoint_id
               or job_status(client).is_globally_terminal_state(),
               60, f"checkpoint {checkpoint_id} to complete", interval_s=0.02)


def failures(cluster: ProcessCluster, client: ClusterJobClient) -> list[str]:
    """The job's exception history (newest first), as ``name: message`` lines."""
    history = cluster.rpc.run_sync(
        cluster.dispatcher_gateway.request_exception_history(client.get_job_id()), timeout=30)
    return [f"{entry.exception_name}: {entry.message}" for entry in history.history]


def busy_task_managers(cluster: ProcessCluster) -> list[int]:
    """Indexes of the live TaskManagers running a task."""
    busy = []
    for index, tm in enumerate(cluster.task_managers):
        if not tm.running():
            continue
        gateway: TaskExecutorGateway = cluster.rpc.connect(tm.address, TaskExecutorGateway)
        try:
            statuses = cluster.rpc.run_sync(gateway.request_task_status(), timeout=10)
        except Exception:
            continue
        if any(s.state is ExecutionState.RUNNING for s in statuses):
            busy.append(index)
    return busy


def test_killing_task_managers_at_random_moments_keeps_the_output_exactly_once(
        tmp_path: Path) -> None:
    rng = random.Random(20_261_125)
    records, checkpoints = 150_000, tmp_path / "checkpoints"
    # two TaskManagers run the job (one slot each, p=2); a spare takes over a killed one's
    # place, and a new spare is started after each kill
    with cluster_of(tmp_path, task_managers=3) as cluster:
        client = submit(tmp_path, records, rate=10_000)
        kills = 0
        for during_checkpoint in rng.sample([True, False, False], 3):
            # a random number of completed checkpoints of this attempt first
            wait_for_checkpoint(client, checkpoints,
                                latest_checkpoint(checkpoints) + rng.randint(1, 3))
            if during_checkpoint:
                wait_until(lambda: checkpoint_in_flight(cluster)
                           or job_status(client).is_globally_terminal_state(),
                           30, "a checkpoint in flight", interval_s=0.005)
            if job_status(client).is_globally_terminal_state():
                break
            victims = busy_task_managers(cluster)
            assert victims, f"no TaskManager runs a task of the running job\n{cluster.logs()}"
            cluster.kill_task_manager(rng.choice(victims))
            kills += 1
            cluster.start_task_manager()
        finish(client, cluster)
        history = failures(cluster, client)
    assert kills >= 2, f"the job finished after {kills} kills; slow it down (rate)"
    assert len(history) == kills, history
    assert_exactly_once(tmp_path / "out", records)


def finished_files(output: Path) -> dict[str, str]:
    return {part.name: part.read_text() for part in output.glob(f"{job.PART_PREFIX}-*")}


def files_finished_before_the_restart(client: ClusterJobClient, output: Path
                                      ) -> dict[str, str]:
    """The finished part files as they were last seen while the first attempt ran."""
    seen: dict[str, str] = {}

    def restarting() -> bool:
        status = job_status(client)
        if status is JobStatus.RUNNING:
            seen.update(finished_files(output))
            return False
        return status is not JobStatus.CREATED and status is not JobStatus.INITIALIZING

    wait_until(restarting, 60, "the first attempt to fail", interval_s=0.01)
    return seen


def test_a_function_failing_on_its_first_attempt_only_gives_exactly_once_output(
        tmp_path: Path) -> None:
    records = 60_000
    with cluster_of(tmp_path, task_managers=2) as cluster:
        client = submit(tmp_path, records, rate=20_000, fail_after=records // 2)
        # the first attempt fails half-way, after several checkpoints committed part files
        before = files_finished_before_the_restart(client, tmp_path / "out")
        finish(client, cluster)
        [failure] = failures(cluster, client)
        assert "failing on purpose after" in failure
    # the restart went on from the latest checkpoint: what the first attempt committed stays
    # as it was, and (exactly once) the restart did not write those windows again
    assert before, "no part file was finished by a checkpoint before the failure"
    after = finished_files(tmp_path / "out")
    assert {name: after.get(name) for name in before} == before
    assert_exactly_once(tmp_path / "out", records)


def test_without_checkpoints_a_restart_replays_from_scratch_and_finishes_only_once(
        tmp_path: Path) -> None:
    """No checkpoint ever completes, so the restarted job starts from the first record; the
    first attempt's part files stay in progress (hidden) and only the second attempt's are
    finished, at the end of the input."""
    records = 40_000
    with cluster_of(tmp_path, task_managers=2) as cluster:
        client = submit(tmp_path, records, rate=20_000, fail_after=records // 2,
                        checkpoint_interval_ms=0)
        finish(client, cluster)
        [failure] = failures(cluster, client)
        assert "failing on purpose after" in failure
    leftovers = [p.name for p in (tmp_path / "out").iterdir() if p.name.startswith(".")]
    assert leftovers, "the failed attempt left no in-progress file; did it write anything?"
    assert_exactly_once(tmp_path / "out", records)
    assert completed_checkpoints(tmp_path / "checkpoints") == []


def strom(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "strom.cli.main", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)


def test_the_readme_fault_tolerance_walkthrough(tmp_path: Path) -> None:
    """README's Fault tolerance section as a user runs it: a cluster of two one-slot
    TaskManagers, the example submitted detached at parallelism 1, the TaskManager that
    runs it killed by the pid `strom cluster status` shows, the job finished on the other
    one with exactly the expected lines (smaller than the README's run: 20,000 readings)."""
    records, output, checkpoints = 20_000, tmp_path / "windows", tmp_path / "checkpoints"
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "config.yaml").write_text(
        "jobmanager.rpc.port: 0\nrest.port: 0\ntaskmanager.numberOfTaskSlots: 1\n")
    (tmp_path / "conf" / "workers").write_text("localhost\nlocalhost\n")
    started = strom("cluster", "start", "-D", "heartbeat.interval=1s",
                    "-D", "heartbeat.timeout=5s", cwd=tmp_path)
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        rest = re.search(r"REST http://(\S+?)\)",
                         (tmp_path / "log" / "jobmanager.log").read_text())
        assert rest is not None
        run = strom("run", "-m", rest.group(1), "-d", "-p", "1",
                    str(EXAMPLES / "exactly_once_windows.py"), "--output", str(output),
                    "--checkpoint-dir", str(checkpoints), "--rate", "4000",
                    "--records", str(records), cwd=tmp_path)
        assert run.returncode == 0, run.stdout + run.stderr
        job_id = re.search(r"submitted with JobID ([0-9a-f]{32})", run.stdout)
        assert job_id is not None, run.stdout
        wait_until(lambda: latest_checkpoint(checkpoints) >= 1, 60, "a first checkpoint")

        status = strom("cluster", "status", cwd=tmp_path).stdout
        # the TaskManagers table: id, address, slots, free slots, last heartbeat
        busy = re.search(r"(tcp://\S+)\s+1\s+0\s", status)
        assert busy is not None, status
        pid = re.search(rf"taskmanager-\d+\s+pid (\d+)\s+{re.escape(busy.group(1))}", status)
        assert pid is not None, status
        os.kill(int(pid.group(1)), signal.SIGKILL)

        def listed_finished() -> bool:
            listed = strom("list", "-a", "-m", rest.group(1), cwd=tmp_path).stdout
            assert "(FAILED)" not in listed, listed
            return f"{job_id.group(1)} : exactly-once windows (FINISHED)" in listed

        wait_until(listed_finished, 90, "the job to finish", interval_s=0.5)
        with urllib.request.urlopen(
                f"http://{rest.group(1)}/jobs/{job_id.group(1)}/exceptions", timeout=30) as r:
            history = json.load(r)["exceptionHistory"]["entries"]
        assert len(history) == 1, history  # the lost TaskManager
    finally:
        stopped = strom("cluster", "stop", "--timeout", "10", cwd=tmp_path)
        print(stopped.stdout, stopped.stderr, file=sys.stderr)  # pytest shows it on failure
        for log in sorted((tmp_path / "log").glob("*.log")):
            print(f"----- {log.name}\n{log.read_text(errors='replace')}", file=sys.stderr)
    expected = strom("run", str(EXAMPLES / "exactly_once_windows.py"), "--print-expected",
                     "--records", str(records), cwd=tmp_path)
    assert finished_lines(output) == sorted(expected.stdout.splitlines())
