"""``strom run -m``, ``strom list`` and ``strom cancel`` against a MiniCluster serving REST.

The program runs in a subprocess (the client) and its jobs in this test's process (the
cluster), whose ``sys.path`` holds neither the program's directory nor its ``--pyFiles``:
the functions can only import what the submission shipped.
"""

from __future__ import annotations

import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from strom.cli.main import main
from strom.client.rest_cluster_client import RestClusterClient
from strom.common import WatermarkStrategy
from strom.common.job import JobStatus
from strom.datastream import StreamExecutionEnvironment
from strom.minicluster import MiniCluster
from strom.testing import CollectSink, Latch, TestingSource
from strom.testing.sync import wait_until

PROGRAM = """
import sys
from {helper} import double, write
from strom.datastream import StreamExecutionEnvironment

def boom(x):
    if x == 4:
        raise ValueError(f"bad record {{x}}")
    return x

env = StreamExecutionEnvironment.get_execution_environment()
stream = env.from_collection([1, 2, 3]).map(double)
if "fail" in sys.argv:
    stream = stream.map(boom)
out = sys.argv[1]  # the lambda runs on the cluster: it takes the path, not sys.argv
stream.map(lambda x: write(out, x)).print()
env.execute("remote job")
print("execute returned")
"""

HELPER = """
def double(x):
    return x * 2

def write(path, x):
    with open(path, "a") as f:
        f.write(f"{x}\\n")
    return x
"""


@pytest.fixture
def cluster() -> Iterator[MiniCluster]:
    with MiniCluster(num_task_managers=1, slots_per_task_manager=4, rest_port=0) as c:
        yield c
        # a job's status turns terminal before its slots are released (as in Flink)
        wait_until(lambda: c.leftovers() == [], what="the cluster to be idle")


@pytest.fixture
def program(tmp_path: Path) -> tuple[Path, Path]:
    """A program in one directory and the module it imports in another (for --pyFiles)."""
    helper = f"rest_helper_{uuid.uuid4().hex[:8]}"
    (tmp_path / "prog").mkdir()
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / f"{helper}.py").write_text(HELPER)
    job = tmp_path / "prog" / "job.py"
    job.write_text(PROGRAM.format(helper=helper))
    return job, tmp_path / "lib"


def address(cluster: MiniCluster) -> str:
    return cluster.rest_url.removeprefix("http://")


def strom(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "strom.cli.main", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def test_run_m_ships_the_program_and_its_py_files_and_waits(
    cluster: MiniCluster, program: tuple[Path, Path], tmp_path: Path,
) -> None:
    job, lib = program
    out = tmp_path / "out.txt"
    done = strom("run", "-m", address(cluster), "-pyfs", str(lib), str(job), str(out),
                 cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert re.fullmatch(r"Job has been submitted with JobID [0-9a-f]{32}", lines[0])
    job_id = lines[0].rsplit(" ", 1)[1]
    assert lines[1:] == ["execute returned", "Program execution finished",
                         f"Job with JobID {job_id} has finished.", lines[4]]
    assert re.fullmatch(r"Job Runtime: \d+ ms", lines[4])
    assert sorted(out.read_text().split()) == ["2", "4", "6"]
    # the shipped files are gone with the job
    assert cluster.dispatcher is not None and cluster.dispatcher.job_files.leftovers() == []


def test_run_m_reraises_the_users_exception_with_its_file_and_line(
    cluster: MiniCluster, program: tuple[Path, Path], tmp_path: Path,
) -> None:
    job, lib = program
    done = strom("run", "-m", address(cluster), "--pyFiles", str(lib), str(job),
                 str(tmp_path / "out.txt"), "fail", cwd=tmp_path)
    assert done.returncode == 1
    assert f'File "{job}", line 8, in boom' in done.stderr
    assert "ValueError: bad record 4" in done.stderr
    assert "execute returned" not in done.stdout
    assert "Program execution finished" not in done.stdout


def test_run_m_detached_returns_after_submission(
    cluster: MiniCluster, program: tuple[Path, Path], tmp_path: Path,
) -> None:
    job, lib = program
    out = tmp_path / "out.txt"
    done = strom("run", "-m", address(cluster), "-d", "-pyfs", str(lib), str(job), str(out),
                 cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("Job has been submitted with JobID ")
    assert lines[1:] == ["execute returned"]
    client = RestClusterClient(address(cluster))
    from strom.common.job import JobID

    result = client.wait_for_result(JobID(lines[0].rsplit(" ", 1)[1]))
    assert result.status is JobStatus.FINISHED
    assert sorted(out.read_text().split()) == ["2", "4", "6"]


def test_list_and_cancel_in_flinks_format(cluster: MiniCluster) -> None:
    latch = Latch()
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(1)
    env.from_source(TestingSource([1, TestingSource.AWAIT(latch)]),
                    WatermarkStrategy.no_watermarks(), "waits").sink_to(CollectSink())
    job = RestClusterClient(address(cluster)).submit(env._job_graph("waiting job"))
    jid = str(job.get_job_id())
    wait_until(lambda: job.get_job_status().result(timeout=10) is JobStatus.RUNNING,
               what="the job to run")
    runner = CliRunner()

    listed = runner.invoke(main, ["list", "-m", address(cluster)])
    assert listed.exit_code == 0, listed.output
    lines = listed.output.splitlines()
    assert lines[:2] == ["Waiting for response...",
                         "------------------ Running/Restarting Jobs -------------------"]
    assert re.fullmatch(rf"\d\d\.\d\d\.\d{{4}} \d\d:\d\d:\d\d : {jid} : waiting job "
                        r"\(RUNNING\)", lines[2])
    assert lines[3:] == ["-" * 62, "No scheduled jobs."]

    cancelled = runner.invoke(main, ["cancel", "-m", address(cluster), jid])
    assert cancelled.exit_code == 0, cancelled.output
    assert cancelled.output.splitlines() == [f"Cancelling job {jid}.", f"Cancelled job {jid}."]
    wait_until(lambda: job.get_job_status().result(timeout=10) is JobStatus.CANCELED,
               what="the job to be cancelled")

    listed = runner.invoke(main, ["list", "-m", address(cluster), "-a"])
    lines = listed.output.splitlines()
    assert lines[1:4] == ["No running jobs.", "No scheduled jobs.",
                          "---------------------- Terminated Jobs -----------------------"]
    assert lines[4].endswith(f" : {jid} : waiting job (CANCELED)")
    latch.trigger()


def _free_port() -> int:
    import socket

    with socket.socket() as s:  # a port that was free a moment ago
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_cli_errors_say_what_was_wrong(cluster: MiniCluster, tmp_path: Path) -> None:
    runner = CliRunner()
    # a malformed id, an unknown job, an unreachable JobManager: one Error: line, exit 1
    bad_id = runner.invoke(main, ["cancel", "-m", address(cluster), "1234"])
    assert bad_id.exit_code == 1
    assert bad_id.output.splitlines() == [
        "Error: The value for the Job ID is not a valid ID. A JobID is 32 hexadecimal "
        "digits (16 bytes), got '1234' (4 characters). Copy the id from `strom list` or the "
        "REST API's /jobs."]
    unknown = runner.invoke(main, ["cancel", "-m", address(cluster), "0" * 32])
    assert unknown.exit_code == 1
    assert unknown.output.splitlines()[0] == f"Cancelling job {'0' * 32}."
    [error] = unknown.output.splitlines()[1:]
    assert error.startswith("Error: ")
    assert f"No job with id {'0' * 32} is known to this cluster" in error
    port = _free_port()
    for args in (["list"], ["cluster", "status"], ["checkpoint", "0" * 32],
                 ["savepoint", "0" * 32, "/tmp"], ["stop", "0" * 32]):
        unreachable = runner.invoke(main, [*args, "-m", f"127.0.0.1:{port}"])
        assert unreachable.exit_code == 1, (args, unreachable.output)
        errors = [line for line in unreachable.output.splitlines() if "Error" in line]
        assert len(errors) == 1 and errors[0].startswith("Error: "), unreachable.output
        assert f"Could not reach the JobManager's REST API at http://127.0.0.1:{port}" in \
            errors[0]
        assert "Traceback" not in unreachable.output
    # -v: the traceback too
    verbose = runner.invoke(main, ["list", "-v", "-m", f"127.0.0.1:{port}"])
    assert verbose.exit_code == 1 and type(verbose.exception).__name__ == "RestClientError"
    # a malformed address is a usage error: one line, exit 2
    bad_address = runner.invoke(main, ["list", "-m", "nowhere"])
    assert bad_address.exit_code == 2
    assert bad_address.output.splitlines() == [
        "Error: -m/--jobmanager: A JobManager address is host:port (e.g. localhost:8081), "
        "got 'http://nowhere'."]
    (tmp_path / "job.py").write_text("print('never runs')\n")
    detached = runner.invoke(main, ["run", "-d", str(tmp_path / "job.py")])
    assert detached.exit_code == 2 and "-d/--detached needs -m" in detached.output


def test_program_and_files_land_where_tasks_import_them(tmp_path: Path) -> None:
    from strom.client.job_artifacts import job_submission
    from strom.graph.python_dependencies import PythonDependencies

    (tmp_path / "job.py").write_text("x = 1")
    (tmp_path / "pkg" / "__pycache__").mkdir(parents=True)
    (tmp_path / "pkg" / "mod.py").write_text("y = 2")
    (tmp_path / "pkg" / "__pycache__" / "mod.pyc").write_bytes(b"skip")
    (tmp_path / "one.py").write_text("z = 3")
    (tmp_path / "deps.zip").write_bytes(b"PK")
    submission = job_submission(str(tmp_path / "job.py"), PythonDependencies(files=(
        str(tmp_path / "pkg"), str(tmp_path / "one.py"), str(tmp_path / "deps.zip"))))
    assert [(f.path, f.data) for f in submission.files] == [
        ("program/job.py", b"x = 1"), ("files/0/pkg/mod.py", b"y = 2"),
        ("files/1/one.py", b"z = 3"), ("files/2/deps.zip", b"PK")]
    assert submission.python_path == ["program", "files/0/pkg", "files/1", "files/2/deps.zip"]


def test_job_file_store_keeps_files_per_job_and_refuses_escapes(tmp_path: Path) -> None:
    from strom.common.job import JobID
    from strom.jobmanager.cluster_info import JobFile, JobSubmission
    from strom.jobmanager.job_files import InvalidJobFileError, JobFileStore

    store = JobFileStore(str(tmp_path))
    job = JobID.generate()
    [entry] = store.install(job, JobSubmission([JobFile("files/0/a.py", b"A")], ["files/0"]))
    assert Path(entry, "a.py").read_bytes() == b"A"
    assert store.leftovers() and str(job) in store.leftovers()[0]
    store.remove(job)
    assert not Path(entry).exists() and store.leftovers() == []
    for bad in ("../x.py", "/etc/passwd", "a/../../x", "a\\b.py", ""):
        with pytest.raises(InvalidJobFileError, match="must be relative"):
            store.install(JobID.generate(), JobSubmission([JobFile(bad, b"")]))
    assert list(tmp_path.iterdir()) == []


def test_taskexecutors_without_the_jobmanagers_files_fetch_them_per_job(
    cluster: MiniCluster, program: tuple[Path, Path], tmp_path: Path,
) -> None:
    from strom.jobmanager.job_files import JobFileStore

    installed: list[tuple[list[str], list[str]]] = []

    class RecordingStore(JobFileStore):
        def install(self, job_id: Any, submission: Any) -> list[str]:
            entries = super().install(job_id, submission)
            installed.append(([f.path for f in submission.files], entries))
            return entries

    te_root = tmp_path / "te-files"
    te_root.mkdir()
    for te in cluster.task_executors:
        te.fetch_job_files = True  # as a TaskManager on another host must
        te.job_files = RecordingStore(str(te_root))
    job, lib = program
    out = tmp_path / "out.txt"
    done = strom("run", "-m", address(cluster), "-pyfs", str(lib), str(job), str(out),
                 cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert sorted(out.read_text().split()) == ["2", "4", "6"]
    [(paths, entries)] = installed  # fetched once for the job's tasks
    helper = next(lib.iterdir()).name
    assert paths == ["program/job.py", f"files/0/lib/{helper}"]
    assert all(entry.startswith(str(te_root)) for entry in entries)
    assert list(te_root.iterdir()) == []  # removed when the job's slots were freed
