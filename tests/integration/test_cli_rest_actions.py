"""The CLI's cluster actions against a MiniCluster serving REST: ``list`` (Flink's lines and
``--json``), ``cancel``, ``cluster status`` (tables and ``--json``), the address from the
configuration, and the progress ``strom run -m`` shows on stderr."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from strom.cli.jobs import format_job_lists
from strom.cli.main import main
from strom.client.rest import RestClient
from strom.client.rest_cluster_client import RestClusterClient, RestJobClient
from strom.common import WatermarkStrategy
from strom.common.job import JobStatus
from strom.datastream import StreamExecutionEnvironment
from strom.jobmanager.rest.messages import JobOverviewInfo
from strom.minicluster import MiniCluster
from strom.testing import CollectSink, Latch, TestingSource
from strom.testing.sync import wait_until


@pytest.fixture
def cluster() -> Iterator[MiniCluster]:
    with MiniCluster(num_task_managers=1, slots_per_task_manager=4, rest_port=0) as c:
        yield c
        wait_until(lambda: c.leftovers() == [], what="the cluster to be idle")


def address(cluster: MiniCluster) -> str:
    return cluster.rest_url.removeprefix("http://")


def waiting_job(cluster: MiniCluster, latch: Latch, name: str) -> RestJobClient:
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(1)
    env.from_source(TestingSource([1, TestingSource.AWAIT(latch)]),
                    WatermarkStrategy.no_watermarks(), "waits").sink_to(CollectSink())
    job = RestClusterClient(address(cluster)).submit(env._job_graph(name))
    wait_until(lambda: job.get_job_status().result(timeout=10) is JobStatus.RUNNING,
               what="the job to run")
    rest = RestClient(address(cluster))

    def tasks_running() -> bool:
        [info] = [j for j in rest.jobs_overview() if j.jid == str(job.get_job_id())]
        return bool(info.tasks.get("running") == info.tasks.get("total", 1) == 1)

    wait_until(tasks_running, what="the job's task to run")
    return job


def overview(jid: str, state: str, start: int) -> JobOverviewInfo:
    return JobOverviewInfo(jid, "job " + jid[:1], state, start, -1, 0, start, {})


def test_list_sections_follow_flinks_cli_frontend() -> None:
    jobs = [overview("b" * 32, "RUNNING", 2_000), overview("a" * 32, "RESTARTING", 1_000),
            overview("c" * 32, "CREATED", 3_000), overview("d" * 32, "FAILED", 500)]
    lines = format_job_lists(jobs, running=False, scheduled=False, show_all=True)
    assert [line.split(" : ")[1:] if " : " in line else line for line in lines] == [
        "------------------ Running/Restarting Jobs -------------------",
        ["a" * 32, "job a (RESTARTING)"], ["b" * 32, "job b (RUNNING)"],  # by start time
        "-" * 62,
        "----------------------- Scheduled Jobs -----------------------",
        ["c" * 32, "job c (CREATED)"],
        "-" * 62,
        "---------------------- Terminated Jobs -----------------------",
        ["d" * 32, "job d (FAILED)"],
        "-" * 62,
    ]
    # -r alone: only the running section; -s alone: only the scheduled one
    assert format_job_lists([], running=True, scheduled=False, show_all=False) == [
        "No running jobs."]
    assert format_job_lists([], running=False, scheduled=True, show_all=False) == [
        "No scheduled jobs."]
    # terminated jobs only with -a, and no "No terminated jobs." line (as Flink)
    assert format_job_lists([overview("d" * 32, "FINISHED", 1)], False, False, False) == [
        "No running jobs.", "No scheduled jobs."]
    assert format_job_lists([], False, False, True) == ["No running jobs.", "No scheduled jobs."]


def test_list_json_cancel_and_cluster_status(cluster: MiniCluster, tmp_path: Path) -> None:
    latch = Latch()
    job = waiting_job(cluster, latch, "waiting job")
    jid = str(job.get_job_id())
    runner = CliRunner()

    listed = runner.invoke(main, ["list", "-m", address(cluster), "--json"])
    assert listed.exit_code == 0, listed.output
    answer = json.loads(listed.output)  # GET /jobs/overview as the server sent it
    assert set(answer) == {"jobs"}
    [listed_job] = answer["jobs"]
    assert {"start-time", "duration", "tasks"} <= set(listed_job)
    assert (listed_job["jid"], listed_job["name"], listed_job["state"]) == (
        jid, "waiting job", "RUNNING")

    status = runner.invoke(main, ["cluster", "status", "-m", address(cluster)])
    assert status.exit_code == 0, status.output
    lines = status.output.splitlines()
    assert lines[0] == "1 TaskManager(s) registered, 3 of 4 slots free:"
    [tm] = RestClient(address(cluster)).taskmanagers()
    tm_row = next(line for line in lines if tm.id in line)
    assert tm_row.split()[:4] == [tm.id, tm.path, "4", "3"], tm_row
    assert "1 job(s) not yet ended:" in lines
    job_row = next(line for line in lines if jid in line)
    assert "waiting job" in job_row and "RUNNING" in job_row and "1/1" in job_row

    as_json = runner.invoke(main, ["cluster", "status", "-m", address(cluster), "--json"])
    assert as_json.exit_code == 0, as_json.output
    report = json.loads(as_json.output)
    assert report["overview"]["taskmanagers"] == 1
    assert report["overview"]["slots-total"] == 4
    assert [t["id"] for t in report["taskmanagers"]] == [tm.id]
    assert [j["jid"] for j in report["jobs"]] == [jid]

    # without -m: rest.address/rest.port of -D (or --config, or conf/config.yaml)
    host, port = address(cluster).split(":")
    config = tmp_path / "config.yaml"
    config.write_text(f"rest.address: {host}\nrest.port: {port}\n")
    for args in (["-D", f"rest.address={host}", "-D", f"rest.port={port}"],
                 ["--config", str(config)]):
        configured = runner.invoke(main, ["list", *args])
        assert configured.exit_code == 0, configured.output
        assert f" : {jid} : waiting job (RUNNING)" in configured.output

    cancelled = runner.invoke(main, ["cancel", "-m", address(cluster), jid])
    assert cancelled.output.splitlines() == [f"Cancelling job {jid}.", f"Cancelled job {jid}."]
    wait_until(lambda: job.get_job_status().result(timeout=10) is JobStatus.CANCELED,
               what="the job to be cancelled")
    status = runner.invoke(main, ["cluster", "status", "-m", address(cluster)])
    assert status.output.splitlines()[-1] == "No running jobs."
    latch.trigger()

    other = waiting_job(cluster, Latch(), "second job")
    as_json = runner.invoke(main, ["cancel", "-m", address(cluster), "--json",
                                   str(other.get_job_id())])
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.output) == {"jobId": str(other.get_job_id()), "cancelled": True}
    wait_until(lambda: other.get_job_status().result(timeout=10) is JobStatus.CANCELED,
               what="the second job to be cancelled")


PROGRESS_PROGRAM = """
import sys
from strom.common import WatermarkStrategy
from strom.datastream import StreamExecutionEnvironment
from strom.testing import Latch, TestingSource

latch = Latch()
latch.__setstate__({"latch_id": sys.argv[1]})  # the test's latch: the job runs in its process
env = StreamExecutionEnvironment.get_execution_environment()
env.enable_checkpointing(100)
env.set_parallelism(1)
source = TestingSource([*range(10), TestingSource.AWAIT(latch), 99])
env.from_source(source, WatermarkStrategy.no_watermarks(), "numbers").map(
    lambda x: x + 1).print()
env.execute("progress job")
print("execute returned")
"""


def run_until_checkpointed(cluster: MiniCluster, tmp_path: Path, *options: str,
                           progress_shows_running: bool = False
                           ) -> subprocess.CompletedProcess[str]:
    """``strom run -m`` the program; once its job has a completed checkpoint (and, with
    ``progress_shows_running``, its progress line said RUNNING: it polls once a second, and
    a job may be CREATED a little while its recovery stores open), let it end."""
    (tmp_path / "job.py").write_text(PROGRESS_PROGRAM)
    latch = Latch()
    rest = RestClient(address(cluster))
    command = [sys.executable, "-m", "strom.cli.main", "run", *options, "-m",
               address(cluster), "job.py", latch.latch_id]
    with subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True) as process:
        err: list[str] = []
        assert process.stderr is not None and process.stdout is not None
        stderr = process.stderr
        reader = threading.Thread(target=lambda: err.extend(iter(stderr.readline, "")),
                                  daemon=True)
        reader.start()
        try:
            def checkpointed() -> bool:
                jobs = [j for j in rest.jobs_overview() if j.state == "RUNNING"]
                return bool(jobs) and rest.checkpoints(jobs[0].jid).latest.completed is not None

            wait_until(checkpointed, 60, "a completed checkpoint", interval_s=0.05)
            if progress_shows_running:
                wait_until(lambda: any(") is RUNNING" in line for line in err), 60,
                           "the progress line of the RUNNING job", interval_s=0.05)
        finally:
            latch.trigger()
        stdout = process.stdout.read()
        process.wait(timeout=120)
        reader.join(timeout=120)
    return subprocess.CompletedProcess(command, process.returncode, stdout, "".join(err))


def test_run_m_shows_progress_lines_on_stderr_and_quiet_none(cluster: MiniCluster,
                                                             tmp_path: Path) -> None:
    done = run_until_checkpointed(cluster, tmp_path, progress_shows_running=True)
    assert done.returncode == 0, done.stderr
    job_id = done.stdout.splitlines()[0].rsplit(" ", 1)[1]
    # stdout keeps Flink's lines and the program's own
    assert done.stdout.splitlines()[1:3] == ["execute returned", "Program execution finished"]
    lines = done.stderr.splitlines()
    statuses = [re.fullmatch(rf"Job {job_id} \(progress job\) is (\w+)( \(.*\))?\.", line)
                for line in lines if line.startswith("Job ")]
    assert all(statuses), lines
    assert statuses[-1] is not None and statuses[-1].group(1) == "FINISHED"
    assert "RUNNING" in [s.group(1) for s in statuses if s is not None]
    checkpoints = [line for line in lines if line.startswith("Checkpoint ")]
    assert checkpoints, lines
    assert re.fullmatch(rf"Checkpoint \d+ of job {job_id} completed \(.+ B, \d+ ms\)\.",
                        checkpoints[0])
    assert lines.index(checkpoints[0]) > 0  # after the RUNNING line

    quiet = run_until_checkpointed(cluster, tmp_path, "-q")
    assert quiet.returncode == 0, quiet.stderr
    assert not [line for line in quiet.stderr.splitlines()
                if line.startswith(("Job ", "Checkpoint "))]
