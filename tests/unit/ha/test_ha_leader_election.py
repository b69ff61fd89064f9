"""DefaultLeaderElectionService against a driver and an executor the test controls."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable

import pytest

from strom.ha.leader_election import (
    DISPATCHER,
    RESOURCE_MANAGER,
    REST_SERVER,
    STANDALONE_SESSION_ID,
    DefaultLeaderElectionService,
    LeaderInformation,
    StandaloneLeaderElectionDriver,
)
from strom.ha.testing import (
    QueuedExecutor,
    TestingLeaderContender,
    TestingLeaderElectionDriverFactory,
)


def make_service(leading: bool = False) -> tuple[DefaultLeaderElectionService, QueuedExecutor,
                                                 TestingLeaderElectionDriverFactory]:
    counter = itertools.count(1)
    executor = QueuedExecutor()
    drivers = TestingLeaderElectionDriverFactory(leading=leading)
    service = DefaultLeaderElectionService(drivers, executor,
                                           new_session_id=lambda: f"s{next(counter)}")
    return service, executor, drivers


def register(service: DefaultLeaderElectionService, component: str,
             address: str | None = None) -> TestingLeaderContender:
    election = service.create_leader_election(component)
    contender = TestingLeaderContender(election, address)
    election.start_leader_election(contender)
    return contender


def test_grant_reaches_every_contender_through_the_executor_and_confirm_publishes() -> None:
    service, executor, drivers = make_service()
    dispatcher = register(service, DISPATCHER, "tcp://h:1/dispatcher")
    rm = register(service, RESOURCE_MANAGER, "tcp://h:1/resourcemanager")
    assert len(drivers.drivers) == 1  # one driver for all contenders
    drivers.driver.grant()
    assert dispatcher.events == [] and rm.events == []  # nothing before the executor runs
    executor.run_all()
    assert dispatcher.events == [("grant", "s1")] and rm.events == [("grant", "s1")]
    assert drivers.driver.published == {
        DISPATCHER: LeaderInformation("s1", "tcp://h:1/dispatcher"),
        RESOURCE_MANAGER: LeaderInformation("s1", "tcp://h:1/resourcemanager"),
    }
    assert assert_has(dispatcher, "s1")


def assert_has(contender: TestingLeaderContender, session_id: str) -> bool:
    assert contender.election is not None
    return contender.election.has_leadership(session_id)


def test_stale_confirmation_is_ignored() -> None:
    service, executor, drivers = make_service(leading=True)
    contender = register(service, DISPATCHER)
    executor.run_all()
    assert contender.events == [("grant", "s1")]
    election = contender.election
    assert election is not None
    election.confirm_leadership("not-the-session", "tcp://h:1/dispatcher")
    assert drivers.driver.log == []
    drivers.driver.revoke()
    drivers.driver.grant()
    election.confirm_leadership("s1", "tcp://h:1/dispatcher")  # the old session
    assert drivers.driver.log == []
    election.confirm_leadership("s2", "tcp://h:1/dispatcher")
    assert drivers.driver.published[DISPATCHER] == LeaderInformation("s2", "tcp://h:1/dispatcher")


def test_confirm_while_the_driver_lost_leadership_is_ignored() -> None:
    service, executor, drivers = make_service(leading=True)
    contender = register(service, DISPATCHER)
    executor.run_all()
    drivers.driver.leading = False  # the driver knows before it reports the revoke
    assert contender.election is not None
    assert not contender.election.has_leadership("s1")
    contender.election.confirm_leadership("s1", "tcp://h:1/dispatcher")
    assert drivers.driver.log == []


def test_revoke_clears_session_and_confirmed_information_and_revokes_every_contender() -> None:
    service, executor, drivers = make_service(leading=True)
    a = register(service, DISPATCHER, "tcp://h:1/dispatcher")
    b = register(service, REST_SERVER, "http://h:8081")
    executor.run_all()
    drivers.driver.revoke()
    assert service.session_id is None
    assert a.election is not None and not a.election.has_leadership("s1")
    executor.run_all()
    assert a.events == [("grant", "s1"), ("revoke", None)]
    assert b.events == [("grant", "s1"), ("revoke", None)]
    # the confirmed information is gone: a foreign change is not corrected while not leading
    published = len(drivers.driver.log)
    drivers.driver.change(DISPATCHER, LeaderInformation("other", "tcp://x:1/dispatcher"))
    assert len(drivers.driver.log) == published


def test_after_a_regrant_the_old_confirmation_is_not_republished() -> None:
    service, executor, drivers = make_service(leading=True)
    register(service, DISPATCHER, "tcp://h:1/dispatcher")
    executor.run_all()
    drivers.driver.revoke()
    drivers.driver.grant()  # s2; the contender has not confirmed it yet
    drivers.driver.log.clear()
    drivers.driver.change(DISPATCHER, None)
    drivers.driver.change(DISPATCHER, LeaderInformation("other", "tcp://x:1/dispatcher"))
    # nothing confirmed under s2: the foreign information is reset, s1's is not published
    assert drivers.driver.log == [("delete", DISPATCHER, None)]


def test_regrant_issues_a_new_session_id() -> None:
    service, executor, drivers = make_service(leading=True)
    contender = register(service, DISPATCHER, "tcp://h:1/dispatcher")
    executor.run_all()
    drivers.driver.revoke()
    executor.run_all()
    drivers.driver.grant()
    executor.run_all()
    assert contender.events == [("grant", "s1"), ("revoke", None), ("grant", "s2")]
    assert drivers.driver.published[DISPATCHER].session_id == "s2"
    assert contender.election is not None
    assert contender.election.has_leadership("s2")
    assert not contender.election.has_leadership("s1")


def test_a_grant_overtaken_by_a_revoke_is_not_delivered() -> None:
    service, executor, drivers = make_service()
    contender = register(service, DISPATCHER, "tcp://h:1/dispatcher")
    drivers.driver.grant()
    drivers.driver.revoke()
    drivers.driver.grant()
    executor.run_all()
    # s1 was revoked before the contender heard of it: it only hears of s2
    assert contender.events == [("grant", "s2")]
    assert [entry[2] for entry in drivers.driver.log] == [
        LeaderInformation("s2", "tcp://h:1/dispatcher")]


def test_duplicate_grant_and_revoke_while_not_leading_are_ignored() -> None:
    service, executor, drivers = make_service()
    contender = register(service, DISPATCHER)
    drivers.driver.revoke()
    drivers.driver.grant()
    drivers.driver.grant()
    executor.run_all()
    assert contender.events == [("grant", "s1")]
    assert service.session_id == "s1"


def test_foreign_change_of_published_information_is_corrected_while_leading() -> None:
    service, executor, drivers = make_service(leading=True)
    register(service, DISPATCHER, "tcp://h:1/dispatcher")
    executor.run_all()
    mine = LeaderInformation("s1", "tcp://h:1/dispatcher")
    drivers.driver.log.clear()
    drivers.driver.change(DISPATCHER, mine)  # the same: nothing to do
    assert drivers.driver.log == []
    drivers.driver.change(DISPATCHER, LeaderInformation("old", "tcp://x:1/dispatcher"))
    assert drivers.driver.log == [("publish", DISPATCHER, mine)]
    drivers.driver.change(DISPATCHER, None)  # deleted behind our back
    assert drivers.driver.log[-1] == ("publish", DISPATCHER, mine)
    assert drivers.driver.published[DISPATCHER] == mine


def test_foreign_information_is_reset_while_leading_unconfirmed_and_left_when_not_leading(
        ) -> None:
    service, executor, drivers = make_service()
    register(service, DISPATCHER)  # never confirms
    foreign = LeaderInformation("other", "tcp://x:1/dispatcher")
    drivers.driver.change(DISPATCHER, foreign)  # not leading: not ours to touch
    assert drivers.driver.log == []
    drivers.driver.grant()
    executor.run_all()
    drivers.driver.change(DISPATCHER, foreign)
    assert drivers.driver.log == [("delete", DISPATCHER, None)]
    drivers.driver.change("unknown_component", foreign)
    assert len(drivers.driver.log) == 1


def test_a_contender_registering_while_leading_is_granted_at_once() -> None:
    service, executor, drivers = make_service(leading=True)
    first = register(service, DISPATCHER)
    executor.run_all()
    late = register(service, REST_SERVER, "http://h:8081")
    executor.run_all()
    assert first.events == [("grant", "s1")]
    assert late.events == [("grant", "s1")]
    assert drivers.driver.published[REST_SERVER] == LeaderInformation("s1", "http://h:8081")


def test_closing_an_election_while_leading_revokes_it_and_deletes_its_information() -> None:
    service, executor, drivers = make_service(leading=True)
    a = register(service, DISPATCHER, "tcp://h:1/dispatcher")
    b = register(service, RESOURCE_MANAGER, "tcp://h:1/resourcemanager")
    executor.run_all()
    assert a.election is not None
    a.election.close()
    executor.run_all()
    assert a.events == [("grant", "s1"), ("revoke", None)]
    assert drivers.driver.log[-1] == ("delete", DISPATCHER, None)
    assert DISPATCHER not in drivers.driver.published
    assert not a.election.has_leadership("s1")
    assert b.election is not None and b.election.has_leadership("s1")
    assert not drivers.driver.closed
    a.election.close()  # idempotent
    b.election.close()
    assert drivers.driver.closed  # the last contender closes the driver
    # the component can contend again: a new driver is made
    again = register(service, DISPATCHER)
    assert len(drivers.drivers) == 2
    drivers.driver.grant()
    executor.run_all()
    assert again.events == [("grant", "s2")]


def test_closing_before_the_grant_is_delivered_delivers_neither_grant_nor_revoke() -> None:
    service, executor, _drivers = make_service(leading=True)
    contender = register(service, DISPATCHER)
    assert contender.election is not None
    contender.election.close()
    executor.run_all()
    assert contender.events == []


def test_events_of_a_closed_driver_are_ignored() -> None:
    service, executor, drivers = make_service()
    contender = register(service, DISPATCHER)
    assert contender.election is not None
    contender.election.close()
    old = drivers.driver
    fresh = register(service, DISPATCHER)
    old.grant()
    executor.run_all()
    assert fresh.events == [] and service.session_id is None


def test_service_close_revokes_deletes_and_closes_the_driver() -> None:
    service, executor, drivers = make_service(leading=True)
    contender = register(service, DISPATCHER, "tcp://h:1/dispatcher")
    executor.run_all()
    service.close()
    executor.run_all()
    assert contender.events == [("grant", "s1"), ("revoke", None)]
    assert drivers.driver.closed
    assert drivers.driver.published == {}
    with pytest.raises(RuntimeError, match="closed"):
        service.create_leader_election(DISPATCHER)


def test_one_open_election_per_component() -> None:
    service, _executor, _drivers = make_service()
    election = service.create_leader_election(DISPATCHER)
    with pytest.raises(ValueError, match=r"already exists.*'dispatcher'"):
        service.create_leader_election(DISPATCHER)
    election.start_leader_election(TestingLeaderContender())
    with pytest.raises(RuntimeError, match="already registered"):
        election.start_leader_election(TestingLeaderContender())
    election.close()
    with pytest.raises(RuntimeError, match="is closed"):
        election.start_leader_election(TestingLeaderContender())
    service.create_leader_election(DISPATCHER)  # free again


def test_contender_calls_run_in_event_order_on_the_executor() -> None:
    service, executor, drivers = make_service()
    order: list[str] = []

    class Recording(TestingLeaderContender):
        def __init__(self, name: str) -> None:
            super().__init__()
            self.name = name

        def grant_leadership(self, session_id: str) -> None:
            order.append(f"{self.name}:grant:{session_id}")

        def revoke_leadership(self) -> None:
            order.append(f"{self.name}:revoke")

        def handle_error(self, error: BaseException) -> None:
            order.append(f"{self.name}:error:{error}")

    for name in (DISPATCHER, RESOURCE_MANAGER):
        service.create_leader_election(name).start_leader_election(Recording(name))
    driver = drivers.driver
    driver.grant()
    executor.run_one()  # dispatcher granted s1
    driver.revoke()
    driver.grant()
    driver.fail(RuntimeError("boom"))
    executor.run_all()
    assert order == [
        "dispatcher:grant:s1",
        # the resource manager's grant of s1 was overtaken by the revoke: not delivered, and
        # neither is its revoke
        "dispatcher:revoke",
        "dispatcher:grant:s2", "resource_manager:grant:s2",
        "dispatcher:error:boom", "resource_manager:error:boom",
    ]


def test_a_failing_contender_hears_its_error() -> None:
    service, executor, _drivers = make_service(leading=True)

    class Failing(TestingLeaderContender):
        def grant_leadership(self, session_id: str) -> None:
            super().grant_leadership(session_id)
            raise RuntimeError("cannot start")

    contender = Failing()
    service.create_leader_election(DISPATCHER).start_leader_election(contender)
    executor.run_all()
    assert contender.events[0] == ("grant", "s1")
    assert contender.events[1][0] == "error"
    assert "cannot start" in str(contender.events[1][1])


def test_a_failing_publish_reaches_the_contenders_as_an_error() -> None:
    service, executor, drivers = make_service(leading=True)
    contender = register(service, DISPATCHER)
    executor.run_all()

    def broken(component_id: str, info: LeaderInformation) -> None:
        raise OSError("storage down")

    drivers.driver.publish_leader_information = broken  # type: ignore[method-assign]
    assert contender.election is not None
    contender.election.confirm_leadership("s1", "tcp://h:1/dispatcher")
    executor.run_all()
    assert contender.events[-1][0] == "error"


def test_confirm_and_close_from_inside_grant_do_not_deadlock_with_an_inline_executor() -> None:
    service = DefaultLeaderElectionService(StandaloneLeaderElectionDriver, lambda fn: fn())
    election = service.create_leader_election(DISPATCHER)

    class ConfirmThenLeave(TestingLeaderContender):
        def grant_leadership(self, session_id: str) -> None:
            super().grant_leadership(session_id)
            election.confirm_leadership(session_id, "tcp://h:1/dispatcher")
            election.close()

    contender = ConfirmThenLeave()
    election.start_leader_election(contender)
    assert [kind for kind, _ in contender.events] == ["grant", "revoke"]


def test_standalone_driver_leads_at_once_with_the_fixed_session() -> None:
    service = DefaultLeaderElectionService(StandaloneLeaderElectionDriver, lambda fn: fn(),
                                           new_session_id=lambda: STANDALONE_SESSION_ID)
    election = service.create_leader_election(DISPATCHER)
    contender = TestingLeaderContender(election, "tcp://h:1/dispatcher")
    election.start_leader_election(contender)
    assert contender.events == [("grant", STANDALONE_SESSION_ID)]
    assert election.has_leadership(STANDALONE_SESSION_ID)
    service.close()
    assert contender.events[-1] == ("revoke", None)
    assert not election.has_leadership(STANDALONE_SESSION_ID)


def test_default_session_ids_are_random_32_hex_characters() -> None:
    seen: list[str] = []
    for _ in range(2):
        service = DefaultLeaderElectionService(StandaloneLeaderElectionDriver, lambda fn: fn())
        contender = TestingLeaderContender()
        service.create_leader_election(DISPATCHER).start_leader_election(contender)
        session = contender.events[0][1]
        assert isinstance(session, str) and len(session) == 32
        int(session, 16)
        seen.append(session)
    assert seen[0] != seen[1]


def test_driver_events_from_other_threads_are_serialized() -> None:
    service, executor, drivers = make_service()
    contender = register(service, DISPATCHER, "tcp://h:1/dispatcher")
    driver = drivers.driver

    def flap() -> None:
        for _ in range(200):
            driver.grant()
            driver.revoke()

    threads = [threading.Thread(target=flap) for _ in range(4)]
    for thread in threads:
        thread.start()
    while any(thread.is_alive() for thread in threads):
        executor.run_all()
    for thread in threads:
        thread.join()
    driver.revoke()
    driver.grant()
    executor.run_all()
    # grants and revokes alternate, and the last grant is the current session
    kinds = [kind for kind, _ in contender.events]
    assert all(a != b for a, b in itertools.pairwise(kinds))
    assert contender.events[-1] == ("grant", service.session_id)
    for _, _, info in driver.log:
        assert info is not None
    assert driver.published[DISPATCHER].session_id == service.session_id


def test_events_after_the_contenders_loop_closed_are_dropped_not_raised() -> None:
    closed = [False]
    ran: list[str] = []

    def executor(fn: Callable[[], None]) -> None:
        if closed[0]:
            raise RuntimeError("Event loop is closed")
        fn()

    drivers = TestingLeaderElectionDriverFactory()
    service = DefaultLeaderElectionService(drivers, executor)
    contender = TestingLeaderContender()
    service.create_leader_election(DISPATCHER).start_leader_election(contender)
    drivers.driver.grant()
    closed[0] = True
    drivers.driver.revoke()  # from a driver thread: must not raise into the driver
    ran.extend(kind for kind, _ in contender.events)
    assert ran == ["grant"] and service.session_id is None


def test_a_closed_election_handle_cannot_touch_the_next_one_of_its_component() -> None:
    service, executor, drivers = make_service(leading=True)
    old = service.create_leader_election(DISPATCHER)
    old.start_leader_election(TestingLeaderContender())
    old.close()
    new = register(service, DISPATCHER, "tcp://h:2/dispatcher")
    executor.run_all()
    session = service.session_id
    assert session is not None and new.election is not None
    assert new.election.has_leadership(session)
    assert not old.has_leadership(session)
    old.confirm_leadership(session, "tcp://h:1/dispatcher")  # ignored
    assert drivers.driver.published[DISPATCHER].address == "tcp://h:2/dispatcher"
    old.close()  # does not close the new one
    assert new.election.has_leadership(session)
    with pytest.raises(RuntimeError, match="is closed"):
        old.start_leader_election(TestingLeaderContender())
