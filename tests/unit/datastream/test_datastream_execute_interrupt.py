"""A Ctrl-C that comes while ``execute()`` is still submitting (the job's tasks may already
run) cancels the job once it is submitted, instead of escaping with the job left running."""

from __future__ import annotations

import concurrent.futures
import os
import signal
import sys
import time
from collections.abc import Iterator
from types import FrameType
from typing import Any

import pytest

from strom.common.job import JobID, JobStatus
from strom.datastream import StreamExecutionEnvironment
from strom.datastream import stream_execution_environment as see


def _done(value: Any) -> concurrent.futures.Future[Any]:
    future: concurrent.futures.Future[Any] = concurrent.futures.Future()
    future.set_result(value)
    return future


class _Client:
    def __init__(self) -> None:
        self.cancelled = False
        self.job_id = JobID.generate()

    def get_job_id(self) -> JobID:
        return self.job_id

    def cancel(self) -> concurrent.futures.Future[None]:
        self.cancelled = True
        return _done(None)

    def get_job_status(self) -> concurrent.futures.Future[JobStatus]:
        return _done(JobStatus.CANCELED if self.cancelled else JobStatus.RUNNING)

    def get_job_execution_result(self) -> Any:
        raise AssertionError("execute() waited for a job the user interrupted")


class _ClusterThatIsInterruptedWhileSubmitting:
    def __init__(self) -> None:
        self.client = _Client()

    def submit(self, job_graph: Any) -> _Client:
        os.kill(os.getpid(), signal.SIGINT)  # the user presses Ctrl-C right now
        return self.client


@pytest.fixture
def cluster() -> Iterator[_ClusterThatIsInterruptedWhileSubmitting]:
    fake = _ClusterThatIsInterruptedWhileSubmitting()
    see._context.cluster = fake
    try:
        yield fake
    finally:
        see._context.cluster = None


def test_ctrl_c_during_submission_cancels_the_submitted_job(
        cluster: _ClusterThatIsInterruptedWhileSubmitting,
        capsys: pytest.CaptureFixture[str]) -> None:
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    env = StreamExecutionEnvironment.get_execution_environment()
    env.from_collection([1, 2]).print()
    with pytest.raises(KeyboardInterrupt):
        env.execute("interrupted job")
    assert cluster.client.cancelled
    assert f"Job 'interrupted job' ({cluster.client.job_id}) is CANCELED." in \
        capsys.readouterr().err
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored


class _RunningClient(_Client):
    """A job that runs until cancelled."""

    def __init__(self) -> None:
        super().__init__()
        self.waiting = False

    def get_job_execution_result(self) -> Any:
        client = self

        class _Result:
            def result(self) -> Any:
                deadline = time.monotonic() + 30
                while not client.cancelled:
                    client.waiting = True
                    assert time.monotonic() < deadline, "execute() did not see the Ctrl-C"
                return None

        return _Result()


class _Cluster:
    def __init__(self) -> None:
        self.client = _RunningClient()
        self.submitted = False

    def submit(self, job_graph: Any) -> _RunningClient:
        self.submitted = True
        return self.client


_EXECUTE_FILES = ("stream_execution_environment.py", "interrupt.py", "contextlib.py",
                  "test_datastream_execute_interrupt.py")


def _ctrl_c_at_line(n: int, cluster: _Cluster) -> Any:
    """A trace function that presses Ctrl-C at the n-th line run in execute() (and what it
    calls: the interrupt guard, the client) once the job is submitted."""
    seen = 0

    def trace(frame: FrameType, event: str, arg: Any) -> Any:
        nonlocal seen
        if (event == "line" and cluster.submitted
                and frame.f_code.co_filename.endswith(_EXECUTE_FILES)):
            seen += 1
            if seen == n:
                sys.settrace(None)
                signal.raise_signal(signal.SIGINT)
                return None
        return trace

    return trace


def test_ctrl_c_at_any_moment_after_submission_cancels_the_job(
        capsys: pytest.CaptureFixture[str]) -> None:
    # the race of a real Ctrl-C: it may come just as submission returns, between Python
    # statements of execute(); try every one of them
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    for n in range(1, 500):
        cluster = _Cluster()
        see._context.cluster = cluster
        try:
            env = StreamExecutionEnvironment.get_execution_environment()
            env.from_collection([1, 2]).print()
            sys.settrace(_ctrl_c_at_line(n, cluster))
            try:
                with pytest.raises(KeyboardInterrupt):
                    env.execute("interrupted job")
            finally:
                sys.settrace(None)
        finally:
            see._context.cluster = None
        assert cluster.client.cancelled, f"a Ctrl-C at line {n} after submission escaped"
        assert "is CANCELED." in capsys.readouterr().err
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
        if cluster.client.waiting:
            break  # the Ctrl-C came while execute() waited for the result: every moment tried
    else:
        pytest.fail("execute() never reached the wait for the job's result")
