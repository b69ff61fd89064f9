"""Savepoints as a user takes them with real processes: ``strom cluster start``, ``strom run
-m -d`` at parallelism 2, ``strom savepoint``, ``strom stop --savepointPath``, ``strom run -s
... -p 4`` and ``strom savepoint -d``. What the stopped job and the resumed one wrote
together is exactly what an uninterrupted run writes."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
from test_process_cluster_cli import cluster_dir, pids, strom

from strom.testing.sync import wait_until

__all__ = ["cluster_dir"]  # the fixture, imported for the test here

pytestmark = pytest.mark.slow

N = 20000
KEYS = 5

PROGRAM = f"""
import os
import sys
import time

from strom.common import WatermarkStrategy
from strom.datastream import StreamExecutionEnvironment
from strom.datastream.connectors.number_seq import NumberSequenceSource

out_dir, n = sys.argv[1], int(sys.argv[2])


def slow(x):
    time.sleep(0.001)  # slow enough for the savepoints to come while the job runs
    return (x % {KEYS}, x)


def write(pair):
    with open(os.path.join(out_dir, f"out-{{os.getpid()}}.txt"), "a") as f:
        f.write(f"{{pair[0]}} {{pair[1]}}\\n")
    return pair


env = StreamExecutionEnvironment.get_execution_environment()
(env.from_source(NumberSequenceSource(0, n - 1), WatermarkStrategy.no_watermarks(), "numbers")
    .uid("numbers")
    .map(slow).uid("slow")
    .key_by(lambda pair: pair[0])
    .reduce(lambda a, b: (a[0], a[1] + b[1])).uid("sums")
    .map(write).uid("write")
    .print())
env.execute("sums")
"""


def written(out: Path) -> Counter[tuple[int, int]]:
    lines = [line.split() for f in sorted(out.glob("out-*.txt"))
             for line in f.read_text().splitlines()]
    return Counter((int(k), int(v)) for k, v in lines)


def summary(out: Counter[tuple[int, int]]) -> tuple[dict[int, int], dict[int, int]]:
    """Per key: how many sums it emitted, and its last (largest) sum. The order in which a
    key's numbers arrive from the parallel source differs between runs, so its running sums
    do; a record lost or counted twice changes one of these two."""
    counts: dict[int, int] = {}
    final: dict[int, int] = {}
    for (key, total), times in out.items():
        counts[key] = counts.get(key, 0) + times
        final[key] = max(final.get(key, 0), total)
    return counts, final


def reference() -> tuple[dict[int, int], dict[int, int]]:
    counts = {k: len(range(k, N, KEYS)) for k in range(KEYS)}
    return counts, {k: sum(range(k, N, KEYS)) for k in range(KEYS)}


def test_savepoint_stop_and_resume_at_parallelism_4(cluster_dir: Path) -> None:
    (cluster_dir / "conf" / "config.yaml").write_text(
        "jobmanager.rpc.port: 0\nrest.port: 0\ntaskmanager.numberOfTaskSlots: 2\n")
    (cluster_dir / "conf" / "workers").write_text("localhost\nlocalhost\n")
    program = cluster_dir / "sums.py"
    program.write_text(PROGRAM)
    out, savepoints = cluster_dir / "out", cluster_dir / "savepoints"
    out.mkdir()
    started = strom("cluster", "start", cwd=cluster_dir)
    assert started.returncode == 0, started.stdout + started.stderr
    rest = re.search(r"REST http://(\S+?)\)",
                     (cluster_dir / "log" / "jobmanager.log").read_text())
    assert rest is not None
    address = rest.group(1)

    run = strom("run", "-m", address, "-d", "-p", "2", str(program), str(out), str(N),
                cwd=cluster_dir)
    assert run.returncode == 0, run.stdout + run.stderr
    found = re.search(r"submitted with JobID ([0-9a-f]{32})", run.stdout)
    assert found is not None, run.stdout
    job_id = found.group(1)
    wait_until(lambda: sum(written(out).values()) > 0, timeout_s=60,
               what="the job to write its first results")

    taken = strom("savepoint", "-m", address, job_id, str(savepoints), cwd=cluster_dir)
    assert taken.returncode == 0, taken.stdout + taken.stderr
    path = re.search(r"Savepoint completed\. Path: (file:\S+)", taken.stdout)
    assert path is not None, taken.stdout
    assert re.search(rf"/savepoint-{job_id[:6]}-[0-9a-f]{{12}}$", path.group(1))

    stopped = strom("stop", "-m", address, "--savepointPath", str(savepoints), job_id,
                    cwd=cluster_dir)
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    final = re.search(r"Savepoint completed\. Path: (file:\S+)", stopped.stdout)
    assert final is not None, stopped.stdout
    listed = strom("list", "-a", "-m", address, cwd=cluster_dir)
    assert f"{job_id} : sums (FINISHED)" in listed.stdout, listed.stdout
    before = written(out)
    assert 0 < sum(before.values()) < N, "stop with savepoint came after the job's end"

    resumed = strom("run", "-m", address, "-p", "4", "-s", final.group(1), str(program),
                    str(out), str(N), cwd=cluster_dir)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert summary(written(out)) == reference()

    disposed = strom("savepoint", "-m", address, "-d", path.group(1), cwd=cluster_dir)
    assert disposed.returncode == 0, disposed.stdout + disposed.stderr
    assert not Path(path.group(1).removeprefix("file:")).exists()
    assert Path(final.group(1).removeprefix("file:")).exists()

    running = pids(cluster_dir / "log")
    assert strom("cluster", "stop", cwd=cluster_dir).returncode == 0, running
