"""Flame graphs with TaskManagers in their own processes: the samples cross TCP, and the
graph names the user's function from the TaskManager processes' stacks."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest

from strom.common import WatermarkStrategy
from strom.common.job import JobStatus
from strom.datastream import StreamExecutionEnvironment
from strom.datastream.connectors.number_seq import NumberSequenceSource
from strom.jobmanager.flame_graph import FlameGraphSettings
from strom.minicluster import MiniCluster
from strom.testing.sync import wait_until

pytestmark = pytest.mark.slow


def _burner() -> Callable[[int], int]:
    # local: pickled by value, so the TaskManager processes need not import this module
    def slow_user_function(x: int) -> int:
        total = 0
        for i in range(20_000):
            total += i * i
        return x + total % 2

    return slow_user_function


def get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as answer:
        return json.loads(answer.read())


def names(node: dict[str, Any]) -> list[str]:
    return [node["name"]] + [n for child in node["children"] for n in names(child)]


def test_flame_graph_of_taskmanager_processes() -> None:
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(2)
    (env.from_source(NumberSequenceSource(0, 10**12), WatermarkStrategy.no_watermarks(), "n")
        .map(_burner()).filter(lambda x: x < 0).print())
    cluster = MiniCluster(2, 1, taskmanagers="process", rest_port=0).start()
    try:
        assert cluster.dispatcher is not None
        cluster.dispatcher.flame_graph_settings = FlameGraphSettings(num_samples=10,
                                                                     delay_ms=30)
        job = cluster.submit(env._job_graph("burning job"))
        job_id = job.get_job_id()
        wait_until(lambda: get(f"{cluster.rest_url}/jobs/{job_id}")["vertices"][0]["status"]
                   == "RUNNING", timeout_s=60, interval_s=0.05, what="the job to run")
        vertex = get(f"{cluster.rest_url}/jobs/{job_id}")["vertices"][0]
        url = f"{cluster.rest_url}/jobs/{job_id}/vertices/{vertex['id']}/flamegraph"
        answers: list[Any] = []
        wait_until(lambda: answers.append(get(url)) or answers[-1]["data"] is not None,
                   timeout_s=60, interval_s=0.1, what="the flame graph")
        frames = names(answers[-1]["data"])
        assert any(n.startswith("_burner.<locals>.slow_user_function "
                                "(test_process_flamegraph.py:") for n in frames), frames
        job.cancel().result(30)
        wait_until(lambda: job.get_job_status().result(10) is JobStatus.CANCELED,
                   timeout_s=30, what="the job to be cancelled")
    finally:
        cluster.stop()
