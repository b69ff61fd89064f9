"""``strom list`` and ``strom cancel``: jobs of a running cluster, through its REST API, in
the format of Flink's CLI (``CliFrontend.list``/``cancel``).

    strom list [-m host:port] [-r] [-s] [-a] [--json]
    strom cancel [-m host:port] <jobid>
"""

from __future__ import annotations

import time

import click

from strom.cli.connection import (
    Connection,
    cluster_command,
    json_option,
    parse_job_id,
    print_json,
)
from strom.jobmanager.rest.messages import JobOverviewInfo

__all__ = ["cancel", "format_job_lists", "list_jobs"]

_LINE = "-" * 62
_RUNNING = "------------------ Running/Restarting Jobs -------------------"
_SCHEDULED = "----------------------- Scheduled Jobs -----------------------"
_TERMINATED = "---------------------- Terminated Jobs -----------------------"
_TERMINAL = {"FINISHED", "CANCELED", "FAILED"}


def _line(job: JobOverviewInfo) -> str:
    started = time.strftime("%d.%m.%Y %H:%M:%S", time.localtime(job.start_time / 1000))
    return f"{started} : {job.jid} : {job.name} ({job.state})"


def _section(title: str, jobs: list[JobOverviewInfo]) -> list[str]:
    return [title, *(_line(j) for j in sorted(jobs, key=lambda j: j.start_time)), _LINE]


def format_job_lists(jobs: list[JobOverviewInfo], running: bool, scheduled: bool,
                     show_all: bool) -> list[str]:
    """Flink's lines: CREATED jobs are scheduled, the others not yet globally terminal are
    running; terminated jobs only with ``-a`` and only when there are some."""
    if not running and not scheduled and not show_all:
        running = scheduled = True
    lines: list[str] = []
    if running or show_all:
        active = [j for j in jobs if j.state not in _TERMINAL and j.state != "CREATED"]
        lines += _section(_RUNNING, active) if active else ["No running jobs."]
    if scheduled or show_all:
        created = [j for j in jobs if j.state == "CREATED"]
        lines += _section(_SCHEDULED, created) if created else ["No scheduled jobs."]
    if show_all:
        ended = [j for j in jobs if j.state in _TERMINAL]
        if ended:
            lines += _section(_TERMINATED, ended)
    return lines


@click.command("list")
@cluster_command
@click.option("-r", "--running", is_flag=True, help="Show only running and restarting jobs.")
@click.option("-s", "--scheduled", is_flag=True, help="Show only scheduled jobs.")
@click.option("-a", "--all", "show_all", is_flag=True,
              help="Show all jobs, terminated ones too.")
@json_option
def list_jobs(connection: Connection, running: bool, scheduled: bool, show_all: bool,
              as_json: bool) -> None:
    """List the jobs of the cluster (running and scheduled ones by default).

    With --json: the answer of GET /jobs/overview (every job, whatever the flags)."""
    rest = connection.rest()
    if as_json:
        print_json(rest.get_json("/jobs/overview"))
        return
    click.echo("Waiting for response...")
    for line in format_job_lists(rest.jobs_overview(), running, scheduled, show_all):
        click.echo(line)


@click.command()
@cluster_command
@json_option
@click.argument("job_id", metavar="JOBID")
def cancel(connection: Connection, as_json: bool, job_id: str) -> None:
    """Cancel the job JOBID. With --json: {"jobId", "cancelled": true}."""
    parsed = parse_job_id(job_id)
    rest = connection.rest()
    if not as_json:
        click.echo(f"Cancelling job {parsed}.")
    rest.cancel_job(parsed)
    if as_json:
        print_json({"jobId": str(parsed), "cancelled": True})
    else:
        click.echo(f"Cancelled job {parsed}.")
