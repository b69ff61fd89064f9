"""Progress of the jobs ``strom run`` waits for, from the REST API, on stderr.

A :class:`ProgressMonitor` thread asks the REST API about one job every second
(:func:`fetch_progress`: ``/jobs/:jobid`` for the status and the vertices' records,
``/jobs/:jobid/checkpoints`` for the last completed checkpoint) and hands each
:class:`JobProgress` to a view:

* :class:`LiveView` (stderr is a terminal): a rich Live table, redrawn every second:
  status, each vertex's records received/sent, the last checkpoint.
* :class:`LineView` (otherwise, or when the job's ``print()`` output shares the terminal):
  a plain line only when something changed, the status at once and completed checkpoints at
  most every ``min_interval_s``. It never redraws, so it never overwrites other output.

``strom run -q`` turns progress off.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from strom.client.rest import RestClient, RestClientError
from strom.jobmanager.rest.messages import IOMetricsInfo

__all__ = ["CheckpointSource", "CheckpointSummary", "JobProgress", "LineView", "LiveView", "ProgressMonitor",
           "VertexProgress", "fetch_progress", "format_bytes"]

log = logging.getLogger(__name__)

TERMINAL_STATES = frozenset({"FINISHED", "CANCELED", "FAILED", "SUSPENDED"})


@dataclass(frozen=True)
class VertexProgress:
    name: str
    parallelism: int
    status: str
    #: records received/sent by its tasks (None while the REST API has no such metric)
    records_in: int | None
    records_out: int | None


@dataclass(frozen=True)
class CheckpointSummary:
    id: int
    #: when its last acknowledgement came (epoch ms)
    completed_ms: int
    size_bytes: int
    duration_ms: int


@dataclass(frozen=True)
class JobProgress:
    job_id: str
    name: str
    status: str
    vertices: tuple[VertexProgress, ...] = ()
    checkpoint: CheckpointSummary | None = None
    #: False when the job takes no checkpoints (BATCH mode, or checkpointing not enabled)
    checkpointing: bool = True

    @property
    def records_in(self) -> int | None:
        return _total(v.records_in for v in self.vertices)

    @property
    def records_out(self) -> int | None:
        return _total(v.records_out for v in self.vertices)


def _total(values: Any) -> int | None:
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def _records(metrics: IOMetricsInfo, which: str) -> int | None:
    """``read``/``write`` records of a vertex; None while no subtask has reported them."""
    count: int = getattr(metrics, f"{which}_records")
    complete: bool = getattr(metrics, f"{which}_records_complete")
    return count if complete or count else None


class CheckpointSource:
    """The job's last completed checkpoint; asks no more once the job has none (BATCH)."""

    def __init__(self) -> None:
        self.enabled = True

    def last(self, rest: RestClient, job_id: str) -> CheckpointSummary | None:
        if not self.enabled:
            return None
        try:
            stats = rest.checkpoints(job_id)
        except RestClientError as e:
            if e.status == 404:
                self.enabled = False
            return None
        done = stats.latest.completed
        if done is None:
            return None
        return CheckpointSummary(done.id, done.latest_ack_timestamp, done.checkpointed_size,
                                 done.end_to_end_duration)


def fetch_progress(rest: RestClient, job_id: str,
                   checkpoints: CheckpointSource | None = None) -> JobProgress:
    """The job's progress now (raises :class:`RestClientError` when the API is not there)."""
    details = rest.job_details(job_id)
    vertices = tuple(
        VertexProgress(v.name, v.parallelism, v.status, _records(v.metrics, "read"),
                       _records(v.metrics, "write"))
        for v in details.vertices)
    checkpoints = checkpoints or CheckpointSource()
    checkpoint = checkpoints.last(rest, job_id)
    return JobProgress(details.jid, details.name, details.state, vertices, checkpoint,
                       checkpoints.enabled)


def format_bytes(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def _count(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def _checkpoint_text(progress: JobProgress, now_ms: int) -> str:
    checkpoint = progress.checkpoint
    if checkpoint is None:
        return "none yet" if progress.checkpointing else "none (checkpointing is off)"
    age = max(0, now_ms - checkpoint.completed_ms) / 1000
    return (f"#{checkpoint.id}, {age:.0f} s ago, {format_bytes(checkpoint.size_bytes)}, "
            f"took {checkpoint.duration_ms} ms")


class ProgressView(Protocol):
    def show(self, progress: JobProgress) -> None: ...

    def close(self) -> None: ...


class LiveView:
    """A table redrawn in place on a terminal ``console`` (stderr)."""

    def __init__(self, console: Console, clock: Callable[[], float] = time.time,
                 redirect_stdout: bool = True) -> None:
        self._console = console
        self._clock = clock
        self._live = Live(console=console, refresh_per_second=1, transient=False,
                          redirect_stdout=redirect_stdout, redirect_stderr=False,
                          auto_refresh=False)
        self._started = False

    def render(self, progress: JobProgress) -> Group:
        now_ms = int(self._clock() * 1000)
        title = Text.assemble(("Job ", "bold"), progress.job_id, " ",
                              (progress.name, "bold"), "  ", (progress.status, "cyan"))
        table = Table("Vertex", "Parallelism", "Status", "Records received", "Records sent",
                      box=None, pad_edge=False)
        for v in progress.vertices:
            table.add_row(v.name, str(v.parallelism), v.status, _count(v.records_in),
                          _count(v.records_out))
        checkpoint = Text("Last checkpoint: " + _checkpoint_text(progress, now_ms))
        return Group(title, table, checkpoint)

    def show(self, progress: JobProgress) -> None:
        if not self._started:
            self._live.start()
            self._started = True
        self._live.update(self.render(progress), refresh=True)

    def close(self) -> None:
        if self._started:
            self._live.stop()
            self._started = False


class LineView:
    """Plain lines, written only when something changed: a status change at once, a newly
    completed checkpoint at most once per ``min_interval_s`` (the latest one then)."""

    def __init__(self, echo: Callable[[str], None], clock: Callable[[], float] = time.monotonic,
                 min_interval_s: float = 5.0) -> None:
        self._echo = echo
        self._clock = clock
        self.min_interval_s = min_interval_s
        self._status: str | None = None
        self._checkpoint_id: int | None = None
        self._last_checkpoint_line = float("-inf")

    def show(self, progress: JobProgress) -> None:
        now = self._clock()
        if progress.status != self._status:
            self._status = progress.status
            records = ""
            if progress.records_in is not None or progress.records_out is not None:
                records = (f" (records received {_count(progress.records_in)}, sent "
                           f"{_count(progress.records_out)})")
            self._echo(f"Job {progress.job_id} ({progress.name}) is {progress.status}"
                       f"{records}.")
        checkpoint = progress.checkpoint
        if (checkpoint is not None and checkpoint.id != self._checkpoint_id
                and now - self._last_checkpoint_line >= self.min_interval_s):
            self._checkpoint_id = checkpoint.id
            self._last_checkpoint_line = now
            self._echo(f"Checkpoint {checkpoint.id} of job {progress.job_id} completed "
                       f"({format_bytes(checkpoint.size_bytes)}, {checkpoint.duration_ms} ms).")

    def close(self) -> None:
        pass


class ProgressMonitor:
    """Shows a job's progress every ``interval_s`` in a thread, until the job has ended or
    :meth:`stop`. A failed ask (the API gone with a local cluster) is skipped."""

    def __init__(self, fetch: Callable[[], JobProgress], view: ProgressView,
                 interval_s: float = 1.0) -> None:
        self._fetch = fetch
        self._view = view
        self.interval_s = interval_s
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        self.last: JobProgress | None = None
        self._thread = threading.Thread(target=self._run, name="strom-progress", daemon=True)

    def start(self) -> ProgressMonitor:
        self._thread.start()
        return self

    def poll(self) -> bool:
        """Ask once and show the answer; whether the job has ended."""
        try:
            progress = self._fetch()
        except Exception as e:  # progress is a display: it never ends the program
            log.debug("Could not ask for the job's progress", exc_info=e)
            return False
        with self._lock:
            if self._stopped.is_set() and self.last is not None:
                return True
            self.last = progress
            self._view.show(progress)
        return progress.status in TERMINAL_STATES

    def _run(self) -> None:
        while not self._stopped.is_set():
            if self.poll():
                with self._lock:  # the job has ended: the next job may show its own view
                    self._view.close()
                return
            self._stopped.wait(self.interval_s)

    def stop(self, final_poll: bool = True) -> None:
        """End the thread; with ``final_poll``, show the job's state once more first."""
        if final_poll and self._thread.is_alive():
            self.poll()
        self._stopped.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=10)
        with self._lock:
            self._view.close()
