"""``strom cluster start | status | stop`` and the exit codes of ``strom jobmanager``, run as
the user runs them. Every process started here is ended by its pid, also when a test fails."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def strom(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "strom.cli.main", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)


def pids(log_dir: Path) -> dict[str, int]:
    return {f.stem: int(f.read_text().split()[0]) for f in log_dir.glob("*.pid")}


def report_address(cluster_dir: Path) -> str:
    """host:port of the REST API, from the JobManager's pid file."""
    rest_url = (cluster_dir / "log" / "jobmanager.pid").read_text().split("\n")[2]
    return rest_url.removeprefix("http://")


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")


@pytest.fixture
def cluster_dir(tmp_path: Path) -> Iterator[Path]:
    """A directory with conf/config.yaml and conf/workers; whatever the cluster started is
    killed by pid at the end, and its logs are printed."""
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "config.yaml").write_text(
        "jobmanager.rpc.port: 0\nrest.port: 0\ntaskmanager.numberOfTaskSlots: 2\n"
        "heartbeat.interval: 200 ms\nheartbeat.timeout: 2 s\n")
    (conf / "workers").write_text("# one TaskManager per line\nlocalhost\n")
    seen: dict[str, int] = {}
    try:
        yield tmp_path
    finally:
        seen.update(pids(tmp_path / "log"))
        for pid in seen.values():
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        for log in sorted((tmp_path / "log").glob("*.log")):
            print(f"----- {log.name}\n{log.read_text(errors='replace')}", file=sys.stderr)


def test_cluster_start_twice_reports_the_running_cluster_and_stop_ends_it(
        cluster_dir: Path) -> None:
    started = strom("cluster", "start", cwd=cluster_dir)
    assert started.returncode == 0, started.stdout + started.stderr
    assert "Started a strom cluster" in started.stdout
    first = pids(cluster_dir / "log")
    assert set(first) == {"jobmanager", "taskmanager-0"}
    assert all(alive(pid) for pid in first.values())

    status = strom("cluster", "status", cwd=cluster_dir)
    assert status.returncode == 0, status.stderr
    assert "1 TaskManager(s) registered, 2 of 2 slots free:" in status.stdout
    assert "No running jobs." in status.stdout
    # through the REST API the JobManager's ready line named (rest.port: 0 in the config)
    as_json = strom("cluster", "status", "--json", cwd=cluster_dir)
    assert as_json.returncode == 0, as_json.stderr
    report = json.loads(as_json.stdout)
    assert report["overview"]["slots-total"] == 2 and len(report["taskmanagers"]) == 1
    listed = strom("list", "-m", report_address(cluster_dir), cwd=cluster_dir)
    assert listed.stdout.splitlines() == ["Waiting for response...", "No running jobs.",
                                          "No scheduled jobs."], listed.stderr

    again = strom("cluster", "start", cwd=cluster_dir)
    assert again.returncode == 0, again.stderr
    assert "already running" in again.stdout
    assert str(first["jobmanager"]) in again.stdout
    assert pids(cluster_dir / "log") == first  # nothing new started

    stopped = strom("cluster", "stop", cwd=cluster_dir)
    assert stopped.returncode == 0, stopped.stderr
    assert f"Stopped jobmanager (pid {first['jobmanager']})" in stopped.stdout
    assert not any(alive(pid) for pid in first.values())
    assert pids(cluster_dir / "log") == {}
    assert strom("cluster", "status", cwd=cluster_dir).returncode == 1


def test_a_jobmanager_that_cannot_listen_exits_with_1(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = strom("jobmanager", "-D", f"jobmanager.rpc.port={port}", cwd=tmp_path,
                     timeout=60)
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"cannot listen for RPC on 127.0.0.1:{port}" in done.stdout


def test_cluster_start_refuses_workers_on_other_hosts(cluster_dir: Path) -> None:
    (cluster_dir / "conf" / "workers").write_text("localhost\nworker-7.example\n")
    done = strom("cluster", "start", cwd=cluster_dir)
    assert done.returncode == 1
    assert "worker-7.example" in done.stderr and "strom taskmanager" in done.stderr
    assert pids(cluster_dir / "log") == {}


def test_a_task_manager_that_never_reaches_its_jobmanager_gives_up_with_2(
        tmp_path: Path) -> None:
    with socket.socket() as unused:  # a port nothing listens on
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    done = strom("taskmanager", "-D", f"jobmanager.rpc.port={port}",
                 "-D", "jobmanager.rpc.address=127.0.0.1",
                 "-D", "taskmanager.registration.timeout=1 s",
                 "-D", "cluster.registration.error-delay=100 ms", cwd=tmp_path, timeout=60)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "ready at tcp://127.0.0.1:" in done.stdout
    assert (f"TaskManager gives up: not registered at tcp://127.0.0.1:{port}/resourcemanager "
            "for 1000 ms (taskmanager.registration.timeout)") in done.stdout


def test_cluster_start_reports_a_jobmanager_that_could_not_start(cluster_dir: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = strom("cluster", "start", "-D", f"jobmanager.rpc.port={port}", cwd=cluster_dir)
    assert done.returncode == 1
    assert "The jobmanager did not start (exit code 1)" in done.stderr
    assert f"cannot listen for RPC on 127.0.0.1:{port}" in done.stderr
    assert pids(cluster_dir / "log") == {}


def test_the_readme_walkthrough_start_run_list_stop(cluster_dir: Path) -> None:
    """README's Cluster section as a user runs it: two one-slot TaskManagers, word count at
    parallelism 2 submitted over REST, the job listed as finished, the cluster stopped."""
    (cluster_dir / "conf" / "config.yaml").write_text(
        "jobmanager.rpc.port: 0\nrest.port: 0\ntaskmanager.numberOfTaskSlots: 1\n")
    (cluster_dir / "conf" / "workers").write_text("localhost\nlocalhost\n")
    started = strom("cluster", "start", cwd=cluster_dir)
    assert started.returncode == 0, started.stdout + started.stderr
    jm_log = (cluster_dir / "log" / "jobmanager.log").read_text()
    rest = re.search(r"REST http://(\S+?)\)", jm_log)
    assert rest is not None, jm_log
    example = Path(__file__).resolve().parents[2] / "examples" / "word_count.py"

    run = strom("run", "-m", rest.group(1), "-p", "2", str(example), cwd=cluster_dir)
    assert run.returncode == 0, run.stdout + run.stderr
    job_id = re.search(r"submitted with JobID ([0-9a-f]{32})", run.stdout)
    assert job_id is not None and "has finished" in run.stdout, run.stdout

    listed = strom("list", "-a", "-m", rest.group(1), cwd=cluster_dir)
    assert listed.returncode == 0, listed.stderr
    assert f"{job_id.group(1)} : word count (FINISHED)" in listed.stdout

    # each TaskManager ran one subtask of the parallel print sink
    logs = [(cluster_dir / "log" / f"taskmanager-{i}.log").read_text() for i in (0, 1)]
    assert all(re.search(r"^[12]> \(\w+,\d+\)$", log, re.M) for log in logs), logs

    running = pids(cluster_dir / "log")
    stopped = strom("cluster", "stop", cwd=cluster_dir)
    assert stopped.returncode == 0, stopped.stderr
    assert not any(alive(pid) for pid in running.values())
