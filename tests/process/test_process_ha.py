"""JobManager failover with ZooKeeper, with real processes: a ZooKeeper server, two or three
``strom jobmanager`` processes with ``high-availability.type: zookeeper`` (one leads, the
others stand by) and two ``strom taskmanager`` processes of one slot each.

The job is ``examples/exactly_once_windows.py`` (keyed event-time windows, the exactly-once
FileSink, checkpoints every 250 ms), submitted detached with ``strom run -m`` to the REST API
of whichever JobManager leads; its ``expected_lines`` (``--print-expected``) is the oracle:
the finished part files must hold exactly those lines, none missing, none twice. One test
runs it attached instead (``strom run`` without ``-m``, finding the leader in ZooKeeper).

Timeouts (:data:`strom.testing.ha_process_cluster.HA_TIMEOUTS`): heartbeat.interval 1 s,
heartbeat.timeout 5 s, ZooKeeper session timeout 4 s (connection timeout 2 s, retry wait
500 ms). A killed leader's ZooKeeper session expires after the session timeout, and only
then can a standby win the election.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest

from strom.processes import ClusterProcess
from strom.testing import wait_until
from strom.testing.ha_process_cluster import HaProcessCluster, rest_get
from strom.testing.zookeeper import ZooKeeperServer

pytestmark = pytest.mark.slow

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
EXAMPLE = EXAMPLES / "exactly_once_windows.py"
CHECKPOINT_INTERVAL_MS = 250
#: from the kill of a leader to the job RUNNING on the next one: the session timeout (4 s),
#: the election, the new leader's recovery and the TaskManagers' registration, on a loaded
#: machine
FAILOVER_TIMEOUT_S = 60
RESULT_TIMEOUT_S = 120


def _job_module() -> ModuleType:
    """The example, for its oracle (the cluster runs it from the file ``strom run`` ships)."""
    sys.path.insert(0, str(EXAMPLES))
    try:
        import exactly_once_windows  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(EXAMPLES))
    return exactly_once_windows


job = _job_module()


# ---------------------------------------------------------------------------- the job's output
def finished_files(output: Path) -> dict[str, str]:
    """The finished part files (in-progress and pending ones are hidden ``.part-*``)."""
    return {part.name: part.read_text() for part in output.glob(f"{job.PART_PREFIX}-*")}


def assert_exactly_once(output: Path, records: int) -> None:
    got = Counter(line for text in finished_files(output).values()
                  for line in text.splitlines())
    expected = Counter(job.expected_lines(records))
    duplicated = sorted(line for line, n in got.items() if n > 1)
    missing = sorted((expected - got).elements())
    unexpected = sorted((got - expected).elements())
    assert not (duplicated or missing or unexpected), (
        f"finished output differs from the oracle ({sum(expected.values())} lines): "
        f"{len(duplicated)} duplicated, e.g. {duplicated[:3]}; {len(missing)} missing, e.g. "
        f"{missing[:3]}; {len(unexpected)} unexpected, e.g. {unexpected[:3]}")


def latest_checkpoint(checkpoints: Path) -> int:
    """The id of the latest checkpoint whose ``_metadata`` is written (``<dir>/<job>/chk-<n>``),
    whichever JobManager completed it."""
    return max((int(m.parent.name[4:]) for m in checkpoints.glob("*/chk-*/_metadata")),
               default=0)


_TRIGGERED = re.compile(r"triggering checkpoint (\d+) of job")
_ENDED = re.compile(r"(?:completed checkpoint (\d+) of job|checkpoint (\d+) of job \w+ aborted)")


def checkpoint_in_flight(jobmanager: ClusterProcess) -> bool:
    """The JobManager logged that it triggered a checkpoint, and not yet that it completed
    or aborted it."""
    log = jobmanager.log()
    ended = {int(a or b) for a, b in _ENDED.findall(log)}
    return any(int(n) not in ended for n in _TRIGGERED.findall(log))


# ---------------------------------------------------------------------------- the cluster
@pytest.fixture
def ha_cluster(zookeeper: ZooKeeperServer, tmp_path: Path) -> Iterator[HaProcessCluster]:
    """Two JobManagers and two one-slot TaskManagers on the test's ZooKeeper."""
    with HaProcessCluster(zookeeper.connect_string, tmp_path,
                          jobmanagers=2, task_managers=2, slots=1) as cluster:
        yield cluster


def strom(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "strom.cli.main", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)


def submit(cluster: HaProcessCluster, tmp_path: Path, records: int, rate: float) -> str:
    """``strom run -d`` of the example against the leader's REST API; the job id."""
    leader = cluster.leader()
    run = strom("run", "-m", leader.extra["rest"].split("://", 1)[1], "-d", "-p", "2",
                str(EXAMPLE), "--output", str(tmp_path / "out"),
                "--checkpoint-dir", str(tmp_path / "checkpoints"),
                "--checkpoint-interval", str(CHECKPOINT_INTERVAL_MS),
                "--records", str(records), "--rate", str(rate), cwd=tmp_path)
    assert run.returncode == 0, f"{run.stdout}{run.stderr}\n{cluster.logs()}"
    job_id = re.search(r"submitted with JobID ([0-9a-f]{32})", run.stdout)
    assert job_id is not None, run.stdout
    return job_id.group(1)


def wait_for_state(cluster: HaProcessCluster, job_id: str, state: str,
                   timeout_s: float = FAILOVER_TIMEOUT_S) -> None:
    """Wait until the leader's REST API reports the job in ``state``; a job that ends in
    another terminal state fails at once."""
    seen: list[str | None] = []

    def reached() -> bool:
        now = cluster.job_state(job_id)
        if not seen or seen[-1] != now:
            seen.append(now)
        assert now not in {"FAILED", "CANCELED"} or now == state, (
            f"job {job_id} is {now} (states seen: {seen}); the failure: "
            f"{cluster.job_failure(job_id)}\n{cluster.logs()}")
        return now == state

    try:
        wait_until(reached, timeout_s, f"job {job_id} to be {state}", interval_s=0.05)
    except TimeoutError as e:
        raise TimeoutError(f"{e}; states seen: {seen}\n{cluster.logs()}") from None


def wait_for_checkpoint(cluster: HaProcessCluster, job_id: str, checkpoints: Path,
                        checkpoint_id: int) -> None:
    """Wait until checkpoint ``checkpoint_id`` (or a later one) completed, or the job
    finished."""
    wait_until(lambda: latest_checkpoint(checkpoints) >= checkpoint_id
               or cluster.job_state(job_id) == "FINISHED",
               60, f"checkpoint {checkpoint_id} to complete", interval_s=0.02)


def holds_for(check: Callable[[], None], seconds: float, interval_s: float = 0.1) -> None:
    """Run ``check`` (it asserts) again and again for ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        check()
        time.sleep(interval_s)


# ---------------------------------------------------------------------------- the tests
def test_killing_the_leader_repeatedly_loses_nothing(zookeeper: ZooKeeperServer,
                                                     tmp_path: Path) -> None:
    """Three JobManagers (so a standby remains while a replacement starts); the leader is
    killed with ``kill -9`` three times at seeded random moments, once while a checkpoint
    is in flight. Each time a standby leads, the job is RUNNING again there, and the output
    is exactly the oracle's."""
    rng = random.Random(20_261_125)
    records, checkpoints = 80_000, tmp_path / "checkpoints"
    with HaProcessCluster(zookeeper.connect_string, tmp_path,
                          jobmanagers=3, task_managers=2, slots=1) as cluster:
        job_id = submit(cluster, tmp_path, records, rate=4_000)
        leaders = [cluster.leader()]
        for during_checkpoint in rng.sample([True, False, False], 3):
            wait_for_state(cluster, job_id, "RUNNING")
            # a random number of completed checkpoints under this leader first
            wait_for_checkpoint(cluster, job_id, checkpoints,
                                latest_checkpoint(checkpoints) + rng.randint(1, 3))
            if during_checkpoint:
                wait_until(lambda: checkpoint_in_flight(leaders[-1])
                           or cluster.job_state(job_id) == "FINISHED",
                           30, "a checkpoint in flight", interval_s=0.005)
            if cluster.job_state(job_id) == "FINISHED":
                break
            cluster.kill(leaders[-1])
            cluster.start_jobmanager()  # the next standby
            leaders.append(cluster.leader(FAILOVER_TIMEOUT_S))
            assert leaders[-1].pid not in {p.pid for p in leaders[:-1]}
            wait_for_state(cluster, job_id, "RUNNING")
        kills = len(leaders) - 1
        wait_for_state(cluster, job_id, "FINISHED", RESULT_TIMEOUT_S)
    assert kills >= 2, f"the job finished after {kills} kills; slow it down (rate)"
    assert_exactly_once(tmp_path / "out", records)


def test_a_finished_job_is_not_run_again_by_the_next_leader(
        zookeeper: ZooKeeperServer, ha_cluster: HaProcessCluster, tmp_path: Path) -> None:
    records = 6_000
    job_id = submit(ha_cluster, tmp_path, records, rate=0)
    wait_for_state(ha_cluster, job_id, "FINISHED", RESULT_TIMEOUT_S)
    assert_exactly_once(tmp_path / "out", records)
    before = finished_files(tmp_path / "out")

    old = ha_cluster.leader()
    ha_cluster.kill(old)
    new = ha_cluster.leader(FAILOVER_TIMEOUT_S)
    assert new.pid != old.pid

    # the new leader recovered before it answers REST: the finished job is known as
    # FINISHED or not at all, and stays so; no TaskManager runs a task of it again
    def not_run_again() -> None:
        listed = ha_cluster.jobs_overview(new).get(job_id)
        assert listed in (None, "FINISHED"), f"the new leader lists the job as {listed}"
        busy = {tm: tasks for tm, tasks in ha_cluster.running_tasks().items() if tasks}
        assert not busy, f"TaskManagers run tasks again: {busy}"

    holds_for(not_run_again, 5)
    assert finished_files(tmp_path / "out") == before

    # nor would a later leader: its job graph is gone from ZooKeeper
    from kazoo.client import KazooClient

    zk = KazooClient(hosts=zookeeper.connect_string)
    zk.start(timeout=30)
    try:
        graphs = zk.get_children("/flink/strom-test/jobgraphs") \
            if zk.exists("/flink/strom-test/jobgraphs") else []
    finally:
        zk.stop()
        zk.close()
    assert job_id not in graphs, graphs


def test_zookeeper_restarted_under_a_running_cluster_suspends_and_resumes_the_job(
        zookeeper: ZooKeeperServer, ha_cluster: HaProcessCluster, tmp_path: Path) -> None:
    records, checkpoints = 50_000, tmp_path / "checkpoints"
    job_id = submit(ha_cluster, tmp_path, records, rate=4_000)
    wait_for_state(ha_cluster, job_id, "RUNNING")
    wait_for_checkpoint(ha_cluster, job_id, checkpoints, 2)
    assert ha_cluster.job_state(job_id) == "RUNNING", "the job finished too soon"

    leader = ha_cluster.leader()
    zookeeper.stop()
    # leadership is revoked at once (the connection is suspended): no JobManager serves
    # REST as the leader, the job is SUSPENDED on the former leader, and its JobMaster
    # cancelled the job's tasks
    wait_until(lambda: not ha_cluster.leaders(), 30, "every JobManager to give up leading")
    wait_until(lambda: f"({job_id}) is suspended" in leader.log(), 30,
               "the former leader to suspend the job")
    wait_until(lambda: not any(ha_cluster.running_tasks().values()), 30,
               "the TaskManagers to run no task of the suspended job")

    zookeeper.restart()
    ha_cluster.leader(FAILOVER_TIMEOUT_S)
    wait_for_state(ha_cluster, job_id, "RUNNING")
    wait_for_state(ha_cluster, job_id, "FINISHED", RESULT_TIMEOUT_S)
    assert_exactly_once(tmp_path / "out", records)


def test_an_attached_run_finds_the_leader_in_zookeeper_and_outlives_its_kill(
        zookeeper: ZooKeeperServer, ha_cluster: HaProcessCluster, tmp_path: Path) -> None:
    """``strom run`` without ``-m`` and without ``-d``, with the high-availability keys: it
    submits to the leader ZooKeeper names, and waits for the job's result through the leader
    killed under it and the standby that takes over."""
    records, checkpoints = 40_000, tmp_path / "checkpoints"
    ha_keys = [arg for key, value in ha_cluster.config.items()
               if key.startswith("high-availability.") for arg in ("-D", f"{key}={value}")]
    run = subprocess.Popen(
        [sys.executable, "-m", "strom.cli.main", "run", *ha_keys, "-p", "2", str(EXAMPLE),
         "--output", str(tmp_path / "out"), "--checkpoint-dir", str(checkpoints),
         "--checkpoint-interval", str(CHECKPOINT_INTERVAL_MS), "--records", str(records),
         "--rate", "4000"], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True)
    try:
        wait_until(lambda: latest_checkpoint(checkpoints) >= 2 or run.poll() is not None,
                   60, "a second checkpoint of the attached run's job", interval_s=0.02)
        assert run.poll() is None, f"strom run ended before the kill:\n{run.communicate()[0]}"
        old = ha_cluster.leader()
        ha_cluster.kill(old)
        output, _ = run.communicate(timeout=FAILOVER_TIMEOUT_S + RESULT_TIMEOUT_S)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    assert run.returncode == 0, f"{output}\n{ha_cluster.logs()}"
    job_id = re.search(r"Job with JobID ([0-9a-f]{32}) has finished\.", output)
    assert job_id is not None, output
    assert ha_cluster.leader().pid != old.pid
    assert ha_cluster.job_state(job_id.group(1)) == "FINISHED"
    assert_exactly_once(tmp_path / "out", records)


def test_a_frozen_leader_is_replaced_and_steps_down_when_it_wakes(
        zookeeper: ZooKeeperServer, ha_cluster: HaProcessCluster, tmp_path: Path) -> None:
    """The leader stops (``kill -STOP``) for longer than its ZooKeeper session timeout: a
    standby takes over and runs the job. When the old leader wakes (``kill -CONT``) it finds
    its session expired, gives up leading (no REST answer as the leader, the TaskManagers
    refuse its calls by their fencing token) and the output stays exactly once."""
    records, checkpoints = 50_000, tmp_path / "checkpoints"
    job_id = submit(ha_cluster, tmp_path, records, rate=4_000)
    wait_for_state(ha_cluster, job_id, "RUNNING")
    wait_for_checkpoint(ha_cluster, job_id, checkpoints, 2)
    old = ha_cluster.leader()
    ha_cluster.freeze(old)
    try:
        new = ha_cluster.leader(FAILOVER_TIMEOUT_S)
        wait_for_state(ha_cluster, job_id, "RUNNING")
        # the new leader's attempt completes a checkpoint while the old one sleeps
        wait_for_checkpoint(ha_cluster, job_id, checkpoints, latest_checkpoint(checkpoints) + 1)
    finally:
        ha_cluster.thaw(old)
    assert new.pid != old.pid
    wait_until(lambda: "Leadership revoked" in old.log(), 30,
               "the woken leader to give up its leadership")
    holds_for(lambda: ha_cluster.leaders() == [new], 2)
    wait_for_state(ha_cluster, job_id, "FINISHED", RESULT_TIMEOUT_S)
    assert_exactly_once(tmp_path / "out", records)


_MEMBER = re.compile(r"(jobmanager-\d+)\s+pid (\d+)\s+\S+ (leader|standby|electing), REST (\S+)")


def test_the_readme_high_availability_walkthrough(zookeeper: ZooKeeperServer, tmp_path: Path) -> None:
    """README's High availability walk-through as a user runs it: the shipped conf/ copied
    and the high-availability keys appended, two JobManagers in ``masters`` (free ports
    here, not 8081/8082), ``strom cluster start``, the example submitted detached through
    the leader ZooKeeper names, the standby's REST redirecting to the leader, the leader
    killed by its pid file, the job RUNNING again and FINISHED on the other JobManager with
    exactly the expected lines (smaller than the README's run: 20,000 readings, a 4 s
    session timeout)."""
    records, output, checkpoints = 20_000, tmp_path / "windows", tmp_path / "checkpoints"
    conf = tmp_path / "ha-conf"
    shutil.copytree(EXAMPLES.parent / "conf", conf)
    quorum = zookeeper.connect_string
    with open(conf / "config.yaml", "a") as config:
        config.write(textwrap.dedent(f"""
            high-availability:
              type: zookeeper
              zookeeper:
                quorum: {quorum}
                client:
                  session-timeout: 4 s
              storageDir: {tmp_path / "strom-ha"}
            """))
    (conf / "masters").write_text("localhost:0\nlocalhost:0\n")
    client = ("--config", str(conf / "config.yaml"))

    def listed(*flags: str) -> str:
        return strom("list", *flags, *client, cwd=tmp_path).stdout

    started = strom("cluster", "start", "--conf-dir", str(conf), "-D", "heartbeat.interval=1s",
                    "-D", "heartbeat.timeout=5s", cwd=tmp_path)
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        members = {name: (int(pid), role, rest)
                   for name, pid, role, rest in _MEMBER.findall(started.stdout)}
        assert [members[jm][1] for jm in ("jobmanager-0", "jobmanager-1")] == [
            "leader", "standby"], started.stdout
        leader_rest, standby_rest = members["jobmanager-0"][2], members["jobmanager-1"][2]

        run = strom("run", *client, "-d", "-p", "1", str(EXAMPLE), "--output", str(output),
                    "--checkpoint-dir", str(checkpoints), "--rate", "4000",
                    "--records", str(records), cwd=tmp_path)
        assert run.returncode == 0, run.stdout + run.stderr
        job_id = re.search(r"submitted with JobID ([0-9a-f]{32})", run.stdout)
        assert job_id is not None, run.stdout
        redirect = rest_get(standby_rest, "/jobs/overview")
        assert redirect.status == 307, redirect
        assert redirect.location == f"{leader_rest}/jobs/overview", redirect
        wait_until(lambda: latest_checkpoint(checkpoints) >= 1, 60, "a first checkpoint")

        os.kill(int((tmp_path / "log" / "jobmanager-0.pid").read_text().split()[0]),
                signal.SIGKILL)
        wait_until(lambda: f"{job_id.group(1)} : exactly-once windows (RUNNING)" in listed(),
                   FAILOVER_TIMEOUT_S, "the job to run on the standby", interval_s=0.5)
        status = strom("cluster", "status", *client, cwd=tmp_path).stdout
        assert re.search(r"jobmanager-1 .* leader, REST", status), status
        assert re.search(r"jobmanager-0 .* \(not running\)", status), status
        wait_until(lambda: f"{job_id.group(1)} : exactly-once windows (FINISHED)"
                   in listed("-a"), RESULT_TIMEOUT_S, "the job to finish", interval_s=0.5)
    finally:
        stopped = strom("cluster", "stop", "--timeout", "10", cwd=tmp_path)
        print(stopped.stdout, stopped.stderr, file=sys.stderr)  # pytest shows it on failure
        for log in sorted((tmp_path / "log").glob("*.log")):
            print(f"----- {log.name}\n{log.read_text(errors='replace')}", file=sys.stderr)
    expected = strom("run", str(EXAMPLE), "--print-expected", "--records", str(records),
                     cwd=tmp_path)
    assert sorted(line for text in finished_files(output).values()
                  for line in text.splitlines()) == sorted(expected.stdout.splitlines())
