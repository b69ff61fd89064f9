"""Savepoint, stop-with-savepoint, checkpoint and disposal operations through the REST API,
the REST client and the JobClients, with a fake CheckpointCoordinator in the JobMaster: the
plumbing (trigger ids, polling, Flink's JSON shapes, the directory default, errors), not the
snapshots themselves (those are the integration tests')."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from strom.client.job_client import ClusterJobClient
from strom.client.rest_cluster_client import RestClusterClient, RestJobClient
from strom.common.job import JobStatus
from strom.datastream import StreamExecutionEnvironment
from strom.jobmanager.savepoints import NoSavepointDirectoryError, display_path
from strom.minicluster import MiniCluster
from strom.network.elements import CheckpointType
from strom.testing import CollectSink, Latch, TestingSource
from strom.testing.sync import wait_until


@dataclass
class Completed:
    checkpoint_id: int
    external_pointer: str


@dataclass
class FakeCoordinator:
    """Completes every trigger at once (or fails it); a synchronous savepoint releases the
    job's source, so that the job finishes as a stop-with-savepoint's does."""

    release: Latch
    fail_with: BaseException | None = None
    triggered: list[tuple[CheckpointType, str | None]] = field(default_factory=list)
    periodic: list[str] = field(default_factory=list)

    def trigger_checkpoint(self, kind: CheckpointType = CheckpointType.CHECKPOINT,
                           target_dir: str | None = None) -> asyncio.Future[Completed]:
        self.triggered.append((kind, target_dir))
        future: asyncio.Future[Completed] = asyncio.get_running_loop().create_future()
        if self.fail_with is not None:
            future.set_exception(self.fail_with)
            return future
        if kind.is_synchronous:
            self.release.trigger()
        pointer = (f"{target_dir}/savepoint-abcdef-0123456789ab" if kind.is_savepoint
                   else "file:///checkpoints/chk-7")
        future.set_result(Completed(len(self.triggered), pointer))
        return future

    def stop_periodic(self) -> None:
        self.periodic.append("stop")

    def start_periodic(self) -> None:
        self.periodic.append("start")

    def task_state_changed(self, execution: Any, state: Any) -> None:
        pass

    def abort_pending(self, reason: str) -> None:
        pass

    def stop(self, job_status: Any) -> None:
        pass

    async def release(self, job_status: Any) -> None:
        pass


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


def start_job(cluster: MiniCluster, savepoint_dir: str | None = None
              ) -> tuple[RestJobClient, FakeCoordinator, Latch]:
    """A running job (its source waits for a latch) with a fake coordinator."""
    latch = Latch()
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(1)
    if savepoint_dir is not None:
        env._configuration.set_string("execution.checkpointing.savepoint-dir", savepoint_dir)
    from strom.common import WatermarkStrategy

    env.from_source(TestingSource([1, TestingSource.AWAIT(latch), 2]),
                    WatermarkStrategy.no_watermarks(), "numbers").sink_to(CollectSink())
    client = RestClusterClient(cluster.rest_url)
    job = client.submit(env._job_graph("savepoints"))
    wait_until(lambda: job.get_job_status().result(timeout=10) is JobStatus.RUNNING,
               what="the job to run")
    assert cluster.dispatcher is not None
    coordinator = FakeCoordinator(latch)
    cluster.dispatcher.job_masters[job.get_job_id()].checkpoint_coordinator = coordinator  # type: ignore[assignment]
    return job, coordinator, latch


def poll(cluster: MiniCluster, path: str) -> Any:
    answers: list[Any] = []

    def completed() -> bool:
        status, answer = http(cluster, "GET", path)
        assert status == 200, answer
        answers.append(answer)
        return bool(answer["status"]["id"] == "COMPLETED")

    wait_until(completed, what=f"{path} to complete")
    return answers[-1]


def test_savepoint_through_rest_in_flinks_shape(cluster: MiniCluster, tmp_path: Any) -> None:
    job, coordinator, latch = start_job(cluster)
    jid = job.get_job_id()
    status, trigger = http(cluster, "POST", f"/jobs/{jid}/savepoints",
                           {"target-directory": str(tmp_path), "cancel-job": False})
    assert status == 202 and len(trigger["request-id"]) == 32
    answer = poll(cluster, f"/jobs/{jid}/savepoints/{trigger['request-id']}")
    assert answer == {"status": {"id": "COMPLETED"}, "operation": {
        "location": f"file:{tmp_path}/savepoint-abcdef-0123456789ab"}}
    assert coordinator.triggered == [(CheckpointType.SAVEPOINT, f"file://{tmp_path}")]
    assert job.get_job_status().result(timeout=10) is JobStatus.RUNNING
    latch.trigger()
    job.get_job_execution_result().result(timeout=30)


def test_savepoint_with_cancel_job_cancels_after_the_savepoint(cluster: MiniCluster,
                                                              tmp_path: Any) -> None:
    job, _coordinator, latch = start_job(cluster)
    jid = job.get_job_id()
    _, trigger = http(cluster, "POST", f"/jobs/{jid}/savepoints",
                      {"target-directory": str(tmp_path), "cancel-job": True})
    poll(cluster, f"/jobs/{jid}/savepoints/{trigger['request-id']}")
    wait_until(lambda: job.get_job_status().result(timeout=10) is JobStatus.CANCELED,
               what="the job to be cancelled")
    latch.trigger()


def test_stop_with_savepoint_through_rest_ends_the_job_finished(cluster: MiniCluster,
                                                               tmp_path: Any) -> None:
    job, coordinator, _ = start_job(cluster)
    jid = job.get_job_id()
    status, trigger = http(cluster, "POST", f"/jobs/{jid}/stop",
                           {"targetDirectory": str(tmp_path), "drain": True})
    assert status == 202
    answer = poll(cluster, f"/jobs/{jid}/savepoints/{trigger['request-id']}")
    assert answer["operation"]["location"].startswith(f"file:{tmp_path}/savepoint-")
    assert coordinator.triggered == [(CheckpointType.SAVEPOINT_TERMINATE,
                                      f"file://{tmp_path}")]
    assert coordinator.periodic == ["stop"]
    assert job.get_job_status().result(timeout=10) is JobStatus.FINISHED


def test_a_failed_savepoint_is_the_failure_cause_and_the_job_keeps_running(
        cluster: MiniCluster, tmp_path: Any) -> None:
    job, coordinator, latch = start_job(cluster)
    coordinator.fail_with = OSError("disk full")
    jid = job.get_job_id()
    _, trigger = http(cluster, "POST", f"/jobs/{jid}/stop", {"targetDirectory": str(tmp_path)})
    answer = poll(cluster, f"/jobs/{jid}/savepoints/{trigger['request-id']}")
    cause = answer["operation"]["failure-cause"]
    assert cause["class"] == "builtins.OSError" and "disk full" in cause["stack-trace"]
    assert coordinator.periodic == ["stop", "start"]
    assert job.get_job_status().result(timeout=10) is JobStatus.RUNNING
    # the REST client raises the failure as its own type
    client = RestClusterClient(cluster.rest_url)
    with pytest.raises(OSError, match="disk full"):
        client.stop_with_savepoint(jid, str(tmp_path))
    latch.trigger()
    job.get_job_execution_result().result(timeout=30)


def test_the_directory_defaults_to_the_jobs_savepoint_dir(cluster: MiniCluster,
                                                         tmp_path: Any) -> None:
    job, _coordinator, latch = start_job(cluster, savepoint_dir=str(tmp_path))
    path = job.trigger_savepoint().result(timeout=30)
    assert path == f"file:{tmp_path}/savepoint-abcdef-0123456789ab"
    latch.trigger()
    job.get_job_execution_result().result(timeout=30)


def test_no_directory_and_no_default_is_flinks_error(cluster: MiniCluster) -> None:
    job, coordinator, latch = start_job(cluster)
    jid = job.get_job_id()
    status, answer = http(cluster, "POST", f"/jobs/{jid}/savepoints", {})
    assert status == 400
    assert answer["errors"][0].startswith("No savepoint directory configured.")
    assert "execution.checkpointing.savepoint-dir" in answer["errors"][0]
    with pytest.raises(Exception, match="No savepoint directory configured"):
        job.trigger_savepoint().result(timeout=30)
    # the JobClient of an embedded cluster says the same, as its own type
    assert cluster.dispatcher is not None and cluster.rpc is not None
    local = ClusterJobClient(cluster.rpc, cluster.dispatcher_gateway, jid)
    with pytest.raises(NoSavepointDirectoryError):
        local.trigger_savepoint().result(timeout=30)
    assert coordinator.triggered == []
    latch.trigger()
    job.get_job_execution_result().result(timeout=30)


def test_manual_checkpoint_through_rest(cluster: MiniCluster) -> None:
    job, coordinator, latch = start_job(cluster)
    jid = job.get_job_id()
    status, trigger = http(cluster, "POST", f"/jobs/{jid}/checkpoints",
                           {"checkpointType": "FULL"})
    assert status == 202
    answer = poll(cluster, f"/jobs/{jid}/checkpoints/{trigger['request-id']}")
    assert answer == {"status": {"id": "COMPLETED"}, "operation": {"checkpointId": 1}}
    assert coordinator.triggered == [(CheckpointType.CHECKPOINT, None)]
    assert RestClusterClient(cluster.rest_url).trigger_checkpoint(jid) == 2
    latch.trigger()
    job.get_job_execution_result().result(timeout=30)


def test_a_client_chosen_trigger_id_is_not_run_twice(cluster: MiniCluster,
                                                    tmp_path: Any) -> None:
    job, coordinator, latch = start_job(cluster)
    jid = job.get_job_id()
    body = {"target-directory": str(tmp_path), "triggerId": "ab" * 16}
    assert http(cluster, "POST", f"/jobs/{jid}/savepoints", body) == (
        202, {"request-id": "ab" * 16})
    assert http(cluster, "POST", f"/jobs/{jid}/savepoints", body)[0] == 202
    poll(cluster, f"/jobs/{jid}/savepoints/{'ab' * 16}")
    assert len(coordinator.triggered) == 1
    latch.trigger()
    job.get_job_execution_result().result(timeout=30)


def write_savepoint(directory: Any) -> str:
    """A savepoint directory with a real ``_metadata``; its Flink-style path."""
    from strom.state.checkpoint_metadata import CheckpointMetadata
    from strom.state.checkpoint_storage import CheckpointStorage

    location = CheckpointStorage(None, "abcdef" + "0" * 26).savepoint_location(str(directory))
    location.write_metadata(CheckpointMetadata(1, "abcdef" + "0" * 26, 0, kind="savepoint"))
    return display_path(location.url)


def test_savepoint_disposal_through_rest(cluster: MiniCluster, tmp_path: Any) -> None:
    path = write_savepoint(tmp_path)
    assert len(list(tmp_path.iterdir())) == 1
    status, trigger = http(cluster, "POST", "/savepoint-disposal", {"savepoint-path": path})
    assert status == 202
    answer = poll(cluster, f"/savepoint-disposal/{trigger['request-id']}")
    assert answer == {"status": {"id": "COMPLETED"}, "operation": {}}
    assert list(tmp_path.iterdir()) == []
    # a directory that is no savepoint is left alone, and the failure says why
    (tmp_path / "mine").mkdir()
    _, trigger = http(cluster, "POST", "/savepoint-disposal",
                      {"savepoint-path": str(tmp_path / "mine")})
    answer = poll(cluster, f"/savepoint-disposal/{trigger['request-id']}")
    assert "has no _metadata file" in answer["operation"]["failure-cause"]["stack-trace"]
    assert (tmp_path / "mine").is_dir()
    with pytest.raises(FileNotFoundError, match="has no _metadata file"):
        RestClusterClient(cluster.rest_url).dispose_savepoint(str(tmp_path / "mine"))


@pytest.mark.parametrize(("method", "path", "body", "status", "message"), [
    ("POST", "/jobs/" + "0" * 32 + "/savepoints", {"target-directory": "/x"}, 404,
     "No job with id 000"),
    ("POST", "/jobs/" + "0" * 32 + "/stop", {"targetDirectory": "/x"}, 404, "No job with id"),
    ("POST", "/jobs/" + "0" * 32 + "/checkpoints", {}, 404, "No job with id"),
    ("GET", "/jobs/" + "0" * 32 + "/savepoints/" + "1" * 32, None, 404,
     "There is no savepoint operation with trigger id 111"),
    ("GET", "/jobs/" + "0" * 32 + "/savepoints/nothex", None, 404, "Not found"),
    ("GET", "/savepoint-disposal/" + "1" * 32, None, 404, "There is no disposal operation"),
    ("POST", "/jobs/" + "0" * 32 + "/savepoints", {"formatType": "ZIP"}, 400,
     "Unknown savepoint format 'ZIP'"),
    ("POST", "/jobs/" + "0" * 32 + "/savepoints", {"triggerId": "x"}, 400,
     "A triggerId is 32 hexadecimal digits"),
    ("POST", "/jobs/" + "0" * 32 + "/checkpoints", {"checkpointType": "SOME"}, 400,
     "Bad checkpointType 'SOME'"),
    ("POST", "/savepoint-disposal", {}, 400, "Bad request body"),
])
def test_bad_savepoint_requests_get_precise_errors(
        cluster: MiniCluster, method: str, path: str, body: Any, status: int,
        message: str) -> None:
    answer_status, answer = http(cluster, method, path, body)
    assert answer_status == status, answer
    assert message in answer["errors"][0], answer


def test_savepoints_of_a_job_that_ended_are_404_with_how_to_resume(
        cluster: MiniCluster, tmp_path: Any) -> None:
    job, _, latch = start_job(cluster)
    latch.trigger()
    job.get_job_execution_result().result(timeout=30)
    status, answer = http(cluster, "POST", f"/jobs/{job.get_job_id()}/savepoints",
                          {"target-directory": str(tmp_path)})
    assert status == 404 and "has ended (FINISHED)" in answer["errors"][0]
