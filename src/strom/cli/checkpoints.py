"""``strom checkpoint``: take a checkpoint of a running job through the REST API, as Flink
1.19's ``flink checkpoint`` does.

    strom checkpoint [-m host:port] [--full] <jobid>
"""

from __future__ import annotations

import time

import click

from strom.cli.jobs import jobmanager_option
from strom.client.rest_client import RestClient, RestClientError
from strom.common.job import JobID
from strom.jobmanager.rest import checkpoint_messages as cm
from strom.jobmanager.rest import specs

__all__ = ["checkpoint"]

#: how long the command waits for the checkpoint (Flink's client.timeout is similar)
TIMEOUT_S = 600.0


def take_checkpoint(client: RestClient, job_id: JobID, full: bool,
                    timeout_s: float = TIMEOUT_S) -> int:
    """Trigger a checkpoint of ``job_id`` and wait for it; returns its id, or raises
    :class:`RestClientError` with why it failed."""
    kind = "FULL" if full else "CONFIGURED"
    answer = client.send(specs.TRIGGER_CHECKPOINT, body=cm.CheckpointTriggerRequest(kind),
                         jobid=job_id)
    deadline = time.monotonic() + timeout_s
    pause = 0.01
    while True:
        status = client.send(specs.CHECKPOINT_TRIGGER_STATUS, jobid=job_id,
                             triggerid=answer.request_id)
        if status.status.id == "COMPLETED":
            break
        if time.monotonic() > deadline:
            raise RestClientError(
                f"The checkpoint of job {job_id} did not complete within {timeout_s:.0f} s; "
                f"ask for it again at /jobs/{job_id}/checkpoints/{answer.request_id}.")
        time.sleep(pause)
        pause = min(pause * 2, 0.5)
    operation = status.operation
    if operation is None or operation.checkpoint_id is None:
        cause = (operation.failure_cause or {}) if operation is not None else {}
        trace = str(cause.get("stack-trace") or cause.get("class") or "unknown cause")
        raise RestClientError(f"The checkpoint of job {job_id} failed: {trace.strip()}")
    return operation.checkpoint_id


@click.command()
@jobmanager_option
@click.option("--full", is_flag=True,
              help="Take a full checkpoint (strom's checkpoints are always full).")
@click.argument("job_id", metavar="JOBID")
def checkpoint(jobmanager: str, full: bool, job_id: str) -> None:
    """Take a checkpoint of the running job JOBID on the cluster at -m."""
    try:
        parsed = JobID.from_hex_string(job_id)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="JOBID") from None
    try:
        client = RestClient(jobmanager)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="-m/--jobmanager") from None
    click.echo(f"Triggering checkpoint for job {parsed}.")
    try:
        checkpoint_id = take_checkpoint(client, parsed, full)
    except RestClientError as e:
        raise click.ClickException(str(e)) from None
    kind = "FULL" if full else "CONFIGURED"
    click.echo(f"Checkpoint({kind}) {checkpoint_id} for job {parsed} completed.")
