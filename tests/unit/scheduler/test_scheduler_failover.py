"""Pipelined regions and the failover strategies."""

from __future__ import annotations

import pytest
import scheduler_graphs as graphs

from strom.jobmanager.scheduler.failover import FailoverStrategy, pipelined_regions


def _names(job_graph, region):  # type: ignore[no-untyped-def]
    names = {str(v.id): v.name for v in job_graph.vertices}
    return sorted((names[v], s) for v, s in region)


def test_an_embarrassingly_parallel_job_has_one_region_per_pipeline() -> None:
    job_graph = graphs.embarrassingly_parallel(2)
    regions = pipelined_regions(job_graph)
    assert [sorted(s for _, s in r) for r in regions] == [[0], [1]]


def test_unchained_forward_edges_keep_the_pipelines_apart() -> None:
    job_graph = graphs.embarrassingly_parallel(2, chaining=False)
    assert len(job_graph.vertices) == 3
    regions = pipelined_regions(job_graph)
    assert len(regions) == 2
    for region in regions:
        assert len(region) == 3
        assert len({s for _, s in region}) == 1  # one subtask index per pipeline


def test_a_key_by_makes_one_region() -> None:
    job_graph = graphs.keyed(2)
    regions = pipelined_regions(job_graph)
    assert len(regions) == 1
    assert len(regions[0]) == sum(v.parallelism for v in job_graph.vertices)


def test_rescale_connects_each_producer_with_its_consumers_only() -> None:
    job_graph = graphs.rescaled()
    regions = pipelined_regions(job_graph)
    assert [_names(job_graph, r) for r in regions] == [
        [("Source: src", 0), ("m -> Sink: Collect Sink", 0), ("m -> Sink: Collect Sink", 1)],
        [("Source: src", 1), ("m -> Sink: Collect Sink", 2), ("m -> Sink: Collect Sink", 3)],
    ]


def test_region_failover_restarts_the_failed_region_and_full_everything() -> None:
    job_graph = graphs.embarrassingly_parallel(3, chaining=False)
    source = str(job_graph.vertices[0].id)
    region = FailoverStrategy(job_graph, "region")
    restart = region.tasks_to_restart([(source, 1)])
    assert {s for _, s in restart} == {1}
    assert len(restart) == 3
    full = FailoverStrategy(job_graph, "full")
    assert len(full.tasks_to_restart([(source, 1)])) == 9


def test_an_unknown_failover_strategy_is_refused() -> None:
    with pytest.raises(ValueError, match="use 'full' or 'region'"):
        FailoverStrategy(graphs.keyed(1), "partial")


def test_the_job_settings_pick_the_strategies() -> None:
    from strom.common.checkpointing import CheckpointCoordinatorConfiguration
    from strom.jobmanager.jobmaster import restart_settings
    from strom.jobmanager.scheduler import (
        ExponentialDelayRestartStrategy,
        FixedDelayRestartStrategy,
        NoRestartStrategy,
    )

    job_graph = graphs.embarrassingly_parallel(2)
    strategy, failover = restart_settings(job_graph)
    assert isinstance(strategy, NoRestartStrategy) and failover.kind == "region"

    job_graph.config["restart"] = {"restart-strategy.type": "fixed-delay",
                                   "jobmanager.execution.failover-strategy": "full"}
    strategy, failover = restart_settings(job_graph)
    assert isinstance(strategy, FixedDelayRestartStrategy) and failover.kind == "full"

    job_graph.config["restart"] = {}
    job_graph.checkpoint_config = CheckpointCoordinatorConfiguration(interval_ms=100)
    strategy, failover = restart_settings(job_graph)
    # Flink's default with checkpointing
    assert isinstance(strategy, ExponentialDelayRestartStrategy) and failover.kind == "region"
