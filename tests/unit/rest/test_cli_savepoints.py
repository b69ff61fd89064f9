"""``strom savepoint``, ``strom stop``, ``strom checkpoint`` and ``strom run -s/-n``: Flink's
options and output lines, against a MiniCluster whose JobMaster has a fake coordinator."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from test_rest_savepoints import cluster, start_job, write_savepoint

from strom.cli.main import main
from strom.common.job import JobStatus
from strom.minicluster import MiniCluster
from strom.network.elements import CheckpointType

__all__ = ["cluster"]  # the fixture, imported for the tests here


def address(cluster: MiniCluster) -> str:
    return cluster.rest_url.removeprefix("http://")


def test_savepoint_prints_flinks_lines(cluster: MiniCluster, tmp_path: Path) -> None:
    job, coordinator, latch = start_job(cluster)
    jid = job.get_job_id()
    result = CliRunner().invoke(main, ["savepoint", "-m", address(cluster), str(jid),
                                       str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        f"Triggering savepoint for job {jid}.",
        "Waiting for response...",
        f"Savepoint completed. Path: file:{tmp_path}/savepoint-abcdef-0123456789ab",
        "You can resume your program from this savepoint with the run command.",
    ]
    assert coordinator.triggered == [(CheckpointType.SAVEPOINT, f"file://{tmp_path}")]
    latch.trigger()
    job.get_job_execution_result().result(timeout=30)


def test_stop_with_short_options_drains_and_prints_the_path(cluster: MiniCluster,
                                                            tmp_path: Path) -> None:
    job, coordinator, _ = start_job(cluster)
    jid = job.get_job_id()
    result = CliRunner().invoke(main, ["stop", "-m", address(cluster), "-p", str(tmp_path),
                                       "-d", str(jid)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        f'Draining job "{jid}" with a CANONICAL savepoint.',
        f"Savepoint completed. Path: file:{tmp_path}/savepoint-abcdef-0123456789ab",
    ]
    assert coordinator.triggered == [(CheckpointType.SAVEPOINT_TERMINATE,
                                      f"file://{tmp_path}")]
    assert job.get_job_status().result(timeout=10) is JobStatus.FINISHED


def test_stop_with_long_options_suspends(cluster: MiniCluster, tmp_path: Path) -> None:
    job, coordinator, _ = start_job(cluster)
    jid = job.get_job_id()
    result = CliRunner().invoke(main, ["stop", "--jobmanager", address(cluster),
                                       "--savepointPath", str(tmp_path), str(jid)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == f'Suspending job "{jid}" with a CANONICAL savepoint.'
    assert coordinator.triggered == [(CheckpointType.SAVEPOINT_SUSPEND, f"file://{tmp_path}")]


def test_checkpoint_prints_flinks_line(cluster: MiniCluster) -> None:
    job, _, latch = start_job(cluster)
    jid = job.get_job_id()
    result = CliRunner().invoke(main, ["checkpoint", "-m", address(cluster), str(jid)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == f"Checkpoint(CONFIGURED) 1 for job {jid} completed."
    latch.trigger()
    job.get_job_execution_result().result(timeout=30)


def test_savepoint_errors_say_what_was_wrong(cluster: MiniCluster, tmp_path: Path) -> None:
    runner = CliRunner()
    job, _, latch = start_job(cluster)
    jid = str(job.get_job_id())
    no_dir = runner.invoke(main, ["savepoint", "-m", address(cluster), jid])
    assert no_dir.exit_code == 1
    assert "No savepoint directory configured." in no_dir.output
    native = runner.invoke(main, ["savepoint", "-m", address(cluster), "-type", "native", jid,
                                  str(tmp_path)])
    assert native.exit_code == 1 and "CANONICAL format only" in native.output
    no_job = runner.invoke(main, ["savepoint", "-m", address(cluster)])
    assert no_job.exit_code == 2 and "Missing JOBID" in no_job.output
    both = runner.invoke(main, ["savepoint", "-m", address(cluster), "-d", "x", jid])
    assert both.exit_code == 2 and "no JOBID" in both.output
    unknown = runner.invoke(main, ["stop", "-m", address(cluster), "-p", "/x", "0" * 32])
    assert unknown.exit_code == 1 and "No job with id" in unknown.output
    disposed = runner.invoke(main, ["savepoint", "-m", address(cluster), "-d",
                                    str(tmp_path / "nothing")])
    assert disposed.exit_code == 1
    assert disposed.output.splitlines()[:2] == [
        f"Disposing savepoint '{tmp_path / 'nothing'}'.", "Waiting for response..."]
    latch.trigger()
    job.get_job_execution_result().result(timeout=30)


def test_savepoint_dispose_prints_flinks_lines(cluster: MiniCluster, tmp_path: Path) -> None:
    path = write_savepoint(tmp_path)
    result = CliRunner().invoke(main, ["savepoint", "-m", address(cluster), "-d", path])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        f"Disposing savepoint '{path}'.", "Waiting for response...",
        f"Savepoint '{path}' disposed."]
    assert list(tmp_path.iterdir()) == []


def test_savepoint_stop_checkpoint_and_dispose_print_one_json_object_with_json(
        cluster: MiniCluster, tmp_path: Path) -> None:
    runner = CliRunner()
    job, _, _ = start_job(cluster)
    jid = str(job.get_job_id())
    taken = runner.invoke(main, ["savepoint", "-m", address(cluster), "--json", jid,
                                 str(tmp_path)])
    assert taken.exit_code == 0, taken.output
    assert json.loads(taken.output) == {
        "jobId": jid, "location": f"file:{tmp_path}/savepoint-abcdef-0123456789ab"}
    checkpoint = runner.invoke(main, ["checkpoint", "-m", address(cluster), "--json", jid])
    assert checkpoint.exit_code == 0, checkpoint.output
    assert json.loads(checkpoint.output) == {"jobId": jid, "checkpointId": 2,
                                             "checkpointType": "CONFIGURED"}  # after the savepoint
    stopped = runner.invoke(main, ["stop", "-m", address(cluster), "-p", str(tmp_path),
                                   "--json", jid])
    assert stopped.exit_code == 0, stopped.output
    assert json.loads(stopped.output)["jobId"] == jid
    path = write_savepoint(tmp_path / "old")
    disposed = runner.invoke(main, ["savepoint", "-m", address(cluster), "--json", "-d", path])
    assert disposed.exit_code == 0, disposed.output
    assert json.loads(disposed.output) == {"location": path, "disposed": True}


PROGRAM = """
import sys
from strom.datastream import StreamExecutionEnvironment

env = StreamExecutionEnvironment.get_execution_environment()
env.from_collection([1]).print()
settings = env._job_graph("restore").savepoint_restore_settings
with open(sys.argv[1], "w") as f:
    f.write(f"{settings.restore_path}|{settings.allow_non_restored_state}")
"""


def test_run_from_savepoint_puts_the_restore_settings_in_the_job_graph(tmp_path: Path) -> None:
    program = tmp_path / "job.py"
    program.write_text(PROGRAM)
    out = tmp_path / "settings"
    runner = CliRunner()
    result = runner.invoke(main, ["run", "-s", "file:/sp/savepoint-abcdef-0123456789ab", "-n",
                                  str(program), str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text() == "file:/sp/savepoint-abcdef-0123456789ab|True"
    result = runner.invoke(main, ["run", "--fromSavepoint", "/sp/x", str(program), str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text() == "/sp/x|False"
    result = runner.invoke(main, ["run", "-D", "execution.savepoint.path=/sp/y", str(program),
                                  str(out)])
    assert out.read_text() == "/sp/y|False"
    result = runner.invoke(main, ["run", str(program), str(out)])
    assert out.read_text() == "None|False"
