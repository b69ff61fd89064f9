"""The TaskManager process follows the ResourceManager leader of its HA services: with
``high-availability.type: zookeeper`` it registers with whichever ResourceManager the
retrieval names, and gives up naming the HA quorum when none is named in time. The HA
services are replaced by ones whose retrieval the test drives (ZooKeeper itself is tested
with the ZooKeeper driver)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from strom.common.configuration import Configuration
from strom.ha.leader_election import RESOURCE_MANAGER, LeaderInformation
from strom.ha.leader_retrieval import DefaultLeaderRetrievalService, LeaderRetrievalListener
from strom.ha.testing import TestingLeaderRetrievalDriver
from strom.jobmanager.resourcemanager import ResourceManager
from strom.rpc.service import RpcService
from strom.taskmanager import entrypoint
from strom.taskmanager.entrypoint import run_taskmanager, start_taskmanager
from strom.testing import wait_until

QUORUM = "127.0.0.1:2181"


class DrivenHaServices:
    """HA services whose ResourceManager retrieval the test feeds (or fails at once)."""

    kind = "ZOOKEEPER"

    def __init__(self, fail_with: BaseException | None = None) -> None:
        self.fail_with = fail_with
        self.driver: TestingLeaderRetrievalDriver | None = None
        self.asked: list[str] = []
        self.closed = False

    def leader_retrieval(self, component_id: str, executor: Any = None) -> Any:
        self.asked.append(component_id)

        def create(events: LeaderRetrievalListener) -> TestingLeaderRetrievalDriver:
            self.driver = TestingLeaderRetrievalDriver(events)
            if self.fail_with is not None:
                self.driver.fail(self.fail_with)
            return self.driver

        return DefaultLeaderRetrievalService(create, executor)

    def tell(self, rm: ResourceManager) -> None:
        assert self.driver is not None
        self.driver.leader(LeaderInformation(rm.session_id, rm.address))

    def close(self) -> None:
        self.closed = True


def ha_configuration(tmp_path: Path, **extra: str) -> Configuration:
    return Configuration.from_dict({
        "high-availability.type": "zookeeper", "high-availability.zookeeper.quorum": QUORUM,
        "high-availability.storageDir": str(tmp_path / "ha"),
        "high-availability.cluster-id": "/tm-test", "taskmanager.numberOfTaskSlots": "1",
        **extra})


@pytest.fixture
def jobmanagers() -> Iterator[tuple[ResourceManager, ResourceManager]]:
    rpc = RpcService("jobmanagers", mode="tcp")
    a = ResourceManager(rpc, "resourcemanager-a", fencing_token="a" * 32)
    b = ResourceManager(rpc, "resourcemanager-b", fencing_token="b" * 32)
    try:
        for rm in (a, b):
            rpc.run_sync(rm.start(), timeout=10)
        yield a, b
    finally:
        for rm in (a, b):
            rpc.run_sync(rm.stop(), timeout=10)
        rpc.stop()


def test_a_task_manager_follows_the_leader_its_ha_services_name(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        jobmanagers: tuple[ResourceManager, ResourceManager]) -> None:
    ha = DrivenHaServices()
    monkeypatch.setattr(entrypoint, "create_ha_services", lambda configuration: ha)
    a, b = jobmanagers
    process = start_taskmanager(ha_configuration(tmp_path))
    te = process.task_executor
    try:
        assert ha.asked == [RESOURCE_MANAGER]
        ha.tell(a)
        wait_until(lambda: te.address in a.task_executors and te.registered.is_set(), 30,
                   "registration at A")
        ha.tell(b)
        wait_until(lambda: te.address in b.task_executors and te.registered.is_set(), 30,
                   "registration at B")
        assert te.rm_address == b.address
    finally:
        process.stop()
    assert ha.closed and ha.driver is not None and ha.driver.closed


def test_with_ha_giving_up_names_the_quorum(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ha = DrivenHaServices()  # names no leader
    monkeypatch.setattr(entrypoint, "create_ha_services", lambda configuration: ha)
    out = io.StringIO()
    code = run_taskmanager(ha_configuration(
        tmp_path, **{"taskmanager.registration.timeout": "1 s"}), out)
    assert code == 2, out.getvalue()
    assert f"registering at the ResourceManager leader that ZooKeeper ({QUORUM}) names" \
        in out.getvalue()
    assert ("TaskManager gives up: not registered at a ResourceManager leader for 1000 ms "
            "(taskmanager.registration.timeout); the last leader known: none was named. Is a "
            "JobManager of this cluster running and leading? Check "
            f"high-availability.zookeeper.quorum ({QUORUM}) and "
            "high-availability.cluster-id (/tm-test).") in out.getvalue()
    assert ha.closed


def test_a_failed_leader_retrieval_makes_the_task_manager_give_up(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ha = DrivenHaServices(fail_with=ConnectionError("no ZooKeeper session"))
    monkeypatch.setattr(entrypoint, "create_ha_services", lambda configuration: ha)
    out = io.StringIO()
    assert run_taskmanager(ha_configuration(tmp_path), out) == 2
    assert ("TaskManager gives up: cannot follow the ResourceManager leader: no ZooKeeper "
            "session.") in out.getvalue()
