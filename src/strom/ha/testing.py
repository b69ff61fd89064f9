"""Test implementations for leader election and retrieval (fakes, not mocks): a driver the
test grants and revokes by hand, a contender and a listener that record what they hear, and
an executor that queues work until the test runs it.

Example::

    executor = QueuedExecutor()
    drivers = TestingLeaderElectionDriverFactory()
    service = DefaultLeaderElectionService(drivers, executor)
    election = service.create_leader_election(DISPATCHER)
    contender = TestingLeaderContender(election, address="tcp://h:1/dispatcher")
    election.start_leader_election(contender)
    drivers.driver.grant()
    executor.run_all()          # contender granted; it confirms; the driver has it published
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable

from strom.ha.leader_election import LeaderElection, LeaderElectionEvents, LeaderInformation
from strom.ha.leader_retrieval import LeaderRetrievalListener

__all__ = [
    "QueuedExecutor",
    "TestingLeaderContender",
    "TestingLeaderElectionDriver",
    "TestingLeaderElectionDriverFactory",
    "TestingLeaderRetrievalDriver",
    "TestingLeaderRetrievalListener",
]


class QueuedExecutor:
    """An executor that only queues: ``run_all()`` (or ``run_one()``) runs the queued work in
    order, on the test's thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: deque[Callable[[], None]] = deque()

    def __call__(self, fn: Callable[[], None]) -> None:
        with self._lock:
            self._queue.append(fn)

    def __len__(self) -> int:
        with self._lock:
            return len(self._queue)

    def run_one(self) -> bool:
        """Run the oldest queued call; ``False`` when there was none."""
        with self._lock:
            if not self._queue:
                return False
            fn = self._queue.popleft()
        fn()
        return True

    def run_all(self) -> int:
        """Run queued calls (and the ones they queue) until none is left; how many ran."""
        ran = 0
        while self.run_one():
            ran += 1
        return ran


class TestingLeaderElectionDriver:
    """A driver the test controls: ``grant()``, ``revoke()``, ``change(component, info)``
    (the published information changed behind the service's back), ``fail(error)``.
    Published information is in :attr:`published`; every publish and delete is in
    :attr:`log` as ``("publish", component, info)`` / ``("delete", component, None)``."""

    __test__ = False  # not a pytest test class

    def __init__(self, events: LeaderElectionEvents, leading: bool = False) -> None:
        self.events = events
        self.leading = False
        self.closed = False
        self.published: dict[str, LeaderInformation] = {}
        self.log: list[tuple[str, str, LeaderInformation | None]] = []
        if leading:
            self.grant()

    def grant(self) -> None:
        self.leading = True
        self.events.on_grant_leadership()

    def revoke(self) -> None:
        self.leading = False
        self.events.on_revoke_leadership()

    def change(self, component_id: str, info: LeaderInformation | None) -> None:
        if info is None:
            self.published.pop(component_id, None)
        else:
            self.published[component_id] = info
        self.events.on_leader_information_change(component_id, info)

    def fail(self, error: BaseException) -> None:
        self.events.on_error(error)

    def has_leadership(self) -> bool:
        return self.leading and not self.closed

    def publish_leader_information(self, component_id: str, info: LeaderInformation) -> None:
        self.log.append(("publish", component_id, info))
        self.published[component_id] = info

    def delete_leader_information(self, component_id: str) -> None:
        self.log.append(("delete", component_id, None))
        self.published.pop(component_id, None)

    def close(self) -> None:
        self.closed = True


class TestingLeaderElectionDriverFactory:
    """A driver factory that keeps the drivers it made (``leading``: they lead at once)."""

    __test__ = False

    def __init__(self, leading: bool = False) -> None:
        self.leading = leading
        self.drivers: list[TestingLeaderElectionDriver] = []

    def __call__(self, events: LeaderElectionEvents) -> TestingLeaderElectionDriver:
        driver = TestingLeaderElectionDriver(events)
        self.drivers.append(driver)
        if self.leading:
            driver.grant()
        return driver

    @property
    def driver(self) -> TestingLeaderElectionDriver:
        """The last driver made."""
        if not self.drivers:
            raise AssertionError("No driver was created yet: register a contender first.")
        return self.drivers[-1]


class TestingLeaderContender:
    """Records what the election tells it in :attr:`events` (``("grant", session)``,
    ``("revoke", None)``, ``("error", error)``); with ``address`` it confirms each grant at
    once through ``election``."""

    __test__ = False

    def __init__(self, election: LeaderElection | None = None,
                 address: str | None = None) -> None:
        self.election = election
        self.address = address
        self.events: list[tuple[str, object]] = []
        self.session_id: str | None = None

    def grant_leadership(self, session_id: str) -> None:
        self.events.append(("grant", session_id))
        self.session_id = session_id
        if self.election is not None and self.address is not None:
            self.election.confirm_leadership(session_id, self.address)

    def revoke_leadership(self) -> None:
        self.events.append(("revoke", None))
        self.session_id = None

    def handle_error(self, error: BaseException) -> None:
        self.events.append(("error", error))


class TestingLeaderRetrievalDriver:
    """A retrieval driver the test feeds: ``leader(info)`` and ``fail(error)``."""

    __test__ = False

    def __init__(self, events: LeaderRetrievalListener) -> None:
        self.events = events
        self.closed = False

    def leader(self, info: LeaderInformation | None) -> None:
        self.events.notify_leader_address(info)

    def fail(self, error: BaseException) -> None:
        self.events.handle_error(error)

    def close(self) -> None:
        self.closed = True


class TestingLeaderRetrievalListener:
    """Records the leaders it is told in :attr:`leaders` and errors in :attr:`errors`."""

    __test__ = False

    def __init__(self) -> None:
        self.leaders: list[LeaderInformation | None] = []
        self.errors: list[BaseException] = []

    def notify_leader_address(self, info: LeaderInformation | None) -> None:
        self.leaders.append(info)

    def handle_error(self, error: BaseException) -> None:
        self.errors.append(error)
