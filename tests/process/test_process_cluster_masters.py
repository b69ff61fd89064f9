"""``strom cluster start`` with two lines in conf/masters and ZooKeeper: two JobManagers,
one leading and one standing by, as ``cluster start`` and ``cluster status`` say; the CLI
without -m finds the leader in ZooKeeper; ``cluster stop`` ends every process."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from strom.testing.zookeeper import ZooKeeperServer

pytestmark = pytest.mark.slow


def strom(*args: str, cwd: Path, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "strom.cli.main", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)


def pids(log_dir: Path) -> dict[str, int]:
    return {f.stem: int(f.read_text().split()[0]) for f in log_dir.glob("*.pid")}


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")


@pytest.fixture
def ha_cluster_dir(tmp_path: Path, zookeeper: ZooKeeperServer) -> Iterator[Path]:
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "config.yaml").write_text(
        "high-availability.type: zookeeper\n"
        f"high-availability.zookeeper.quorum: {zookeeper.connect_string}\n"
        f"high-availability.storageDir: {tmp_path / 'ha'}\n"
        "high-availability.zookeeper.client.session-timeout: 3 s\n"
        "rest.bind-address: 127.0.0.1\njobmanager.bind-host: 127.0.0.1\n"
        "taskmanager.bind-host: 127.0.0.1\ntaskmanager.numberOfTaskSlots: 1\n"
        "heartbeat.interval: 300 ms\nheartbeat.timeout: 3 s\n")
    (conf / "masters").write_text("localhost:0\nlocalhost:0\n")
    (conf / "workers").write_text("localhost\n")
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


def test_cluster_start_runs_a_leader_and_a_standby_and_stop_ends_them(
        ha_cluster_dir: Path) -> None:
    started = strom("cluster", "start", cwd=ha_cluster_dir)
    assert started.returncode == 0, started.stdout + started.stderr
    roles = dict(re.findall(r"(jobmanager-\d) .* (leader|standby), REST http", started.stdout))
    assert roles == {"jobmanager-0": "leader", "jobmanager-1": "standby"}, started.stdout
    assert "taskmanager-0" in started.stdout
    running = pids(ha_cluster_dir / "log")
    assert sorted(running) == ["jobmanager-0", "jobmanager-1", "taskmanager-0"]

    status = strom("cluster", "status", cwd=ha_cluster_dir)
    assert status.returncode == 0, status.stdout + status.stderr
    assert re.search(r"jobmanager-0 .* leader, REST", status.stdout), status.stdout
    assert re.search(r"jobmanager-1 .* standby, REST", status.stdout), status.stdout
    assert "TaskManagers: 1" in status.stdout or "1 TaskManager" in status.stdout, status.stdout

    # no -m: the CLI asks ZooKeeper for the leader
    listed = strom("list", cwd=ha_cluster_dir)
    assert listed.returncode == 0, listed.stdout + listed.stderr

    stopped = strom("cluster", "stop", cwd=ha_cluster_dir)
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert not any(alive(pid) for pid in running.values())
    assert pids(ha_cluster_dir / "log") == {}
