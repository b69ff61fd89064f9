"""The job endpoints beyond the overview: details with per-vertex I/O metrics and the plan,
status, plan, config, accumulators and rescaling (refused, as in Flink since 1.9)."""

from __future__ import annotations

import time
from typing import Any

from strom.jobmanager.cluster_info import JobDetails, VertexDetails
from strom.jobmanager.rest import job_messages as jm
from strom.jobmanager.rest import messages as m
from strom.jobmanager.rest import specs
from strom.jobmanager.rest.metric_handlers import io_metrics, metric_store
from strom.jobmanager.rest.specs import EndpointSpec
from strom.rpc.gateways import DispatcherGateway
from strom.rpc.messages import ExecutionState

__all__ = ["JOB_HANDLERS", "plan_info", "vertex_times"]

_TERMINAL = ("FINISHED", "CANCELED", "FAILED")


def _now() -> int:
    return int(time.time() * 1000)


def _duration(start: int, end: int) -> int:
    return (end if end >= 0 else _now()) - start


def plan_info(details: JobDetails) -> m.PlanInfo:
    return m.PlanInfo(str(details.job_id), details.name, details.job_type, [
        m.PlanNodeInfo(n.id, n.parallelism, n.operator, n.operator_strategy, n.description,
                       [m.PlanInputInfo(i.num, i.id, i.ship_strategy, i.exchange)
                        for i in n.inputs])
        for n in details.plan])


def vertex_times(vertex: VertexDetails) -> tuple[int, int, int]:
    """(start-time, end-time, duration) of a vertex as Flink's: from its first subtask's
    deployment to its last subtask's end (-1 while one still runs or none deployed)."""
    if not vertex.subtasks:
        return vertex.start_time, vertex.end_time, _duration(vertex.start_time, vertex.end_time)
    starts = [s.timestamps["DEPLOYING"] for s in vertex.subtasks if "DEPLOYING" in s.timestamps]
    ends = [s.timestamps.get(s.status, -1) if s.status in _TERMINAL else -1
            for s in vertex.subtasks]
    start = min(starts, default=-1)
    end = max(ends) if all(e >= 0 for e in ends) else -1
    return start, end, -1 if start < 0 else _duration(start, end)


async def _details(gateway: DispatcherGateway, request: base.RestRequest) -> JobDetails:
    return await gateway.request_job_details(
        base.parse_job_id(request.path_parameters["jobid"]))


async def job_details(gateway: DispatcherGateway, request: base.RestRequest
                      ) -> m.JobDetailsInfo:
    details = await _details(gateway, request)
    store = await metric_store(request)
    job = str(details.job_id)
    status_counts = dict.fromkeys((s.value for s in ExecutionState), 0)
    vertices = []
    for v in details.vertices:
        status_counts[v.status] = status_counts.get(v.status, 0) + 1
        start, end, duration = vertex_times(v)
        vertices.append(m.JobVertexDetailsInfo(
            id=v.vertex_id, name=v.name, parallelism=v.parallelism,
            max_parallelism=v.max_parallelism, status=v.status, start_time=start,
            end_time=end, duration=duration, tasks=v.tasks,
            metrics=io_metrics(store.subtask(job, v.vertex_id, i)
                               for i in range(v.parallelism)),
        ))
    return m.JobDetailsInfo(
        jid=job, name=details.name,
        is_stoppable=False, state=details.status.value, job_type=details.job_type,
        start_time=details.start_time, end_time=details.end_time,
        duration=_duration(details.start_time, details.end_time),
        max_parallelism=-1, now=_now(), timestamps=details.timestamps, vertices=vertices,
        status_counts=status_counts, plan=plan_info(details),
    )


async def job_status(gateway: DispatcherGateway, request: base.RestRequest
                     ) -> jm.JobStatusInfo:
    job_id = base.parse_job_id(request.path_parameters["jobid"])
    return jm.JobStatusInfo((await gateway.request_job_status(job_id)).value)


async def job_plan(gateway: DispatcherGateway, request: base.RestRequest) -> jm.JobPlanInfo:
    return jm.JobPlanInfo(plan_info(await _details(gateway, request)))


async def job_config(gateway: DispatcherGateway, request: base.RestRequest
                     ) -> jm.JobConfigInfo:
    details = await _details(gateway, request)
    return jm.JobConfigInfo(str(details.job_id), details.name, jm.ExecutionConfigInfo(
        execution_mode="PIPELINED", restart_strategy=details.restart_strategy,
        job_parallelism=max((v.parallelism for v in details.vertices), default=1),
        object_reuse_mode=False, user_config=details.user_config))


async def job_accumulators(gateway: DispatcherGateway, request: base.RestRequest
                           ) -> jm.JobAccumulatorsInfo:
    text = request.query.get("includeSerializedValue")
    if text is not None and text.lower() not in ("true", "false"):
        raise base.RestHandlerError(
            400, f"Bad includeSerializedValue {text!r}: true or false.")
    await _details(gateway, request)  # 404 for an unknown job
    return jm.JobAccumulatorsInfo()


async def job_rescaling(gateway: DispatcherGateway, request: base.RestRequest
                        ) -> m.TriggerResponse:
    job_id = base.parse_job_id(request.path_parameters["jobid"])
    raise base.RestHandlerError(
        400, f"Rescaling a running job is not supported (as in Flink since 1.9). Stop job "
             f"{job_id} with a savepoint (`strom stop -p <dir> {job_id}`) and run it again "
             "from that savepoint with the new parallelism (`strom run -s <savepoint> -p N "
             "...`).")


#: which handler answers which job spec
JOB_HANDLERS: dict[EndpointSpec[Any], Any] = {
    specs.JOB_DETAILS: job_details,
    specs.JOB_STATUS: job_status,
    specs.JOB_PLAN: job_plan,
    specs.JOB_CONFIG: job_config,
    specs.JOB_ACCUMULATORS: job_accumulators,
    specs.JOB_RESCALING: job_rescaling,
    specs.JOB_RESCALING_STATUS: job_rescaling,
}

# last: handlers.py registers JOB_HANDLERS at its own end, whichever is imported first
from strom.jobmanager.rest import handlers as base  # noqa: E402
