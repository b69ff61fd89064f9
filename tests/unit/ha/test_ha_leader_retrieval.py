"""DefaultLeaderRetrievalService and StandaloneLeaderRetrieval."""

from __future__ import annotations

import pytest

from strom.ha.leader_election import STANDALONE_SESSION_ID, LeaderInformation
from strom.ha.leader_retrieval import DefaultLeaderRetrievalService, StandaloneLeaderRetrieval
from strom.ha.testing import (
    QueuedExecutor,
    TestingLeaderRetrievalDriver,
    TestingLeaderRetrievalListener,
)

A = LeaderInformation("a" * 32, "tcp://h:1/resourcemanager")
B = LeaderInformation("b" * 32, "tcp://h:2/resourcemanager")


def started(executor: QueuedExecutor | None = None) -> tuple[
        DefaultLeaderRetrievalService, TestingLeaderRetrievalDriver,
        TestingLeaderRetrievalListener]:
    drivers: list[TestingLeaderRetrievalDriver] = []

    def factory(events: object) -> TestingLeaderRetrievalDriver:
        driver = TestingLeaderRetrievalDriver(events)  # type: ignore[arg-type]
        drivers.append(driver)
        return driver

    service = DefaultLeaderRetrievalService(factory, executor)
    listener = TestingLeaderRetrievalListener()
    service.start(listener)
    return service, drivers[0], listener


def test_only_changes_reach_the_listener() -> None:
    service, driver, listener = started()
    driver.leader(None)  # nothing known yet and still nothing: no change
    driver.leader(A)
    driver.leader(A)
    driver.leader(B)
    driver.leader(LeaderInformation(B.session_id, "tcp://h:3/resourcemanager"))  # new address
    driver.leader(None)
    driver.leader(None)
    driver.leader(A)
    assert listener.leaders == [A, B, LeaderInformation(B.session_id, "tcp://h:3/resourcemanager"),
                                None, A]
    assert service.leader == A


def test_the_listener_is_called_on_the_executor_in_order_and_not_after_stop() -> None:
    executor = QueuedExecutor()
    service, driver, listener = started(executor)
    driver.leader(A)
    driver.leader(B)
    driver.fail(RuntimeError("watch failed"))
    assert listener.leaders == []
    executor.run_all()
    assert listener.leaders == [A, B]
    assert [str(e) for e in listener.errors] == ["watch failed"]
    driver.leader(A)
    service.stop()
    assert driver.closed
    executor.run_all()  # the queued change is dropped
    driver.leader(B)  # a late event of the closed driver
    executor.run_all()
    assert listener.leaders == [A, B]


def test_start_once() -> None:
    service, _driver, listener = started()
    with pytest.raises(RuntimeError, match="already started"):
        service.start(listener)
    service.stop()
    service.stop()  # idempotent


def test_standalone_retrieval_tells_the_fixed_address_once() -> None:
    executor = QueuedExecutor()
    retrieval = StandaloneLeaderRetrieval("tcp://jm:6123/resourcemanager", executor)
    listener = TestingLeaderRetrievalListener()
    retrieval.start(listener)
    executor.run_all()
    assert listener.leaders == [
        LeaderInformation(STANDALONE_SESSION_ID, "tcp://jm:6123/resourcemanager")]
    retrieval.stop()


def test_standalone_retrieval_without_executor_tells_at_once() -> None:
    retrieval = StandaloneLeaderRetrieval("http://localhost:8081")
    listener = TestingLeaderRetrievalListener()
    retrieval.start(listener)
    assert listener.leaders == [LeaderInformation(STANDALONE_SESSION_ID, "http://localhost:8081")]
