"""The checkpoint statistics endpoints against a MiniCluster serving REST: statistics with
sizes and durations in Flink's shapes, config, details per checkpoint and per subtask, a
manual checkpoint in the statistics, the checkpoint metrics, a restored job's
``restored``, the stats of an ended job, and precise 400/404 bodies."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from strom.client.rest_cluster_client import RestClusterClient
from strom.common import Configuration, WatermarkStrategy
from strom.common.job import JobStatus
from strom.datastream import MapFunction, RuntimeContext, StreamExecutionEnvironment
from strom.minicluster import MiniCluster
from strom.testing import CollectSink, Latch, TestingSource
from strom.testing.sync import wait_until

DEADLINE_S = 30.0


class FailAfterCheckpointOnFirstAttempt(MapFunction):
    """Attempt 0 fails at the first sum above 425: only records after the latch (which the
    test opens once a checkpoint completed) make one."""

    def open(self, runtime_context: RuntimeContext) -> None:
        self.attempt = runtime_context.get_attempt_number()

    def map(self, value: Any) -> Any:
        if self.attempt == 0 and value > 425:
            raise ValueError("a record after the checkpoint fails attempt 0")
        return value


def _triggered() -> Latch:
    latch = Latch()
    latch.trigger()
    return latch


@pytest.fixture
def cluster() -> Iterator[MiniCluster]:
    with MiniCluster(num_task_managers=1, slots_per_task_manager=2, rest_port=0) as c:
        yield c
        # a job's status turns terminal before its slots are released (as in Flink)
        wait_until(lambda: c.leftovers() == [], what="the cluster to be idle")


def http(cluster: MiniCluster, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(cluster.rest_url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def get(cluster: MiniCluster, path: str) -> Any:
    status, body = http(cluster, "GET", path)
    assert status == 200, body
    return body


def _graph(latch: Latch, interval_ms: int | None = 100, settings: dict[str, str] | None = None,
           fail: bool = False, batch: bool = False) -> Any:
    env = StreamExecutionEnvironment.get_execution_environment(
        Configuration.from_dict(settings or {}))
    env.set_parallelism(2)
    if batch:
        from strom.datastream import RuntimeExecutionMode
        env.set_runtime_mode(RuntimeExecutionMode.BATCH)
    if interval_ms:
        env.enable_checkpointing(interval_ms)
    # one split finishes early (its subtask counts as acknowledged), unless both wait
    waits = [TestingSource.AWAIT(latch)] * (2 if fail else 1)
    elements = [*range(50), *waits, *range(50, 60)]
    sums = (env.from_source(TestingSource(elements, splits=2),
                            WatermarkStrategy.no_watermarks(), "numbers")
            .key_by(lambda x: x % 3).reduce(lambda a, b: a + b))
    if fail:
        sums = sums.map(FailAfterCheckpointOnFirstAttempt())
    sums.sink_to(CollectSink())
    return env._job_graph("checkpointed")


def _submit(cluster: MiniCluster, graph: Any) -> tuple[Any, str]:
    job = RestClusterClient(cluster.rest_url).submit(graph)
    return job, str(job.get_job_id())


def _wait_for_completed(cluster: MiniCluster, job_id: str, count: int) -> dict[str, Any]:
    seen: list[dict[str, Any]] = []

    def enough() -> bool:
        stats = get(cluster, f"/jobs/{job_id}/checkpoints")
        seen.append(stats)
        return bool(stats["counts"]["completed"] >= count)

    wait_until(enough, DEADLINE_S, f"{count} completed checkpoints")
    return seen[-1]


def test_a_checkpointing_job_shows_its_checkpoints_in_flinks_shapes(
        cluster: MiniCluster) -> None:
    latch = Latch()
    job, job_id = _submit(cluster, _graph(latch))
    try:
        stats = _wait_for_completed(cluster, job_id, 2)
        counts = stats["counts"]
        assert set(counts) == {"restored", "total", "in_progress", "completed", "failed"}
        assert counts["restored"] == 0 and counts["total"] >= counts["completed"] >= 2
        assert set(stats["summary"]) == {"checkpointed_size", "state_size",
                                         "end_to_end_duration", "alignment_buffered",
                                         "processed_data", "persisted_data"}
        assert set(stats["summary"]["state_size"]) == {"min", "max", "avg", "p50", "p90",
                                                       "p95", "p99", "p999"}
        assert stats["summary"]["state_size"]["max"] > 0  # the sums and source positions
        latest = stats["latest"]["completed"]
        assert latest["className"] == "completed" and latest["status"] == "COMPLETED"
        assert latest["checkpoint_type"] == "CHECKPOINT" and latest["is_savepoint"] is False
        assert latest["state_size"] > 0 and latest["checkpointed_size"] > 0
        vertices = get(cluster, f"/jobs/{job_id}")["vertices"]
        subtask_count = sum(v["parallelism"] for v in vertices)
        assert latest["num_subtasks"] == latest["num_acknowledged_subtasks"] == subtask_count
        assert latest["latest_ack_timestamp"] >= latest["trigger_timestamp"] > 0
        assert latest["end_to_end_duration"] >= 0 and latest["discarded"] in (True, False)
        assert latest["external_path"] and latest["tasks"] == {}
        assert stats["latest"]["savepoint"] is None and stats["latest"]["restored"] is None
        history_ids = [h["id"] for h in stats["history"]]
        assert history_ids == sorted(history_ids, reverse=True)
        assert latest["id"] in history_ids and len(history_ids) <= 10

        details = get(cluster, f"/jobs/{job_id}/checkpoints/details/{latest['id']}")
        assert details["id"] == latest["id"]
        assert set(details["tasks"]) == {v["id"] for v in vertices}
        vertex_id, task = next((v, t) for v, t in details["tasks"].items()
                               if t["num_subtasks"] == 2)
        assert task["num_acknowledged_subtasks"] == 2
        assert task["status"] == "COMPLETED"
        subtasks = get(cluster, f"/jobs/{job_id}/checkpoints/details/{latest['id']}"
                                f"/subtasks/{vertex_id}")
        assert [s["index"] for s in subtasks["subtasks"]] == [0, 1]
        first = subtasks["subtasks"][0]
        assert first["status"] == "completed" and set(first["checkpoint"]) == {"sync", "async"}
        assert set(first["alignment"]) == {"buffered", "processed", "persisted", "duration"}
        assert first["ack_timestamp"] >= latest["trigger_timestamp"]
        assert first["start_delay"] >= 0 and first["unaligned_checkpoint"] is False
        assert set(subtasks["summary"]) == {"checkpointed_size", "state_size",
                                            "end_to_end_duration", "checkpoint_duration",
                                            "alignment", "start_delay"}

        config = get(cluster, f"/jobs/{job_id}/checkpoints/config")
        assert (config["mode"], config["interval"], config["timeout"]) == \
            ("exactly_once", 100, 600_000)
        assert config["externalization"] == {"enabled": False,
                                             "delete_on_cancellation": False}
        assert config["state_backend"] == "HashMapStateBackend"
        assert config["checkpoint_storage"] == "JobManagerCheckpointStorage"

        metrics = get(cluster, f"/jobs/{job_id}/metrics")
        assert {"id": "lastCheckpointDuration"} in metrics
        values = {m["id"]: m["value"] for m in get(
            cluster, f"/jobs/{job_id}/metrics?get=numberOfCompletedCheckpoints,"
                     "lastCheckpointSize,lastCompletedCheckpointId,noSuchMetric")}
        assert set(values) == {"numberOfCompletedCheckpoints", "lastCheckpointSize",
                               "lastCompletedCheckpointId"}
        assert int(values["numberOfCompletedCheckpoints"]) >= 2
        assert int(values["lastCheckpointSize"]) > 0
        assert int(values["lastCompletedCheckpointId"]) >= latest["id"]
    finally:
        latch.trigger()
    assert job.get_job_execution_result().result(timeout=60).get_job_id() is not None
    # an ended job's statistics stay readable (the Dispatcher's archive)
    ended = get(cluster, f"/jobs/{job_id}/checkpoints")
    assert ended["counts"]["completed"] >= 2 and ended["counts"]["in_progress"] == 0


def test_a_manual_checkpoint_through_rest(cluster: MiniCluster) -> None:
    latch = Latch()
    job, job_id = _submit(cluster, _graph(latch, interval_ms=None))
    try:
        wait_until(lambda: job.get_job_status().result(timeout=10) is JobStatus.RUNNING,
                   DEADLINE_S, "the job to run")
        # no periodic checkpoints: the config says so as Flink does (Long.MAX_VALUE)
        assert get(cluster, f"/jobs/{job_id}/checkpoints/config")["interval"] == 2**63 - 1
        assert get(cluster, f"/jobs/{job_id}/checkpoints")["counts"]["total"] == 0
        results: list[dict[str, Any]] = []

        def triggered() -> bool:
            status, answer = http(cluster, "POST", f"/jobs/{job_id}/checkpoints",
                                  {"checkpointType": "FULL"})
            assert status == 202, answer
            request_id = answer["request-id"]

            def done() -> bool:
                result = get(cluster, f"/jobs/{job_id}/checkpoints/{request_id}")
                results.append(result)
                return bool(result["status"]["id"] == "COMPLETED")

            wait_until(done, DEADLINE_S, "the checkpoint to complete or fail")
            # tried again while the tasks are still starting
            return "checkpointId" in results[-1]["operation"]

        wait_until(triggered, DEADLINE_S, "a manual checkpoint")
        checkpoint_id = results[-1]["operation"]["checkpointId"]
        # the manual checkpoint is in the statistics, and the config path is not a trigger id
        stats = get(cluster, f"/jobs/{job_id}/checkpoints")
        assert stats["latest"]["completed"]["id"] == checkpoint_id
        assert stats["counts"]["completed"] == 1
        assert get(cluster, f"/jobs/{job_id}/checkpoints/config")["mode"] == "exactly_once"
    finally:
        latch.trigger()
    job.get_job_execution_result().result(timeout=60)


def test_a_restored_job_shows_restored(cluster: MiniCluster) -> None:
    latch = Latch()
    settings = {"restart-strategy.type": "fixed-delay",
                "restart-strategy.fixed-delay.delay": "10 ms"}
    job, job_id = _submit(cluster, _graph(latch, settings=settings, fail=True))
    _wait_for_completed(cluster, job_id, 1)
    latch.trigger()
    job.get_job_execution_result().result(timeout=60)
    exceptions = get(cluster, f"/jobs/{job_id}/exceptions")["exceptionHistory"]["entries"]
    assert [e["exceptionName"] for e in exceptions] == ["builtins.ValueError"]  # once
    stats = get(cluster, f"/jobs/{job_id}/checkpoints")
    assert stats["counts"]["restored"] == 1
    restored = stats["latest"]["restored"]
    assert set(restored) == {"id", "restore_timestamp", "is_savepoint", "external_path"}
    assert restored["is_savepoint"] is False and restored["restore_timestamp"] > 0
    assert restored["id"] <= stats["latest"]["completed"]["id"]
    values = {m["id"]: m["value"] for m in get(
        cluster, f"/jobs/{job_id}/metrics?get=lastCheckpointRestoreTimestamp")}
    assert values == {"lastCheckpointRestoreTimestamp": str(restored["restore_timestamp"])}


NO_JOB = "0" * 32


@pytest.mark.parametrize(("path", "status", "message"), [
    (f"/jobs/{NO_JOB}/checkpoints", 404, "No job with id 000"),
    (f"/jobs/{NO_JOB}/checkpoints/config", 404, "No job with id 000"),
    (f"/jobs/{NO_JOB}/checkpoints/details/1", 404, "No job with id 000"),
    (f"/jobs/{NO_JOB}/metrics", 404, "No job with id 000"),
    ("/jobs/xyz/checkpoints", 400, "A JobID is 32 hexadecimal digits"),
    (f"/jobs/{NO_JOB}/checkpoints/details/first", 400, "Bad checkpoint id in the path: "
                                                      "'first'"),
    (f"/jobs/{NO_JOB}/checkpoints/details/-3", 400, "Bad checkpoint id"),
])
def test_bad_checkpoint_requests_get_precise_errors(cluster: MiniCluster, path: str,
                                                    status: int, message: str) -> None:
    got, body = http(cluster, "GET", path)
    assert got == status and list(body) == ["errors"]
    assert message in body["errors"][0], body


def test_unknown_checkpoints_and_vertices_are_404_and_batch_jobs_take_none(
        cluster: MiniCluster) -> None:
    latch = Latch()
    job, job_id = _submit(cluster, _graph(latch))
    try:
        latest = _wait_for_completed(cluster, job_id, 1)["latest"]["completed"]
        status, body = http(cluster, "GET", f"/jobs/{job_id}/checkpoints/details/999999")
        assert status == 404
        assert body["errors"][0].startswith(
            "Could not find checkpointing statistics for checkpoint 999999.")
        path = f"/jobs/{job_id}/checkpoints/details/{latest['id']}/subtasks/"
        status, body = http(cluster, "GET", path + "c" * 32)
        assert status == 404 and "There is no checkpoint statistics for task ccc" in \
            body["errors"][0]
        status, body = http(cluster, "GET", path + "vertex")
        assert status == 400 and "Bad vertex id in the path" in body["errors"][0]
    finally:
        latch.trigger()
    job.get_job_execution_result().result(timeout=60)

    batch, batch_id = _submit(cluster, _graph(_triggered(), interval_ms=None,
                                              batch=True))
    batch.get_job_execution_result().result(timeout=60)
    status, body = http(cluster, "GET", f"/jobs/{batch_id}/checkpoints/config")
    assert status == 404 and body["errors"][0].startswith(
        f"Checkpointing is not enabled for this job ({batch_id})")
    status, body = http(cluster, "GET", f"/jobs/{batch_id}/checkpoints")
    assert status == 404 and "Checkpointing has not been enabled" in body["errors"][0]


def test_web_checkpoints_history_bounds_the_listed_checkpoints(cluster: MiniCluster) -> None:
    from strom.common import Configuration as Config
    from strom.heartbeat import HeartbeatSettings
    from strom.jobmanager.entrypoint import create_jobmanager_components
    from strom.rpc.service import RpcService

    rpc = RpcService("checkpoint-history-test")
    try:
        _, dispatcher = create_jobmanager_components(
            rpc, HeartbeatSettings(), Config.from_dict({"web.checkpoints.history": "2"}))
        assert dispatcher.checkpoint_history == 2
    finally:
        rpc.stop()
    assert cluster.dispatcher is not None
    cluster.dispatcher.checkpoint_history = 2
    latch = Latch()
    job, job_id = _submit(cluster, _graph(latch))
    try:
        stats = _wait_for_completed(cluster, job_id, 4)
        assert len(stats["history"]) == 2 and stats["counts"]["completed"] >= 4
    finally:
        latch.trigger()
    job.get_job_execution_result().result(timeout=60)


def test_a_job_started_from_a_savepoint_shows_it_restored(cluster: MiniCluster,
                                                          tmp_path: Any) -> None:
    latch = Latch()
    first, first_id = _submit(cluster, _graph(latch))
    _wait_for_completed(cluster, first_id, 1)
    savepoint = first.stop_with_savepoint(False, str(tmp_path)).result(timeout=60)
    stats = get(cluster, f"/jobs/{first_id}/checkpoints")
    assert stats["latest"]["savepoint"]["is_savepoint"] is True
    assert stats["latest"]["savepoint"]["checkpoint_type"] == "SYNC_SAVEPOINT"
    assert stats["latest"]["savepoint"]["external_path"]
    latch.trigger()
    resumed, resumed_id = _submit(cluster, _graph(
        latch, settings={"execution.state-recovery.path": savepoint}))
    resumed.get_job_execution_result().result(timeout=60)
    restored = get(cluster, f"/jobs/{resumed_id}/checkpoints")["latest"]["restored"]
    assert restored["is_savepoint"] is True and restored["external_path"] == savepoint
    assert restored["id"] == stats["latest"]["savepoint"]["id"]
