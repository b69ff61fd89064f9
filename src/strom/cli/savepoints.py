"""``strom savepoint``, ``strom stop`` and ``strom checkpoint``: savepoints and checkpoints of
a running cluster's jobs, through its REST API, with Flink's CLI options and output.

    strom savepoint [-m host:port] [-type canonical] <jobid> [targetDirectory]
    strom savepoint [-m host:port] -d <savepointPath>
    strom stop [-m host:port] [-p/--savepointPath dir] [-d/--drain] <jobid>
    strom checkpoint [-m host:port] [-full] <jobid>

Resume from a savepoint with ``strom run -s <savepointPath> [-n] job.py``.
"""

from __future__ import annotations

import click

from strom.cli.connection import (
    Connection,
    cluster_command,
    json_option,
    parse_job_id,
    print_json,
)
from strom.client.rest import RestClientError
from strom.common.job import JobID

__all__ = ["checkpoint", "savepoint", "stop"]

_format_option = click.option(
    "-type", "--type", "format_type", type=click.Choice(["canonical", "native"],
                                                        case_sensitive=False),
    default="canonical", show_default=True,
    help="The savepoint's format: canonical (any state backend restores it); native is "
         "not supported by strom yet.")


def _job_id(text: str | None) -> JobID:
    if text is None:
        raise click.UsageError("Missing JOBID: the id of the job (see strom list).")
    return parse_job_id(text)


def _say(as_json: bool, line: str) -> None:
    """Flink's progress lines, left out with --json (which prints one JSON object)."""
    if not as_json:
        click.echo(line)


def _failed(what: str, error: BaseException) -> click.ClickException:
    message = str(error) if isinstance(error, RestClientError) else (
        f"{type(error).__name__}: {error}")
    return click.ClickException(f"{what} failed: {message}")


@click.command()
@cluster_command
@click.option("-d", "--dispose", "dispose_path", default=None, metavar="savepointPath",
              help="Dispose (delete) the savepoint at savepointPath instead.")
@_format_option
@json_option
@click.argument("job_id", metavar="JOBID", required=False)
@click.argument("target_directory", metavar="[targetDirectory]", required=False)
def savepoint(connection: Connection, dispose_path: str | None, format_type: str,
              as_json: bool, job_id: str | None, target_directory: str | None) -> None:
    """Take a savepoint of the job JOBID into targetDirectory (default:
    execution.checkpointing.savepoint-dir), or dispose of one with -d.

    With --json: {"jobId", "location"} (or {"location", "disposed": true})."""
    cluster = connection.cluster()
    if dispose_path is not None:
        if job_id is not None:
            raise click.UsageError("-d/--dispose takes the savepoint's path and no JOBID.")
        _say(as_json, f"Disposing savepoint '{dispose_path}'.")
        _say(as_json, "Waiting for response...")
        try:
            cluster.dispose_savepoint(dispose_path)
        except Exception as e:
            raise _failed(f"Disposing savepoint '{dispose_path}'", e) from None
        if as_json:
            print_json({"location": dispose_path, "disposed": True})
        _say(as_json, f"Savepoint '{dispose_path}' disposed.")
        return
    parsed = _job_id(job_id)
    _say(as_json, f"Triggering savepoint for job {parsed}.")
    _say(as_json, "Waiting for response...")
    try:
        path = cluster.trigger_savepoint(parsed, target_directory, format_type.upper())
    except Exception as e:
        raise _failed(f"Triggering a savepoint for the job {parsed}", e) from None
    if as_json:
        print_json({"jobId": str(parsed), "location": path})
    _say(as_json, f"Savepoint completed. Path: {path}")
    _say(as_json, "You can resume your program from this savepoint with the run command.")


@click.command()
@cluster_command
@click.option("-p", "--savepointPath", "savepoint_path", default=None, metavar="dir",
              help="Directory for the savepoint (default: "
                   "execution.checkpointing.savepoint-dir).")
@click.option("-d", "--drain", is_flag=True,
              help="Emit MAX_WATERMARK before the savepoint, so that all event-time windows "
                   "and timers fire (use when the job will not be resumed).")
@_format_option
@json_option
@click.argument("job_id", metavar="JOBID")
def stop(connection: Connection, savepoint_path: str | None, drain: bool, format_type: str,
         as_json: bool, job_id: str) -> None:
    """Stop the job JOBID with a savepoint; the job ends FINISHED.

    With --json: {"jobId", "location"}."""
    parsed = _job_id(job_id)
    cluster = connection.cluster()
    doing = "Draining" if drain else "Suspending"
    _say(as_json, f'{doing} job "{parsed}" with a {format_type.upper()} savepoint.')
    try:
        path = cluster.stop_with_savepoint(parsed, savepoint_path, drain, format_type.upper())
    except Exception as e:
        raise _failed(f"Stopping the job {parsed} with a savepoint", e) from None
    if as_json:
        print_json({"jobId": str(parsed), "location": path})
    _say(as_json, f"Savepoint completed. Path: {path}")


@click.command()
@cluster_command
@click.option("-full", "--full", is_flag=True,
              help="A full checkpoint, even when incremental checkpoints are configured.")
@json_option
@click.argument("job_id", metavar="JOBID")
def checkpoint(connection: Connection, full: bool, as_json: bool, job_id: str) -> None:
    """Take a checkpoint of the job JOBID now.

    With --json: {"jobId", "checkpointId", "checkpointType"}."""
    parsed = _job_id(job_id)
    cluster = connection.cluster()
    _say(as_json, f"Triggering checkpoint for job {parsed}.")
    _say(as_json, "Waiting for response...")
    try:
        checkpoint_id = cluster.trigger_checkpoint(parsed, full)
    except Exception as e:
        raise _failed(f"Triggering a checkpoint for the job {parsed}", e) from None
    kind = "FULL" if full else "CONFIGURED"
    if as_json:
        print_json({"jobId": str(parsed), "checkpointId": checkpoint_id,
                    "checkpointType": kind})
    _say(as_json, f"Checkpoint({kind}) {checkpoint_id} for job {parsed} completed.")
