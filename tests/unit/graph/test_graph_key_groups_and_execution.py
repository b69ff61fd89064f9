"""Key groups (Flink's ``KeyGroupRangeAssignment``) and the ExecutionGraph's subtask
connections (all-to-all and pointwise)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from strom.common import Row, WatermarkStrategy
from strom.datastream import StreamExecutionEnvironment
from strom.graph.execution_graph import ExecutionGraph, consumers_of, producers_of
from strom.graph.job_graph import JobEdge, build_job_graph
from strom.graph.partitioning import (
    ForwardPartitioning,
    HashPartitioning,
    Partitioning,
    RebalancePartitioning,
    RescalePartitioning,
)
from strom.graph.stream_graph import StreamEdge
from strom.state.key_groups import (
    KeyGroupRange,
    assign_to_key_group,
    compute_default_max_parallelism,
    compute_key_group_range_for_operator_index,
    compute_operator_index_for_key_group,
    stable_hash,
)
from strom.testing import CollectSink, TestingSource


# ---------------------------------------------------------------- key groups
@pytest.mark.parametrize(("parallelism", "expected"), [
    (1, 128),
    (2, 128),
    (85, 128),  # 85 + 42 = 127 -> 128
    (86, 256),  # 86 + 43 = 129 -> 256
    (1000, 2048),
    (21845, 32768),  # 21845 + 10922 = 32767 -> 32768
    (21846, 32768),  # 32769 -> 65536, capped
    (32768, 32768),
])
def test_default_max_parallelism_formula(parallelism: int, expected: int) -> None:
    assert compute_default_max_parallelism(parallelism) == expected


def test_key_group_ranges_of_three_subtasks_over_128_groups() -> None:
    ranges = [compute_key_group_range_for_operator_index(128, 3, i) for i in range(3)]
    assert ranges == [KeyGroupRange(0, 42), KeyGroupRange(43, 85), KeyGroupRange(86, 127)]
    assert [len(r) for r in ranges] == [43, 43, 42]
    assert 42 in ranges[0] and 43 not in ranges[0]


@pytest.mark.parametrize("max_parallelism", [1, 7, 128, 1000])
def test_ranges_partition_the_key_groups_and_agree_with_the_operator_index(
    max_parallelism: int,
) -> None:
    for parallelism in range(1, min(max_parallelism, 12) + 1):
        owner: dict[int, int] = {}
        for index in range(parallelism):
            for key_group in compute_key_group_range_for_operator_index(
                    max_parallelism, parallelism, index):
                assert key_group not in owner
                owner[key_group] = index
        assert sorted(owner) == list(range(max_parallelism))
        for key_group, index in owner.items():
            assert compute_operator_index_for_key_group(
                max_parallelism, parallelism, key_group) == index


def test_key_group_range_refuses_parallelism_above_max_parallelism() -> None:
    with pytest.raises(ValueError, match=r"parallelism must be in 1\.\.max_parallelism"):
        compute_key_group_range_for_operator_index(4, 5, 0)


def test_keys_land_in_valid_key_groups_and_equal_keys_agree() -> None:
    keys = ["a", "b", b"a", 0, 1, -1, 2**70, 1.5, None, ("a", 1), Row("a", 1), True]
    for key in keys:
        for max_parallelism in (1, 128, 32768):
            assert 0 <= assign_to_key_group(key, max_parallelism) < max_parallelism
    # keys Python's dict treats as equal share state, so they must share a key group
    assert stable_hash(1) == stable_hash(1.0) == stable_hash(True)
    assert stable_hash(0) == stable_hash(False) == stable_hash(0.0)
    assert stable_hash(("a", 1)) == stable_hash(("a", 1.0)) == stable_hash(("a", True))
    assert stable_hash("a") != stable_hash("b")


def test_keys_spread_over_subtasks() -> None:
    counts = [0, 0, 0, 0]
    for i in range(4000):
        counts[compute_operator_index_for_key_group(
            128, 4, assign_to_key_group(f"key-{i}", 128))] += 1
    assert min(counts) > 700


_HASH_SCRIPT = (
    "from strom.state.key_groups import stable_hash, assign_to_key_group\n"
    "keys = ['word', b'bytes', 42, -7, 3.25, ('a', 1), None, 'ünïcode', float('nan'),\n"
    "        ['l', 1], {'x': 1, 'y': ['z']}, {'s', 't', 'u'}, frozenset({'v', 'w'})]\n"
    "print([stable_hash(k) for k in keys], [assign_to_key_group(k, 128) for k in keys])\n"
)


def test_stable_hash_is_identical_across_processes_with_different_hash_seeds() -> None:
    outputs = []
    for seed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        done = subprocess.run([sys.executable, "-c", _HASH_SCRIPT], env=env,
                              capture_output=True, text=True, timeout=60, check=True)
        outputs.append(done.stdout)
    assert outputs[0] == outputs[1]
    assert outputs[0].strip()


# ---------------------------------------------------------------- execution graph
def _edge(partitioning: Partitioning) -> JobEdge:
    from strom.graph.ids import JobVertexID

    return JobEdge(StreamEdge(1, 2, 0, partitioning), JobVertexID(), JobVertexID())


def test_rescale_two_to_four_connects_each_producer_to_two_consumers() -> None:
    edge = _edge(RescalePartitioning())
    assert [consumers_of(edge, p, 2, 4) for p in range(2)] == [[0, 1], [2, 3]]
    assert [producers_of(edge, c, 2, 4) for c in range(4)] == [[0], [0], [1], [1]]


def test_rescale_four_to_two_connects_two_producers_to_each_consumer() -> None:
    edge = _edge(RescalePartitioning())
    assert [consumers_of(edge, p, 4, 2) for p in range(4)] == [[0], [0], [1], [1]]
    assert [producers_of(edge, c, 4, 2) for c in range(2)] == [[0, 1], [2, 3]]


def test_rescale_uneven_follows_flinks_pointwise_pattern() -> None:
    edge = _edge(RescalePartitioning())
    # Flink's EdgeManagerBuildUtil: up < down uses ceil bounds, up > down floor bounds
    assert [consumers_of(edge, p, 2, 3) for p in range(2)] == [[0, 1], [2]]
    assert [producers_of(edge, c, 2, 3) for c in range(3)] == [[0], [0], [1]]
    assert [producers_of(edge, c, 3, 2) for c in range(2)] == [[0], [1, 2]]
    assert [consumers_of(edge, p, 3, 2) for p in range(3)] == [[0], [1], [1]]


@pytest.mark.parametrize("partitioning", [RescalePartitioning(), ForwardPartitioning()])
def test_pointwise_connections_are_consistent_for_all_shapes(partitioning: Partitioning) -> None:
    edge = _edge(partitioning)
    for up in range(1, 9):
        for down in range(1, 9):
            if isinstance(partitioning, ForwardPartitioning) and up != down:
                continue
            pairs_out = {(p, c) for p in range(up) for c in consumers_of(edge, p, up, down)}
            pairs_in = {(p, c) for c in range(down) for p in producers_of(edge, c, up, down)}
            assert pairs_out == pairs_in
            assert {c for _, c in pairs_out} == set(range(down))  # every consumer has input
            assert {p for p, _ in pairs_out} == set(range(up))  # every producer has output
            if up <= down:
                assert all(len(producers_of(edge, c, up, down)) == 1 for c in range(down))
            else:
                assert all(len(consumers_of(edge, p, up, down)) == 1 for p in range(up))


@pytest.mark.parametrize("partitioning", [RebalancePartitioning(), HashPartitioning()])
def test_all_to_all_edges_connect_everything(partitioning: Partitioning) -> None:
    edge = _edge(partitioning)
    assert consumers_of(edge, 1, 2, 3) == [0, 1, 2]
    assert producers_of(edge, 2, 2, 3) == [0, 1]


def test_execution_graph_has_one_execution_per_subtask() -> None:
    env = StreamExecutionEnvironment(None)
    env.set_parallelism(2)
    (env.from_source(TestingSource([1]), WatermarkStrategy.no_watermarks(), "src")
     .rescale().map(lambda x: x).name("m").set_parallelism(4)
     .sink_to(CollectSink()).set_parallelism(4))
    job_graph = build_job_graph(env._stream_graph(None))
    graph = ExecutionGraph(job_graph)
    assert [len(graph.by_vertex[str(v.id)]) for v in job_graph.vertices] == [2, 4]
    assert len(graph.all()) == 6
    m = job_graph.vertices[1]
    assert [e.name for e in graph.by_vertex[str(m.id)]] == [
        "m -> Sink: Collect Sink (1/4)", "m -> Sink: Collect Sink (2/4)",
        "m -> Sink: Collect Sink (3/4)", "m -> Sink: Collect Sink (4/4)"]
    assert graph.execution_of(m, 2).subtask == 2
    assert {e.state for e in graph.all()} == {"CREATED"}
    [edge] = m.inputs
    assert [producers_of(edge, c, 2, 4) for c in range(4)] == [[0], [0], [1], [1]]
