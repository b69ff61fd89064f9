"""Transformations → StreamGraph: one node per real operator, edges carrying partitioning.

Partition, union and side-output transformations are virtual: they become properties of the
edges that cross them, as in Flink's ``StreamGraphGenerator``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from strom.graph.operator_specs import OperatorSpec
from strom.graph.partitioning import (
    ForwardPartitioning,
    HashPartitioning,
    Partitioning,
    RebalancePartitioning,
)
from strom.graph.transformations import (
    ChainingStrategy,
    OneInputTransformation,
    PartitionTransformation,
    SideOutputTransformation,
    SinkTransformation,
    SourceTransformation,
    Transformation,
    TwoInputTransformation,
    UnionTransformation,
)
from strom.state.key_groups import UPPER_BOUND_MAX_PARALLELISM, compute_default_max_parallelism

__all__ = ["GraphBuildError", "StreamEdge", "StreamGraph", "StreamNode", "build_stream_graph"]

DEFAULT_SLOT_SHARING_GROUP = "default"


class GraphBuildError(ValueError):
    """The program's dataflow is not valid (raised when the graph is built)."""


@dataclass(eq=False)
class StreamEdge:
    source_id: int
    target_id: int
    #: 0 for single-input targets, 1 or 2 for the inputs of two-input operators
    type_number: int
    partitioning: Partitioning
    output_tag: Any = None
    #: > 0 for a further edge between the same operators and input (``ds.union(ds)``)
    duplicate: int = 0
    #: the target operator's name (error messages of the edge's key selector or partitioner)
    target_name: str = ""

    @property
    def edge_id(self) -> str:
        tag = f"-{self.output_tag.tag_id}" if self.output_tag is not None else ""
        again = f"#{self.duplicate}" if self.duplicate else ""
        return f"{self.source_id}->{self.target_id}:{self.type_number}{tag}{again}"


@dataclass(eq=False)
class StreamNode:
    id: int
    name: str
    spec: OperatorSpec
    parallelism: int
    max_parallelism: int
    slot_sharing_group: str
    chaining_strategy: ChainingStrategy
    output_type: Any = None
    uid: str | None = None
    description: str | None = None
    buffer_timeout: int | None = None
    is_source: bool = False
    is_sink: bool = False
    bounded: bool = True
    in_edges: list[StreamEdge] = field(default_factory=list)
    out_edges: list[StreamEdge] = field(default_factory=list)


@dataclass(eq=False)
class StreamGraph:
    job_name: str
    nodes: dict[int, StreamNode]
    chaining_enabled: bool
    runtime_mode: str  # "STREAMING" or "BATCH" (AUTOMATIC resolved)
    max_parallelism: int
    #: slot sharing groups that specify resources, by name (recorded, not enforced yet)
    slot_sharing_groups: dict[str, Any] = field(default_factory=dict)

    @property
    def sources(self) -> list[StreamNode]:
        return [n for n in self.nodes.values() if n.is_source]

    def topological_order(self) -> list[StreamNode]:
        order: list[StreamNode] = []
        pending = {n.id: len(n.in_edges) for n in self.nodes.values()}
        ready = sorted(i for i, c in pending.items() if c == 0)
        while ready:
            node = self.nodes[ready.pop(0)]
            order.append(node)
            for edge in node.out_edges:
                pending[edge.target_id] -= 1
                if pending[edge.target_id] == 0:
                    ready.append(edge.target_id)
                    ready.sort()
        return order


_Resolved = tuple[int, Partitioning | None, Any]


class _Generator:
    def __init__(
        self, default_parallelism: int, max_parallelism: int, runtime_mode: str,
        slot_sharing_groups: Mapping[str, Any],
    ) -> None:
        self.default_parallelism = default_parallelism
        self.max_parallelism = max_parallelism
        self.runtime_mode = runtime_mode
        self.slot_sharing_groups = dict(slot_sharing_groups)
        self.nodes: dict[int, StreamNode] = {}
        self.resolved: dict[int, list[_Resolved]] = {}

    def transform(self, t: Transformation) -> list[_Resolved]:
        done = self.resolved.get(t.id)
        if done is not None:
            return done
        if isinstance(t, PartitionTransformation):
            assert t.input is not None
            result = [(n, t.partitioning, tag) for n, _, tag in self.transform(t.input)]
        elif isinstance(t, UnionTransformation):
            result = [r for i in t.union_inputs for r in self.transform(i)]
        elif isinstance(t, SideOutputTransformation):
            assert t.input is not None
            result = [(n, p, t.output_tag) for n, p, _ in self.transform(t.input)]
        else:
            result = [(self._add_node(t), None, None)]
        self.resolved[t.id] = result
        return result

    def _add_node(self, t: Transformation) -> int:
        inputs = [self.transform(i) for i in t.inputs]
        parallelism = self._parallelism_of(t)
        group = t.slot_sharing_group or self._inherited_group(inputs)
        if t.slot_sharing_group_resources is not None:
            self._add_group_resources(t.slot_sharing_group_resources)
        spec = getattr(t, "spec", None)
        assert spec is not None, f"transformation {t.name} has no operator"
        max_par = t.max_parallelism or self.max_parallelism
        if max_par <= 0:
            max_par = compute_default_max_parallelism(parallelism)
        if not 0 < max_par <= UPPER_BOUND_MAX_PARALLELISM:
            raise GraphBuildError(
                f"Max parallelism of '{t.name}' must be in 1..{UPPER_BOUND_MAX_PARALLELISM}, "
                f"got {max_par}."
            )
        if parallelism > max_par:
            raise GraphBuildError(
                f"The parallelism of '{t.name}' ({parallelism}) is larger than its max "
                f"parallelism ({max_par}). Lower the parallelism or raise set_max_parallelism()."
            )
        node = StreamNode(
            id=t.id, name=_node_name(t), spec=spec, parallelism=parallelism, max_parallelism=max_par,
            slot_sharing_group=group, chaining_strategy=t.chaining_strategy,
            output_type=t.output_type, uid=t.uid, description=t.description,
            buffer_timeout=t.buffer_timeout,
            is_source=isinstance(t, SourceTransformation),
            is_sink=isinstance(t, SinkTransformation),
            bounded=getattr(t, "bounded", True),
        )
        self.nodes[node.id] = node
        two_input = isinstance(t, TwoInputTransformation)
        for index, resolved_inputs in enumerate(inputs):
            for source_id, partitioning, tag in resolved_inputs:
                self._add_edge(source_id, node, index + 1 if two_input else 0, partitioning, tag)
        return node.id

    def _parallelism_of(self, t: Transformation) -> int:
        if isinstance(t, SourceTransformation) and t.max_source_parallelism is not None:
            if t.parallelism is not None and t.parallelism > t.max_source_parallelism:
                raise GraphBuildError(
                    f"The parallelism of non parallel operator '{t.name}' must be "
                    f"{t.max_source_parallelism}, got {t.parallelism}."
                )
            return t.parallelism or min(self.default_parallelism, t.max_source_parallelism)
        return t.parallelism or self.default_parallelism

    def _add_group_resources(self, group: Any) -> None:
        """Flink's rule: one group name, one resource spec."""
        known = self.slot_sharing_groups.setdefault(group.get_name(), group)
        if known != group:
            raise GraphBuildError(
                f"The slot sharing group '{group.get_name()}' has been configured with two "
                f"different resource specs: {known!r} and {group!r}. Give the group one "
                "resource spec (register it once with register_slot_sharing_group() and refer "
                "to it by name), or use different group names."
            )

    def _inherited_group(self, inputs: list[list[_Resolved]]) -> str:
        groups = {self.nodes[n].slot_sharing_group for rs in inputs for n, _, _ in rs}
        return groups.pop() if len(groups) == 1 else DEFAULT_SLOT_SHARING_GROUP

    def _add_edge(
        self, source_id: int, target: StreamNode, type_number: int,
        partitioning: Partitioning | None, tag: Any,
    ) -> None:
        source = self.nodes[source_id]
        if partitioning is None:
            same = source.parallelism == target.parallelism
            partitioning = ForwardPartitioning() if same else RebalancePartitioning()
        elif isinstance(partitioning, ForwardPartitioning):
            if source.parallelism != target.parallelism:
                raise GraphBuildError(
                    "Forward partitioning does not allow change of parallelism. Upstream "
                    f"operation: {source.name} parallelism: {source.parallelism}, downstream "
                    f"operation: {target.name} parallelism: {target.parallelism}. You must use "
                    "another partitioning strategy, such as broadcast, rebalance, shuffle or "
                    "global."
                )
        if isinstance(partitioning, HashPartitioning):
            partitioning = HashPartitioning(
                key_selector=partitioning.key_selector, max_parallelism=target.max_parallelism
            )
        edge = StreamEdge(source_id, target.id, type_number, partitioning, tag,
                          target_name=target.name)
        taken = {e.edge_id for e in target.in_edges}
        while edge.edge_id in taken:
            edge.duplicate += 1
        source.out_edges.append(edge)
        target.in_edges.append(edge)


def _node_name(t: Transformation) -> str:
    """The operator's name in the graph, plan and task names: Flink prefixes sources with
    ``Source: `` and sinks with ``Sink: `` (``Source: Collection Source -> Map``)."""
    if isinstance(t, SourceTransformation):
        return f"Source: {t.name}"
    if isinstance(t, SinkTransformation):
        return f"Sink: {t.name}"
    return t.name


def build_stream_graph(
    transformations: list[Transformation],
    *,
    job_name: str,
    default_parallelism: int,
    max_parallelism: int,
    chaining_enabled: bool,
    runtime_mode: str,
    slot_sharing_groups: Mapping[str, Any] | None = None,
) -> StreamGraph:
    """Build the StreamGraph of every transformation reachable from ``transformations``.

    ``slot_sharing_groups`` are the groups the environment registered, by name."""
    if not any(isinstance(t, SinkTransformation) for t in transformations):
        raise GraphBuildError(
            "No operators defined in streaming topology. Cannot execute. Add a sink: "
            "print(), sink_to(...), add_sink(...) or execute_and_collect()."
        )
    generator = _Generator(default_parallelism, max_parallelism, runtime_mode,
                           slot_sharing_groups or {})
    for t in transformations:
        if isinstance(t, SinkTransformation | OneInputTransformation | TwoInputTransformation):
            generator.transform(t)
    graph = StreamGraph(
        job_name=job_name, nodes=generator.nodes, chaining_enabled=chaining_enabled,
        runtime_mode=runtime_mode, max_parallelism=max_parallelism,
        slot_sharing_groups=generator.slot_sharing_groups,
    )
    if runtime_mode == "BATCH":
        unbounded = [n.name for n in graph.sources if not n.bounded]
        if unbounded:
            raise GraphBuildError(
                "Detected an UNBOUNDED source with the 'execution.runtime-mode' set to 'BATCH'. "
                f"This combination is not allowed (sources: {', '.join(unbounded)}). Use "
                "STREAMING mode, or make the source bounded."
            )
    return graph
