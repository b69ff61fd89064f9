"""Flame graph trees from synthetic samples (FULL, ON_CPU, OFF_CPU), their JSON in Flink's
shape, and the rest.flamegraph.* settings."""

from __future__ import annotations

import msgspec
import pytest

from strom.common import Configuration
from strom.common.config_options import ConfigError, validate
from strom.graph.ids import ExecutionAttemptID
from strom.jobmanager.flame_graph import (
    FlameGraphNode,
    FlameGraphSettings,
    FlameGraphType,
    VertexFlameGraph,
    build_flame_graph,
)
from strom.rpc.messages import ThreadInfoSample

LOOP = "SlotThread._run (strom/taskmanager/slot_thread.py:105)"
STEP = "Task.step (strom/runtime/task.py:392)"
USER = "slow_user_function (my_job.py:12)"
PARSE = "parse (my_job.py:30)"


def _samples() -> dict[int, list[ThreadInfoSample]]:
    a, b = ExecutionAttemptID(), ExecutionAttemptID()
    return {
        0: [ThreadInfoSample(a, [LOOP, STEP, USER], True, 5),
            ThreadInfoSample(a, [LOOP, STEP, USER, PARSE], True, 2),
            ThreadInfoSample(a, [LOOP], False, 3)],
        1: [ThreadInfoSample(b, [LOOP, STEP, USER], True, 1),
            ThreadInfoSample(b, [LOOP, STEP, USER], False, 4)],
    }


def _flat(node: FlameGraphNode, path: tuple[str, ...] = ()) -> dict[tuple[str, ...], int]:
    here = (*path, node.name)
    found = {here: node.value}
    for child in node.children:
        found.update(_flat(child, here))
    return found


def test_full_graph_merges_equal_stacks_of_all_subtasks_and_counts_each_frame() -> None:
    graph = build_flame_graph(_samples(), FlameGraphType.FULL, end_timestamp=123)
    assert graph.end_timestamp == 123
    assert graph.data is not None
    assert _flat(graph.data) == {
        ("root",): 15,
        ("root", LOOP): 15,
        ("root", LOOP, STEP): 12,
        ("root", LOOP, STEP, USER): 12,
        ("root", LOOP, STEP, USER, PARSE): 2,
    }


def test_on_cpu_and_off_cpu_graphs_count_only_their_samples() -> None:
    on = build_flame_graph(_samples(), FlameGraphType.ON_CPU, 1).data
    off = build_flame_graph(_samples(), FlameGraphType.OFF_CPU, 1).data
    assert on is not None and off is not None
    assert _flat(on)[("root", LOOP, STEP, USER)] == 8
    assert ("root", LOOP, STEP, USER, PARSE) in _flat(on)
    assert _flat(off) == {("root",): 7, ("root", LOOP): 7, ("root", LOOP, STEP): 4,
                          ("root", LOOP, STEP, USER): 4}
    # every sample is in exactly one of the two
    full = build_flame_graph(_samples(), FlameGraphType.FULL, 1).data
    assert full is not None and on.value + off.value == full.value


def test_children_are_sorted_by_name_and_no_samples_is_an_empty_root() -> None:
    eid = ExecutionAttemptID()
    samples = {0: [ThreadInfoSample(eid, ["b (x.py:1)"], True),
                   ThreadInfoSample(eid, ["a (x.py:1)"], True)]}
    data = build_flame_graph(samples, FlameGraphType.FULL, 1).data
    assert data is not None and [c.name for c in data.children] == ["a (x.py:1)", "b (x.py:1)"]
    empty = build_flame_graph(samples, FlameGraphType.OFF_CPU, 1).data
    assert empty == FlameGraphNode("root", 0, [])


def test_json_is_flinks_vertex_flame_graph() -> None:
    graph = build_flame_graph(_samples(), FlameGraphType.OFF_CPU, 99)
    body = msgspec.json.decode(msgspec.json.encode(graph))
    assert body["endTimestamp"] == 99
    assert set(body["data"]) == {"name", "value", "children"}
    assert body["data"]["children"][0] == {"name": LOOP, "value": 7, "children": [
        {"name": STEP, "value": 4, "children": [{"name": USER, "value": 4, "children": []}]}]}
    # without data a negative endTimestamp says why, as Flink's answers do
    for graph, code in ((VertexFlameGraph.terminated(), -1), (VertexFlameGraph.disabled(), -2),
                        (VertexFlameGraph.waiting(), -3)):
        assert msgspec.json.decode(msgspec.json.encode(graph)) == {"endTimestamp": code,
                                                                    "data": None}


def test_settings_have_flinks_keys_and_defaults_but_strom_enables_them() -> None:
    assert FlameGraphSettings.from_configuration(Configuration()) == FlameGraphSettings(
        enabled=True, num_samples=100, delay_ms=50, stack_depth=100,
        refresh_interval_ms=60_000, cleanup_interval_ms=600_000)
    configured = FlameGraphSettings.from_configuration(Configuration.from_dict({
        "rest.flamegraph.enabled": "false", "rest.flamegraph.num-samples": "7",
        "rest.flamegraph.delay-between-samples": "20 ms", "rest.flamegraph.stack-depth": "9",
        "rest.flamegraph.refresh-interval": "30 s", "rest.flamegraph.cleanup-interval": "5 min",
    }))
    assert configured == FlameGraphSettings(False, 7, 20, 9, 30_000, 300_000)


def test_settings_are_validated_like_every_key() -> None:
    with pytest.raises(ConfigError, match=r"rest\.flamegraph\.num-samples"):
        Configuration.from_dict({"rest.flamegraph.num-samples": "0"})
    with pytest.raises(ConfigError, match=r"did you mean 'rest\.flamegraph\.stack-depth'"):
        validate(Configuration.from_dict({"rest.flamegraph.stack-dept": "5"}))
