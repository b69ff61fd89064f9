"""Test implementations for leader election and retrieval (fakes, not mocks): a driver the
test grants and revokes by hand, a contender and a listener that record what they hear, and
an executor that queues work until the test runs it. And the conformance checks every
recovery store passes (in-memory and ZooKeeper alike): ``check_job_graph_store(store)``,
``check_job_result_store(store)``, ``check_checkpoint_id_counter(counter)``,
``check_completed_checkpoint_store(store)``, each given a new, empty store.

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

from strom.common.job import JobID, JobStatus
from strom.ha.leader_election import LeaderElection, LeaderElectionEvents, LeaderInformation
from strom.ha.leader_retrieval import LeaderRetrievalListener
from strom.ha.stores import (
    CheckpointIDCounter,
    CompletedCheckpointStore,
    JobGraphStore,
    JobResultEntry,
    JobResultStore,
    StoredJobGraph,
)
from strom.jobmanager.cluster_info import JobFile, JobSubmission

__all__ = [
    "QueuedExecutor",
    "TestingLeaderContender",
    "TestingLeaderElectionDriver",
    "TestingLeaderElectionDriverFactory",
    "TestingLeaderRetrievalDriver",
    "TestingLeaderRetrievalListener",
    "check_checkpoint_id_counter",
    "check_completed_checkpoint_store",
    "check_job_graph_store",
    "check_job_result_store",
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


# -- conformance of the recovery stores -------------------------------------------------

_J1 = JobID("0" * 31 + "1")
_J2 = JobID("0" * 31 + "2")


def _stored_graph(job_id: JobID, data: bytes) -> StoredJobGraph:
    return StoredJobGraph(job_id=str(job_id), graph=data, submission=JobSubmission(
        files=[JobFile(path="job.py", data=b"print(1)")], python_path=["."]))


def _result(job_id: JobID, status: str) -> JobResultEntry:
    return JobResultEntry(job_id=str(job_id), job_name=f"job {job_id}", status=status,
                          start_time=1_000, end_time=2_000,
                          error="boom" if status == "FAILED" else None)


def check_job_graph_store(store: JobGraphStore) -> None:
    """``store`` (new, empty) keeps graphs by job id: put replaces, recover returns what was
    put (graph bytes and shipped files), remove forgets, job_ids are sorted."""
    assert store.job_ids() == [], store.job_ids()
    assert store.recover(_J1) is None
    store.put(_stored_graph(_J2, b"two"))
    store.put(_stored_graph(_J1, b"one"))
    store.put(_stored_graph(_J1, b"\x00one again\xff"))
    assert store.job_ids() == [_J1, _J2], store.job_ids()
    assert store.recover(_J1) == _stored_graph(_J1, b"\x00one again\xff")
    store.remove(_J1)
    store.remove(_J1)  # removing twice is fine
    assert store.job_ids() == [_J2]
    assert store.recover(_J1) is None
    store.remove(_J2)
    assert store.job_ids() == []


def check_job_result_store(store: JobResultStore) -> None:
    """``store`` (new, empty): create_dirty once per job (``ValueError`` on a second
    entry), mark_clean moves dirty to clean (clean stays clean; ``ValueError`` without
    an entry), dirty_entries lists the dirty ones by job id."""
    assert not store.has_entry(_J1)
    store.create_dirty(_result(_J2, "FAILED"))
    store.create_dirty(_result(_J1, "FINISHED"))
    assert store.has_entry(_J1) and store.has_dirty(_J1) and not store.has_clean(_J1)
    assert store.dirty_entries() == [_result(_J1, "FINISHED"), _result(_J2, "FAILED")]
    try:
        store.create_dirty(_result(_J1, "CANCELED"))
    except ValueError:
        pass
    else:
        raise AssertionError("a second create_dirty of one job must raise ValueError")
    store.mark_clean(_J1)
    store.mark_clean(_J1)
    assert not store.has_dirty(_J1) and store.has_clean(_J1) and store.has_entry(_J1)
    assert store.dirty_entries() == [_result(_J2, "FAILED")]
    unknown = JobID("f" * 32)
    try:
        store.mark_clean(unknown)
    except ValueError:
        pass
    else:
        raise AssertionError("mark_clean of a job without entry must raise ValueError")


def check_checkpoint_id_counter(make_counter: Callable[[], CheckpointIDCounter]) -> None:
    """``make_counter()`` returns the counter of one job (the first time: new); it starts at
    1, counts up by one, continues from set_count; after a shutdown that is not globally
    terminal the next counter of the job continues, after a globally terminal one it starts
    at 1 again."""
    counter = make_counter()
    assert counter.get() == 1, counter.get()
    assert [counter.get_and_increment() for _ in range(3)] == [1, 2, 3]
    assert counter.get() == 4
    counter.set_count(10)
    assert counter.get() == 10
    assert counter.get_and_increment() == 10
    assert counter.get() == 11
    counter.shutdown(JobStatus.SUSPENDED)
    recovered = make_counter()
    assert recovered.get_and_increment() == 11
    recovered.shutdown(JobStatus.FINISHED)
    assert make_counter().get() == 1


def check_completed_checkpoint_store(
        make_store: Callable[[], CompletedCheckpointStore]) -> None:
    """``make_store()`` returns the store of one job (the first time: empty; leading): it
    keeps checkpoints oldest first (whatever the order they were added in), remove forgets
    one; after a shutdown that is not globally terminal the next store of the job recovers
    them, after a globally terminal one it is empty."""
    store = make_store()
    assert store.recover() == []
    store.add(2, b"two")
    store.add(1, b"one")
    store.add(3, b"\x00three\xff")
    assert store.recover() == [(1, b"one"), (2, b"two"), (3, b"\x00three\xff")]
    store.remove(1)
    store.remove(7)  # removing an unknown id is fine
    assert store.recover() == [(2, b"two"), (3, b"\x00three\xff")]
    store.shutdown(JobStatus.SUSPENDED)
    recovered = make_store()
    assert recovered.recover() == [(2, b"two"), (3, b"\x00three\xff")]
    recovered.add(4, b"four")
    recovered.shutdown(JobStatus.CANCELED)
    assert make_store().recover() == []
