"""JobGraph → ExecutionGraph: one ExecutionVertex per parallel subtask, with the subtasks
each one reads from and writes to.

All-to-all edges connect every producer subtask to every consumer subtask; pointwise edges
(forward, rescale) connect ranges, as Flink's ``EdgeManagerBuildUtil`` does.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from strom.graph.ids import AllocationID, ExecutionAttemptID
from strom.graph.job_graph import JobEdge, JobGraph, JobVertex

__all__ = ["ATTEMPTS_HISTORY_SIZE", "Execution", "ExecutionGraph", "consumers_of",
           "producers_of"]

#: how many replaced attempts of each subtask are kept (Flink's
#: ``jobmanager.execution.attempts-history-size`` default)
ATTEMPTS_HISTORY_SIZE = 16


def consumers_of(edge: JobEdge, producer: int, up: int, down: int) -> list[int]:
    """The consumer subtasks that producer subtask ``producer`` writes to."""
    if not edge.partitioning.pointwise:
        return list(range(down))
    if up == down:
        return [producer]
    if up < down:
        # ceil bounds, as Flink's EdgeManagerBuildUtil.connectPointwise
        start = (producer * down + up - 1) // up
        end = ((producer + 1) * down + up - 1) // up
        return list(range(start, end))
    return [c for c in range(down) if producer in producers_of(edge, c, up, down)]


def producers_of(edge: JobEdge, consumer: int, up: int, down: int) -> list[int]:
    """The producer subtasks that consumer subtask ``consumer`` reads from."""
    if not edge.partitioning.pointwise:
        return list(range(up))
    if up == down:
        return [consumer]
    if up > down:
        return list(range(consumer * up // down, (consumer + 1) * up // down))
    return [p for p in range(up) if consumer in consumers_of(edge, p, up, down)]


@dataclass(eq=False)
class Execution:
    """One attempt to run one subtask."""

    vertex: JobVertex
    subtask: int
    attempt: int = 0
    execution_id: ExecutionAttemptID = field(default_factory=ExecutionAttemptID)
    state: str = "CREATED"
    task_executor: str | None = None
    allocation_id: AllocationID | None = None
    failure: Any = None
    #: ExecutionState name → when this attempt entered it (epoch ms; REST's subtask times)
    timestamps: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.timestamps.setdefault(self.state, time.time_ns() // 1_000_000)

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "state" and "timestamps" in self.__dict__ and self.state != value:
            self.timestamps[value] = time.time_ns() // 1_000_000
        object.__setattr__(self, name, value)

    @property
    def name(self) -> str:
        return f"{self.vertex.name} ({self.subtask + 1}/{self.vertex.parallelism})"


class ExecutionGraph:
    def __init__(self, job_graph: JobGraph) -> None:
        self.job_graph = job_graph
        self.executions: dict[str, Execution] = {}
        self.by_vertex: dict[str, list[Execution]] = {}
        #: (vertex id, subtask) → its replaced attempts, oldest first (the last
        #: ATTEMPTS_HISTORY_SIZE; REST's ``/subtasks/:i/attempts/:n``)
        self.prior_attempts: dict[tuple[str, int], list[Execution]] = {}
        for vertex in job_graph.vertices:
            executions = [Execution(vertex, i) for i in range(vertex.parallelism)]
            self.by_vertex[str(vertex.id)] = executions
            for e in executions:
                self.executions[str(e.execution_id)] = e

    def all(self) -> list[Execution]:
        return list(self.executions.values())

    def execution_of(self, vertex: JobVertex, subtask: int) -> Execution:
        return self.by_vertex[str(vertex.id)][subtask]

    def new_attempt(self, execution: Execution) -> Execution:
        """Replace ``execution`` (ended) with the next attempt of its subtask: a new
        execution id, ``attempt + 1``, not deployed yet. Updates for the old id are no longer
        found in :attr:`executions`."""
        fresh = Execution(execution.vertex, execution.subtask, execution.attempt + 1)
        prior = self.prior_attempts.setdefault((str(execution.vertex.id), execution.subtask), [])
        prior.append(execution)
        del prior[:-ATTEMPTS_HISTORY_SIZE]
        self.executions.pop(str(execution.execution_id), None)
        self.executions[str(fresh.execution_id)] = fresh
        self.by_vertex[str(execution.vertex.id)][execution.subtask] = fresh
        return fresh
