"""A TaskExecutor follows the ResourceManager leader its retrieval names and fences off the
others: two ResourceManagers (two leader sessions) in one RPC service, a leader retrieval
whose driver the test feeds, and a stand-in JobMaster. On every RPC transport."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from strom.common.job import JobID
from strom.graph.ids import AllocationID, ResourceID
from strom.ha.leader_election import LeaderInformation
from strom.ha.leader_retrieval import DefaultLeaderRetrievalService, LeaderRetrievalListener
from strom.ha.testing import TestingLeaderRetrievalDriver
from strom.jobmanager.resourcemanager import ResourceManager
from strom.network.environment import NetworkEnvironment
from strom.rpc.errors import FencingTokenError
from strom.rpc.gateways import JobMasterGateway, ResourceManagerGateway, TaskExecutorGateway
from strom.rpc.messages import SlotOffer
from strom.rpc.service import RpcEndpoint, RpcService, current_fencing_token
from strom.taskmanager.registration import RegistrationSettings
from strom.taskmanager.task_executor import TaskExecutor
from strom.testing import wait_until

SESSION_A = "a" * 32
SESSION_B = "b" * 32
FAST_REGISTRATION = RegistrationSettings(initial_timeout_ms=50, max_timeout_ms=500,
                                         error_delay_ms=50)


class DrivenRetrieval(DefaultLeaderRetrievalService):
    """The retrieval service over a driver the test tells who leads."""

    def __init__(self) -> None:
        self.driver: TestingLeaderRetrievalDriver | None = None
        super().__init__(self._create_driver)

    def _create_driver(self, events: LeaderRetrievalListener) -> TestingLeaderRetrievalDriver:
        self.driver = TestingLeaderRetrievalDriver(events)
        return self.driver

    def tell(self, leader: ResourceManager | None) -> None:
        assert self.driver is not None, "the TaskExecutor did not start its retrieval"
        self.driver.leader(
            None if leader is None else LeaderInformation(leader.session_id, leader.address))


class StandInJobMaster(RpcEndpoint):
    """Accepts every slot offered and records the fencing token of each offer."""

    gateway = JobMasterGateway

    def __init__(self, rpc: RpcService, name: str) -> None:
        super().__init__(rpc, name)
        self.offers: list[tuple[AllocationID, str | None]] = []

    async def offer_slots(self, offers: list[SlotOffer]) -> list[AllocationID]:
        self.offers += [(o.allocation_id, current_fencing_token()) for o in offers]
        return [o.allocation_id for o in offers]


@dataclass
class Cluster:
    rpc: RpcService
    rm_a: ResourceManager
    rm_b: ResourceManager
    job_master: StandInJobMaster
    te: TaskExecutor
    retrieval: DrivenRetrieval

    def run(self, coro: Any) -> Any:
        return self.rpc.run_sync(coro, timeout=20)

    def te_as(self, session: str | None) -> Any:
        return self.rpc.connect(self.te.address, TaskExecutorGateway, fencing_token=session)

    def allocate(self, rm: ResourceManager, job_id: JobID) -> None:
        gateway = self.rpc.connect(rm.address, ResourceManagerGateway)
        assert self.run(gateway.request_slots(job_id, self.job_master.address, 1)) == 1
        wait_until(lambda: any(job == job_id for _, job, _ in self.te.allocations.values()),
                   10, f"the TaskExecutor to hold a slot of job {job_id}")

    def registered_at(self, rm: ResourceManager) -> bool:
        return self.te.registered.is_set() and self.te.address in rm.task_executors


@pytest.fixture(params=["local", "codec", "tcp"])
def cluster(request: Any) -> Iterator[Cluster]:
    rpc = RpcService("leader-test", mode=request.param)
    rm_a = ResourceManager(rpc, "resourcemanager-a", fencing_token=SESSION_A)
    rm_b = ResourceManager(rpc, "resourcemanager-b", fencing_token=SESSION_B)
    job_master = StandInJobMaster(rpc, "jobmaster")
    retrieval = DrivenRetrieval()
    te = TaskExecutor(rpc, retrieval, 2, NetworkEnvironment(), lambda: 0,
                      registration=FAST_REGISTRATION)
    endpoints: list[RpcEndpoint] = [rm_a, rm_b, job_master, te]
    try:
        for endpoint in endpoints:
            rpc.run_sync(endpoint.start(), timeout=10)
        yield Cluster(rpc, rm_a, rm_b, job_master, te, retrieval)
    finally:
        for endpoint in reversed(endpoints):
            rpc.run_sync(endpoint.stop(), timeout=10)
        rpc.stop()
    assert retrieval.driver is not None and retrieval.driver.closed


def test_a_resource_managers_id_is_its_leader_session(cluster: Cluster) -> None:
    assert cluster.rm_a.instance_id == ResourceID(SESSION_A)
    cluster.retrieval.tell(cluster.rm_a)
    wait_until(lambda: cluster.registered_at(cluster.rm_a), 10, "registration at A")
    assert cluster.te.resource_manager_id == ResourceID(SESSION_A)
    # a fenced ResourceManager refuses a registration under another session
    stale = cluster.rpc.connect(cluster.rm_b.address, ResourceManagerGateway,
                                fencing_token=SESSION_A)
    with pytest.raises(FencingTokenError, match=f"fencing token {SESSION_A} did not match "
                                                f"the expected fencing token {SESSION_B}"):
        cluster.run(stale.register_task_executor(cluster.te.address, cluster.te.resource_id, 2))
    assert cluster.te.address not in cluster.rm_b.task_executors


def test_refuses_a_stale_leaders_calls_and_serves_the_current_ones(
        cluster: Cluster, caplog: pytest.LogCaptureFixture) -> None:
    cluster.retrieval.tell(cluster.rm_a)
    wait_until(lambda: cluster.registered_at(cluster.rm_a), 10, "registration at A")
    job_id = JobID.generate()
    cluster.allocate(cluster.rm_a, job_id)
    assert cluster.te.job_master_tokens == {job_id: SESSION_A}
    wait_until(lambda: len(cluster.job_master.offers) == 1, 10, "the slot offer")
    assert cluster.job_master.offers[0][1] == SESSION_A  # offered under the job's session

    stale, current = cluster.te_as(SESSION_B), cluster.te_as(SESSION_A)
    caplog.set_level(logging.WARNING, logger="strom.taskmanager.task_executor")
    for call in (lambda te: te.heartbeat_from_resource_manager(ResourceID(SESSION_B)),
                 lambda te: te.free_slots(job_id),
                 lambda te: te.request_slot(1, JobID.generate(), AllocationID(),
                                            cluster.job_master.address)):
        with pytest.raises(FencingTokenError, match=(
                f"Fencing token mismatch: .* because the fencing token {SESSION_B} did not "
                f"match the expected fencing token {SESSION_A}")):
            cluster.run(call(stale))
    with pytest.raises(FencingTokenError, match=f"slots of job {job_id} .* another leader"):
        cluster.run(stale.heartbeat_from_job_manager(job_id))
    assert "refuses free_slots of a ResourceManager of session " + SESSION_B in caplog.text
    assert "refuses heartbeat_from_job_manager of a JobMaster of job" in caplog.text
    assert len(cluster.te.allocations) == 1, "a refused call changed the TaskExecutor"

    # the current leader's calls, and calls without a token, are served
    cluster.run(current.heartbeat_from_resource_manager(ResourceID(SESSION_A)))
    assert cluster.run(current.heartbeat_from_job_manager(job_id)) == []
    assert cluster.run(cluster.te_as(None).heartbeat_from_job_manager(job_id)) == []
    cluster.run(current.free_slots(job_id))
    assert not cluster.te.allocations and not cluster.te.job_master_tokens


def test_follows_a_new_leader_releasing_the_previous_leaders_jobs(
        cluster: Cluster, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="strom.taskmanager.task_executor")
    cluster.retrieval.tell(cluster.rm_a)
    wait_until(lambda: cluster.registered_at(cluster.rm_a), 10, "registration at A")
    job_id = JobID.generate()
    cluster.allocate(cluster.rm_a, job_id)

    cluster.retrieval.tell(cluster.rm_b)
    wait_until(lambda: cluster.registered_at(cluster.rm_b), 10, "registration at B")
    assert cluster.te.rm_address == cluster.rm_b.address
    assert cluster.te.resource_manager_id == ResourceID(SESSION_B)
    assert not cluster.te.allocations and not cluster.te.job_master_tokens, \
        "the previous leader's job kept its slots"
    assert (f"TaskManager {cluster.te.resource_id} registering at new ResourceManager leader "
            f"{cluster.rm_b.address} (session {SESSION_B})") in caplog.text
    assert cluster.run(cluster.rm_b.free_slot_count()) == 2

    # the deposed leader is refused: its heartbeats, and a slot it hands out
    deposed = cluster.rpc.connect(cluster.te.address, TaskExecutorGateway,
                                  fencing_token=SESSION_A)
    with pytest.raises(FencingTokenError):
        cluster.run(deposed.heartbeat_from_resource_manager(cluster.rm_a.instance_id))
    stale_rm = cluster.rpc.connect(cluster.rm_a.address, ResourceManagerGateway)
    with pytest.raises(FencingTokenError):
        cluster.run(stale_rm.request_slots(JobID.generate(), cluster.job_master.address, 1))
    assert not cluster.te.allocations
    cluster.allocate(cluster.rm_b, job_id)  # the new leader's JobMaster gets the slot


def test_without_a_leader_it_serves_none_and_goes_on_with_the_one_that_returns(
        cluster: Cluster) -> None:
    cluster.retrieval.tell(cluster.rm_a)
    wait_until(lambda: cluster.registered_at(cluster.rm_a), 10, "registration at A")
    job_id = JobID.generate()
    cluster.allocate(cluster.rm_a, job_id)

    cluster.retrieval.tell(None)
    wait_until(lambda: cluster.te.resource_manager_leader is None, 10, "no leader")
    with pytest.raises(FencingTokenError, match="because the fencing token is null"):
        cluster.run(cluster.te_as(SESSION_A).heartbeat_from_resource_manager(
            cluster.rm_a.instance_id))

    cluster.retrieval.tell(cluster.rm_a)  # the same leader again: nothing is lost
    wait_until(lambda: cluster.te.resource_manager_leader is not None, 10, "the leader back")
    cluster.run(cluster.te_as(SESSION_A).heartbeat_from_resource_manager(
        cluster.rm_a.instance_id))
    assert [job for _, job, _ in cluster.te.allocations.values()] == [job_id]
    assert cluster.registered_at(cluster.rm_a)


def test_a_leader_named_while_none_was_reachable_is_registered_with(cluster: Cluster) -> None:
    # nobody leads at first: the TaskExecutor waits, unregistered, and registers once told
    cluster.retrieval.tell(None)
    assert not cluster.te.registered.is_set() and cluster.te.unregistered_since_ms is not None
    cluster.retrieval.tell(cluster.rm_b)
    wait_until(lambda: cluster.registered_at(cluster.rm_b), 10, "registration at B")
    assert cluster.te.unregistered_since_ms is None


def test_a_failed_retrieval_is_kept_for_the_process_to_stop(cluster: Cluster) -> None:
    assert cluster.retrieval.driver is not None
    cluster.retrieval.driver.fail(ConnectionError("the ZooKeeper session expired for good"))
    wait_until(lambda: cluster.te.leader_retrieval_error is not None, 10, "the failure")
    assert "expired for good" in str(cluster.te.leader_retrieval_error)


def test_the_registration_timeout_counts_from_the_loss_not_from_each_new_leader(
        cluster: Cluster) -> None:
    assert cluster.te.unregistered_since_ms is not None
    since = cluster.te.unregistered_since_ms = cluster.te.unregistered_since_ms - 60_000
    gone = LeaderInformation("c" * 32, cluster.rpc.address_of("resourcemanager-gone"))
    assert cluster.retrieval.driver is not None
    cluster.retrieval.driver.leader(gone)  # a leader that does not answer
    wait_until(lambda: cluster.te.rm_address == gone.address, 10, "the leader that is gone")
    assert cluster.te.unregistered_since_ms == since  # taskmanager.registration.timeout
    cluster.retrieval.tell(cluster.rm_b)
    wait_until(lambda: cluster.registered_at(cluster.rm_b), 10, "registration at B")
    assert cluster.te.unregistered_since_ms is None
