"""Flame graphs of a job vertex: the answer's shape (Flink's ``VertexFlameGraph``), the tree
built from stack samples, and the ``rest.flamegraph.*`` settings.

The tree's root is ``root``; each node is a frame (``function (file:line)``) whose ``value``
counts the samples it was on the stack in, so a child's value is at most its parent's and
the root's is the number of samples of the chosen type. A FULL graph counts every sample,
ON_CPU only those of working threads, OFF_CPU those of waiting ones (the definitions are in
:mod:`strom.taskmanager.stack_sampler`). Building does no I/O.

>>> from strom.graph.ids import ExecutionAttemptID
>>> from strom.rpc.messages import ThreadInfoSample
>>> eid = ExecutionAttemptID()
>>> samples = {0: [ThreadInfoSample(eid, ["run (a.py:1)", "work (b.py:2)"], True, 3),
...                ThreadInfoSample(eid, ["run (a.py:1)"], False, 1)]}
>>> graph = build_flame_graph(samples, FlameGraphType.ON_CPU, end_timestamp=42)
>>> graph.data.value, graph.data.children[0].children[0].name
(3, 'work (b.py:2)')
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import msgspec

from strom.common import config_options as opts
from strom.common.configuration import Configuration
from strom.rpc.messages import ThreadInfoSample

__all__ = ["FlameGraphNode", "FlameGraphSettings", "FlameGraphType", "VertexFlameGraph",
           "build_flame_graph"]


class FlameGraphType(enum.Enum):
    """Which samples a flame graph counts (Flink's ``FlameGraphTypeQueryParameter.Type``)."""

    FULL = "FULL"
    ON_CPU = "ON_CPU"
    OFF_CPU = "OFF_CPU"

    def counts(self, on_cpu: bool) -> bool:
        return self is FlameGraphType.FULL or on_cpu == (self is FlameGraphType.ON_CPU)


class FlameGraphNode(msgspec.Struct, frozen=True):
    """One frame of the flame graph: its name, its samples, the frames it called."""

    name: str
    value: int
    children: list[FlameGraphNode] = []


class VertexFlameGraph(msgspec.Struct, frozen=True, rename={"end_timestamp": "endTimestamp"}):
    """Flink's ``VertexFlameGraph``: ``endTimestamp`` is when the samples were taken (epoch
    ms) and ``data`` their tree; without data, a negative ``endTimestamp`` says why
    (:meth:`terminated`, :meth:`disabled`, :meth:`waiting`)."""

    end_timestamp: int
    data: FlameGraphNode | None = None

    @staticmethod
    def terminated() -> VertexFlameGraph:
        """The vertex (or subtask) has ended: nothing to sample."""
        return VertexFlameGraph(-1)

    @staticmethod
    def disabled() -> VertexFlameGraph:
        """``rest.flamegraph.enabled`` is false."""
        return VertexFlameGraph(-2)

    @staticmethod
    def waiting() -> VertexFlameGraph:
        """The first samples are being taken; ask again."""
        return VertexFlameGraph(-3)


class _Builder:
    __slots__ = ("children", "name", "value")

    def __init__(self, name: str) -> None:
        self.name = name
        self.value = 0
        self.children: dict[str, _Builder] = {}

    def node(self) -> FlameGraphNode:
        # sorted by name, as flame graphs are: the x-axis is not time
        return FlameGraphNode(self.name, self.value,
                              [self.children[n].node() for n in sorted(self.children)])


def build_flame_graph(samples_by_subtask: Mapping[int, Iterable[ThreadInfoSample]],
                      graph_type: FlameGraphType, end_timestamp: int) -> VertexFlameGraph:
    """The flame graph of the samples (of one subtask or all of a vertex's) that
    ``graph_type`` counts."""
    root = _Builder("root")
    for samples in samples_by_subtask.values():
        for sample in samples:
            if not graph_type.counts(sample.on_cpu):
                continue
            root.value += sample.count
            node = root
            for name in sample.frames:
                child = node.children.get(name)
                if child is None:
                    child = node.children[name] = _Builder(name)
                child.value += sample.count
                node = child
    return VertexFlameGraph(end_timestamp, root.node())


@dataclass(frozen=True)
class FlameGraphSettings:
    """The ``rest.flamegraph.*`` keys (Flink's names and defaults; strom enables flame graphs
    by default: nothing is sampled until someone asks)."""

    enabled: bool = True
    #: how many samples one request takes per subtask
    num_samples: int = 100
    delay_ms: int = 50
    #: the innermost frames kept per sample
    stack_depth: int = 100
    #: how long samples answer requests before a request takes new ones
    refresh_interval_ms: int = 60_000
    #: samples nobody asked for this long are dropped
    cleanup_interval_ms: int = 600_000

    @staticmethod
    def from_configuration(configuration: Configuration | None) -> FlameGraphSettings:
        if configuration is None:
            return FlameGraphSettings()
        return FlameGraphSettings(
            enabled=bool(configuration.get_required(opts.FLAMEGRAPH_ENABLED)),
            num_samples=int(configuration.get_required(opts.FLAMEGRAPH_NUM_SAMPLES)),
            delay_ms=int(configuration.get_required(opts.FLAMEGRAPH_DELAY_BETWEEN_SAMPLES)),
            stack_depth=int(configuration.get_required(opts.FLAMEGRAPH_STACK_DEPTH)),
            refresh_interval_ms=int(configuration.get_required(opts.FLAMEGRAPH_REFRESH_INTERVAL)),
            cleanup_interval_ms=int(configuration.get_required(opts.FLAMEGRAPH_CLEANUP_INTERVAL)),
        )
