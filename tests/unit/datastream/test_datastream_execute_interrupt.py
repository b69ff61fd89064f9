"""A Ctrl-C that comes while ``execute()`` is still submitting (the job's tasks may already
run) cancels the job once it is submitted, instead of escaping with the job left running."""

from __future__ import annotations

import concurrent.futures
import os
import signal
from collections.abc import Iterator
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
