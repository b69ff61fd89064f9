"""ZooKeeperHaServices against a real ZooKeeper: two JobManager processes' election services
contend (exactly one leads and publishes its addresses; when it goes, the other leads under
a new session id), retrieval follows each change, a stopped ZooKeeper revokes and a
restarted one elects again; and the recovery stores pass the stores' conformance checks."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from zk_helpers import WAIT_S, expire_session, ha_config

from strom.common.job import JobID
from strom.ha.leader_election import DISPATCHER, REST_SERVER, LeaderInformation
from strom.ha.services import create_ha_services
from strom.ha.stores import LeadershipLostError
from strom.ha.testing import (
    TestingLeaderContender,
    TestingLeaderRetrievalListener,
    check_checkpoint_id_counter,
    check_completed_checkpoint_store,
    check_job_graph_store,
    check_job_result_store,
)
from strom.ha.zookeeper import ZooKeeperHaServices
from strom.ha.zookeeper.stores import FileSystemJobResultStore
from strom.testing import wait_until
from strom.testing.zookeeper import ZooKeeperServer


def _run_now(fn: Callable[[], None]) -> None:
    fn()


class JobManager:
    """One JobManager process's HA: its services, election service and two contenders."""

    def __init__(self, services: ZooKeeperHaServices, name: str) -> None:
        self.services = services
        self.election_service = services.leader_election_service(_run_now)
        self.dispatcher_election = self.election_service.create_leader_election(DISPATCHER)
        self.rest_election = self.election_service.create_leader_election(REST_SERVER)
        self.dispatcher = TestingLeaderContender(self.dispatcher_election,
                                                 f"tcp://{name}:6123/dispatcher")
        self.rest = TestingLeaderContender(self.rest_election, f"http://{name}:8081")
        self.dispatcher_election.start_leader_election(self.dispatcher)
        self.rest_election.start_leader_election(self.rest)

    @property
    def leading(self) -> bool:
        return self.election_service.session_id is not None

    def close(self) -> None:
        self.election_service.close()
        self.services.close()


@pytest.fixture
def new_jobmanager(zookeeper: ZooKeeperServer,
                   tmp_path: Path) -> Iterator[Callable[[str], JobManager]]:
    made: list[JobManager] = []

    def make(name: str) -> JobManager:
        services = create_ha_services(ha_config(zookeeper, tmp_path / "ha"))
        assert isinstance(services, ZooKeeperHaServices)
        made.append(JobManager(services, name))
        return made[-1]

    yield make
    for jobmanager in made:
        jobmanager.close()


def test_two_jobmanagers_contend_and_the_standby_takes_over(new_jobmanager, zookeeper,
                                                            tmp_path):
    first = new_jobmanager("jm-1")
    wait_until(lambda: first.leading, WAIT_S, "the first JobManager to lead")
    second = new_jobmanager("jm-2")
    client = create_ha_services(ha_config(zookeeper, tmp_path / "ha"))
    listener = TestingLeaderRetrievalListener()
    retrieval = client.leader_retrieval(DISPATCHER)
    retrieval.start(listener)
    try:
        session = first.election_service.session_id
        assert session is not None and re.fullmatch("[0-9a-f]{32}", session)
        expected = LeaderInformation(session, "tcp://jm-1:6123/dispatcher")
        wait_until(lambda: listener.leaders[-1:] == [expected], WAIT_S, "the first leader")
        assert second.election_service.session_id is None
        assert first.dispatcher.session_id == first.rest.session_id == session

        first.services.close()  # the leader's ZooKeeper client stops: its session ends
        wait_until(lambda: second.leading, WAIT_S, "the standby to lead")
        new_session = second.election_service.session_id
        assert new_session is not None and new_session != session
        wait_until(lambda: listener.leaders[-1:] == [
            LeaderInformation(new_session, "tcp://jm-2:6123/dispatcher")], WAIT_S,
            "the retrieval to see the new leader")
        assert ("revoke", None) in first.dispatcher.events
        assert not first.leading
    finally:
        retrieval.stop()
        client.close()


def test_an_expired_leader_session_moves_leadership(new_jobmanager, zookeeper, tmp_path):
    first = new_jobmanager("jm-1")
    wait_until(lambda: first.leading, WAIT_S, "the first JobManager to lead")
    second = new_jobmanager("jm-2")
    listener = TestingLeaderRetrievalListener()
    retrieval = second.services.leader_retrieval(REST_SERVER)
    retrieval.start(listener)
    try:
        session = first.election_service.session_id
        wait_until(lambda: listener.leaders[-1:] == [
            LeaderInformation(session, "http://jm-1:8081")], WAIT_S, "the first leader")
        expire_session(first.services.client())
        wait_until(lambda: second.leading, WAIT_S, "the standby to lead")
        new_session = second.election_service.session_id
        assert new_session != session
        wait_until(lambda: listener.leaders[-1:] == [
            LeaderInformation(new_session, "http://jm-2:8081")], WAIT_S, "the new leader")
        assert not first.leading and first.dispatcher.events[-1] == ("revoke", None)
    finally:
        retrieval.stop()


def test_zookeeper_stopped_revokes_and_restarted_elects_again(new_jobmanager, zookeeper,
                                                              tmp_path):
    first = new_jobmanager("jm-1")
    wait_until(lambda: first.leading, WAIT_S, "the first JobManager to lead")
    second = new_jobmanager("jm-2")
    listener = TestingLeaderRetrievalListener()
    retrieval = second.services.leader_retrieval(DISPATCHER)
    retrieval.start(listener)
    try:
        wait_until(lambda: listener.leaders[-1:] not in ([], [None]), WAIT_S, "a leader")
        zookeeper.stop()
        wait_until(lambda: not first.leading, WAIT_S, "revocation on SUSPENDED")
        assert first.dispatcher.events[-1] == ("revoke", None)
        wait_until(lambda: listener.leaders[-1:] == [None], WAIT_S, "no leader known")

        zookeeper.start()
        wait_until(lambda: first.leading != second.leading, WAIT_S, "a leader again")
        leader = first if first.leading else second
        name = "jm-1" if leader is first else "jm-2"
        wait_until(lambda: listener.leaders[-1:] == [LeaderInformation(
            leader.election_service.session_id or "", f"tcp://{name}:6123/dispatcher")],
            WAIT_S, "the retrieval to see the leader again")
    finally:
        retrieval.stop()


def test_the_stores_pass_the_conformance_checks(zookeeper, tmp_path):
    services = ZooKeeperHaServices(ha_config(zookeeper, tmp_path / "ha"))
    jobmanager = JobManager(services, "jm")
    try:
        wait_until(lambda: jobmanager.leading, WAIT_S, "leadership")
        check_job_graph_store(services.job_graph_store())
        check_job_result_store(FileSystemJobResultStore(str(tmp_path / "jrs"),
                                                        delete_on_commit=False))
        factory = services.checkpoint_recovery_factory()
        job_id = JobID.generate()
        check_checkpoint_id_counter(lambda: factory.create_checkpoint_id_counter(job_id))
        check_completed_checkpoint_store(
            lambda: factory.create_completed_checkpoint_store(job_id))
    finally:
        jobmanager.close()


def test_a_process_without_leadership_cannot_add_checkpoints(zookeeper, tmp_path):
    services = ZooKeeperHaServices(ha_config(zookeeper, tmp_path / "ha"))
    try:
        store = services.checkpoint_recovery_factory().create_completed_checkpoint_store(
            JobID.generate())
        with pytest.raises(LeadershipLostError, match="does not lead"):
            store.add(1, b"one")
    finally:
        services.close()
