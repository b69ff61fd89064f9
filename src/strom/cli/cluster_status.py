"""What ``strom cluster status`` prints about a running cluster, from its REST API: the
TaskManagers with their slots and last heartbeat, and the running jobs, as rich tables (or
the REST answers as JSON with ``--json``)."""

from __future__ import annotations

import sys
import time
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

from strom.cli.connection import print_json
from strom.client.rest import RestClient
from strom.jobmanager.rest import messages as m

__all__ = ["heartbeat_text", "print_status", "status_tables"]

_TERMINAL = {"FINISHED", "CANCELED", "FAILED"}


def heartbeat_text(last_heartbeat_ms: int, now_ms: int) -> str:
    """Flink's ``timeSinceLastHeartbeat`` is the time of the last heartbeat (epoch ms);
    0 means none is known."""
    if last_heartbeat_ms <= 0:
        return "-"
    return f"{max(0, now_ms - last_heartbeat_ms) / 1000:.1f} s ago"


def _duration(ms: int) -> str:
    seconds = max(0, ms) // 1000
    hours, rest = divmod(seconds, 3600)
    if hours:
        return f"{hours}h {rest // 60:02d}m {rest % 60:02d}s"
    return f"{rest // 60}m {rest % 60:02d}s"


def status_tables(overview: m.ClusterOverviewInfo, taskmanagers: list[m.TaskManagerInfo],
                  jobs: list[m.JobOverviewInfo], now_ms: int) -> list[Any]:
    """The lines and tables of the status, in order (str or rich Table)."""
    out: list[Any] = [
        f"{len(taskmanagers)} TaskManager(s) registered, {overview.slots_available} of "
        f"{overview.slots_total} slots free:"]
    if taskmanagers:
        table = Table("TaskManager", "Address", "Slots", "Free", "Last heartbeat",
                      box=box.SIMPLE_HEAD)
        for tm in sorted(taskmanagers, key=lambda t: t.id):
            table.add_row(tm.id, tm.path, str(tm.slots_number), str(tm.free_slots),
                          heartbeat_text(tm.time_since_last_heartbeat, now_ms))
        out.append(table)
    running = sorted((j for j in jobs if j.state not in _TERMINAL), key=lambda j: j.start_time)
    if not running:
        out.append("No running jobs.")
        return out
    out.append(f"{len(running)} job(s) not yet ended:")
    table = Table("Job ID", "Name", "State", "Started", "Duration", "Tasks running",
                  box=box.SIMPLE_HEAD)
    for job in running:
        started = time.strftime("%d.%m.%Y %H:%M:%S", time.localtime(job.start_time / 1000))
        tasks = f"{job.tasks.get('running', 0)}/{job.tasks.get('total', 0)}"
        table.add_row(job.jid, job.name, job.state, started, _duration(job.duration), tasks)
    out.append(table)
    return out


def print_status(rest: RestClient, as_json: bool, console: Console | None = None) -> None:
    if as_json:
        print_json({"overview": rest.get_json("/overview"),
                    "taskmanagers": rest.get_json("/taskmanagers")["taskmanagers"],
                    "jobs": rest.get_json("/jobs/overview")["jobs"]})
        return
    parts = status_tables(rest.overview(), rest.taskmanagers(), rest.jobs_overview(),
                          int(time.time() * 1000))
    if console is None:
        # not on a terminal: wide enough that a table's rows (32-digit ids) never wrap
        console = Console(file=sys.stdout, width=None if sys.stdout.isatty() else 200)
    for part in parts:
        console.print(part, highlight=False)
