"""``strom run``'s progress: what each view prints for a sequence of snapshots, with a fake
clock and a console writing to a string; the monitor's thread with a scripted fetch."""

from __future__ import annotations

import io
import threading

import pytest
from rich.console import Console

from strom.cli.progress import (
    CheckpointSource,
    CheckpointSummary,
    JobProgress,
    LineView,
    LiveView,
    ProgressMonitor,
    VertexProgress,
    fetch_progress,
    format_bytes,
)
from strom.cli.run_progress import progress_mode
from strom.client.rest import RestClientError
from strom.jobmanager.rest import checkpoint_messages as cm
from strom.jobmanager.rest import messages as m
from strom.testing.sync import wait_until

JOB = "0123456789abcdef0123456789abcdef"


class FakeClock:
    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def snapshot(status: str, checkpoint: int | None = None, records: int | None = None
             ) -> JobProgress:
    vertices = (
        VertexProgress("Source: numbers", 2, status, 0 if records is not None else None,
                       records),
        VertexProgress("Map -> Sink: Print", 2, status, records, None),
    )
    summary = None if checkpoint is None else CheckpointSummary(
        checkpoint, completed_ms=998_000, size_bytes=2048, duration_ms=35)
    return JobProgress(JOB, "numbers", status, vertices, summary)


def test_line_view_prints_status_changes_at_once_and_checkpoints_at_most_every_interval(
) -> None:
    clock = FakeClock()
    lines: list[str] = []
    view = LineView(lines.append, clock, min_interval_s=5.0)
    view.show(snapshot("INITIALIZING"))
    view.show(snapshot("INITIALIZING"))  # nothing changed: nothing printed
    clock.now += 1
    view.show(snapshot("RUNNING", records=10))
    view.show(snapshot("RUNNING", checkpoint=1, records=20))
    clock.now += 2
    view.show(snapshot("RUNNING", checkpoint=2, records=30))  # within 5 s of checkpoint 1
    clock.now += 1
    view.show(snapshot("RUNNING", checkpoint=3, records=40))
    clock.now += 2.5  # 5.5 s after checkpoint 1's line: the latest is printed
    view.show(snapshot("RUNNING", checkpoint=3, records=50))
    view.show(snapshot("RUNNING", checkpoint=3, records=60))
    view.show(snapshot("FINISHED", checkpoint=3, records=60))
    assert lines == [
        f"Job {JOB} (numbers) is INITIALIZING.",
        f"Job {JOB} (numbers) is RUNNING (records received 10, sent 10).",
        f"Checkpoint 1 of job {JOB} completed (2.0 KB, 35 ms).",
        f"Checkpoint 3 of job {JOB} completed (2.0 KB, 35 ms).",
        f"Job {JOB} (numbers) is FINISHED (records received 60, sent 60).",
    ]


def test_live_view_renders_status_vertices_and_the_last_checkpoint() -> None:
    out = io.StringIO()
    console = Console(file=out, width=120, force_terminal=False, color_system=None)
    view = LiveView(console, FakeClock(1_000.0), redirect_stdout=False)
    console.print(view.render(snapshot("RUNNING", checkpoint=7, records=1234567)))
    text = out.getvalue()
    assert f"Job {JOB} numbers  RUNNING" in text
    lines = text.splitlines()
    assert lines[1].split() == ["Vertex", "Parallelism", "Status", "Records", "received",
                                "Records", "sent"]
    assert lines[2].split() == ["Source:", "numbers", "2", "RUNNING", "0", "1,234,567"]
    assert lines[3].split() == ["Map", "->", "Sink:", "Print", "2", "RUNNING", "1,234,567",
                                "-"]
    assert lines[4] == "Last checkpoint: #7, 2 s ago, 2.0 KB, took 35 ms"
    out.truncate(0)
    out.seek(0)
    console.print(view.render(snapshot("RUNNING")))
    assert "Last checkpoint: none yet" in out.getvalue()
    assert out.getvalue().splitlines()[2].split()[-2:] == ["-", "-"]  # no metrics yet


def test_live_view_redraws_in_place_on_a_terminal() -> None:
    out = io.StringIO()
    console = Console(file=out, width=100, force_terminal=True, color_system=None)
    view = LiveView(console, FakeClock(), redirect_stdout=False)
    view.show(snapshot("RUNNING", records=1))
    view.show(snapshot("RUNNING", records=2))
    view.close()
    view.close()  # twice is fine
    text = out.getvalue()
    assert "\x1b[" in text  # cursor movement: the table is redrawn, not appended
    assert text.count("RUNNING") >= 3 and "2" in text


def test_progress_mode_keeps_a_live_table_away_from_the_jobs_prints() -> None:
    # remote: the job's prints go to the TaskManagers, a live table is fine on a terminal
    assert progress_mode(False, False, remote=True, stdout_tty=True, stderr_tty=True) == "live"
    # local with stdout on the terminal too: the print sinks write there, so plain lines
    assert progress_mode(False, False, remote=False, stdout_tty=True,
                         stderr_tty=True) == "lines"
    assert progress_mode(False, False, remote=False, stdout_tty=False,
                         stderr_tty=True) == "live"
    assert progress_mode(False, False, remote=True, stdout_tty=True,
                         stderr_tty=False) == "lines"
    assert progress_mode(True, False, remote=True, stdout_tty=True, stderr_tty=True) is None
    assert progress_mode(False, True, remote=True, stdout_tty=True, stderr_tty=True) is None


class RecordingView:
    def __init__(self) -> None:
        self.shown: list[str] = []
        self.closed = 0

    def show(self, progress: JobProgress) -> None:
        self.shown.append(progress.status)

    def close(self) -> None:
        self.closed += 1


def test_monitor_polls_until_the_job_has_ended_and_skips_failed_asks() -> None:
    answers: list[JobProgress | Exception] = [
        snapshot("RUNNING"), RestClientError(None, ["down"]), snapshot("RUNNING"),
        snapshot("FINISHED"), snapshot("never asked")]
    asked = threading.Event()

    def fetch() -> JobProgress:
        answer = answers.pop(0)
        asked.set()
        if isinstance(answer, Exception):
            raise answer
        return answer

    view = RecordingView()
    monitor = ProgressMonitor(fetch, view, interval_s=0.01).start()
    wait_until(lambda: view.closed == 1, what="the monitor to see the job end")
    assert view.shown == ["RUNNING", "RUNNING", "FINISHED"]
    assert [a.status for a in answers if isinstance(a, JobProgress)] == ["never asked"]
    monitor.stop()  # after the end: no more asks
    assert view.shown == ["RUNNING", "RUNNING", "FINISHED"]


def test_monitor_stop_shows_the_state_once_more() -> None:
    statuses = iter(["RUNNING", "RUNNING", "CANCELED"])
    view = RecordingView()
    monitor = ProgressMonitor(lambda: snapshot(next(statuses)), view, interval_s=60).start()
    wait_until(lambda: view.shown == ["RUNNING"], what="the first ask")
    monitor.stop()
    assert view.shown == ["RUNNING", "RUNNING"] and view.closed >= 1


@pytest.mark.parametrize("size, text", [(0, "0 B"), (1023, "1023 B"), (1536, "1.5 KB"),
                                        (5 * 1024 ** 2, "5.0 MB"), (3 * 1024 ** 4, "3072.0 GB")])
def test_format_bytes(size: int, text: str) -> None:
    assert format_bytes(size) == text


class FakeRest:
    """Answers job_details and checkpoints as the REST API does; counts the asks."""

    def __init__(self, checkpoint_error: int | None = None) -> None:
        self.checkpoint_error = checkpoint_error
        self.checkpoint_asks = 0

    def job_details(self, job_id: str) -> m.JobDetailsInfo:
        vertex = m.JobVertexDetailsInfo(
            "v1", "Source: numbers -> Map", 2, 128, "RUNNING", 0, -1, 5, {"RUNNING": 2},
            m.IOMetricsInfo(write_records=42, read_records_complete=True,
                            write_records_complete=True))
        return m.JobDetailsInfo(job_id, "numbers", True, "RUNNING", "STREAMING", 0, -1, 5,
                                128, 5, {}, [vertex], {"RUNNING": 1})

    def checkpoints(self, job_id: str) -> cm.CheckpointingStatistics:
        self.checkpoint_asks += 1
        raise RestClientError(self.checkpoint_error, ["no checkpoints"])


def test_fetch_progress_reads_vertex_records_and_stops_asking_a_job_without_checkpoints(
) -> None:
    rest = FakeRest(checkpoint_error=404)
    source = CheckpointSource()
    for _ in range(3):
        progress = fetch_progress(rest, JOB, source)  # type: ignore[arg-type]
    assert rest.checkpoint_asks == 1  # a 404 says the job takes none: asked once
    assert (progress.status, progress.records_in, progress.records_out) == ("RUNNING", 0, 42)
    assert progress.vertices[0].name == "Source: numbers -> Map"
    assert not progress.checkpointing
    out = io.StringIO()
    Console(file=out, width=120, color_system=None).print(
        LiveView(Console(file=io.StringIO()), FakeClock()).render(progress))
    assert "Last checkpoint: none (checkpointing is off)" in out.getvalue()
    # any other failure is asked again next time
    flaky = FakeRest(checkpoint_error=None)
    source = CheckpointSource()
    for _ in range(2):
        assert fetch_progress(flaky, JOB, source).checkpointing  # type: ignore[arg-type]
    assert flaky.checkpoint_asks == 2
