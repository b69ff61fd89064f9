"""REST on a standby JobManager (high availability): a 307 to the leader's REST endpoint
for every request but the web UI's files, 503 while no leader is known; and the REST
client following those redirects with the same method and body.

The leader is a MiniCluster's REST API; the standby is a second REST server on the same
RPC loop whose :class:`RestLeadership` says it does not lead."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from strom.client.rest import MAX_REDIRECTS, RestClient, RestClientError
from strom.client.rest_cluster_client import RestClusterClient
from strom.common.job import JobStatus
from strom.datastream import StreamExecutionEnvironment
from strom.ha.leader_election import LeaderInformation
from strom.jobmanager.rest.server import RestServer
from strom.jobmanager.rest.standby import LEADER_ELECTION_ONGOING, RestLeadership
from strom.minicluster import MiniCluster
from strom.testing import CollectSink, TestingSource
from strom.testing.zookeeper import free_port

SESSION = "ab" * 16


class _Switch:
    """Whether the standby leads, flipped by a test."""

    def __init__(self) -> None:
        self.on = False

    def __call__(self) -> bool:
        return self.on


@pytest.fixture
def leader() -> Iterator[MiniCluster]:
    with MiniCluster(num_task_managers=1, slots_per_task_manager=1, rest_port=0) as cluster:
        yield cluster


class Standby:
    def __init__(self, cluster: MiniCluster) -> None:
        self.cluster = cluster
        self.leads = _Switch()
        self.leadership = RestLeadership(self.leads, own_url=lambda: self.url)
        self.server = RestServer(cluster.dispatcher_gateway, port=0,
                                 leadership=self.leadership)
        assert cluster.rpc is not None
        cluster.rpc.run_sync(self.server.start(), timeout=30)
        self.url = self.server.url

    def stop(self) -> None:
        assert self.cluster.rpc is not None
        self.cluster.rpc.run_sync(self.server.stop(), timeout=30)

    def follow(self, url: str | None) -> None:
        self.leadership.notify_leader_address(
            None if url is None else LeaderInformation(SESSION, url))


@pytest.fixture
def standby(leader: MiniCluster) -> Iterator[Standby]:
    server = Standby(leader)
    yield server
    server.stop()


def raw(url: str, method: str = "GET", data: bytes | None = None
        ) -> tuple[int, dict[str, str], bytes]:
    """One request without following redirects: status, headers, body."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect())
    request = urllib.request.Request(url, data=data, method=method)
    try:
        with opener.open(request, timeout=30) as answer:
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def test_a_standby_redirects_to_the_leader_with_path_and_query(leader: MiniCluster,
                                                               standby: Standby) -> None:
    standby.follow(leader.rest_url)
    for path in ("/jobs/overview?x=1", "/overview", "/config", "/v1/taskmanagers",
                 "/no/such/path"):
        status, headers, body = raw(standby.url + path)
        assert status == 307, path
        assert headers["Location"] == leader.rest_url + path
        assert json.loads(body) == {"errors": [
            "This JobManager is a standby; the leading JobManager's REST endpoint is "
            f"{leader.rest_url}."]}
    # any method: a POST is redirected too (the client repeats it with its body)
    status, headers, _ = raw(standby.url + "/jobs", "POST", b"{}")
    assert (status, headers["Location"]) == (307, leader.rest_url + "/jobs")


def test_a_standby_without_a_known_leader_answers_503_with_flinks_text(
        standby: Standby) -> None:
    status, headers, body = raw(standby.url + "/overview")
    assert status == 503
    assert json.loads(body) == {"errors": [LEADER_ELECTION_ONGOING]}
    assert headers["Retry-After"] == "1"
    # the leader it knows is itself (leadership just lost, nobody took over yet): 503 too
    standby.follow(standby.url)
    assert raw(standby.url + "/overview")[0] == 503


def test_a_standby_serves_the_web_ui_files_itself(standby: Standby,
                                                  leader: MiniCluster) -> None:
    standby.follow(leader.rest_url)
    status, headers, body = raw(standby.url + "/")
    assert status == 200 and b"<html" in body.lower()
    assert headers["Content-Type"].startswith("text/html")


def test_a_jobmanager_that_leads_serves_and_stops_when_it_no_longer_does(
        leader: MiniCluster, standby: Standby) -> None:
    standby.follow(leader.rest_url)
    standby.leads.on = True
    status, _, body = raw(standby.url + "/overview")
    assert status == 200 and json.loads(body)["taskmanagers"] == 1
    standby.leads.on = False
    assert raw(standby.url + "/overview")[0] == 307


def test_the_rest_client_follows_redirects_with_method_and_body(
        leader: MiniCluster, standby: Standby) -> None:
    standby.follow(leader.rest_url)
    client = RestClient(standby.url)
    assert client.overview().taskmanagers == 1
    assert client.leadership() == "standby"
    assert RestClient(leader.rest_url).leadership() == "leader"
    # a job submitted (POST, multipart) through the standby runs on the leader
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(1)
    env.from_collection([1, 2, 3]).map(lambda x: x * 2).sink_to(CollectSink())
    cluster_client = RestClusterClient(standby.url)
    job = cluster_client.submit(env._job_graph("through the standby"))
    result = cluster_client.wait_for_result(job.get_job_id(), "through the standby")
    assert result.status is JobStatus.FINISHED
    assert [j.name for j in RestClient(leader.rest_url).jobs_overview()] == [
        "through the standby"]


def test_the_rest_client_gives_up_on_a_redirect_loop(leader: MiniCluster) -> None:
    first, second = Standby(leader), Standby(leader)
    try:
        first.follow(second.url)
        second.follow(first.url)
        with pytest.raises(RestClientError, match=f"more than {MAX_REDIRECTS} times") as e:
            RestClient(first.url).overview()
        assert e.value.status == 307
        assert RestClient(first.url).leadership() == "standby"
    finally:
        first.stop()
        second.stop()


def test_leadership_of_an_electing_and_an_unreachable_jobmanager(standby: Standby) -> None:
    assert RestClient(standby.url).leadership() == "electing"
    with pytest.raises(RestClientError) as e:
        RestClient(standby.url).overview()
    assert e.value.status == 503 and LEADER_ELECTION_ONGOING in str(e.value)
    standby.stop()
    assert RestClient(standby.url, timeout_s=5).leadership() == "unreachable"


def test_waiting_for_a_result_rides_out_an_election(leader: MiniCluster,
                                                    standby: Standby) -> None:
    """503 (no leader yet) is retried until the deadline; then the client says it lost the
    cluster."""
    source = TestingSource([1, 2, 3])
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(1)
    env.from_source(source, _no_watermarks(), "numbers").sink_to(CollectSink())
    client = RestClusterClient(leader.rest_url)
    job = client.submit(env._job_graph("rides out"))
    # without high availability a JobManager that cannot be reached has no successor:
    # waiting fails at once
    gone = RestClusterClient(f"http://127.0.0.1:{free_port()}", failover_timeout_s=60.0)
    started = time.monotonic()
    with pytest.raises(RestClientError, match="Could not reach") as unreachable:
        gone.wait_for_result(job.get_job_id())
    assert unreachable.value.status is None and time.monotonic() - started < 30
    electing = RestClusterClient(standby.url, failover_timeout_s=0.5)
    with pytest.raises(RestClientError, match="Lost the cluster while waiting for job"):
        electing.wait_for_result(job.get_job_id())
    polls = 0
    poll = electing.poll_result

    def poll_then_elect(job_id: Any, job_name: str = "") -> Any:
        nonlocal polls
        polls += 1
        if polls == 3:  # the election is over: the standby knows the leader
            standby.follow(leader.rest_url)
        return poll(job_id, job_name)

    electing.failover_timeout_s = 60.0
    electing.poll_result = poll_then_elect  # type: ignore[method-assign]
    result = electing.wait_for_result(job.get_job_id())
    assert result.status is JobStatus.FINISHED and polls >= 3


def _no_watermarks() -> Any:
    from strom.common import WatermarkStrategy

    return WatermarkStrategy.no_watermarks()
