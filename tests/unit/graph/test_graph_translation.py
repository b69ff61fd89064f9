"""Graph translation without running anything: transformations → StreamGraph → JobGraph.

Default partitioners, forward across parallelism, Flink's chaining rules, slot sharing and
the ``get_execution_plan()`` JSON.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from strom.common import WatermarkStrategy
from strom.datastream import (
    DataStream,
    KeyedProcessFunction,
    StreamExecutionEnvironment,
)
from strom.graph.job_graph import JobGraph, build_job_graph, is_chainable
from strom.graph.stream_graph import GraphBuildError, StreamGraph
from strom.testing import CollectSink, TestingSource


def make_env(parallelism: int = 2) -> StreamExecutionEnvironment:
    env = StreamExecutionEnvironment(None)
    env.set_parallelism(parallelism)
    return env


def source(env: StreamExecutionEnvironment, name: str = "numbers") -> DataStream:
    return env.from_source(TestingSource([1, 2, 3]), WatermarkStrategy.no_watermarks(), name)


def stream_graph(env: StreamExecutionEnvironment) -> StreamGraph:
    return env._stream_graph(None)


def job_graph(env: StreamExecutionEnvironment) -> JobGraph:
    return build_job_graph(env._stream_graph(None))


def vertex_names(env: StreamExecutionEnvironment) -> list[str]:
    return [v.name for v in job_graph(env).vertices]


def plan(env: StreamExecutionEnvironment) -> dict[str, Any]:
    return json.loads(env.get_execution_plan())  # type: ignore[no-any-return]


def edge_strategies(graph: StreamGraph) -> dict[tuple[str, str], str]:
    names = {n.id: n.name for n in graph.nodes.values()}
    return {
        (names[e.source_id], names[e.target_id]): e.partitioning.ship_strategy
        for n in graph.nodes.values() for e in n.out_edges
    }


# ---------------------------------------------------------------- default partitioners
def test_forward_is_the_default_when_parallelism_matches() -> None:
    env = make_env(2)
    source(env).map(lambda x: x).name("m").sink_to(CollectSink())
    strategies = edge_strategies(stream_graph(env))
    assert strategies == {("Source: numbers", "m"): "FORWARD",
                          ("m", "Sink: Collect Sink"): "FORWARD"}


def test_rebalance_is_the_default_when_parallelism_changes() -> None:
    env = make_env(2)
    mapped = source(env).map(lambda x: x).name("m").set_parallelism(3)
    mapped.sink_to(CollectSink())
    strategies = edge_strategies(stream_graph(env))
    assert strategies == {("Source: numbers", "m"): "REBALANCE",
                          ("m", "Sink: Collect Sink"): "REBALANCE"}


def test_non_parallel_collection_source_then_parallel_map_rebalances() -> None:
    env = make_env(4)
    env.from_collection([1, 2]).map(lambda x: x).name("m").sink_to(CollectSink())
    graph = stream_graph(env)
    by_name = {n.name: n for n in graph.nodes.values()}
    assert by_name["Source: Collection Source"].parallelism == 1
    assert by_name["m"].parallelism == 4
    assert edge_strategies(graph)[("Source: Collection Source", "m")] == "REBALANCE"


def test_forward_across_different_parallelism_fails_at_graph_build_time() -> None:
    env = make_env(2)
    source(env).forward().map(lambda x: x).name("m").set_parallelism(3).sink_to(CollectSink())
    with pytest.raises(GraphBuildError, match=(
        r"Forward partitioning does not allow change of parallelism\. Upstream operation: "
        r"Source: numbers parallelism: 2, downstream operation: m parallelism: 3"
    )):
        env.get_execution_plan()


def test_forward_with_equal_parallelism_is_allowed() -> None:
    env = make_env(2)
    source(env).forward().map(lambda x: x).name("m").sink_to(CollectSink())
    assert edge_strategies(stream_graph(env))[("Source: numbers", "m")] == "FORWARD"


def test_non_parallel_source_refuses_a_higher_parallelism() -> None:
    env = make_env(1)
    env.from_collection([1]).set_parallelism(2).sink_to(CollectSink())
    with pytest.raises(GraphBuildError, match="non parallel operator 'Collection Source' must be 1"):
        env.get_execution_plan()


def test_parallelism_above_max_parallelism_is_refused() -> None:
    env = make_env(1)
    source(env).map(lambda x: x).set_parallelism(8).set_max_parallelism(4).sink_to(CollectSink())
    with pytest.raises(GraphBuildError, match=r"parallelism of 'Map' \(8\) is larger than its max"):
        env.get_execution_plan()


def test_a_job_without_sink_is_refused() -> None:
    env = make_env(1)
    source(env).map(lambda x: x)
    with pytest.raises(GraphBuildError, match="No operators defined in streaming topology"):
        env.get_execution_plan()


def test_max_parallelism_defaults_per_operator_and_env_setting_wins() -> None:
    env = make_env(2)
    source(env).map(lambda x: x).name("m").set_parallelism(100).sink_to(CollectSink())
    by_name = {n.name: n for n in stream_graph(env).nodes.values()}
    assert by_name["Source: numbers"].max_parallelism == 128
    assert by_name["m"].max_parallelism == 256  # roundUpToPowerOfTwo(100 + 50)

    env = make_env(2)
    env.set_max_parallelism(64)
    source(env).sink_to(CollectSink())
    assert {n.max_parallelism for n in stream_graph(env).nodes.values()} == {64}


# ---------------------------------------------------------------- chaining
def chain_env() -> tuple[StreamExecutionEnvironment, DataStream, DataStream]:
    env = make_env(2)
    m1 = source(env).map(lambda x: x).name("m1")
    m2 = m1.map(lambda x: x).name("m2")
    return env, m1, m2


def test_same_parallelism_forward_operators_chain_into_one_vertex() -> None:
    env, _, m2 = chain_env()
    m2.sink_to(CollectSink())
    assert vertex_names(env) == ["Source: numbers -> m1 -> m2 -> Sink: Collect Sink"]


def test_start_new_chain_breaks_only_the_link_to_the_upstream() -> None:
    env, m1, m2 = chain_env()
    m1.start_new_chain()
    m2.sink_to(CollectSink())
    assert vertex_names(env) == ["Source: numbers", "m1 -> m2 -> Sink: Collect Sink"]


def test_disable_chaining_breaks_both_links() -> None:
    env, m1, m2 = chain_env()
    m1.disable_chaining()
    m2.sink_to(CollectSink())
    assert vertex_names(env) == ["Source: numbers", "m1", "m2 -> Sink: Collect Sink"]


def test_is_chainable_matches_the_chaining_strategies() -> None:
    env, m1, m2 = chain_env()
    m1.start_new_chain()
    m2.sink_to(CollectSink())
    graph = stream_graph(env)
    by_name = {n.name: n for n in graph.nodes.values()}
    [source_to_m1] = by_name["m1"].in_edges
    [m1_to_m2] = by_name["m2"].in_edges
    assert not is_chainable(source_to_m1, graph)
    assert is_chainable(m1_to_m2, graph)


def test_disable_operator_chaining_on_the_environment() -> None:
    env, _, m2 = chain_env()
    env.disable_operator_chaining()
    m2.sink_to(CollectSink())
    assert vertex_names(env) == ["Source: numbers", "m1", "m2", "Sink: Collect Sink"]


def test_slot_sharing_groups_break_chains_and_are_inherited() -> None:
    env, _, m2 = chain_env()
    m2.slot_sharing_group("other")
    m2.map(lambda x: x).name("m3").sink_to(CollectSink())
    graph = job_graph(env)
    assert [(v.name, v.slot_sharing_group) for v in graph.vertices] == [
        ("Source: numbers -> m1", "default"),
        ("m2 -> m3 -> Sink: Collect Sink", "other"),
    ]


def test_key_by_breaks_the_chain_and_the_keyed_operator_chains_downstream() -> None:
    env = make_env(2)
    (source(env).map(lambda x: (x, 1)).name("pair").key_by(lambda t: t[0])
     .reduce(lambda a, b: (a[0], a[1] + b[1])).sink_to(CollectSink()))
    graph = stream_graph(env)
    assert edge_strategies(graph)[("pair", "Keyed Reduce")] == "HASH"
    assert vertex_names(env) == ["Source: numbers -> pair", "Keyed Reduce -> Sink: Collect Sink"]


def test_union_inputs_are_never_chained() -> None:
    env = make_env(2)
    a, b = source(env, "a"), source(env, "b")
    a.union(b).map(lambda x: x).name("m").sink_to(CollectSink())
    assert vertex_names(env) == ["Source: a", "Source: b", "m -> Sink: Collect Sink"]


def test_different_parallelism_is_not_chained() -> None:
    env, _, m2 = chain_env()
    m2.set_parallelism(1)
    m2.sink_to(CollectSink())
    # the sink takes the environment's parallelism (2), not its input's
    names = vertex_names(env)
    assert names == ["Source: numbers -> m1", "m2", "Sink: Collect Sink"]
    assert [v.parallelism for v in job_graph(env).vertices] == [2, 1, 2]


def test_the_batch_documentation_example_gives_three_tasks() -> None:
    # source→map1→map2 | rebalance | map3→map4 | keyBy | map5→map6→sink
    env = make_env(2)
    (source(env).map(lambda x: x).name("map1").map(lambda x: x).name("map2")
     .rebalance().map(lambda x: x).name("map3").map(lambda x: x).name("map4")
     .key_by(lambda x: x).map(lambda x: x).name("map5").map(lambda x: x).name("map6")
     .sink_to(CollectSink()))
    assert vertex_names(env) == [
        "Source: numbers -> map1 -> map2",
        "map3 -> map4",
        "map5 -> map6 -> Sink: Collect Sink",
    ]
    graph = job_graph(env)
    strategies = [[e.partitioning.ship_strategy for e in v.inputs] for v in graph.vertices]
    assert strategies == [[], ["REBALANCE"], ["HASH"]]


def test_vertices_keep_their_operators_in_chain_order() -> None:
    env, _, m2 = chain_env()
    m2.sink_to(CollectSink())
    [vertex] = job_graph(env).vertices
    assert [op.name for op in vertex.operators] == [
        "Source: numbers", "m1", "m2", "Sink: Collect Sink"]
    assert vertex.is_source
    assert [len(op.chained_outputs) for op in vertex.operators] == [1, 1, 1, 0]
    assert all(not op.network_outputs for op in vertex.operators)


# ---------------------------------------------------------------- slots
def test_slots_needed_are_the_max_parallelism_per_sharing_group() -> None:
    env = make_env(2)
    (source(env).map(lambda x: x).set_parallelism(4).map(lambda x: x).set_parallelism(1)
     .sink_to(CollectSink()).set_parallelism(3).slot_sharing_group("sinks"))
    assert job_graph(env).max_parallelism_needed() == {"default": 4, "sinks": 3}


def test_slots_needed_for_a_single_group_is_its_highest_parallelism() -> None:
    env = make_env(3)
    source(env).key_by(lambda x: x).map(lambda x: x).set_parallelism(2).sink_to(CollectSink())
    assert job_graph(env).max_parallelism_needed() == {"default": 3}


# ---------------------------------------------------------------- plan JSON
def test_execution_plan_json_has_flinks_shape() -> None:
    env = make_env(2)
    (source(env).map(lambda x: x).key_by(lambda x: x).reduce(lambda a, b: a)
     .print())
    nodes = plan(env)["nodes"]
    assert [(n["type"], n["pact"], n["contents"], n["parallelism"]) for n in nodes] == [
        ("Source: numbers", "Data Source", "Source: numbers", 2),
        ("Map", "Operator", "Map", 2),
        ("Keyed Reduce", "Operator", "Keyed Reduce", 2),
        ("Sink: Print to Std. Out", "Data Sink", "Sink: Print to Std. Out", 2),
    ]
    assert "predecessors" not in nodes[0]
    ids = [n["id"] for n in nodes]
    assert all(isinstance(i, int) for i in ids) and len(set(ids)) == 4
    assert [n["predecessors"] for n in nodes[1:]] == [
        [{"id": ids[0], "ship_strategy": "FORWARD", "side": "second"}],
        [{"id": ids[1], "ship_strategy": "HASH", "side": "second"}],
        [{"id": ids[2], "ship_strategy": "FORWARD", "side": "second"}],
    ]


@pytest.mark.parametrize(("partition", "strategy"), [
    (lambda ds: ds.rebalance(), "REBALANCE"),
    (lambda ds: ds.rescale(), "RESCALE"),
    (lambda ds: ds.shuffle(), "SHUFFLE"),
    (lambda ds: ds.broadcast(), "BROADCAST"),
    (lambda ds: ds.forward(), "FORWARD"),
    (lambda ds: ds.global_(), "GLOBAL"),
    (lambda ds: ds.key_by(lambda x: x), "HASH"),
    (lambda ds: ds.partition_custom(lambda k, n: 0, lambda x: x), "CUSTOM"),
])
def test_execution_plan_ship_strategies(partition: Any, strategy: str) -> None:
    env = make_env(2)
    partition(source(env)).map(lambda x: x).sink_to(CollectSink())
    nodes = plan(env)["nodes"]
    assert nodes[1]["predecessors"] == [
        {"id": nodes[0]["id"], "ship_strategy": strategy, "side": "second"}]


def test_execution_plan_of_a_union_and_a_connect_lists_every_predecessor() -> None:
    env = make_env(1)
    a, b = source(env, "a"), source(env, "b")
    a.union(b).rebalance().print()
    nodes = plan(env)["nodes"]
    sink = nodes[-1]
    assert sink["pact"] == "Data Sink"
    assert sorted(p["id"] for p in sink["predecessors"]) == sorted(n["id"] for n in nodes[:2])
    assert {p["ship_strategy"] for p in sink["predecessors"]} == {"REBALANCE"}


def test_execution_plan_is_repeatable_and_does_not_consume_the_program() -> None:
    env = make_env(1)
    source(env).print()
    assert env.get_execution_plan() == env.get_execution_plan()


def test_side_output_edges_carry_their_tag() -> None:
    from strom.datastream import OutputTag, ProcessFunction

    tag = OutputTag("odd")

    class Split(ProcessFunction):
        def process_element(self, value: Any, ctx: Any) -> Any:
            yield value

    env = make_env(1)
    main = source(env).process(Split())
    main.get_side_output(tag).print()
    graph = stream_graph(env)
    [edge] = [e for n in graph.nodes.values() for e in n.out_edges if e.output_tag is not None]
    assert edge.output_tag is tag
    assert graph.nodes[edge.target_id].name == "Sink: Print to Std. Out"


def test_keyed_process_function_on_a_non_keyed_stream_is_refused() -> None:
    class Keyed(KeyedProcessFunction):
        def process_element(self, value: Any, ctx: Any) -> Any:
            yield value

    env = make_env(1)
    with pytest.raises(TypeError, match="needs a keyed stream: call key_by"):
        source(env).process(Keyed())  # type: ignore[arg-type]


def test_a_stream_unioned_with_itself_gets_two_distinct_edges() -> None:
    env = make_env(2)
    a = source(env)
    a.union(a).rebalance().map(lambda x: x).name("m").sink_to(CollectSink())
    graph = stream_graph(env)
    [m] = [n for n in graph.nodes.values() if n.name == "m"]
    assert len(m.in_edges) == 2
    assert len({e.edge_id for e in m.in_edges}) == 2
    assert {e.target_name for e in m.in_edges} == {"m"}
    [vertex] = [v for v in job_graph(env).vertices if v.name.startswith("m")]
    assert len({e.stream_edge.edge_id for e in vertex.inputs}) == 2


def test_two_operators_with_the_same_uid_fail_the_build() -> None:
    env = make_env(1)
    stream = source(env).uid("numbers").map(lambda x: x).name("first").uid("same")
    stream.map(lambda x: x).name("second").uid("same").sink_to(CollectSink())
    with pytest.raises(GraphBuildError, match=(
        r'^Hash collision on user-specified ID "same"\. Most likely cause is a non-unique ID\. '
        r"Please check that all IDs specified via `uid\(String\)` are unique\. \(Operators "
        r"'first' and 'second' both have uid 'same'")):
        job_graph(env)


def test_state_ids_are_uids_or_stable_generated_ids() -> None:
    def ids() -> list[str]:
        env = make_env(2)
        source(env).uid("numbers").map(lambda x: x).name("m").sink_to(CollectSink())
        return [op.state_id for v in job_graph(env).vertices for op in v.operators]

    first = ids()
    assert first[0] == "numbers" and len(set(first)) == len(first)
    assert ids() == first  # generated ids survive a rebuild of the same program
