"""With ``high-availability.type: zookeeper`` and no -m, the CLI and RestClusterClient ask
the HA services for the leading REST endpoint (here a stand-in for ZooKeeper's answer: the
leader lookup is replaced, its real use is in the process tests)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from strom.cli.main import main
from strom.client import rest_cluster_client
from strom.client.rest_cluster_client import RestClusterClient
from strom.common.configuration import Configuration
from strom.minicluster import MiniCluster
from strom.testing.zookeeper import free_port

HA = ["-D", "high-availability.type=zookeeper",
      "-D", "high-availability.zookeeper.quorum=127.0.0.1:1",
      "-D", "high-availability.storageDir=/tmp/unused"]


class Leaders:
    """What the stand-in lookup answers, and what it was asked."""

    def __init__(self) -> None:
        self.url = ""
        self.asked: list[Configuration] = []
        self.lock = threading.Lock()

    def __call__(self, configuration: Configuration, timeout_s: float = 30.0) -> str:
        with self.lock:
            self.asked.append(configuration)
        return self.url


@pytest.fixture
def leaders(monkeypatch: pytest.MonkeyPatch) -> Leaders:
    lookup = Leaders()
    monkeypatch.setattr(rest_cluster_client, "rest_leader_url", lookup)
    return lookup


@pytest.fixture
def cluster() -> Iterator[MiniCluster]:
    with MiniCluster(num_task_managers=1, slots_per_task_manager=1, rest_port=0) as c:
        yield c


def test_the_cli_without_m_asks_for_the_leader(leaders: Leaders, cluster: MiniCluster,
                                               tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    leaders.url = cluster.rest_url
    result = CliRunner().invoke(main, ["list", *HA])
    assert result.exit_code == 0, result.output
    assert "No running jobs." in result.output
    assert leaders.asked and leaders.asked[0].get_string("high-availability.type", "") \
        == "zookeeper"
    # with -m the address is the one given (the lookup only serves failovers)
    leaders.asked.clear()
    result = CliRunner().invoke(main, ["list", "-m", cluster.rest_url, *HA])
    assert result.exit_code == 0, result.output
    assert leaders.asked == []


def test_an_unreachable_leader_says_a_failover_may_be_under_way(
        leaders: Leaders, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    leaders.url = f"http://127.0.0.1:{free_port()}"
    result = CliRunner().invoke(main, ["list", *HA])
    assert result.exit_code == 1
    assert "Could not reach the JobManager's REST API" in result.output
    assert "the leader may have just failed" in result.output
    assert "high-availability.zookeeper.client.session-timeout" in result.output


def test_run_without_m_goes_to_the_leader_with_high_availability(
        leaders: Leaders, cluster: MiniCluster, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    leaders.url = cluster.rest_url
    program = tmp_path / "job.py"
    program.write_text(
        "from strom.datastream import StreamExecutionEnvironment\n"
        "env = StreamExecutionEnvironment.get_execution_environment()\n"
        "env.from_collection([1, 2, 3]).map(lambda x: x + 1).print()\n"
        "env.execute('on the leader')\n")
    result = CliRunner().invoke(main, ["run", "-d", "-q", *HA, str(program)])
    assert result.exit_code == 0, result.output
    assert "Job has been submitted with JobID" in result.output
    assert [job.name for job in RestClusterClient(cluster.rest_url).list_jobs()] == [
        "on the leader"]
    # without high availability -d still needs -m
    result = CliRunner().invoke(main, ["run", "-d", str(program)])
    assert result.exit_code == 2 and "-d/--detached needs -m" in result.output


def test_a_cluster_client_needs_an_address_or_high_availability() -> None:
    with pytest.raises(ValueError, match=r"give -m host:port .* high-availability.type: "
                                         r"zookeeper"):
        RestClusterClient(None)


def test_waiting_for_a_result_follows_the_new_leader_after_a_failover(
        leaders: Leaders, cluster: MiniCluster) -> None:
    """With high availability a JobManager that cannot be reached may have died: the
    client asks for the leader again and gets the result there."""
    from strom.common.job import JobStatus
    from strom.datastream import StreamExecutionEnvironment
    from strom.testing import CollectSink

    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(1)
    env.from_collection([1, 2, 3]).sink_to(CollectSink())
    job = RestClusterClient(cluster.rest_url).submit(env._job_graph("across a failover"))
    configuration = Configuration.from_dict(
        dict(item.split("=", 1) for item in HA[1::2]))
    dead = f"http://127.0.0.1:{free_port()}"
    client = RestClusterClient(dead, configuration=configuration)
    leaders.url = cluster.rest_url  # the new leader
    result = client.wait_for_result(job.get_job_id(), "across a failover")
    assert result.status is JobStatus.FINISHED
    assert client.rest.base_url == cluster.rest_url
    assert leaders.asked  # asked for the leader after the old one was unreachable
