"""StreamGraph → JobGraph: chainable operators collapse into one JobVertex.

Flink's rule (``StreamingJobGraphGenerator.isChainable``): the downstream node has exactly
one input edge, both are in the same slot-sharing group, the upstream allows chaining (not
``NEVER``) and the downstream is ``ALWAYS``, the edge is forward, parallelisms are equal and
chaining is enabled.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from strom.common.job import SavepointRestoreSettings
from strom.graph.ids import IntermediateDataSetID, JobVertexID
from strom.graph.partitioning import ForwardPartitioning
from strom.graph.python_dependencies import PythonDependencies
from strom.graph.stream_graph import GraphBuildError, StreamEdge, StreamGraph, StreamNode
from strom.graph.transformations import ChainingStrategy

__all__ = ["ChainedOperator", "JobEdge", "JobGraph", "JobVertex", "build_job_graph", "is_chainable"]


@dataclass(eq=False)
class ChainedOperator:
    """One operator inside a vertex's chain, with where its output goes."""

    node_id: int
    name: str
    spec: Any
    output_type: Any
    uid: str | None
    #: ``DataStream.set_buffer_timeout`` of this operator (ms), None for the job's setting
    buffer_timeout: int | None = None
    #: edges to operators in the same chain
    chained_outputs: list[StreamEdge] = field(default_factory=list)
    #: edges leaving the vertex (record writers)
    network_outputs: list[StreamEdge] = field(default_factory=list)
    #: the id its state is stored under in checkpoints and savepoints: the ``uid`` when
    #: set, else one generated from the operator's place in the graph (stable across runs of
    #: the same program; changed by edits upstream, which is why uids are recommended)
    state_id: str = ""


@dataclass(eq=False)
class JobEdge:
    """A network edge between two vertices (one intermediate data set per producing edge)."""

    stream_edge: StreamEdge
    source_vertex: JobVertexID
    target_vertex: JobVertexID
    data_set_id: IntermediateDataSetID = field(default_factory=IntermediateDataSetID)

    @property
    def partitioning(self) -> Any:
        return self.stream_edge.partitioning

    @property
    def type_number(self) -> int:
        return self.stream_edge.type_number


@dataclass(eq=False)
class JobVertex:
    id: JobVertexID
    name: str
    parallelism: int
    max_parallelism: int
    slot_sharing_group: str
    #: operators in topological order; the first is the chain head
    operators: list[ChainedOperator]
    inputs: list[JobEdge] = field(default_factory=list)
    outputs: list[JobEdge] = field(default_factory=list)
    is_source: bool = False

    @property
    def head(self) -> ChainedOperator:
        return self.operators[0]


@dataclass(eq=False)
class JobGraph:
    name: str
    vertices: list[JobVertex]  # topological order
    runtime_mode: str
    stream_graph: StreamGraph
    #: what every task needs to know (runtime mode, intervals, buffer sizes, job parameters)
    config: dict[str, Any] = field(default_factory=dict)
    #: files, archives, requirements and interpreter to ship with the job (``python.*``)
    python_dependencies: PythonDependencies = field(default_factory=PythonDependencies)
    #: the job's checkpoint settings (a ``CheckpointCoordinatorConfiguration``); None or
    #: without an interval: no periodic checkpoints
    checkpoint_config: Any = None
    #: the savepoint the job starts from (``strom run -s``, ``execution.state-recovery.path``)
    savepoint_restore_settings: SavepointRestoreSettings = field(
        default_factory=SavepointRestoreSettings.none)

    @property
    def slot_sharing_groups(self) -> dict[str, Any]:
        """Slot sharing groups that specify resources (SlotSharingGroup by name); strom
        records them for the scheduler, which does not match slot resources yet."""
        return self.stream_graph.slot_sharing_groups

    def vertex(self, vertex_id: JobVertexID) -> JobVertex:
        for v in self.vertices:
            if v.id == vertex_id:
                return v
        raise KeyError(vertex_id)

    def max_parallelism_needed(self) -> dict[str, int]:
        """Slots needed per slot-sharing group: the highest parallelism in each group."""
        needed: dict[str, int] = {}
        for v in self.vertices:
            needed[v.slot_sharing_group] = max(needed.get(v.slot_sharing_group, 0), v.parallelism)
        return needed


def is_chainable(edge: StreamEdge, graph: StreamGraph) -> bool:
    upstream, downstream = graph.nodes[edge.source_id], graph.nodes[edge.target_id]
    return (
        graph.chaining_enabled
        and len(downstream.in_edges) == 1
        and upstream.slot_sharing_group == downstream.slot_sharing_group
        and upstream.chaining_strategy is not ChainingStrategy.NEVER
        and downstream.chaining_strategy is ChainingStrategy.ALWAYS
        and isinstance(edge.partitioning, ForwardPartitioning)
        and upstream.parallelism == downstream.parallelism
    )


def build_job_graph(graph: StreamGraph) -> JobGraph:
    """Collapse chains and connect the resulting vertices."""
    head_of: dict[int, int] = {}
    chains: dict[int, list[StreamNode]] = {}
    for node in graph.topological_order():
        chained_in = [e for e in node.in_edges if is_chainable(e, graph)]
        head = head_of[chained_in[0].source_id] if chained_in else node.id
        head_of[node.id] = head
        chains.setdefault(head, []).append(node)

    state_ids = _state_ids(graph)
    vertices: dict[int, JobVertex] = {}
    for head, nodes in chains.items():
        operators = []
        for node in nodes:
            op = ChainedOperator(node.id, node.name, node.spec, node.output_type, node.uid,
                                 node.buffer_timeout, state_id=state_ids[node.id])
            for edge in node.out_edges:
                same_chain = head_of[edge.target_id] == head and is_chainable(edge, graph)
                (op.chained_outputs if same_chain else op.network_outputs).append(edge)
            operators.append(op)
        first = nodes[0]
        vertices[head] = JobVertex(
            id=JobVertexID(), name=_chain_name(nodes), parallelism=first.parallelism,
            max_parallelism=first.max_parallelism, slot_sharing_group=first.slot_sharing_group,
            operators=operators, is_source=first.is_source,
        )
    for vertex in vertices.values():
        for op in vertex.operators:
            for edge in op.network_outputs:
                target = vertices[head_of[edge.target_id]]
                job_edge = JobEdge(edge, vertex.id, target.id)
                vertex.outputs.append(job_edge)
                target.inputs.append(job_edge)
    ordered = [vertices[h] for h in chains]  # chains were discovered in topological order
    return JobGraph(graph.job_name, ordered, graph.runtime_mode, graph)


def _chain_name(nodes: list[StreamNode]) -> str:
    return " -> ".join(n.name for n in nodes)


def _state_ids(graph: StreamGraph) -> dict[int, str]:
    """Each node's :attr:`ChainedOperator.state_id`: its uid, or a hash of its name, its
    inputs' ids and its rank among nodes with the same name and inputs."""
    ids: dict[int, str] = {}
    seen: dict[str, int] = {}
    uid_owners: dict[str, StreamNode] = {}
    for node in graph.topological_order():
        if node.uid:
            other = uid_owners.setdefault(node.uid, node)
            if other is not node:
                # Flink's StreamGraphHasherV2 message, and which operators share the uid
                raise GraphBuildError(
                    f'Hash collision on user-specified ID "{node.uid}". Most likely cause is '
                    "a non-unique ID. Please check that all IDs specified via `uid(String)` "
                    f"are unique. (Operators {other.name!r} and {node.name!r} both have uid "
                    f"{node.uid!r}; checkpoints and savepoints store state by uid.)"
                )
            ids[node.id] = node.uid
            continue
        inputs = ",".join(ids[e.source_id] for e in node.in_edges)
        basis = f"{node.name}|{inputs}"
        rank = seen[basis] = seen.get(basis, -1) + 1
        digest = hashlib.sha1(f"{basis}|{rank}".encode()).hexdigest()[:32]
        ids[node.id] = digest
    return ids
