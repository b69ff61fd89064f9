"""The JobManager's REST API against a MiniCluster serving REST on a free port: Flink's JSON
shapes, job submission with files, cancel, execution results, and precise errors."""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest

from strom.client.job_client import JobExecutionError
from strom.client.rest import RestClient, RestClientError
from strom.client.rest_cluster_client import RestClusterClient
from strom.common import _pickling
from strom.common.job import JobStatus
from strom.datastream import StreamExecutionEnvironment
from strom.jobmanager.rest import messages as m
from strom.jobmanager.rest import specs
from strom.jobmanager.rest.openapi import openapi_document
from strom.minicluster import MiniCluster
from strom.testing import Latch, TestingSource
from strom.testing.sync import wait_until


@pytest.fixture
def cluster() -> Iterator[MiniCluster]:
    with MiniCluster(num_task_managers=1, slots_per_task_manager=2, rest_port=0) as c:
        yield c
        # a job's status turns terminal before its slots are released (as in Flink)
        wait_until(lambda: c.leftovers() == [], what="the cluster to be idle")


def http(cluster: MiniCluster, method: str, path: str, data: bytes | None = None,
         content_type: str | None = None) -> tuple[int, Any]:
    headers = {"Content-Type": content_type} if content_type else {}
    request = urllib.request.Request(cluster.rest_url + path, data=data, method=method,
                                     headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def job_graph(elements: list[Any], fail_on: int | None = None, name: str = "rest job") -> Any:
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(1)

    def check(x: int) -> int:
        if x == fail_on:
            raise ValueError(f"record {x} is bad")
        return x

    env.from_source(TestingSource(elements), _no_watermarks(), "numbers").map(check) \
        .sink_to(_discard())
    return env._job_graph(name)


def _no_watermarks() -> Any:
    from strom.common import WatermarkStrategy

    return WatermarkStrategy.no_watermarks()


def _discard() -> Any:
    from strom.testing import CollectSink

    return CollectSink()


def test_cluster_overview_and_taskmanagers_in_flinks_shape(cluster: MiniCluster) -> None:
    status, overview = http(cluster, "GET", "/overview")
    assert status == 200
    assert overview | {"flink-version": "x"} == {
        "taskmanagers": 1, "slots-total": 2, "slots-available": 2, "jobs-running": 0,
        "jobs-finished": 0, "jobs-cancelled": 0, "jobs-failed": 0, "flink-version": "x",
        "flink-commit": ""}
    status, tms = http(cluster, "GET", "/v1/taskmanagers")
    assert status == 200
    [tm] = tms["taskmanagers"]
    assert (tm["slotsNumber"], tm["freeSlots"]) == (2, 2)
    assert len(tm["id"]) == 32 and tm["path"] == cluster.task_executors[0].address


def test_a_finished_job_in_jobs_overview_details_and_execution_result(
    cluster: MiniCluster,
) -> None:
    client = RestClusterClient(cluster.rest_url.removeprefix("http://"))
    job = client.submit(job_graph([1, 2, 3]))
    job.get_job_execution_result().result(timeout=30)
    jid = str(job.get_job_id())

    assert http(cluster, "GET", "/jobs") == (200, {"jobs": [{"id": jid, "status": "FINISHED"}]})
    status, overview = http(cluster, "GET", "/jobs/overview")
    [entry] = overview["jobs"]
    assert (entry["jid"], entry["name"], entry["state"]) == (jid, "rest job", "FINISHED")
    assert entry["end-time"] >= entry["start-time"] > 0
    assert entry["duration"] == entry["end-time"] - entry["start-time"]
    assert entry["tasks"]["total"] == entry["tasks"]["finished"] == 1

    status, details = http(cluster, "GET", f"/jobs/{jid}")
    assert status == 200
    assert (details["jid"], details["state"], details["job-type"]) == (jid, "FINISHED",
                                                                        "STREAMING")
    assert set(details["timestamps"]) >= {"CREATED", "RUNNING", "FINISHED"}
    [vertex] = details["vertices"]
    assert vertex["status"] == "FINISHED" and vertex["tasks"]["FINISHED"] == 1
    # as Flink's: every ExecutionState counted, 0 for those no vertex is in
    assert details["status-counts"]["FINISHED"] == 1
    assert sum(details["status-counts"].values()) == 1 and "RUNNING" in details["status-counts"]

    status, result = http(cluster, "GET", f"/jobs/{jid}/execution-result")
    assert status == 200 and result["status"] == {"id": "COMPLETED"}
    info = result["job-execution-result"]
    assert (info["id"], info["application-status"]) == (jid, "SUCCEEDED")
    assert http(cluster, "GET", "/overview")[1]["jobs-finished"] == 1


def test_a_failed_job_reraises_the_users_exception_at_the_rest_client(
    cluster: MiniCluster,
) -> None:
    client = RestClusterClient(cluster.rest_url)
    job = client.submit(job_graph([1, 2, 3], fail_on=2))
    with pytest.raises(ValueError, match="record 2 is bad") as raised:
        job.get_job_execution_result().result(timeout=30)
    # the user's frame (this file, the raising line) came back with the exception
    frames = [(f.filename, f.name) for f in __import__("traceback").extract_tb(
        raised.value.__traceback__)]
    assert (__file__, "check") in frames
    assert any("Map" in note for note in raised.value.__notes__)
    _, result = http(cluster, "GET", f"/jobs/{job.get_job_id()}/execution-result")
    cause = result["job-execution-result"]["failure-cause"]
    assert result["job-execution-result"]["application-status"] == "FAILED"
    assert cause["class"] == "builtins.ValueError"
    assert "record 2 is bad" in cause["stack-trace"]


def test_cancel_a_running_job_through_rest(cluster: MiniCluster) -> None:
    latch = Latch()
    client = RestClusterClient(cluster.rest_url)
    job = client.submit(job_graph([1, TestingSource.AWAIT(latch), 2], name="waits"))
    wait_until(lambda: job.get_job_status().result(timeout=10) is JobStatus.RUNNING,
               what="the job to run")
    _, result = http(cluster, "GET", f"/jobs/{job.get_job_id()}/execution-result")
    assert result == {"status": {"id": "IN_PROGRESS"}}
    assert http(cluster, "PATCH", f"/jobs/{job.get_job_id()}?mode=cancel") == (202, {})
    with pytest.raises(JobExecutionError, match=r"'waits' .* ended CANCELED"):
        job.get_job_execution_result().result(timeout=30)
    assert http(cluster, "GET", "/jobs")[1]["jobs"][0]["status"] == "CANCELED"
    latch.trigger()


@pytest.mark.parametrize(("method", "path", "status", "message"), [
    ("GET", "/jobs/123", 400, "A JobID is 32 hexadecimal digits"),
    ("GET", "/jobs/" + "0" * 32, 404, "No job with id 000"),
    ("GET", "/jobs/" + "0" * 32 + "/execution-result", 404, "No job with id"),
    ("PATCH", "/jobs/" + "0" * 32 + "?mode=cancel", 404, "No job with id"),
    ("PATCH", "/jobs/" + "0" * 32 + "?mode=stop", 400, "Unknown termination mode 'stop'"),
    ("GET", "/no/such/path", 404, "Not found: GET /no/such/path"),
    ("DELETE", "/jobs", 405, "DELETE is not allowed on /jobs"),
    ("POST", "/jobs", 400, "takes multipart/form-data"),
])
def test_bad_requests_get_precise_errors(cluster: MiniCluster, method: str, path: str,
                                         status: int, message: str) -> None:
    got_status, body = http(cluster, method, path, data=b"" if method == "POST" else None)
    assert got_status == status
    assert list(body) == ["errors"] and message in body["errors"][0]


def multipart(parts: list[tuple[str, str | None, bytes]]) -> tuple[bytes, str]:
    boundary = "test-boundary"
    chunks = []
    for name, filename, data in parts:
        disposition = f'form-data; name="{name}"' + (
            f'; filename="{filename}"' if filename else "")
        chunks.append(f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode()
                      + data + b"\r\n")
    chunks.append(f"--{boundary}--\r\n".encode())
    return b"".join(chunks), f"multipart/form-data; boundary={boundary}"


def request_part(**fields: Any) -> tuple[str, None, bytes]:
    return ("request", None, json.dumps({"jobGraphFileName": "g", **fields}).encode())


@pytest.mark.parametrize(("parts", "message"), [
    ([], "Malformed multipart body"),
    ([("file", "g", b"x")], "no 'request' part"),
    ([("request", None, b"{not json")], "Bad request part 'request'"),
    ([request_part()], "names the JobGraph file 'g' but no multipart part carries it"),
    ([request_part(jobArtifactFileNames=[{"entryName": "../evil.py", "fileName": "a"}]),
      ("f", "g", b"x"), ("f2", "a", b"y")], "must be relative to the job's directory"),
    ([request_part(jobJarFileNames=["a.jar"]), ("f", "g", b"x")], "takes no jar files"),
    ([request_part(jobId="xyz"), ("f", "g", b"x")], "Bad job id"),
])
def test_bad_submissions_get_precise_errors_and_the_server_keeps_serving(
    cluster: MiniCluster, parts: list[tuple[str, str | None, bytes]], message: str,
) -> None:
    data, content_type = multipart(parts)
    if not parts:
        data = b"--test-boundary\r\ngarbage"
    status, body = http(cluster, "POST", "/jobs", data=data, content_type=content_type)
    assert status == 400, body
    assert message in body["errors"][0]
    assert http(cluster, "GET", "/jobs") == (200, {"jobs": []})


def test_a_job_graph_that_does_not_unpickle_is_a_500_with_the_cause(
    cluster: MiniCluster,
) -> None:
    data, content_type = multipart([request_part(), ("f", "g", b"not a pickle")])
    status, body = http(cluster, "POST", "/jobs", data=data, content_type=content_type)
    assert status == 500 and "UnpicklingError" in body["errors"][0]
    assert http(cluster, "GET", "/jobs") == (200, {"jobs": []})


def test_submit_with_the_rest_client_from_the_spec(cluster: MiniCluster) -> None:
    rest = RestClient(cluster.rest_url)
    graph = _pickling.dumps(job_graph([5]))
    answer = rest.send(specs.SUBMIT_JOB, body=m.JobSubmitRequest(job_graph_file_name="g"),
                       files={"g": graph})
    assert answer.job_url.startswith("/jobs/") and len(answer.job_url) == 6 + 32
    job_id = answer.job_url.removeprefix("/jobs/")
    wait_until(lambda: rest.send(specs.JOB_EXECUTION_RESULT, jobid=job_id)
               .job_execution_result is not None, what="the job to end")
    with pytest.raises(RestClientError) as raised:
        rest.send(specs.JOB_DETAILS, jobid="0" * 32)
    assert raised.value.status == 404 and "No job with id" in raised.value.errors[0]


def test_rest_client_says_when_nothing_listens() -> None:
    import socket

    with socket.socket() as s:  # a port that was free a moment ago
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(RestClientError, match=f"Could not reach .*127.0.0.1:{port}"):
        RestClient(f"127.0.0.1:{port}", timeout_s=5).send(specs.LIST_JOBS)
    with pytest.raises(ValueError, match="host:port"):
        RestClient("no-port-here")


def test_the_served_openapi_document_lists_every_spec(cluster: MiniCluster) -> None:
    status, document = http(cluster, "GET", "/v1/openapi.json")
    assert status == 200
    assert document == msgspec.json.decode(msgspec.json.encode(openapi_document()))
    paths = {(method.upper(), path) for path, ops in document["paths"].items()
             for method in ops}
    assert paths == {(s.method, re.sub(r":(\w+)", r"{\1}", s.path)) for s in specs.ALL_SPECS}
    details = document["paths"]["/jobs/{jobid}"]["get"]["responses"]["200"]
    ref = details["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert "start-time" in document["components"]["schemas"][ref]["properties"]


def test_every_spec_has_a_handler() -> None:
    from strom.jobmanager.rest.handlers import HANDLERS

    assert set(HANDLERS) == set(specs.ALL_SPECS)


def test_rest_port_in_use_is_an_error_that_names_it() -> None:
    with MiniCluster(rest_port=0) as first:
        port = int(first.rest_url.rsplit(":", 1)[1])
        started = time.monotonic()
        with pytest.raises(OSError, match=f"cannot listen on 127.0.0.1:{port}.*rest.port"):
            MiniCluster(rest_port=port).start()
        assert time.monotonic() - started < 30


def test_coordination_requests_to_unknown_jobs_and_operators_are_404(
    cluster: MiniCluster,
) -> None:
    body = json.dumps({"serializedCoordinationRequest": ""}).encode()
    path = "/jobs/" + "0" * 32 + "/coordinators/x"
    status, answer = http(cluster, "POST", path, body, "application/json")
    assert status == 404 and "No job with id" in answer["errors"][0]
    status, answer = http(cluster, "POST", path, b"[]", "application/json")
    assert status == 400 and "Bad request body" in answer["errors"][0]

    latch = Latch()
    job = RestClusterClient(cluster.rest_url).submit(
        job_graph([1, TestingSource.AWAIT(latch)], name="waits"))
    wait_until(lambda: job.get_job_status().result(timeout=10) is JobStatus.RUNNING,
               what="the job to run")
    path = f"/jobs/{job.get_job_id()}/coordinators/nope"
    status, answer = http(cluster, "POST", path, body, "application/json")
    assert status == 404 and "no operator coordinator 'nope'" in answer["errors"][0]
    latch.trigger()
    job.get_job_execution_result().result(timeout=30)
    status, answer = http(cluster, "POST", path, body, "application/json")
    assert status == 404 and "has ended (FINISHED)" in answer["errors"][0]


def test_a_job_id_submitted_twice_is_a_409(cluster: MiniCluster) -> None:
    rest = RestClient(cluster.rest_url)
    graph = _pickling.dumps(job_graph([5]))
    request = m.JobSubmitRequest(job_graph_file_name="g", job_id="1" * 32)
    rest.send(specs.SUBMIT_JOB, body=request, files={"g": graph})
    with pytest.raises(RestClientError) as raised:
        rest.send(specs.SUBMIT_JOB, body=request, files={"g": graph})
    assert raised.value.status == 409 and "already submitted" in raised.value.errors[0]
    wait_until(lambda: rest.send(specs.JOB_EXECUTION_RESULT, jobid="1" * 32)
               .job_execution_result is not None, what="the job to end")


def test_rest_server_binds_as_configured() -> None:
    from strom.common.configuration import Configuration
    from strom.jobmanager.rest.server import RestServer

    def bound(**keys: str) -> tuple[str, int]:
        configuration = Configuration()
        for key, value in keys.items():
            configuration.set_string(key.replace("_", "-").replace("-", ".", 1), value)
        server = RestServer.from_configuration(None, configuration)  # type: ignore[arg-type]
        return server.host, server.requested_port

    assert bound() == ("127.0.0.1", 8081)
    assert bound(rest_port="0") == ("127.0.0.1", 0)
    assert bound(rest_port="1", rest_bind_port="9091", rest_bind_address="0.0.0.0") == (
        "0.0.0.0", 9091)
    with pytest.raises(ValueError, match=r"rest\.bind-port must be a port number, got '1-2'"):
        bound(rest_bind_port="1-2")


def test_serve_rest_starts_the_api_for_a_dispatcher_and_stops_it() -> None:
    from strom.common.configuration import Configuration
    from strom.jobmanager.rest.server import serve_rest

    with MiniCluster() as c:
        assert c.rpc is not None and c.dispatcher is not None
        configuration = Configuration()
        configuration.set_string("rest.port", "0")
        running = serve_rest(c.rpc, c.dispatcher.address, configuration)
        try:
            with urllib.request.urlopen(running.url + "/overview", timeout=10) as answer:
                assert json.loads(answer.read())["taskmanagers"] == 1
        finally:
            running.stop()
        with pytest.raises(urllib.error.URLError):
            urllib.request.urlopen(running.url + "/overview", timeout=5)


def test_the_exceptions_of_a_failed_job_in_flinks_history_shape(cluster: MiniCluster) -> None:
    client = RestClusterClient(cluster.rest_url)
    job = client.submit(job_graph([1, 2, 3], fail_on=2, name="fails"))
    with pytest.raises(ValueError):
        job.get_job_execution_result().result(timeout=30)
    status, body = http(cluster, "GET", f"/jobs/{job.get_job_id()}/exceptions")
    assert status == 200, body
    [entry] = body["exceptionHistory"]["entries"]
    assert entry["exceptionName"] == "builtins.ValueError"
    assert "record 2 is bad" in entry["stacktrace"]
    assert "Map" in entry["taskName"] and entry["taskManagerId"]
    assert entry["timestamp"] > 0 and entry["concurrentExceptions"] == []
    assert body["exceptionHistory"]["truncated"] is False
    assert body["root-exception"] == entry["stacktrace"]
    status, body = http(cluster, "GET", f"/jobs/{job.get_job_id()}/exceptions?maxExceptions=0")
    assert body["exceptionHistory"] == {"entries": [], "truncated": True}
    status, body = http(cluster, "GET", f"/jobs/{job.get_job_id()}/exceptions?maxExceptions=x")
    assert status == 400 and "maxExceptions must be a number" in body["errors"][0]
