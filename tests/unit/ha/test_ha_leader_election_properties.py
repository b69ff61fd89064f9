"""Random event sequences against DefaultLeaderElectionService: whatever the order of the
driver's events, the contenders' confirmations and the executor's progress, nothing is ever
published under a session id that is not the current one of a leading driver."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from strom.ha.leader_election import (
    DISPATCHER,
    RESOURCE_MANAGER,
    REST_SERVER,
    DefaultLeaderElectionService,
    LeaderElection,
    LeaderElectionEvents,
    LeaderInformation,
)
from strom.ha.testing import QueuedExecutor, TestingLeaderContender, TestingLeaderElectionDriver

COMPONENTS = (DISPATCHER, RESOURCE_MANAGER, REST_SERVER)

# driver events and executor runs are listed twice: they matter most
OPS = ("toggle", "grant", "grant", "revoke", "revoke", "lose_silently", "change", "change",
       "confirm", "run", "run", "fail")

events = st.lists(st.tuples(st.sampled_from(OPS), st.integers(0, len(COMPONENTS) - 1),
                            st.integers(0, 5), st.booleans()),
                  max_size=60)


class CheckingDriver(TestingLeaderElectionDriver):
    """Records in :attr:`violations` every publish while the driver does not lead, or under a
    session that is not the service's current one (recorded, not raised: the service hands
    a failing publish to its contenders as an error)."""

    service: DefaultLeaderElectionService | None = None
    violations: list[str]

    def publish_leader_information(self, component_id: str, info: LeaderInformation) -> None:
        assert self.service is not None
        if not self.has_leadership():
            self.violations.append(f"published {info} while not leading")
        if info.session_id != self.service.session_id:
            self.violations.append(
                f"published {info} while the current session is {self.service.session_id}")
        super().publish_leader_information(component_id, info)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.booleans(), min_size=len(COMPONENTS), max_size=len(COMPONENTS)), events)
def test_only_the_current_session_of_a_leading_driver_is_ever_published(
        confirming: list[bool], steps: list[tuple[str, int, int, bool]]) -> None:
    executor = QueuedExecutor()
    counter = itertools.count(1)
    issued: list[str] = []

    def new_session_id() -> str:
        issued.append(f"s{next(counter)}")
        return issued[-1]

    drivers: list[CheckingDriver] = []
    violations: list[str] = []

    def factory(driver_events: LeaderElectionEvents) -> CheckingDriver:
        driver = CheckingDriver(driver_events)
        driver.service = service
        driver.violations = violations
        drivers.append(driver)
        return driver

    service = DefaultLeaderElectionService(factory, executor, new_session_id=new_session_id)
    elections: dict[str, tuple[LeaderElection, TestingLeaderContender]] = {}

    def register(component: str, confirms: bool) -> None:
        election = service.create_leader_election(component)
        # some contenders confirm as soon as they are granted, others when the test says
        contender = TestingLeaderContender(election, f"addr-{component}" if confirms else None)
        election.start_leader_election(contender)
        elections[component] = (election, contender)

    for component, confirms in zip(COMPONENTS, confirming, strict=True):
        register(component, confirms)

    for op, index, number, flag in steps:
        component = COMPONENTS[index]
        driver = drivers[-1] if drivers and not drivers[-1].closed else None
        if op == "toggle":
            if component in elections:
                elections.pop(component)[0].close()
            else:
                register(component, flag)
        elif op == "grant" and driver is not None:
            driver.grant()
        elif op == "revoke" and driver is not None:
            driver.revoke()
        elif op == "lose_silently" and driver is not None:
            driver.leading = False  # the driver knows before the service hears of it
        elif op == "change" and driver is not None:
            session = issued[number % len(issued)] if issued and flag else "foreign"
            driver.change(component, LeaderInformation(session, f"other-{number}")
                          if number else None)
        elif op == "confirm" and component in elections:
            election, contender = elections[component]
            if number % 3 == 0 and service.session_id:
                election.confirm_leadership(service.session_id, f"addr-{number}")
            elif number % 3 == 1 and issued:  # any session, most likely a stale one
                election.confirm_leadership(issued[number % len(issued)], f"addr-{number}")
            elif contender.session_id is not None:  # what the contender was granted
                election.confirm_leadership(contender.session_id, f"addr-{number}")
        elif op == "run":
            if flag:
                executor.run_all()
            else:
                executor.run_one()
        elif op == "fail" and driver is not None:
            driver.fail(RuntimeError("driver failed"))
        assert violations == []
        check_invariants(service, elections, drivers)
    executor.run_all()
    assert violations == []
    check_invariants(service, elections, drivers)
    service.close()
    executor.run_all()
    for _, contender in elections.values():
        assert contender.session_id is None, "a contender still leads after close"


def check_invariants(service: DefaultLeaderElectionService,
                     elections: dict[str, tuple[LeaderElection, TestingLeaderContender]],
                     drivers: list[CheckingDriver]) -> None:
    current = service.session_id
    for election, contender in elections.values():
        errors = [str(error) for kind, error in contender.events if kind == "error"]
        assert set(errors) <= {"driver failed"}
        kinds = [kind for kind, _ in contender.events if kind != "error"]
        # grants and revokes alternate, starting with a grant
        assert kinds[::2] == ["grant"] * len(kinds[::2])
        assert kinds[1::2] == ["revoke"] * len(kinds[1::2])
        grants = [session for kind, session in contender.events if kind == "grant"]
        assert len(set(grants)) == len(grants), "a session was granted twice"
        for session in grants[:-1]:
            assert not election.has_leadership(str(session))
        if contender.session_id is not None:
            has = election.has_leadership(contender.session_id)
            assert has == (contender.session_id == current and drivers[-1].has_leadership())
