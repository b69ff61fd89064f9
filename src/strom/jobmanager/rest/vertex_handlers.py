"""The vertex endpoints: a vertex's subtasks (where they run, since when, their I/O),
subtask times, subtasks per TaskManager, watermarks, metrics, accumulators and back
pressure.

What runs where and when comes from the JobMaster's execution graph
(:class:`~strom.jobmanager.cluster_info.SubtaskDetails`); the numbers come from the metric
store's task metrics (Flink's names: ``numRecordsIn``, ``backPressuredTimeMsPerSecond``...).
"""

from __future__ import annotations

import time
from typing import Any

from strom.graph.execution_graph import ATTEMPTS_HISTORY_SIZE
from strom.jobmanager.cluster_info import (
    JobDetails,
    SubtaskDetails,
    VertexDetails,
    aggregate_execution_state,
)
from strom.jobmanager.metrics.store import ComponentMetricStore, MetricStore
from strom.jobmanager.rest import cluster_messages as clm
from strom.jobmanager.rest import job_messages as jm
from strom.jobmanager.rest import specs
from strom.jobmanager.rest.metric_handlers import (
    aggregate_metrics,
    backpressure_level,
    io_metrics,
    metric_store,
    parse_subtask_ranges,
    query_metrics,
)
from strom.jobmanager.rest.specs import EndpointSpec
from strom.rpc.gateways import DispatcherGateway

__all__ = ["STATUS_DURATION_STATES", "VERTEX_HANDLERS", "back_pressure_info",
           "subtask_attempt_info", "vertex_of"]

#: the states Flink's ``status-duration`` reports
STATUS_DURATION_STATES = ("CREATED", "SCHEDULED", "DEPLOYING", "INITIALIZING", "RUNNING")
_TERMINAL = ("FINISHED", "CANCELED", "FAILED")


def _now() -> int:
    return int(time.time() * 1000)


async def vertex_of(gateway: DispatcherGateway, request: base.RestRequest
                    ) -> tuple[JobDetails, VertexDetails]:
    """The job and the vertex the path names; 400 for malformed ids, 404 for unknown."""
    job_id = base.parse_job_id(request.path_parameters["jobid"])
    vertex_id = base.parse_vertex_id(request.path_parameters["vertexid"])
    details = await gateway.request_job_details(job_id)
    for vertex in details.vertices:
        if vertex.vertex_id == vertex_id:
            return details, vertex
    raise base.RestHandlerError(
        404, f"Job {job_id} has no vertex {vertex_id}; its vertices: "
             f"{', '.join(v.vertex_id for v in details.vertices)} (see /jobs/{job_id}).")


def _subtask_index(request: base.RestRequest, vertex: VertexDetails) -> int:
    text = request.path_parameters["subtaskindex"]
    if not text.isdigit():
        raise base.RestHandlerError(400, f"Bad subtask index {text!r}: a number from 0 to "
                                         f"{vertex.parallelism - 1}.")
    index = int(text)
    if index >= vertex.parallelism:
        raise base.RestHandlerError(
            404, f"Vertex {vertex.name} has no subtask {index}; its parallelism is "
                 f"{vertex.parallelism} (subtasks 0 to {vertex.parallelism - 1}).")
    return index


def _start_end(subtask: SubtaskDetails) -> tuple[int, int, int]:
    """(start-time, end-time, duration) as Flink's: from DEPLOYING to a terminal state."""
    start = subtask.timestamps.get("DEPLOYING", -1)
    end = subtask.timestamps.get(subtask.status, -1) if subtask.status in _TERMINAL else -1
    duration = -1 if start < 0 else (end if end >= 0 else _now()) - start
    return start, end, duration


def _status_duration(subtask: SubtaskDetails) -> dict[str, int]:
    entered = sorted(subtask.timestamps.items(), key=lambda kv: kv[1])
    durations = dict.fromkeys(STATUS_DURATION_STATES, 0)
    for i, (state, since) in enumerate(entered):
        if state in durations:
            until = entered[i + 1][1] if i + 1 < len(entered) else _now()
            durations[state] = max(0, until - since)
    return durations


def _subtask_store(store: MetricStore, details: JobDetails, vertex: VertexDetails,
                   index: int) -> ComponentMetricStore | None:
    return store.subtask(str(details.job_id), vertex.vertex_id, index)


def subtask_attempt_info(subtask: SubtaskDetails, metrics: ComponentMetricStore | None
                         ) -> jm.SubtaskExecutionAttemptDetailsInfo:
    start, end, duration = _start_end(subtask)
    return jm.SubtaskExecutionAttemptDetailsInfo(
        subtask=subtask.subtask, status=subtask.status, attempt=subtask.attempt,
        endpoint=subtask.endpoint or "(unassigned)", host=subtask.host or "(unassigned)",
        start_time=start, end_time=end, duration=duration, metrics=io_metrics([metrics]),
        taskmanager_id=subtask.task_manager_id or "(unassigned)",
        status_duration=_status_duration(subtask))


async def vertex_details(gateway: DispatcherGateway, request: base.RestRequest
                         ) -> jm.VertexDetailsInfo:
    details, vertex = await vertex_of(gateway, request)
    store = await metric_store(request)
    return jm.VertexDetailsInfo(
        id=vertex.vertex_id, name=vertex.name, max_parallelism=vertex.max_parallelism,
        parallelism=vertex.parallelism, now=_now(),
        subtasks=[subtask_attempt_info(s, _subtask_store(store, details, vertex, s.subtask))
                  for s in vertex.subtasks])


async def subtask_times(gateway: DispatcherGateway, request: base.RestRequest
                        ) -> jm.SubtasksTimesInfo:
    _, vertex = await vertex_of(gateway, request)
    return jm.SubtasksTimesInfo(vertex.vertex_id, vertex.name, _now(), [
        jm.SubtaskTimesInfo(s.subtask, s.host or "(unassigned)", s.endpoint or "(unassigned)",
                            _start_end(s)[2], dict(s.timestamps))
        for s in vertex.subtasks])


async def vertex_task_managers(gateway: DispatcherGateway, request: base.RestRequest
                               ) -> jm.JobVertexTaskManagersInfo:
    details, vertex = await vertex_of(gateway, request)
    store = await metric_store(request)
    by_tm: dict[str, list[SubtaskDetails]] = {}
    for s in vertex.subtasks:
        by_tm.setdefault(s.task_manager_id, []).append(s)
    entries = []
    for tm_id, subtasks in by_tm.items():
        counts: dict[str, int] = {}
        for s in subtasks:
            counts[s.status] = counts.get(s.status, 0) + 1
        times = [_start_end(s) for s in subtasks]
        starts = [t[0] for t in times if t[0] >= 0]
        ends = [t[1] for t in times]
        start = min(starts, default=-1)
        end = max(ends) if ends and all(e >= 0 for e in ends) else -1
        duration = -1 if start < 0 else (end if end >= 0 else _now()) - start
        entries.append(jm.TaskManagerVertexInfo(
            endpoint=subtasks[0].endpoint or "(unassigned)",
            host=subtasks[0].host or "(unassigned)",
            status=aggregate_execution_state(counts), start_time=start, end_time=end,
            duration=duration,
            metrics=io_metrics(_subtask_store(store, details, vertex, s.subtask)
                               for s in subtasks),
            status_counts=counts, taskmanager_id=tm_id or "(unassigned)"))
    return jm.JobVertexTaskManagersInfo(vertex.vertex_id, vertex.name, _now(), entries)


async def vertex_watermarks(gateway: DispatcherGateway, request: base.RestRequest
                            ) -> list[clm.Metric]:
    details, vertex = await vertex_of(gateway, request)
    store = await metric_store(request)
    answer = []
    for i in range(vertex.parallelism):
        metrics = _subtask_store(store, details, vertex, i)
        if metrics is not None and "currentInputWatermark" in metrics.metrics:
            answer.append(clm.Metric(f"{i}.currentInputWatermark",
                                     metrics.metrics["currentInputWatermark"]))
    return answer


async def vertex_metrics(gateway: DispatcherGateway, request: base.RestRequest
                         ) -> list[clm.Metric]:
    details, vertex = await vertex_of(gateway, request)
    task = (await metric_store(request)).task(str(details.job_id), vertex.vertex_id)
    return query_metrics(task.metrics if task is not None else {}, request)


async def subtasks_metrics(gateway: DispatcherGateway, request: base.RestRequest
                           ) -> list[clm.AggregatedMetric]:
    details, vertex = await vertex_of(gateway, request)
    chosen = parse_subtask_ranges(request.query.get("subtasks"))
    store = await metric_store(request)
    indexes = range(vertex.parallelism) if chosen is None else sorted(chosen)
    stores = [_subtask_store(store, details, vertex, i) for i in indexes]
    return aggregate_metrics((s.metrics for s in stores if s is not None), request)


async def subtask_details(gateway: DispatcherGateway, request: base.RestRequest
                          ) -> jm.SubtaskExecutionAttemptDetailsInfo:
    details, vertex = await vertex_of(gateway, request)
    index = _subtask_index(request, vertex)
    store = await metric_store(request)
    return subtask_attempt_info(vertex.subtasks[index],
                                _subtask_store(store, details, vertex, index))


async def subtask_attempt(gateway: DispatcherGateway, request: base.RestRequest
                          ) -> jm.SubtaskExecutionAttemptDetailsInfo:
    details, vertex = await vertex_of(gateway, request)
    index = _subtask_index(request, vertex)
    text = request.path_parameters["attempt"]
    subtask = vertex.subtasks[index]
    if not text.isdigit():
        raise base.RestHandlerError(400, f"Bad attempt number {text!r}: a number from 0.")
    attempt = int(text)
    if attempt == subtask.attempt:
        store = await metric_store(request)
        return subtask_attempt_info(subtask, _subtask_store(store, details, vertex, index))
    for prior in vertex.prior_attempts:
        if (prior.subtask, prior.attempt) == (index, attempt):
            # its metrics went with it: the metric store holds the current attempt's
            return subtask_attempt_info(prior, None)
    kept = sorted(p.attempt for p in vertex.prior_attempts if p.subtask == index)
    raise base.RestHandlerError(
        404, f"Subtask {index} of {vertex.name} has no attempt {attempt}; its attempts: "
             f"{', '.join(map(str, [*kept, subtask.attempt]))} (the last "
             f"{ATTEMPTS_HISTORY_SIZE} replaced ones are kept).")


async def subtask_metrics(gateway: DispatcherGateway, request: base.RestRequest
                          ) -> list[clm.Metric]:
    details, vertex = await vertex_of(gateway, request)
    index = _subtask_index(request, vertex)
    metrics = _subtask_store(await metric_store(request), details, vertex, index)
    return query_metrics(metrics.metrics if metrics is not None else {}, request)


async def vertex_accumulators(gateway: DispatcherGateway, request: base.RestRequest
                              ) -> jm.JobVertexAccumulatorsInfo:
    _, vertex = await vertex_of(gateway, request)
    return jm.JobVertexAccumulatorsInfo(vertex.vertex_id)


async def subtasks_accumulators(gateway: DispatcherGateway, request: base.RestRequest
                                ) -> jm.SubtasksAllAccumulatorsInfo:
    _, vertex = await vertex_of(gateway, request)
    return jm.SubtasksAllAccumulatorsInfo(vertex.vertex_id, vertex.parallelism, [
        jm.SubtaskAccumulatorsInfo(s.subtask, s.attempt, s.endpoint or "(unassigned)",
                                   s.host or "(unassigned)")
        for s in vertex.subtasks])


def _ratio(metrics: dict[str, str], name: str) -> float | None:
    try:
        value = float(metrics[name]) / 1000.0
    except (KeyError, ValueError):
        return None
    return None if value != value else value  # NaN: not measured


def back_pressure_info(vertex: VertexDetails, subtask_metrics: list[dict[str, str] | None]
                       ) -> jm.JobVertexBackPressureInfo:
    """Flink's back pressure from the subtasks' busy/back-pressured/idle time per second;
    ``{"status": "deprecated"}`` while no subtask has reported them."""
    subtasks = []
    for s, metrics in zip(vertex.subtasks, subtask_metrics):
        ratio = _ratio(metrics, "backPressuredTimeMsPerSecond") if metrics else None
        if ratio is None or metrics is None:
            continue
        subtasks.append(jm.SubtaskBackPressureInfo(
            subtask=s.subtask, attempt_number=s.attempt,
            backpressure_level=backpressure_level(ratio), ratio=ratio,
            idle_ratio=_ratio(metrics, "idleTimeMsPerSecond") or 0.0,
            busy_ratio=_ratio(metrics, "busyTimeMsPerSecond") or 0.0))
    if not subtasks:
        return jm.JobVertexBackPressureInfo(status="deprecated")
    worst = max(s.ratio for s in subtasks)
    return jm.JobVertexBackPressureInfo(
        status="ok", backpressure_level=backpressure_level(worst), end_timestamp=_now(),
        subtasks=subtasks)


async def vertex_back_pressure(gateway: DispatcherGateway, request: base.RestRequest
                               ) -> jm.JobVertexBackPressureInfo:
    details, vertex = await vertex_of(gateway, request)
    store = await metric_store(request)
    stores = [_subtask_store(store, details, vertex, s.subtask) for s in vertex.subtasks]
    return back_pressure_info(vertex, [s.metrics if s is not None else None for s in stores])


#: which handler answers which vertex spec
VERTEX_HANDLERS: dict[EndpointSpec[Any], Any] = {
    specs.VERTEX_DETAILS: vertex_details,
    specs.VERTEX_SUBTASK_TIMES: subtask_times,
    specs.VERTEX_TASK_MANAGERS: vertex_task_managers,
    specs.VERTEX_WATERMARKS: vertex_watermarks,
    specs.VERTEX_METRICS: vertex_metrics,
    specs.SUBTASKS_METRICS: subtasks_metrics,
    specs.SUBTASKS_ACCUMULATORS: subtasks_accumulators,
    specs.SUBTASK_DETAILS: subtask_details,
    specs.SUBTASK_ATTEMPT: subtask_attempt,
    specs.SUBTASK_METRICS: subtask_metrics,
    specs.VERTEX_ACCUMULATORS: vertex_accumulators,
    specs.VERTEX_BACKPRESSURE: vertex_back_pressure,
}

# last: handlers.py registers VERTEX_HANDLERS at its own end, whichever is imported first
from strom.jobmanager.rest import handlers as base  # noqa: E402
