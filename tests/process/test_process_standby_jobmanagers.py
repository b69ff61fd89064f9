"""Two JobManager processes with a real ZooKeeper: one leads, the other stands by and sends
REST requests to the leader; clients find the leader in ZooKeeper; when the leader is
killed (``kill -9``) the standby becomes the leader, and a TaskManager registers with it.

(Failover of running jobs is tested in the HA process tests.)"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from strom.client.leader import rest_leader_url
from strom.client.rest import RestClient, RestClientError
from strom.common.configuration import Configuration
from strom.processes import ClusterProcess, spawn_process
from strom.testing.sync import wait_until
from strom.testing.zookeeper import ZooKeeperServer

START_TIMEOUT_S = 60.0
_READY = re.compile(r"JobManager ready at (tcp://\S+) \((leader|standby)\S*.*REST (http\S+?)\)")


class HaCluster:
    def __init__(self, zookeeper: ZooKeeperServer, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.config = {
            "high-availability.type": "zookeeper",
            "high-availability.zookeeper.quorum": zookeeper.connect_string,
            "high-availability.storageDir": str(log_dir / "ha"),
            "high-availability.cluster-id": "/standby-test",
            # a killed leader's ZooKeeper session (and its leadership) ends after this
            "high-availability.zookeeper.client.session-timeout": "3 s",
            "high-availability.zookeeper.client.connection-timeout": "10 s",
            "heartbeat.interval": "300 ms",
            "heartbeat.timeout": "3 s",
            "metrics.fetcher.update-interval": "1 ms",
            "rest.port": "0",
            "rest.bind-address": "127.0.0.1",
            "jobmanager.bind-host": "127.0.0.1",
            "taskmanager.bind-host": "127.0.0.1",
        }
        self.processes: list[ClusterProcess] = []

    def start_jobmanager(self) -> tuple[ClusterProcess, str, str]:
        """A JobManager process; its role in the ready line and its REST URL."""
        log_file = self.log_dir / f"jobmanager-{len(self.processes)}.log"
        process = spawn_process("jobmanager", ["jobmanager"], self.config, log_file)
        self.processes.append(process)
        match = process.wait_for_log(_READY.pattern, START_TIMEOUT_S)
        process.address = match.group(1)
        return process, match.group(2), match.group(3)

    def start_task_manager(self) -> ClusterProcess:
        log_file = self.log_dir / f"taskmanager-{len(self.processes)}.log"
        process = spawn_process("taskmanager", ["taskmanager"], self.config, log_file)
        self.processes.append(process)
        process.wait_for_log(r"TaskManager \w+ ready at", START_TIMEOUT_S)
        return process

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()

    def logs(self) -> str:
        return "\n".join(f"==== {p.name} (pid {p.pid})\n{p.log()[-4000:]}"
                         for p in self.processes)


@pytest.fixture
def ha_cluster(zookeeper: ZooKeeperServer, tmp_path: Path) -> Iterator[HaCluster]:
    cluster = HaCluster(zookeeper, tmp_path)
    try:
        yield cluster
    finally:
        cluster.stop()
        print(cluster.logs())  # pytest shows it when the test failed


def raw_get(url: str) -> tuple[int, dict[str, str], Any]:
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any) -> None:
            return None

    try:
        with urllib.request.build_opener(NoRedirect()).open(url, timeout=30) as answer:
            return answer.status, dict(answer.headers), json.loads(answer.read())
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), json.loads(e.read())


def role(url: str) -> str:
    return RestClient(url, timeout_s=5).leadership()


def task_managers(url: str) -> int:
    """How many TaskManagers the leader has, asked at ``url`` (-1: no answer yet)."""
    try:
        return len(RestClient(url, timeout_s=5).taskmanagers())
    except RestClientError:
        return -1


def jobmanager_metric(url: str, name: str) -> str | None:
    try:
        answer = RestClient(url, timeout_s=5).get_json("/jobmanager/metrics", {"get": name})
    except RestClientError:
        return None
    return answer[0]["value"] if answer else None


def eventually(condition: Any, what: str, timeout_s: float = 60.0) -> None:
    wait_until(condition, timeout_s=timeout_s, what=what, interval_s=0.1)


def test_one_jobmanager_leads_the_standby_redirects_and_takes_over_when_it_dies(
        ha_cluster: HaCluster) -> None:
    first, first_role, first_url = ha_cluster.start_jobmanager()
    assert first_role == "leader"
    first.wait_for_log(r"is now the leader \(session [0-9a-f]{32}\)", START_TIMEOUT_S)
    second, second_role, second_url = ha_cluster.start_jobmanager()
    assert second_role == "standby"
    assert first_url != second_url
    client_config = Configuration.from_dict(ha_cluster.config)
    assert rest_leader_url(client_config) == first_url

    # the standby sends requests to the leader; its web UI it serves itself
    status, headers, body = raw_get(second_url + "/jobs/overview?x=1")
    assert status == 307
    assert headers["Location"] == first_url + "/jobs/overview?x=1"
    assert body["errors"] == [f"This JobManager is a standby; the leading JobManager's REST "
                              f"endpoint is {first_url}."]
    with urllib.request.urlopen(second_url + "/", timeout=30) as page:
        assert page.status == 200
    assert (role(first_url), role(second_url)) == ("leader", "standby")

    # a TaskManager finds the leader's ResourceManager in ZooKeeper
    ha_cluster.start_task_manager()
    eventually(lambda: task_managers(second_url) == 1,
               "the TaskManager to register with the leader")

    # kill -9 the leader: once its ZooKeeper session ends, the standby leads
    first.kill()
    second.wait_for_log(r"JobManager tcp://\S+ is now the leader \(session [0-9a-f]{32}\)",
                        START_TIMEOUT_S)
    eventually(lambda: role(second_url) == "leader", "the new leader")
    assert rest_leader_url(client_config) == second_url
    eventually(lambda: task_managers(second_url) == 1,
               "the TaskManager to register with the new leader")


def test_leadership_goes_with_zookeeper_and_comes_back_with_rest_and_metrics(
        ha_cluster: HaCluster, zookeeper: ZooKeeperServer) -> None:
    leader, leader_role, leader_url = ha_cluster.start_jobmanager()
    assert leader_role == "leader"
    standby, _, standby_url = ha_cluster.start_jobmanager()
    ha_cluster.start_task_manager()
    # the leader stops gracefully: it leaves the election at once
    assert leader.stop() == 0
    eventually(lambda: role(standby_url) == "leader", "the standby to lead")
    with pytest.raises(RestClientError):
        RestClient(leader_url, timeout_s=5).overview()
    # ZooKeeper gone: the leader gives up its leadership (suspended connection) and,
    # knowing no leader, answers 503
    zookeeper.stop()
    eventually(lambda: role(standby_url) == "electing", "leadership revoked without ZooKeeper")
    zookeeper.restart()
    eventually(lambda: role(standby_url) == "leader", "leadership regained with ZooKeeper back")
    # the REST endpoint and the metrics reach the new ResourceManager and Dispatcher
    eventually(lambda: task_managers(standby_url) == 1,
               "the TaskManager to register with the regained leader")
    eventually(lambda: jobmanager_metric(standby_url, "numRegisteredTaskManagers") == "1",
               "the JobManager's metrics to read the new ResourceManager")
    assert standby.stop() == 0
