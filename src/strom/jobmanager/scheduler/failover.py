"""Failover strategies: which tasks restart after a failure
(``jobmanager.execution.failover-strategy``).

* ``full``: every task of the job.
* ``region`` (the default): the failed task's pipelined region. A region is a set of
  subtasks connected by pipelined exchanges. strom's exchanges are all pipelined, in
  STREAMING and in BATCH mode alike (BATCH runs over the same pipelined channels; there are
  no blocking result partitions that outlive their producer), so a region is a connected
  component of the subtask graph: forward and rescale edges connect a producer subtask to a
  few consumer subtasks, every all-to-all edge (``key_by``, ``rebalance``, ``broadcast``...)
  connects everything on both sides. An embarrassingly parallel job at parallelism 2 has two
  regions; a job with a ``key_by`` has one. Unlike Flink's BATCH mode, a failure in a BATCH
  job therefore restarts its whole region too, not only the failed stage.

A subtask is named by ``(vertex id, subtask index)``.
"""

from __future__ import annotations

from collections.abc import Iterable

from strom.graph.execution_graph import consumers_of
from strom.graph.job_graph import JobGraph

__all__ = ["FailoverStrategy", "SubtaskKey", "pipelined_regions"]

SubtaskKey = tuple[str, int]


def pipelined_regions(job_graph: JobGraph) -> list[frozenset[SubtaskKey]]:
    """The job's pipelined regions, in the order of their first subtask (topological)."""
    parent: dict[SubtaskKey, SubtaskKey] = {}
    order: list[SubtaskKey] = []
    for vertex in job_graph.vertices:
        for subtask in range(vertex.parallelism):
            key = (str(vertex.id), subtask)
            parent[key] = key
            order.append(key)

    def find(key: SubtaskKey) -> SubtaskKey:
        root = key
        while parent[root] != root:
            root = parent[root]
        while parent[key] != root:  # path compression
            parent[key], key = root, parent[key]
        return root

    def union(a: SubtaskKey, b: SubtaskKey) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[rb] = ra

    for vertex in job_graph.vertices:
        for edge in vertex.outputs:
            consumer = job_graph.vertex(edge.target_vertex)
            up, down = vertex.parallelism, consumer.parallelism
            if not edge.partitioning.pointwise:
                # all-to-all: every producer and every consumer in one region
                first = (str(vertex.id), 0)
                for p in range(up):
                    union(first, (str(vertex.id), p))
                for c in range(down):
                    union(first, (str(consumer.id), c))
                continue
            for p in range(up):
                for c in consumers_of(edge, p, up, down):
                    union((str(vertex.id), p), (str(consumer.id), c))

    regions: dict[SubtaskKey, set[SubtaskKey]] = {}
    for key in order:
        regions.setdefault(find(key), set()).add(key)
    return [frozenset(r) for r in regions.values()]


class FailoverStrategy:
    """Maps failed subtasks to the subtasks to restart."""

    def __init__(self, job_graph: JobGraph, kind: str = "region") -> None:
        if kind not in ("full", "region"):
            raise ValueError(
                f"Unknown failover strategy {kind!r} (jobmanager.execution.failover-strategy); "
                "use 'full' or 'region'.")
        self.kind = kind
        self.regions = pipelined_regions(job_graph)
        self.all: frozenset[SubtaskKey] = frozenset().union(*self.regions)
        self._region_of = {key: region for region in self.regions for key in region}

    def tasks_to_restart(self, failed: Iterable[SubtaskKey]) -> frozenset[SubtaskKey]:
        """Every subtask to restart when ``failed`` failed (``full``: all of them)."""
        if self.kind == "full":
            return self.all
        found: set[SubtaskKey] = set()
        for key in failed:
            found |= self._region_of[key]
        return frozenset(found)

    def __str__(self) -> str:
        return f"{self.kind} ({len(self.regions)} pipelined regions)"
