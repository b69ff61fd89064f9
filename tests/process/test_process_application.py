"""Application mode in a real process: ``strom run-application`` serves REST while its job
runs, ``strom cancel`` (another process) ends the job, and the JobManager process exits."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

PROGRAM = """
from strom.common import WatermarkStrategy
from strom.datastream import StreamExecutionEnvironment
from strom.testing import CollectSink, Latch, TestingSource

env = StreamExecutionEnvironment.get_execution_environment()
env.set_parallelism(1)
never = Latch()  # nobody triggers it: the job runs until it is cancelled
env.from_source(TestingSource([1, TestingSource.AWAIT(never)]),
                WatermarkStrategy.no_watermarks(), "waits").sink_to(CollectSink())
env.execute("application job")
"""

DEADLINE_S = 60.0


@pytest.fixture
def application(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    """The JobManager process of ``strom run-application``; always ended by its PID."""
    (tmp_path / "job.py").write_text(PROGRAM)
    log = tmp_path / "jobmanager.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "strom.cli.main", "run-application", "-D", "rest.port=0",
             "job.py"], cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield process, log
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)


def get(url: str) -> dict:  # type: ignore[type-arg]
    with urllib.request.urlopen(url, timeout=10) as answer:
        return json.loads(answer.read())  # type: ignore[no-any-return]


def wait_for(condition, what: str, log: Path):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + DEADLINE_S
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"waited {DEADLINE_S} s for {what}; JobManager log:\n"
                        f"{log.read_text(errors='replace')}")
        time.sleep(0.05)


def test_run_application_serves_rest_until_its_job_is_cancelled(
    application: tuple[subprocess.Popen[bytes], Path], tmp_path: Path,
) -> None:
    process, log = application

    def rest_url() -> str | None:
        assert process.poll() is None, f"the JobManager exited:\n{log.read_text()}"
        found = re.search(r"REST API at (http://\S+)", log.read_text(errors="replace"))
        return found.group(1) if found else None

    url = wait_for(rest_url, "the REST address", log)

    def running_job() -> str | None:
        jobs = get(url + "/jobs")["jobs"]
        return jobs[0]["id"] if jobs and jobs[0]["status"] == "RUNNING" else None

    job_id = wait_for(running_job, "the job to run", log)
    assert get(url + "/overview")["jobs-running"] == 1
    cancel = subprocess.run(
        [sys.executable, "-m", "strom.cli.main", "cancel", "-m",
         url.removeprefix("http://"), job_id],
        capture_output=True, text=True, timeout=DEADLINE_S)
    assert cancel.returncode == 0, cancel.stderr
    assert cancel.stdout.splitlines() == [f"Cancelling job {job_id}.",
                                          f"Cancelled job {job_id}."]
    try:
        code = process.wait(timeout=DEADLINE_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the JobManager did not exit after its job was cancelled:\n"
                    f"{log.read_text()}")
    output = log.read_text()
    assert code == 1, output  # the program's execute() raised: its job was cancelled
    assert "'application job'" in output and "ended CANCELED" in output


PARALLEL_PROGRAM = """
import os
import sys
from pathlib import Path

from strom.datastream import RuntimeExecutionMode, StreamExecutionEnvironment

marks = Path(sys.argv[1])


def mark(word):
    (marks / str(os.getpid())).touch()
    return (word, 1)


env = StreamExecutionEnvironment.get_execution_environment()
env.set_runtime_mode(RuntimeExecutionMode.BATCH)
(env.from_collection(["a", "b", "c", "a"] * 50)
    .map(mark)
    .key_by(lambda t: t[0])
    .reduce(lambda x, y: (x[0], x[1] + y[1]))
    .print())
env.execute("parallel application")
"""


def test_run_application_at_parallelism_2_runs_taskmanager_processes(tmp_path: Path) -> None:
    (tmp_path / "job.py").write_text(PARALLEL_PROGRAM)
    (tmp_path / "marks").mkdir()
    env = {k: v for k, v in os.environ.items() if k != "STROM_LOCAL_TASKMANAGERS"}
    process = subprocess.Popen(
        [sys.executable, "-m", "strom.cli.main", "run-application", "-p", "2",
         "-D", "rest.port=0", "job.py", str(tmp_path / "marks")],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        output, _ = process.communicate(timeout=DEADLINE_S)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
    assert process.returncode == 0, output
    counts = sorted(re.sub(r"^\d+> ", "", line) for line in output.splitlines()
                    if re.match(r"^\d+> \(", line))
    assert counts == ["('a', 100)", "('b', 50)", "('c', 50)"], output
    pids = {int(p.name) for p in (tmp_path / "marks").iterdir()}
    assert len(pids) == 2 and process.pid not in pids, output
