"""A JobClient for jobs on a cluster reached through a Dispatcher gateway."""

from __future__ import annotations

import concurrent.futures
from typing import Any

from strom.common import _pickling
from strom.common.job import JobClient, JobExecutionResult, JobID, JobStatus
from strom.graph.job_graph import JobGraph
from strom.jobmanager.job_result import JobResult
from strom.jobmanager.jobmaster import serialize_operators
from strom.rpc.gateways import DispatcherGateway
from strom.rpc.messages import SerializedValue
from strom.rpc.service import RpcService

__all__ = ["ClusterJobClient", "JobExecutionError", "job_graph_payload", "raise_for_result"]


class JobExecutionError(RuntimeError):
    """A job ended without success and without a user exception to re-raise."""


def raise_for_result(result: JobResult) -> JobExecutionResult:
    """The JobExecutionResult of a FINISHED job; otherwise raise its root cause.

    A failed job raises the user's own exception (same type, with its traceback and a note
    naming the operator); a cancelled one raises :class:`JobExecutionError`.
    """
    if result.status is JobStatus.FINISHED:
        return JobExecutionResult(result.job_id, result.net_runtime, result.accumulators)
    if result.status is JobStatus.FAILED and result.error is not None:
        raise result.error.rebuild()
    raise JobExecutionError(
        f"Job '{result.job_name}' ({result.job_id}) ended {result.status.value}."
    )


def job_graph_payload(job_graph: JobGraph, rpc: RpcService) -> SerializedValue:
    """The JobGraph as ``submit_job`` takes it: by reference over plain ``local://``,
    cloudpickled here over a serializing transport, so that an unpicklable user function fails
    at submission with the name of its operator."""
    if not rpc.serializes:
        return SerializedValue(job_graph)
    try:
        return SerializedValue.from_bytes(_pickling.dumps(job_graph))
    except Exception as e:
        for vertex in job_graph.vertices:
            serialize_operators(vertex)  # raises the error that names the vertex
        raise TypeError(
            f"Could not serialize the job '{job_graph.name}': {e}. Keep unpicklable objects "
            "(sockets, locks, open files) out of the job's functions and sources."
        ) from e


class ClusterJobClient(JobClient):
    """Follows one job. Every method returns a ``concurrent.futures.Future``."""

    def __init__(self, rpc: RpcService, dispatcher: DispatcherGateway, job_id: JobID,
                 on_result: Any = None) -> None:
        self._rpc = rpc
        self._dispatcher = dispatcher
        self._job_id = job_id
        self._on_result = on_result

    def get_job_id(self) -> JobID:
        return self._job_id

    def get_job_status(self) -> concurrent.futures.Future[JobStatus]:
        return self._rpc.submit(self._dispatcher.request_job_status(self._job_id))

    def cancel(self) -> concurrent.futures.Future[None]:
        return self._rpc.submit(self._dispatcher.cancel_job(self._job_id))

    def stop_with_savepoint(
        self, advance_to_end_of_event_time: bool, savepoint_directory: str | None = None
    ) -> concurrent.futures.Future[str]:
        return self._rpc.submit(self._dispatcher.stop_with_savepoint(
            self._job_id, savepoint_directory, advance_to_end_of_event_time, "canonical"))

    def trigger_savepoint(
        self, savepoint_directory: str | None = None
    ) -> concurrent.futures.Future[str]:
        return self._rpc.submit(self._dispatcher.trigger_savepoint(
            self._job_id, savepoint_directory, "canonical"))

    def get_accumulators(self) -> concurrent.futures.Future[dict[str, Any]]:
        async def accumulators() -> dict[str, Any]:
            result: JobResult = await self._dispatcher.request_job_result(self._job_id)
            return dict(result.accumulators)

        return self._rpc.submit(accumulators())

    def get_job_result(self) -> concurrent.futures.Future[JobResult]:
        return self._rpc.submit(self._dispatcher.request_job_result(self._job_id))

    def get_job_execution_result(self) -> concurrent.futures.Future[JobExecutionResult]:
        async def execution_result() -> JobExecutionResult:
            result: JobResult = await self._dispatcher.request_job_result(self._job_id)
            if self._on_result is not None:
                self._on_result(result)
            return raise_for_result(result)

        return self._rpc.submit(execution_result())
