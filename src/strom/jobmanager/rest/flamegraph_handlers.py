"""The flame graph endpoint's handler: ``GET /jobs/:jobid/vertices/:vertexid/flamegraph``
(Flink's ``JobVertexFlameGraphHandler``).

Ids and query parameters are checked first (400), then ``rest.flamegraph.enabled`` (off:
Flink's "disabled" answer), then the job and its vertex (404; a subtask index beyond the
vertex's parallelism is a 400). An ended job's vertex answers Flink's "terminated".
"""

from __future__ import annotations

from typing import Any

from strom.common.config_options import FLAMEGRAPH_ENABLED
from strom.common.configuration import Configuration
from strom.graph.ids import JobVertexID
from strom.jobmanager.flame_graph import FlameGraphType, VertexFlameGraph
from strom.jobmanager.rest import specs
from strom.jobmanager.rest.specs import EndpointSpec
from strom.jobmanager.vertex_flame_graphs import UnknownJobVertexError
from strom.rpc.gateways import DispatcherGateway

__all__ = ["FLAME_GRAPH_HANDLERS", "vertex_flame_graph"]

_TYPES = ", ".join(t.value for t in FlameGraphType)


def _vertex_id(request: base.RestRequest) -> str:
    text = request.path_parameters["vertexid"]
    try:
        return str(JobVertexID(text))
    except ValueError as e:
        raise base.RestHandlerError(
            400, f"Bad vertex id in the path: {e}. /jobs/:jobid lists the job's vertices "
                 "with their ids.") from None


def _graph_type(request: base.RestRequest) -> FlameGraphType:
    text = request.query.get("type", "").strip()
    if not text:
        return FlameGraphType.FULL
    try:
        return FlameGraphType(text.upper())
    except ValueError:
        raise base.RestHandlerError(
            400, f"Bad query parameter type={text!r}: it must be one of {_TYPES}.") from None


def _subtask_index(request: base.RestRequest) -> int | None:
    text = request.query.get("subtaskindex", "").strip()
    if not text:
        return None
    try:
        index = int(text)
        if index < 0:
            raise ValueError
    except ValueError:
        raise base.RestHandlerError(
            400, f"Bad query parameter subtaskindex={text!r}: it must be a subtask index "
                 "(0 or more), or left out for all subtasks.") from None
    return index


async def vertex_flame_graph(gateway: DispatcherGateway, request: base.RestRequest
                             ) -> VertexFlameGraph:
    job_id = base.parse_job_id(request.path_parameters["jobid"])
    vertex_id = _vertex_id(request)
    graph_type = _graph_type(request)
    subtask_index = _subtask_index(request)
    configuration = request.context.configuration if request.context else Configuration()
    if not configuration.get_required(FLAMEGRAPH_ENABLED):
        return VertexFlameGraph.disabled()
    details = await gateway.request_job_details(job_id)
    vertex = next((v for v in details.vertices if v.vertex_id == vertex_id), None)
    if vertex is None:
        raise base.RestHandlerError(404, str(UnknownJobVertexError(
            vertex_id, job_id, [v.vertex_id for v in details.vertices])))
    if subtask_index is not None and subtask_index >= vertex.parallelism:
        raise base.RestHandlerError(
            400, f"Bad query parameter subtaskindex={subtask_index}: vertex {vertex.name} "
                 f"has subtasks 0 to {vertex.parallelism - 1}.")
    try:
        return await gateway.request_vertex_flame_graph(job_id, vertex_id, graph_type,
                                                        subtask_index)
    except UnknownJobVertexError as e:  # cannot happen after the check above, but be exact
        raise base.RestHandlerError(404, str(e)) from None


#: which handler answers which flame graph spec
FLAME_GRAPH_HANDLERS: dict[EndpointSpec[Any], Any] = {
    specs.JOB_VERTEX_FLAME_GRAPH: vertex_flame_graph,
}

# last: handlers.py registers FLAME_GRAPH_HANDLERS at its own end, whichever is imported first
from strom.jobmanager.rest import handlers as base  # noqa: E402
