"""Submitting jobs to a remote cluster and following them, over its REST API.

:class:`RestClusterClient` is what ``strom run -m host:port`` installs as the
environment's cluster: ``execute()`` then pickles the JobGraph, ships it with the program
and its Python files (``POST /jobs``), and follows the job through a
:class:`RestJobClient`, which polls ``/jobs/:jobid/execution-result`` and re-raises a failed
job's own exception with its traceback, as a local run does.

With high availability (``high-availability.type: zookeeper`` in the client's
configuration) the client needs no address: it asks ZooKeeper for the leading JobManager's
REST endpoint (:func:`strom.client.leader.rest_leader_url`). Waiting for a job's result
survives a failover: while the JobManager cannot be reached (with high availability) or
answers 503 (a leader election), the client asks ZooKeeper for the leader again and keeps
polling, for at most ``failover_timeout_s``.
"""

from __future__ import annotations

import concurrent.futures
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import msgspec

from strom.client.job_artifacts import job_submission
from strom.client.job_client import raise_for_result
from strom.client.leader import NoLeaderError, rest_leader_url
from strom.client.rest import RestClient, RestClientError
from strom.common import _pickling
from strom.common.configuration import Configuration
from strom.common.job import JobClient, JobExecutionResult, JobID, JobStatus
from strom.graph.job_graph import JobGraph
from strom.graph.operator_specs import CollectSinkSpec
from strom.ha.services import ha_enabled
from strom.jobmanager.job_result import JobResult
from strom.jobmanager.jobmaster import serialize_operators
from strom.jobmanager.rest import messages as m
from strom.jobmanager.rest import specs
from strom.rpc.errors import SerializedError
from strom.runtime.collect_protocol import CollectRequest, CollectResponse

__all__ = ["FAILOVER_TIMEOUT_S", "RestClusterClient", "RestCollectFetcher", "RestJobClient",
           "job_result_from_rest"]

T = TypeVar("T")

#: how long waiting for a result retries an unreachable cluster (a JobManager failover)
FAILOVER_TIMEOUT_S = 180.0
#: how long one lookup of the new leader waits during a failover
_LEADER_LOOKUP_S = 5.0

_STATUS = {"SUCCEEDED": JobStatus.FINISHED, "FAILED": JobStatus.FAILED,
           "CANCELED": JobStatus.CANCELED}


def job_result_from_rest(info: m.ExecutionResultInfo, job_name: str = "") -> JobResult:
    """The JobResult an execution-result answer describes (the failure as SerializedError)."""
    error = None
    cause = info.failure_cause
    if cause is not None:
        if cause.serialized_throwable is not None:
            error = msgspec.msgpack.decode(cause.serialized_throwable, type=SerializedError)
        else:
            error = SerializedError(cause.class_name, "", traceback=cause.stack_trace)
    status = _STATUS.get(info.application_status, JobStatus.FAILED)
    return JobResult(JobID.from_hex_string(info.id), job_name, status, 0, info.net_runtime,
                     error, dict(info.accumulator_results))


def _raise_failure(cause: m.FailureCause | None) -> None:
    """Raise the operation's failure as its own exception type, where it can be rebuilt."""
    if cause is None:
        return
    if cause.serialized_throwable is not None:
        raise msgspec.msgpack.decode(cause.serialized_throwable, type=SerializedError).rebuild()
    raise RuntimeError(f"{cause.class_name}: {cause.stack_trace}")


def _in_thread(name: str, work: Callable[[], T]) -> concurrent.futures.Future[T]:
    future: concurrent.futures.Future[T] = concurrent.futures.Future()

    def run() -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            future.set_result(work())
        except BaseException as e:
            future.set_exception(e)

    threading.Thread(target=run, name=name, daemon=True).start()
    return future


class RestCollectFetcher:
    """Fetches a remote collect sink's batches from its coordinator on the JobMaster
    (``POST /jobs/:jobid/coordinators/:operatorid``; see
    :mod:`strom.runtime.collect_protocol`). Its :meth:`take` is what ``CollectJob`` reads."""

    def __init__(self, rest: RestClient, job_id: JobID, operator_id: str) -> None:
        self._rest = rest
        self._job_id = job_id
        self._operator_id = operator_id
        #: batches received so far
        self._offset = 0

    def take(self, timeout: float) -> tuple[list[list[Any]], bool]:
        """The batches fetched now, and whether they are the last; waits ``timeout`` when
        there are none (or the job has gone, which the caller learns from its result)."""
        request = m.CoordinationRequest(
            msgspec.msgpack.encode(CollectRequest(self._offset)))
        try:
            answer = self._rest.send(specs.COORDINATION_REQUEST, body=request,
                                     jobid=self._job_id, operatorid=self._operator_id)
        except RestClientError as e:
            if e.status != 404:
                raise
            time.sleep(timeout)
            return [], False
        response = msgspec.msgpack.decode(answer.serialized_coordination_response,
                                          type=CollectResponse)
        batches: list[list[Any]] = _pickling.loads(response.batches)
        self._offset = response.offset + len(batches)
        if not batches and not response.ended:
            time.sleep(timeout)
        return batches, response.ended


class RestClusterClient:
    """A cluster reached through its REST API at ``address`` (``host:port``); None: the
    leader that ZooKeeper names (``high-availability.type: zookeeper``)."""

    def __init__(self, address: str | None, program: str | None = None,
                 detached: bool = False, poll_interval_s: float = 0.05,
                 on_submitted: Callable[[JobID], None] | None = None,
                 configuration: Configuration | None = None,
                 failover_timeout_s: float = FAILOVER_TIMEOUT_S) -> None:
        configuration = configuration if configuration is not None else Configuration()
        #: finds the leading JobManager's REST URL (None: no high availability)
        self.find_leader: Callable[[float], str] | None = None
        if ha_enabled(configuration):
            self.find_leader = lambda timeout_s: rest_leader_url(configuration, timeout_s)
        if address is None:
            if self.find_leader is None:
                raise ValueError(
                    "No JobManager to talk to: give -m host:port (its REST API), or set "
                    "high-availability.type: zookeeper with the cluster's "
                    "high-availability.* keys to find the leader in ZooKeeper.")
            address = self.find_leader(30.0)
        self.rest = RestClient(address, configuration)
        self.failover_timeout_s = failover_timeout_s
        self.program = program
        self.detached = detached
        self.poll_interval_s = poll_interval_s
        self.on_submitted = on_submitted
        #: the clients of the jobs this client submitted, in order
        self.submitted: list[RestJobClient] = []

    def submit(self, job_graph: JobGraph, job_id: JobID | None = None) -> RestJobClient:
        """Ship the JobGraph with the program and its Python files; a client for the job."""
        job_id = job_id or JobID.generate()
        collect_operators = {}
        for vertex in job_graph.vertices:
            for chained in vertex.operators:
                if isinstance(chained.spec, CollectSinkSpec):
                    if self.detached:
                        raise RuntimeError(
                            f"execute_and_collect() of job '{job_graph.name}' cannot run "
                            "detached: its results come back to this client. Run it "
                            "without -d/--detached.")
                    # results come back through the JobMaster's coordinator, not in process
                    chained.spec.remote = True
                    collect_operators[chained.spec.collect_id] = f"{vertex.id}:{chained.node_id}"
        try:
            graph = _pickling.dumps(job_graph)
        except Exception as e:
            for vertex in job_graph.vertices:
                serialize_operators(vertex)  # raises the error that names the vertex
            raise TypeError(
                f"Could not serialize the job '{job_graph.name}': {e}. Keep unpicklable "
                "objects (sockets, locks, open files) out of the job's functions and sources."
            ) from e
        submission = job_submission(self.program, job_graph.python_dependencies)
        files = {"job.graph": graph}
        artifacts = []
        for n, file in enumerate(submission.files):
            name = f"artifact-{n}"
            files[name] = file.data
            artifacts.append(m.ArtifactEntry(entry_name=file.path, file_name=name))
        request = m.JobSubmitRequest(job_graph_file_name="job.graph",
                                     job_artifact_file_names=artifacts,
                                     python_path=submission.python_path,
                                     job_id=str(job_id))
        self.rest.send(specs.SUBMIT_JOB, body=request, files=files)
        if self.on_submitted is not None:
            self.on_submitted(job_id)
        client = RestJobClient(self, job_id, job_graph.name, collect_operators)
        self.submitted.append(client)
        return client

    def list_jobs(self) -> list[m.JobOverviewInfo]:
        return self.rest.jobs_overview()

    def cancel(self, job_id: JobID) -> None:
        self.rest.cancel_job(job_id)

    def job_status(self, job_id: JobID) -> JobStatus:
        return JobStatus(self.rest.job_details(job_id).state)

    def poll_result(self, job_id: JobID, job_name: str = "") -> JobResult | None:
        answer = self.rest.job_result(job_id)
        if answer.job_execution_result is None:
            return None
        return job_result_from_rest(answer.job_execution_result, job_name)

    # -------------------------------------------------------------- savepoints
    def trigger_savepoint(self, job_id: JobID, target_directory: str | None = None,
                          format_type: str = "CANONICAL", cancel_job: bool = False) -> str:
        """Take a savepoint and wait for it; its path (``file:/...``)."""
        trigger = self.rest.trigger_savepoint(job_id, target_directory, format_type,
                                              cancel_job)
        return self._savepoint_location(job_id, trigger)

    def stop_with_savepoint(self, job_id: JobID, target_directory: str | None = None,
                            drain: bool = False, format_type: str = "CANONICAL") -> str:
        """Stop the job with a savepoint and wait until it has; the savepoint's path."""
        trigger = self.rest.stop_with_savepoint(job_id, target_directory, drain, format_type)
        return self._savepoint_location(job_id, trigger)

    def trigger_checkpoint(self, job_id: JobID, full: bool = False) -> int:
        """Take a checkpoint and wait for it; its id."""
        trigger = self.rest.trigger_checkpoint(job_id, full)
        answer = self._poll(lambda: self.rest.checkpoint_status(job_id, trigger))
        assert answer.operation is not None
        _raise_failure(answer.operation.failure_cause)
        assert answer.operation.checkpoint_id is not None
        return answer.operation.checkpoint_id  # type: ignore[no-any-return]

    def dispose_savepoint(self, path: str) -> None:
        """Delete the savepoint at ``path`` and wait until it is gone."""
        trigger = self.rest.dispose_savepoint(path)
        answer = self._poll(lambda: self.rest.savepoint_disposal_status(trigger))
        if answer.operation is not None:
            _raise_failure(answer.operation.failure_cause)

    def _savepoint_location(self, job_id: JobID, trigger_id: str) -> str:
        answer = self._poll(lambda: self.rest.savepoint_status(job_id, trigger_id))
        assert answer.operation is not None
        _raise_failure(answer.operation.failure_cause)
        assert answer.operation.location is not None
        return answer.operation.location

    def _poll(self, ask: Callable[[], Any]) -> Any:
        """Ask until the operation is COMPLETED (backing off to 1 s between asks)."""
        interval = self.poll_interval_s
        while True:
            answer = ask()
            if answer.status.id == "COMPLETED":
                return answer
            time.sleep(interval)
            interval = min(interval * 1.5, 1.0)

    def wait_for_result(self, job_id: JobID, job_name: str = "") -> JobResult:
        """Poll until the job has ended (backing off to 1 s between polls). While the
        cluster elects a leader (503) or, with high availability, cannot be reached, look
        for the leader again and keep polling, for at most :attr:`failover_timeout_s`."""
        interval = self.poll_interval_s
        failing_since: float | None = None
        while True:
            try:
                result = self.poll_result(job_id, job_name)
                failing_since = None
            except RestClientError as e:
                if not self._failover_under_way(e):
                    raise
                now = time.monotonic()
                failing_since = failing_since if failing_since is not None else now
                if now - failing_since > self.failover_timeout_s:
                    raise RestClientError(e.status, e.errors, (
                        f"Lost the cluster while waiting for job {job_id}: {e} (for "
                        f"{self.failover_timeout_s:.0f} s). The job may still run; ask with "
                        "`strom list`.")) from None
                self.follow_leader()
                result = None
            if result is not None:
                return result
            time.sleep(interval)
            interval = min(interval * 1.5, 1.0)

    def _failover_under_way(self, error: RestClientError) -> bool:
        """A 503 (a standby while no leader is known), or with high availability a
        JobManager that cannot be reached (the leader may have just died); without high
        availability a lost JobManager has no successor to wait for."""
        return error.status == 503 or (error.status is None and self.find_leader is not None)

    def follow_leader(self) -> None:
        """With high availability: point :attr:`rest` at the leader ZooKeeper names now
        (unchanged while none is known)."""
        if self.find_leader is None:
            return
        try:
            url = self.find_leader(_LEADER_LOOKUP_S)
        except (NoLeaderError, OSError, RuntimeError):
            return
        self.rest.base_url = url


class RestJobClient(JobClient):
    """Follows one job on a remote cluster. Every method returns a Future.

    Detached (``strom run -d``), ``get_job_execution_result()`` completes at once with a
    result that has no runtime, as Flink's detached submission returns without waiting.
    """

    def __init__(self, cluster: RestClusterClient, job_id: JobID, job_name: str,
                 collect_operators: dict[str, str] | None = None) -> None:
        self._cluster = cluster
        self._job_id = job_id
        self._job_name = job_name
        self._collect_operators = collect_operators or {}
        #: the job's result, once a call here has waited for it
        self.result: JobResult | None = None

    def _wait(self) -> JobResult:
        self.result = self._cluster.wait_for_result(self._job_id, self._job_name)
        return self.result

    def get_job_id(self) -> JobID:
        return self._job_id

    def collect_results(self, collect_id: str) -> RestCollectFetcher:
        """Where ``execute_and_collect`` reads the batches of its collect sink."""
        return RestCollectFetcher(self._cluster.rest, self._job_id,
                                  self._collect_operators[collect_id])

    def get_job_status(self) -> concurrent.futures.Future[JobStatus]:
        return _in_thread("strom-job-status", lambda: self._cluster.job_status(self._job_id))

    def cancel(self) -> concurrent.futures.Future[None]:
        return _in_thread("strom-cancel", lambda: self._cluster.cancel(self._job_id))

    def stop_with_savepoint(self, advance_to_end_of_event_time: bool,
                            savepoint_directory: str | None = None
                            ) -> concurrent.futures.Future[str]:
        return _in_thread("strom-stop-with-savepoint", lambda: self._cluster.stop_with_savepoint(
            self._job_id, savepoint_directory, advance_to_end_of_event_time))

    def trigger_savepoint(self, savepoint_directory: str | None = None
                          ) -> concurrent.futures.Future[str]:
        return _in_thread("strom-savepoint", lambda: self._cluster.trigger_savepoint(
            self._job_id, savepoint_directory))

    def get_job_result(self) -> concurrent.futures.Future[JobResult]:
        return _in_thread("strom-job-result", self._wait)

    def get_accumulators(self) -> concurrent.futures.Future[dict[str, Any]]:
        return _in_thread("strom-accumulators", lambda: dict(self._wait().accumulators))

    def get_job_execution_result(self) -> concurrent.futures.Future[JobExecutionResult]:
        if self._cluster.detached:
            future: concurrent.futures.Future[JobExecutionResult] = concurrent.futures.Future()
            future.set_result(JobExecutionResult(self._job_id, -1, {}))
            return future
        return _in_thread("strom-job-result", lambda: raise_for_result(self._wait()))


