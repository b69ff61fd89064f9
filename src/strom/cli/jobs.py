"""``strom list`` and ``strom cancel``: jobs of a running cluster, through its REST API, in
the format of Flink's CLI.

    strom list [-m host:port] [-r] [-s] [-a]
    strom cancel [-m host:port] <jobid>
"""

from __future__ import annotations

import time

import click

from strom.client.rest_client import RestClientError
from strom.client.rest_cluster_client import RestClusterClient
from strom.common.job import JobID
from strom.jobmanager.rest.messages import JobOverviewInfo

__all__ = ["cancel", "jobmanager_option", "list_jobs"]

DEFAULT_JOBMANAGER = "localhost:8081"
_LINE = "--------------------------------------------------------------"

jobmanager_option = click.option(
    "-m", "--jobmanager", default=DEFAULT_JOBMANAGER, show_default=True,
    metavar="host:port", help="Address of the JobManager's REST API.")


def _cluster(address: str) -> RestClusterClient:
    try:
        return RestClusterClient(address)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="-m/--jobmanager") from None


def _line(job: JobOverviewInfo) -> str:
    started = time.strftime("%d.%m.%Y %H:%M:%S", time.localtime(job.start_time / 1000))
    return f"{started} : {job.jid} : {job.name} ({job.state})"


def _print_jobs(title: str, jobs: list[JobOverviewInfo], empty: str) -> None:
    if not jobs:
        click.echo(empty)
        return
    click.echo(f" {title} ".center(len(_LINE), "-"))
    for job in sorted(jobs, key=lambda j: j.start_time):
        click.echo(_line(job))
    click.echo(_LINE)


@click.command("list")
@jobmanager_option
@click.option("-r", "--running", is_flag=True, help="Show only running and restarting jobs.")
@click.option("-s", "--scheduled", is_flag=True, help="Show only scheduled jobs.")
@click.option("-a", "--all", "show_all", is_flag=True,
              help="Show all jobs, terminated ones too.")
def list_jobs(jobmanager: str, running: bool, scheduled: bool, show_all: bool) -> None:
    """List the jobs of the cluster at -m (running and scheduled ones by default)."""
    cluster = _cluster(jobmanager)
    click.echo("Waiting for response...")
    try:
        jobs = cluster.list_jobs()
    except RestClientError as e:
        raise click.ClickException(str(e)) from None
    if not running and not scheduled:
        running = scheduled = True
    if show_all:
        running = scheduled = True
    terminal = {"FINISHED", "CANCELED", "FAILED"}
    if running:
        _print_jobs("Running/Restarting Jobs",
                    [j for j in jobs if j.state not in terminal and j.state != "CREATED"],
                    "No running jobs.")
    if scheduled:
        _print_jobs("Scheduled Jobs", [j for j in jobs if j.state == "CREATED"],
                    "No scheduled jobs.")
    if show_all:
        _print_jobs("Terminated Jobs", [j for j in jobs if j.state in terminal],
                    "No terminated jobs.")


@click.command()
@jobmanager_option
@click.argument("job_id", metavar="JOBID")
def cancel(jobmanager: str, job_id: str) -> None:
    """Cancel the job JOBID on the cluster at -m."""
    try:
        parsed = JobID.from_hex_string(job_id)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="JOBID") from None
    cluster = _cluster(jobmanager)
    click.echo(f"Cancelling job {parsed}.")
    try:
        cluster.cancel(parsed)
    except RestClientError as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"Cancelled job {parsed}.")
