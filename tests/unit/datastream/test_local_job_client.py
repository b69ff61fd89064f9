"""The JobClient of an embedded cluster: a question asked just as the job ends and the
cluster stops (from another thread) is answered from the job's result, not with the RPC
error of a stopped cluster."""

from __future__ import annotations

import concurrent.futures
from typing import Any

import pytest

from strom.client.local_job_client import LocalJobClient
from strom.common.job import JobID, JobStatus
from strom.jobmanager.job_result import JobResult
from strom.rpc.errors import RpcError

STOPPED = "no endpoint at local://dispatcher; it stopped or never started"


def _failed(error: BaseException) -> concurrent.futures.Future[Any]:
    future: concurrent.futures.Future[Any] = concurrent.futures.Future()
    future.set_exception(error)
    return future


class _JobThatEndsWhileAsked:
    """The race: the job's result is not in when LocalJobClient looks, but by the time its
    call reaches the cluster the job has ended and the cluster has stopped."""

    def __init__(self, raises_at_once: bool = False, ends: bool = True) -> None:
        self.job_id = JobID.generate()
        self.result: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self.raises_at_once = raises_at_once
        self.ends = ends
        self.calls = 0

    def get_job_result(self) -> concurrent.futures.Future[Any]:
        return self.result

    def _stopped_meanwhile(self) -> concurrent.futures.Future[Any]:
        self.calls += 1
        if self.ends:
            self.result.set_result(_result(self.job_id))
        if self.raises_at_once:
            raise RpcError(STOPPED)
        return _failed(RpcError(STOPPED))

    get_job_status = _stopped_meanwhile
    cancel = _stopped_meanwhile


def _result(job_id: JobID) -> JobResult:
    return JobResult(job_id=job_id, job_name="job", status=JobStatus.CANCELED, start_time=0,
                     end_time=1)


@pytest.mark.parametrize("raises_at_once", [False, True])
def test_status_asked_as_the_cluster_stops_is_the_jobs_final_status(
        raises_at_once: bool) -> None:
    job = _JobThatEndsWhileAsked(raises_at_once)
    client = LocalJobClient(job, cluster=None)  # type: ignore[arg-type]
    assert client.get_job_status().result(timeout=5) is JobStatus.CANCELED
    assert job.calls == 1


@pytest.mark.parametrize("raises_at_once", [False, True])
def test_cancel_of_a_job_that_ended_as_the_cluster_stops_is_not_an_error(
        raises_at_once: bool) -> None:
    job = _JobThatEndsWhileAsked(raises_at_once)
    client = LocalJobClient(job, cluster=None)  # type: ignore[arg-type]
    assert client.cancel().result(timeout=5) is None
    assert job.calls == 1


def test_a_cluster_gone_while_the_job_had_not_ended_is_still_an_error() -> None:
    job = _JobThatEndsWhileAsked(ends=False)
    client = LocalJobClient(job, cluster=None)  # type: ignore[arg-type]
    with pytest.raises(RpcError, match="no endpoint"):
        client.get_job_status().result(timeout=5)


def test_once_the_job_has_ended_the_cluster_is_not_asked() -> None:
    job = _JobThatEndsWhileAsked()
    job.result.set_result(_result(job.job_id))
    client = LocalJobClient(job, cluster=None)  # type: ignore[arg-type]
    assert client.get_job_status().result(timeout=5) is JobStatus.CANCELED
    assert job.calls == 0


def test_a_result_call_cancelled_by_the_stopping_cluster_leaves_the_rpc_error() -> None:
    """The cluster stopped with the job still running: its pending result call was
    cancelled; the question fails with the cluster's error (no CancelledError raised in a
    future's callback, which printed a traceback on Ctrl-C)."""
    job = _JobThatEndsWhileAsked(ends=False)
    asked: concurrent.futures.Future[Any] = concurrent.futures.Future()
    job.get_job_status = lambda: asked  # type: ignore[method-assign]
    client = LocalJobClient(job, cluster=None)  # type: ignore[arg-type]
    status = client.get_job_status()
    job.result.cancel()
    asked.set_exception(RpcError(STOPPED))  # the callback runs here, on this thread
    with pytest.raises(RpcError, match="no endpoint"):
        status.result(timeout=5)
