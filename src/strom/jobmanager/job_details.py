"""What a JobMaster tells REST about its job (:class:`~strom.jobmanager.cluster_info.JobDetails`):
status and timestamps, per vertex its subtasks' states, attempts, locations and state
timestamps (and the attempts restarts replaced), the plan and the execution config."""

from __future__ import annotations

from typing import TYPE_CHECKING

from strom.graph.execution_graph import Execution
from strom.graph.job_graph import JobGraph
from strom.jobmanager.cluster_info import (
    JobDetails,
    PlanInput,
    PlanNode,
    SubtaskDetails,
    VertexDetails,
    aggregate_execution_state,
)
from strom.rpc.messages import ExecutionState, SlotOffer

if TYPE_CHECKING:
    from strom.jobmanager.jobmaster import JobMaster

__all__ = ["job_details", "job_plan", "rest_host", "subtask_details"]


def job_details(job_master: JobMaster) -> JobDetails:
    end_time = (job_master.timestamps.get(job_master.status.value, -1)
                if job_master.status.is_globally_terminal_state() else -1)
    graph, job_graph = job_master.graph, job_master.job_graph
    offers = list(job_master.scheduler.slots.values())
    vertices = []
    for vertex in job_graph.vertices:
        executions = graph.by_vertex[str(vertex.id)]
        counts = dict.fromkeys((s.value for s in ExecutionState), 0)
        for execution in executions:
            counts[execution.state] = counts.get(execution.state, 0) + 1
        vertices.append(VertexDetails(
            str(vertex.id), vertex.name, vertex.parallelism, vertex.max_parallelism,
            aggregate_execution_state(counts), counts, job_master.start_time, end_time,
            [subtask_details(e, offers) for e in executions],
            [subtask_details(e, offers) for i in range(vertex.parallelism)
             for e in graph.prior_attempts.get((str(vertex.id), i), [])],
        ))
    parameters = job_graph.config.get("job_parameters") or {}
    return JobDetails(job_master.job_id, job_graph.name, job_master.status,
                      job_graph.runtime_mode, job_master.start_time, end_time,
                      dict(job_master.timestamps), vertices, job_plan(job_graph),
                      str(job_master.scheduler.restart_strategy),
                      {str(k): str(v) for k, v in dict(parameters).items()})


def subtask_details(execution: Execution, offers: list[SlotOffer]) -> SubtaskDetails:
    """Where ``execution`` runs (its TaskManager's id, host and data endpoint, from the slot
    it was offered) and when it entered each state."""
    tm_id = host = endpoint = ""
    offer = next((o for o in offers if o.allocation_id == execution.allocation_id), None) \
        if execution.allocation_id is not None else None
    if offer is None and execution.task_executor is not None:
        # a replaced attempt whose slot is gone: its TaskExecutor's address
        host = endpoint = rest_host(execution.task_executor)
    if offer is not None:
        location = offer.location
        tm_id = str(location.resource_id) if location is not None else ""
        data_address = location.data_address if location is not None else ""
        host = (data_address.rpartition(":")[0] if data_address
                else rest_host(offer.task_executor_address))
        endpoint = data_address or host
    return SubtaskDetails(execution.subtask, execution.state, execution.attempt, tm_id,
                          host, endpoint, dict(execution.timestamps))


def rest_host(address: str) -> str:
    """The host REST shows for a TaskExecutor at ``address``: ``tcp://host:port/name`` →
    ``host``; ``localhost`` for one in this process."""
    scheme, _, rest = address.partition("://")
    if scheme != "tcp":
        return "localhost"
    return rest.partition("/")[0].rpartition(":")[0]


def job_plan(job_graph: JobGraph) -> list[PlanNode]:
    """The JobGraph as REST's ``plan``: a node per vertex, with its input edges."""
    nodes = []
    for vertex in job_graph.vertices:
        inputs = [PlanInput(i, str(edge.source_vertex), edge.partitioning.ship_strategy,
                            "pipelined_bounded")
                  for i, edge in enumerate(vertex.inputs)]
        description = " -> ".join(op.name for op in vertex.operators)
        nodes.append(PlanNode(str(vertex.id), vertex.parallelism, "", "", description, inputs))
    return nodes
