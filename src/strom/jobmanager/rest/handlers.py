"""The REST handlers: one per spec, each calling only the ``DispatcherGateway``.

A handler takes the gateway and the parsed :class:`RestRequest` and returns the spec's
response Struct, or raises :class:`RestHandlerError` with a status code and a message that
says what was wrong and what to do.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from strom.common.configuration import Configuration
from strom.common.job import JobID, JobStatus
from strom.jobmanager.cluster_info import (
    ExceptionHistoryEntry,
    JobDetails,
    JobFile,
    JobSubmission,
)
from strom.jobmanager.job_files import InvalidJobFileError, check_relative_path
from strom.jobmanager.job_result import JobResult
from strom.jobmanager.rest import messages as m
from strom.jobmanager.rest import specs
from strom.jobmanager.rest.specs import EndpointSpec
from strom.jobmanager.savepoints import (
    NoSavepointDirectoryError,
    OperationResult,
    check_format,
    new_trigger_id,
)
from strom.rpc.errors import SerializedError
from strom.rpc.gateways import DispatcherGateway
from strom.rpc.messages import SerializedValue

__all__ = ["HANDLERS", "Handler", "RestContext", "RestHandlerError", "RestRequest", "context",
           "parse_job_id", "parse_vertex_id"]


class RestHandlerError(Exception):
    """Answer with ``status`` and ``{"errors": [message]}``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class RestRequest:
    path_parameters: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)
    #: the decoded JSON body (for multipart: the ``request`` part), typed by the spec
    body: Any = None
    #: multipart file parts by file name
    files: dict[str, bytes] = field(default_factory=dict)
    #: what the server holds beside the Dispatcher's gateway
    context: RestContext | None = None


@dataclass
class RestContext:
    """The REST server's state a handler may read: the JobManager's configuration and the
    metric fetcher (None when the server runs without metrics)."""

    configuration: Configuration
    metric_fetcher: Any = None
    # ---- web submit: the uploaded job files (a jar_handlers.JarStore; None: no web submit)
    jars: Any = None
    #: the JobManager process's log file (None: it writes none, e.g. a MiniCluster)
    log_file: Path | None = None


def context(request: RestRequest) -> RestContext:
    """The request's server context (a default one for a request built without it)."""
    return request.context if request.context is not None else RestContext(Configuration())


#: answers the spec's response type (a Struct, or a list of them)
Handler = Callable[[DispatcherGateway, RestRequest], Awaitable[Any]]


def parse_job_id(text: str) -> JobID:
    try:
        return JobID.from_hex_string(text)
    except ValueError as e:
        raise RestHandlerError(400, f"Bad job id in the path: {e}") from None


def parse_vertex_id(text: str) -> str:
    from strom.graph.ids import JobVertexID

    try:
        return str(JobVertexID(text))
    except ValueError as e:
        raise RestHandlerError(400, f"Bad vertex id in the path: {e}.") from None


def _now() -> int:
    return int(time.time() * 1000)


def _duration(start: int, end: int) -> int:
    return (end if end >= 0 else _now()) - start


async def cluster_overview(gateway: DispatcherGateway, request: RestRequest
                           ) -> m.ClusterOverviewInfo:
    o = await gateway.request_cluster_overview()
    return m.ClusterOverviewInfo(o.task_managers, o.slots_total, o.slots_available,
                                 o.jobs_running, o.jobs_finished, o.jobs_cancelled,
                                 o.jobs_failed)


async def list_jobs(gateway: DispatcherGateway, request: RestRequest
                    ) -> m.JobIdsWithStatusOverview:
    return m.JobIdsWithStatusOverview([
        m.JobIdWithStatus(str(job.job_id), job.status.value)
        for job in await gateway.list_jobs()
    ])


def _job_overview(details: JobDetails) -> m.JobOverviewInfo:
    tasks: dict[str, int] = {}
    for vertex in details.vertices:
        for state, count in vertex.tasks.items():
            tasks[state.lower()] = tasks.get(state.lower(), 0) + count
    tasks["total"] = sum(v.parallelism for v in details.vertices)
    return m.JobOverviewInfo(
        jid=str(details.job_id), name=details.name, state=details.status.value,
        start_time=details.start_time, end_time=details.end_time,
        duration=_duration(details.start_time, details.end_time),
        last_modification=details.last_modification, tasks=tasks,
    )


async def jobs_overview(gateway: DispatcherGateway, request: RestRequest
                        ) -> m.MultipleJobsDetails:
    return m.MultipleJobsDetails([_job_overview(d) for d in await gateway.list_job_details()])


_APPLICATION_STATUS = {JobStatus.FINISHED: "SUCCEEDED", JobStatus.FAILED: "FAILED",
                       JobStatus.CANCELED: "CANCELED"}


def execution_result_info(result: JobResult) -> m.ExecutionResultInfo:
    cause = None
    if result.error is not None:
        cause = m.FailureCause(class_name=result.error.type_name,
                               stack_trace=result.error.traceback,
                               serialized_throwable=msgspec.msgpack.encode(result.error))
    return m.ExecutionResultInfo(
        id=str(result.job_id),
        application_status=_APPLICATION_STATUS.get(result.status, "UNKNOWN"),
        net_runtime=result.net_runtime, accumulator_results=dict(result.accumulators),
        failure_cause=cause,
    )


async def job_execution_result(gateway: DispatcherGateway, request: RestRequest
                               ) -> m.JobExecutionResultResponse:
    result = await gateway.poll_job_result(parse_job_id(request.path_parameters["jobid"]))
    if result is None:
        return m.JobExecutionResultResponse(m.QueueStatus("IN_PROGRESS"))
    return m.JobExecutionResultResponse(m.QueueStatus("COMPLETED"),
                                        execution_result_info(result))


def _exception_info(entry: ExceptionHistoryEntry) -> m.RootExceptionInfo:
    return m.RootExceptionInfo(
        exception_name=entry.exception_name, stacktrace=entry.stacktrace,
        timestamp=entry.timestamp, task_name=entry.task_name, location=entry.location,
        endpoint=entry.location, task_manager_id=entry.task_manager_id,
        failure_labels=dict(entry.failure_labels))


async def job_exceptions(gateway: DispatcherGateway, request: RestRequest
                         ) -> m.JobExceptionsInfo:
    job_id = parse_job_id(request.path_parameters["jobid"])
    limit_text = request.query.get("maxExceptions")
    limit = None
    if limit_text is not None:
        try:
            limit = int(limit_text)
            if limit < 0:
                raise ValueError
        except ValueError:
            raise RestHandlerError(
                400, f"maxExceptions must be a number >= 0, got {limit_text!r}.") from None
    history = (await gateway.request_exception_history(job_id)).history
    shown = history if limit is None else history[:limit]
    entries = [
        m.ExceptionInfo(**msgspec.structs.asdict(_exception_info(entry)),
                        concurrent_exceptions=[_exception_info(c)
                                               for c in entry.concurrent_exceptions])
        for entry in shown
    ]
    newest = history[0] if history else None
    return m.JobExceptionsInfo(
        exception_history=m.ExceptionHistory(entries, truncated=len(shown) < len(history)),
        root_exception=newest.stacktrace if newest else None,
        timestamp=newest.timestamp if newest else None,
        truncated=len(shown) < len(history),
    )


async def cancel_job(gateway: DispatcherGateway, request: RestRequest) -> m.EmptyResponse:
    job_id = parse_job_id(request.path_parameters["jobid"])
    mode = request.query.get("mode", "cancel")
    if mode != "cancel":
        raise RestHandlerError(
            400, f"Unknown termination mode {mode!r} in ?mode=; the only mode is 'cancel' "
                 "(stop a job with a savepoint through POST /jobs/:jobid/stop).")
    await gateway.cancel_job(job_id)
    return m.EmptyResponse()


async def submit_job(gateway: DispatcherGateway, request: RestRequest) -> m.JobSubmitResponse:
    body: m.JobSubmitRequest = request.body

    def part(name: str, what: str) -> bytes:
        data = request.files.get(name)
        if data is None:
            raise RestHandlerError(
                400, f"The request names the {what} file {name!r} but no multipart part "
                     f"carries it; parts received: {sorted(request.files) or 'none'}.")
        return data

    if body.job_jar_file_names:
        raise RestHandlerError(
            400, f"strom runs Python jobs and takes no jar files, got jobJarFileNames "
                 f"{body.job_jar_file_names}. Ship Python files as jobArtifactFileNames.")
    graph = part(body.job_graph_file_name, "JobGraph")
    try:
        files = [JobFile(str(check_relative_path(a.entry_name)), part(a.file_name, "artifact"))
                 for a in body.job_artifact_file_names]
        for entry in body.python_path:
            check_relative_path(entry, "python path entry")
    except InvalidJobFileError as e:
        raise RestHandlerError(400, str(e)) from None
    job_id = parse_job_id(body.job_id) if body.job_id else JobID.generate()
    await gateway.submit_job_with_files(SerializedValue.from_bytes(graph), job_id,
                                        JobSubmission(files, list(body.python_path)))
    return m.JobSubmitResponse(job_url=f"/jobs/{job_id}")


async def coordination_request(gateway: DispatcherGateway, request: RestRequest
                               ) -> m.CoordinationResponse:
    job_id = parse_job_id(request.path_parameters["jobid"])
    body: m.CoordinationRequest = request.body
    answer = await gateway.deliver_coordination_request(
        job_id, request.path_parameters["operatorid"], body.serialized_coordination_request)
    return m.CoordinationResponse(serialized_coordination_response=answer)


# -- asynchronous operations ------------------------------------------------------------


def _trigger_id(given: str | None) -> str:
    if given is None:
        return new_trigger_id()
    if len(given) != 32 or any(c not in "0123456789abcdefABCDEF" for c in given):
        raise RestHandlerError(
            400, f"A triggerId is 32 hexadecimal digits, got {given!r}; leave it out and the "
                 "JobManager picks one.")
    return given.lower()


def _format_type(given: str) -> str:
    try:
        return check_format(given)
    except ValueError as e:
        raise RestHandlerError(400, f"Bad formatType: {e}") from None


async def _start(start: Awaitable[None]) -> None:
    """Start an operation; a request it cannot serve is a 400 with the reason."""
    try:
        await start
    except NoSavepointDirectoryError as e:
        raise RestHandlerError(400, str(e)) from None


def _failure_cause(error: SerializedError | None) -> m.FailureCause | None:
    if error is None:
        return None
    return m.FailureCause(class_name=error.type_name, stack_trace=error.traceback,
                          serialized_throwable=msgspec.msgpack.encode(error))


async def trigger_savepoint(gateway: DispatcherGateway, request: RestRequest
                            ) -> m.TriggerResponse:
    job_id = parse_job_id(request.path_parameters["jobid"])
    body: m.SavepointTriggerRequest = request.body
    trigger_id = _trigger_id(body.trigger_id)
    await _start(gateway.start_savepoint_operation(
        job_id, trigger_id, body.target_directory, _format_type(body.format_type),
        body.cancel_job))
    return m.TriggerResponse(trigger_id)


async def stop_with_savepoint(gateway: DispatcherGateway, request: RestRequest
                              ) -> m.TriggerResponse:
    job_id = parse_job_id(request.path_parameters["jobid"])
    body: m.StopWithSavepointRequest = request.body
    trigger_id = _trigger_id(body.trigger_id)
    await _start(gateway.start_stop_with_savepoint_operation(
        job_id, trigger_id, body.target_directory, body.drain, _format_type(body.format_type)))
    return m.TriggerResponse(trigger_id)


async def _operation(gateway: DispatcherGateway, kind: str, request: RestRequest,
                     with_job: bool = True) -> OperationResult:
    job_id = parse_job_id(request.path_parameters["jobid"]) if with_job else None
    return await gateway.get_operation_result(kind, job_id,
                                              request.path_parameters["triggerid"].lower())


async def savepoint_status(gateway: DispatcherGateway, request: RestRequest
                           ) -> m.SavepointStatusResponse:
    result = await _operation(gateway, "savepoint", request)
    if result.status != "COMPLETED":
        return m.SavepointStatusResponse(m.QueueStatus(result.status))
    return m.SavepointStatusResponse(m.QueueStatus("COMPLETED"), m.SavepointInfo(
        location=result.location, failure_cause=_failure_cause(result.failure)))


_CHECKPOINT_TYPES = ("CONFIGURED", "FULL", "INCREMENTAL")


async def trigger_checkpoint(gateway: DispatcherGateway, request: RestRequest
                             ) -> m.TriggerResponse:
    job_id = parse_job_id(request.path_parameters["jobid"])
    body: m.CheckpointTriggerRequest = request.body
    checkpoint_type = body.checkpoint_type.upper()
    if checkpoint_type not in _CHECKPOINT_TYPES:
        raise RestHandlerError(
            400, f"Bad checkpointType {body.checkpoint_type!r}; use one of "
                 f"{', '.join(_CHECKPOINT_TYPES)}.")
    trigger_id = _trigger_id(body.trigger_id)
    await _start(gateway.start_checkpoint_operation(job_id, trigger_id,
                                                    checkpoint_type == "FULL"))
    return m.TriggerResponse(trigger_id)


async def checkpoint_status(gateway: DispatcherGateway, request: RestRequest
                            ) -> m.CheckpointStatusResponse:
    result = await _operation(gateway, "checkpoint", request)
    if result.status != "COMPLETED":
        return m.CheckpointStatusResponse(m.QueueStatus(result.status))
    return m.CheckpointStatusResponse(m.QueueStatus("COMPLETED"), m.CheckpointInfo(
        checkpoint_id=result.checkpoint_id, failure_cause=_failure_cause(result.failure)))


async def dispose_savepoint(gateway: DispatcherGateway, request: RestRequest
                            ) -> m.TriggerResponse:
    body: m.SavepointDisposalRequest = request.body
    if not body.savepoint_path.strip():
        raise RestHandlerError(400, "The savepoint-path is empty; give the path "
                                    "'strom savepoint' printed.")
    trigger_id = new_trigger_id()
    await gateway.start_dispose_savepoint_operation(trigger_id, body.savepoint_path)
    return m.TriggerResponse(trigger_id)


async def disposal_status(gateway: DispatcherGateway, request: RestRequest
                          ) -> m.OperationStatusResponse:
    result = await _operation(gateway, "disposal", request, with_job=False)
    if result.status != "COMPLETED":
        return m.OperationStatusResponse(m.QueueStatus(result.status))
    return m.OperationStatusResponse(m.QueueStatus("COMPLETED"), m.OperationInfo(
        failure_cause=_failure_cause(result.failure)))


#: which handler answers which spec; every spec has one
HANDLERS: dict[EndpointSpec[Any], Handler] = {
    specs.CLUSTER_OVERVIEW: cluster_overview,
    specs.LIST_JOBS: list_jobs,
    specs.SUBMIT_JOB: submit_job,
    specs.JOBS_OVERVIEW: jobs_overview,
    specs.JOB_EXECUTION_RESULT: job_execution_result,
    specs.CANCEL_JOB: cancel_job,
    specs.JOB_EXCEPTIONS: job_exceptions,
    specs.COORDINATION_REQUEST: coordination_request,
    specs.SAVEPOINT_TRIGGER: trigger_savepoint,
    specs.SAVEPOINT_STATUS: savepoint_status,
    specs.STOP_WITH_SAVEPOINT: stop_with_savepoint,
    specs.CHECKPOINT_TRIGGER: trigger_checkpoint,
    specs.CHECKPOINT_STATUS: checkpoint_status,
    specs.SAVEPOINT_DISPOSAL: dispose_savepoint,
    specs.SAVEPOINT_DISPOSAL_STATUS: disposal_status,
}

# the checkpoint endpoints (statistics, config, details, manual trigger, metrics)
from strom.jobmanager.rest.checkpoint_handlers import CHECKPOINT_HANDLERS  # noqa: E402

# the cluster, JobManager, TaskManager, job, vertex and metric endpoints
from strom.jobmanager.rest.cluster_handlers import CLUSTER_HANDLERS  # noqa: E402
from strom.jobmanager.rest.job_handlers import JOB_HANDLERS  # noqa: E402
from strom.jobmanager.rest.metric_handlers import METRIC_HANDLERS  # noqa: E402
from strom.jobmanager.rest.taskmanager_handlers import TASK_MANAGER_HANDLERS  # noqa: E402
from strom.jobmanager.rest.vertex_handlers import VERTEX_HANDLERS  # noqa: E402

# the server routes fixed path segments before parameters (routing_order), so the order
# here does not matter
HANDLERS = {**CHECKPOINT_HANDLERS, **HANDLERS, **CLUSTER_HANDLERS, **JOB_HANDLERS,
            **METRIC_HANDLERS, **TASK_MANAGER_HANDLERS, **VERTEX_HANDLERS}

# web submit (/jars), guarded by web.submit.enable
from strom.jobmanager.rest.jar_handlers import JAR_HANDLERS  # noqa: E402

HANDLERS = {**HANDLERS, **JAR_HANDLERS}

# ---- flame graphs (/jobs/:jobid/vertices/:vertexid/flamegraph)
from strom.jobmanager.rest.flamegraph_handlers import FLAME_GRAPH_HANDLERS  # noqa: E402

HANDLERS = {**HANDLERS, **FLAME_GRAPH_HANDLERS}
