"""``get_execution_plan()``: the StreamGraph as the JSON Flink's JSONGenerator writes."""

from __future__ import annotations

import json
from typing import Any

from strom.graph.stream_graph import StreamGraph

__all__ = ["execution_plan_json"]


def execution_plan_json(graph: StreamGraph) -> str:
    nodes: list[dict[str, Any]] = []
    for node in graph.topological_order():
        pact = "Data Source" if node.is_source else "Data Sink" if node.is_sink else "Operator"
        entry: dict[str, Any] = {
            "id": node.id,
            "type": node.name,
            "pact": pact,
            "contents": node.name,
            "parallelism": node.parallelism,
        }
        if node.in_edges:
            entry["predecessors"] = [
                {"id": e.source_id, "ship_strategy": e.partitioning.ship_strategy,
                 "side": "second"}
                for e in node.in_edges
            ]
        nodes.append(entry)
    return json.dumps({"nodes": nodes}, indent=2)
