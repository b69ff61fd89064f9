"""The JobMaster's flame graphs: it asks the TaskExecutors running a vertex's subtasks for
stack samples and answers the flame graph of the samples it has (Flink's
``VertexThreadInfoTracker`` with its ``ThreadInfoRequestCoordinator``).

A request answers at once: the cached samples' graph, or "not ready"
(:meth:`VertexFlameGraph.waiting`) while the first samples are taken, or "ended"
(:meth:`VertexFlameGraph.terminated`) for a vertex or subtask that no longer runs. When the
:class:`~strom.jobmanager.thread_info_tracker.VertexThreadInfoTracker` says so, it starts a
sample in the background: one ``request_thread_info_samples`` per TaskExecutor, for the
subtasks it runs, bounded by the sample's own duration plus ``pekko.ask.timeout``.
"""

from __future__ import annotations

import asyncio
import logging
import time

from strom.common.job import JobID
from strom.graph.execution_graph import Execution, ExecutionGraph
from strom.jobmanager.cluster_info import aggregate_execution_state
from strom.jobmanager.flame_graph import (
    FlameGraphSettings,
    FlameGraphType,
    VertexFlameGraph,
    build_flame_graph,
)
from strom.jobmanager.thread_info_tracker import (
    SampleKey,
    VertexThreadInfoStats,
    VertexThreadInfoTracker,
)
from strom.rpc.gateways import TaskExecutorGateway
from strom.rpc.messages import ExecutionState, ThreadInfoSample
from strom.rpc.service import RpcEndpoint

__all__ = ["UnknownJobVertexError", "VertexFlameGraphs"]

log = logging.getLogger(__name__)

#: the states in which a subtask is sampled (as Flink's)
_SAMPLED_STATES = (ExecutionState.RUNNING.value, ExecutionState.INITIALIZING.value)


class UnknownJobVertexError(KeyError):
    """The job has no vertex with that id."""

    def __str__(self) -> str:
        vertex_id, job_id, known = self.args
        return (f"Job {job_id} has no vertex {vertex_id}; its vertices are "
                f"{', '.join(known) or 'none'} (/jobs/:jobid lists them).")


def _wall_clock_ms() -> int:
    return int(time.time() * 1000)


class VertexFlameGraphs(RpcEndpoint):
    """The JobMaster's ``request_vertex_flame_graph`` (a base class of
    :class:`~strom.jobmanager.jobmaster.JobMaster`)."""

    #: the cluster's ``rest.flamegraph.*`` settings (the Dispatcher sets them)
    flame_graph_settings = FlameGraphSettings()
    _flame_graph_tracker: VertexThreadInfoTracker | None = None
    # the JobMaster's
    job_id: JobID
    graph: ExecutionGraph

    async def request_vertex_flame_graph(self, vertex_id: str, graph_type: FlameGraphType,
                                         subtask_index: int | None) -> VertexFlameGraph:
        executions = self.graph.by_vertex.get(vertex_id)
        if executions is None:
            raise UnknownJobVertexError(vertex_id, self.job_id, list(self.graph.by_vertex))
        if subtask_index is not None and not 0 <= subtask_index < len(executions):
            raise ValueError(
                f"Vertex {vertex_id} of job {self.job_id} has subtasks 0 to "
                f"{len(executions) - 1}, got subtask index {subtask_index}.")
        chosen = executions if subtask_index is None else [executions[subtask_index]]
        if _ended(chosen):
            return VertexFlameGraph.terminated()
        tracker = self._flame_graph_tracker
        if tracker is None:
            tracker = self._flame_graph_tracker = VertexThreadInfoTracker(
                self.flame_graph_settings, _wall_clock_ms)
        key: SampleKey = (vertex_id, subtask_index)
        stats, request_id = tracker.lookup(key)
        if request_id is not None:
            self.spawn(self._sample(tracker, key, request_id, chosen),
                       name=f"flamegraph-{self.job_id}-{vertex_id}-{subtask_index}")
        if stats is None:
            return VertexFlameGraph.waiting()
        return build_flame_graph(stats.samples_by_subtask, graph_type, stats.end_time)

    async def _sample(self, tracker: VertexThreadInfoTracker, key: SampleKey, request_id: int,
                      executions: list[Execution]) -> None:
        try:
            stats = await self._take_samples(request_id, executions)
        except Exception as e:
            log.warning("Could not sample the stacks of %s of job %s (the next flame graph "
                        "request tries again): %s", key, self.job_id, e)
            tracker.failed(key)
            return
        except BaseException:
            tracker.failed(key)
            raise
        tracker.completed(key, stats)

    async def _take_samples(self, request_id: int, executions: list[Execution]
                            ) -> VertexThreadInfoStats:
        settings = self.flame_graph_settings
        by_address: dict[str, list[Execution]] = {}
        for execution in executions:
            if execution.state in _SAMPLED_STATES and execution.task_executor is not None:
                by_address.setdefault(execution.task_executor, []).append(execution)
        if not by_address:
            raise RuntimeError("none of its subtasks is RUNNING or INITIALIZING on a "
                               "TaskManager")
        timeout_s = settings.num_samples * settings.delay_ms / 1000.0 + self.rpc.ask_timeout_s

        async def ask(address: str, group: list[Execution]) -> list[ThreadInfoSample]:
            te = self.rpc.connect(address, TaskExecutorGateway)
            return await asyncio.wait_for(te.request_thread_info_samples(
                [e.execution_id for e in group], settings.num_samples, settings.delay_ms,
                settings.stack_depth), timeout_s)

        start = _wall_clock_ms()
        answers = await asyncio.gather(*(ask(a, g) for a, g in by_address.items()))
        subtask_of = {e.execution_id: e.subtask for e in executions}
        by_subtask: dict[int, list[ThreadInfoSample]] = {
            e.subtask: [] for group in by_address.values() for e in group}
        for answer in answers:
            for sample in answer:
                subtask = subtask_of.get(sample.execution_id)
                if subtask is not None:
                    by_subtask[subtask].append(sample)
        return VertexThreadInfoStats(request_id, start, _wall_clock_ms(), by_subtask)


def _ended(executions: list[Execution]) -> bool:
    counts: dict[str, int] = {}
    for execution in executions:
        counts[execution.state] = counts.get(execution.state, 0) + 1
    return ExecutionState(aggregate_execution_state(counts)).is_terminal
