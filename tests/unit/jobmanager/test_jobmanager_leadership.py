"""The JobManager's leadership runner: a grant builds and starts the ResourceManager and the
Dispatcher under the session id, then confirms the three components; a revoke stops them;
grants and revokes are handled in their order, however quickly they follow each other.

The election is the real ``DefaultLeaderElectionService`` with a driver the test grants and
revokes (``strom.ha.testing``); the components run on a local RPC service."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from strom.common.configuration import Configuration
from strom.ha.leader_election import (
    DISPATCHER,
    RESOURCE_MANAGER,
    REST_SERVER,
    DefaultLeaderElectionService,
    LeaderInformation,
)
from strom.ha.services import create_ha_services
from strom.ha.testing import TestingLeaderElectionDriverFactory
from strom.heartbeat import HeartbeatSettings
from strom.jobmanager.dispatcher import Dispatcher
from strom.jobmanager.entrypoint import create_jobmanager_components
from strom.jobmanager.leadership import JobManagerLeadership
from strom.jobmanager.resourcemanager import ResourceManager
from strom.rpc.errors import RpcError
from strom.rpc.service import RpcService
from strom.testing.sync import wait_until

REST_URL = "http://127.0.0.1:8081"


class Harness:
    def __init__(self) -> None:
        self.rpc = RpcService("leadership-test")
        self.drivers = TestingLeaderElectionDriverFactory()
        self.service = DefaultLeaderElectionService(self.drivers, self.rpc.call_soon)
        self.ha = create_ha_services(Configuration())
        self.events: list[str] = []
        #: a recovery that waits for the test (None: none)
        self.recovery_gate: asyncio.Event | None = None
        self.fail_with: Exception | None = None
        self.runner = JobManagerLeadership(
            self.rpc, HeartbeatSettings(), Configuration(), self.ha, lambda: REST_URL,
            on_leading=lambda rm, d: self.events.append(f"leading {d.fencing_token}"),
            on_not_leading=lambda: self.events.append("not leading"),
            on_fatal_error=lambda e: self.events.append(f"fatal {e}"),
            components=self.components)
        self.runner.start(self.service)

    def components(self, session_id: str) -> tuple[ResourceManager, Dispatcher]:
        if self.fail_with is not None:
            raise self.fail_with
        rm, dispatcher = create_jobmanager_components(
            self.rpc, HeartbeatSettings(), ha=self.ha, fencing_token=session_id)
        gate = self.recovery_gate
        if gate is not None:
            async def recover_jobs() -> None:
                self.events.append("recovering")
                await gate.wait()

            dispatcher.recover_jobs = recover_jobs  # type: ignore[attr-defined]
        return rm, dispatcher

    @property
    def driver(self):  # type: ignore[no-untyped-def]
        return self.drivers.driver

    def on_loop(self, fn):  # type: ignore[no-untyped-def]
        async def call():  # type: ignore[no-untyped-def]
            return fn()
        return self.rpc.run_sync(call(), timeout=10)

    def endpoints(self) -> set[str]:
        return {e.name for e in self.on_loop(self.rpc.endpoints)}

    def close(self) -> None:
        self.rpc.run_sync(self.runner.stop(suspend_jobs=True), timeout=30)
        self.service.close()
        self.rpc.stop()


@pytest.fixture
def harness() -> Iterator[Harness]:
    h = Harness()
    yield h
    h.close()


def test_a_grant_starts_both_components_and_confirms_the_three(harness: Harness) -> None:
    assert harness.endpoints() == set()
    harness.driver.grant()
    wait_until(lambda: len(harness.driver.published) == 3, what="three confirmations")
    session = harness.runner.leader_session_id
    assert session is not None and len(session) == 32
    assert harness.driver.published == {
        RESOURCE_MANAGER: LeaderInformation(session, "local://resourcemanager"),
        DISPATCHER: LeaderInformation(session, "local://dispatcher"),
        REST_SERVER: LeaderInformation(session, REST_URL),
    }
    assert harness.endpoints() == {"dispatcher", "resourcemanager"}
    dispatcher = harness.runner.dispatcher
    assert dispatcher is not None and dispatcher.fencing_token == session
    assert harness.runner.resource_manager is not None
    assert harness.runner.resource_manager.fencing_token == session
    assert harness.events == [f"leading {session}"]


def test_a_revoke_stops_them_and_a_new_grant_starts_new_ones(harness: Harness) -> None:
    harness.driver.grant()
    wait_until(lambda: harness.runner.leader_session_id is not None, what="leadership")
    first = harness.runner.leader_session_id
    old_dispatcher = harness.runner.dispatcher
    harness.driver.revoke()
    wait_until(lambda: harness.endpoints() == set(), what="the components to stop")
    assert harness.runner.leader_session_id is None and harness.runner.dispatcher is None
    assert old_dispatcher is not None and not old_dispatcher.running
    with pytest.raises(RpcError, match="no endpoint"):
        harness.rpc.lookup("dispatcher")
    harness.driver.grant()
    wait_until(lambda: harness.runner.leader_session_id is not None, what="leadership again")
    second = harness.runner.leader_session_id
    assert second != first
    assert harness.runner.dispatcher is not old_dispatcher
    assert harness.events == [f"leading {first}", "not leading", f"leading {second}"]


def test_a_revoke_during_recovery_leaves_it_not_leading_and_unconfirmed(
        harness: Harness) -> None:
    gate = harness.recovery_gate = harness.on_loop(asyncio.Event)
    harness.driver.grant()
    wait_until(lambda: "recovering" in harness.events, what="the recovery to start")
    harness.driver.revoke()
    harness.driver.grant()  # a third transition queued behind the two
    wait_until(lambda: harness.events.count("recovering") == 1, what="recovering")
    harness.rpc.call_soon(gate.set)
    wait_until(lambda: harness.runner.leader_session_id is not None, what="the new grant")
    # the first session never confirmed: only the second one was published
    assert {info.session_id for info in harness.driver.published.values()} == {
        harness.runner.leader_session_id}
    assert harness.events[:3] == [harness.events[0], "recovering", "not leading"]
    assert harness.events.count("not leading") == 1


def test_a_failure_to_lead_is_fatal_and_leaves_nothing_running(harness: Harness) -> None:
    harness.fail_with = OSError("disk full")
    harness.driver.grant()
    wait_until(lambda: harness.runner.fatal_error is not None, what="the failure")
    assert harness.events == ["fatal disk full"]
    assert harness.endpoints() == set() and harness.driver.published == {}
