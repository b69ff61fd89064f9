"""Flame graphs over REST on a MiniCluster: a job whose map burns CPU in a user function;
the first request answers "not ready", a later one the graph with the user's function and
file, per vertex and per subtask; bad ids and types get 400/404; sampling stops when done;
an ended vertex answers Flink's "terminated"."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from strom.common.job import JobStatus
from strom.datastream import StreamExecutionEnvironment
from strom.jobmanager.flame_graph import FlameGraphSettings
from strom.minicluster import MiniCluster
from strom.testing import CollectSink
from strom.testing.sync import wait_until

FILE = "test_integration_flamegraph.py"
DEADLINE_S = 60.0


def slow_user_function(x: int) -> int:
    total = 0
    for i in range(20_000):
        total += i * i
    return x + total % 2


@pytest.fixture
def cluster() -> Iterator[MiniCluster]:
    with MiniCluster(num_task_managers=2, slots_per_task_manager=1, rest_port=0) as c:
        assert c.dispatcher is not None
        # fewer, closer samples than Flink's 100 x 50 ms: the test need not wait 5 s
        c.dispatcher.flame_graph_settings = FlameGraphSettings(num_samples=15, delay_ms=20)
        yield c
        wait_until(lambda: c.leftovers() == [], what="the cluster to be idle")


def http(cluster: MiniCluster, path: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(cluster.rest_url + path, timeout=30) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def get(cluster: MiniCluster, path: str) -> Any:
    status, body = http(cluster, path)
    assert status == 200, body
    return body


def names(node: dict[str, Any]) -> list[str]:
    found = [node["name"]]
    for child in node["children"]:
        found += names(child)
    return found


def poll_graph(cluster: MiniCluster, path: str) -> dict[str, Any]:
    answers: list[Any] = []

    def ready() -> bool:
        answers.append(get(cluster, path))
        return answers[-1]["data"] is not None

    wait_until(ready, timeout_s=DEADLINE_S, what=f"a flame graph at {path}", interval_s=0.05)
    return answers[-1]


def samplers() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("strom-stack-sampler")]


def test_the_flame_graph_shows_the_users_slow_function(cluster: MiniCluster) -> None:
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(2)
    env.from_collection(list(range(1_000_000))).map(slow_user_function) \
        .sink_to(CollectSink())
    job = cluster.submit(env._job_graph("burning job"))
    job_id = job.get_job_id()
    wait_until(lambda: job.get_job_status().result(10) is JobStatus.RUNNING,
               what="the job to run")

    def the_map() -> dict[str, Any]:
        vertices = get(cluster, f"/jobs/{job_id}")["vertices"]
        return next(v for v in vertices if v["name"].startswith("Map"))

    path = f"/jobs/{job_id}/vertices/{the_map()['id']}/flamegraph"
    wait_until(lambda: the_map()["status"] == "RUNNING", what="the map's subtasks to run",
               interval_s=0.05)

    # the first request starts the sample and answers "not ready", as Flink's does
    assert get(cluster, path) == {"endTimestamp": -3, "data": None}
    graph = poll_graph(cluster, path)
    assert graph["endTimestamp"] > 0
    frames = names(graph["data"])
    user = [n for n in frames if n.startswith(f"slow_user_function ({FILE}:")]
    assert user, frames
    # strom's own frames stay: they show where the time goes around the user's
    assert any(n.startswith("Task.step (strom/runtime/task.py:") for n in frames)
    assert graph["data"]["value"] > 0

    # the same samples answer ON_CPU: the function computes
    on_cpu = get(cluster, path + "?type=ON_CPU")
    assert on_cpu["endTimestamp"] == graph["endTimestamp"]
    assert any(n.startswith("slow_user_function (") for n in names(on_cpu["data"]))
    off_cpu = get(cluster, path + "?type=off_cpu")
    assert off_cpu["data"]["value"] + on_cpu["data"]["value"] == graph["data"]["value"]

    # one subtask: filled from the vertex's samples
    subtask = get(cluster, path + "?subtaskindex=1")
    assert subtask["endTimestamp"] == graph["endTimestamp"]
    assert 0 < subtask["data"]["value"] <= graph["data"]["value"]

    # nobody asks any more: no sampling thread is left
    wait_until(lambda: samplers() == [], what="the sampling threads to end")

    assert job.cancel().result(10) is None
    wait_until(lambda: job.get_job_status().result(10) is JobStatus.CANCELED,
               what="the job to be cancelled")
    assert get(cluster, path) == {"endTimestamp": -1, "data": None}


def test_bad_requests_get_400_and_unknown_ids_404(cluster: MiniCluster) -> None:
    env = StreamExecutionEnvironment.get_execution_environment()
    env.from_collection([1, 2, 3]).map(lambda x: x).sink_to(CollectSink())
    job = cluster.submit(env._job_graph("short job"))
    job.get_job_execution_result().result(30)
    job_id = job.get_job_id()
    vertex_id = get(cluster, f"/jobs/{job_id}")["vertices"][0]["id"]
    base = f"/jobs/{job_id}/vertices/{vertex_id}/flamegraph"

    status, body = http(cluster, base + "?type=WALL")
    assert status == 400 and "FULL, ON_CPU, OFF_CPU" in body["errors"][0]
    status, body = http(cluster, base + "?subtaskindex=-1")
    assert status == 400 and "subtaskindex='-1'" in body["errors"][0]
    status, body = http(cluster, base + "?subtaskindex=7")
    assert status == 400 and "has subtasks 0 to 0" in body["errors"][0]
    status, body = http(cluster, f"/jobs/{job_id}/vertices/xyz/flamegraph")
    assert status == 400 and "Bad vertex id" in body["errors"][0]
    status, body = http(cluster, f"/jobs/{job_id}/vertices/{'0' * 32}/flamegraph")
    assert status == 404 and f"has no vertex {'0' * 32}" in body["errors"][0]
    status, body = http(cluster, f"/jobs/{'0' * 32}/vertices/{vertex_id}/flamegraph")
    assert status == 404 and "No job with id" in body["errors"][0]
    status, body = http(cluster, f"/jobs/nope/vertices/{vertex_id}/flamegraph")
    assert status == 400
    # the job has ended: Flink's "terminated" answer, also under /v1
    assert get(cluster, "/v1" + base) == {"endTimestamp": -1, "data": None}


def test_disabled_flame_graphs_answer_flinks_disabled(cluster: MiniCluster) -> None:
    cluster.rest_server.configuration.set_string("rest.flamegraph.enabled", "false")
    env = StreamExecutionEnvironment.get_execution_environment()
    env.from_collection([1, 2, 3]).map(lambda x: x).sink_to(CollectSink())
    job = cluster.submit(env._job_graph("short job"))
    job.get_job_execution_result().result(30)
    vertex_id = get(cluster, f"/jobs/{job.get_job_id()}")["vertices"][0]["id"]
    path = f"/jobs/{job.get_job_id()}/vertices/{vertex_id}/flamegraph"
    assert get(cluster, path) == {"endTimestamp": -2, "data": None}
    # ids are still checked
    status, _ = http(cluster, f"/jobs/{job.get_job_id()}/vertices/xyz/flamegraph")
    assert status == 400
