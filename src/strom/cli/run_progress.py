"""Which progress ``strom run`` shows, and for which jobs (see :mod:`strom.cli.progress`).

Progress goes to stderr, so stdout keeps exactly Flink's lines and the program's output.
It is a live table when stderr is a terminal, unless the program's own ``print()`` output
shares that terminal with it: a local job's print sinks write to this terminal from task
threads and TaskManager processes, which a redrawn table would garble. Then, and when
stderr is not a terminal, progress is plain lines on changes only. ``-q`` and ``-d`` show
none.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable
from typing import IO

import click
from rich.console import Console

from strom.cli.progress import (
    CheckpointSource,
    JobProgress,
    LineView,
    LiveView,
    ProgressMonitor,
    ProgressView,
    fetch_progress,
)
from strom.client.rest import RestClient, RestClientError
from strom.common.job import JobID

__all__ = ["RunProgress", "progress_mode"]


def progress_mode(quiet: bool, detached: bool, remote: bool, stdout_tty: bool,
                  stderr_tty: bool) -> str | None:
    """``"live"``, ``"lines"`` or None (no progress)."""
    if quiet or detached:
        return None
    if stderr_tty and (remote or not stdout_tty):
        return "live"
    return "lines"


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class RunProgress:
    """The progress monitors of one ``strom run``: one per job it follows."""

    def __init__(self, quiet: bool, detached: bool, remote: bool,
                 interval_s: float = 1.0) -> None:
        self.stdout_tty = _isatty(sys.stdout)
        self.mode = progress_mode(quiet, detached, remote, self.stdout_tty,
                                  _isatty(sys.stderr))
        self.interval_s = interval_s
        self.monitors: list[ProgressMonitor] = []

    def _view(self) -> ProgressView:
        if self.mode == "live":
            # the program's prints (on this terminal too) go above the table
            return LiveView(Console(stderr=True), redirect_stdout=self.stdout_tty)
        return LineView(lambda line: click.echo(line, err=True))

    def follow(self, rest: RestClient, job_id: JobID | str,
               fallback: Callable[[], JobProgress] | None = None) -> None:
        """Show the progress of the job ``job_id`` (the ones before have ended or are left).
        When the REST API no longer answers, ``fallback`` (if given) tells the job's
        status."""
        if self.mode is None:
            return
        self.stop()
        checkpoints = CheckpointSource()
        monitor: ProgressMonitor

        def fetch() -> JobProgress:
            try:
                return fetch_progress(rest, str(job_id), checkpoints)
            except RestClientError:
                if fallback is None:
                    raise
                now = fallback()
                if monitor.last is None:
                    return now
                return dataclasses.replace(monitor.last, status=now.status)

        monitor = ProgressMonitor(fetch, self._view(), self.interval_s)
        self.monitors.append(monitor.start())

    def stop(self) -> None:
        """Show each followed job's state once more and stop following it."""
        for monitor in self.monitors:
            monitor.stop()
        self.monitors.clear()
