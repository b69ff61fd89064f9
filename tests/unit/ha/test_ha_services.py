"""create_ha_services and the standalone HA services."""

from __future__ import annotations

import sys

import pytest

from strom.common.configuration import Configuration
from strom.ha.leader_election import (
    DISPATCHER,
    RESOURCE_MANAGER,
    REST_SERVER,
    STANDALONE_SESSION_ID,
    LeaderInformation,
)
from strom.ha.services import (
    StandaloneHaServices,
    create_ha_services,
    ha_enabled,
    standalone_leader_address,
)
from strom.ha.testing import TestingLeaderContender, TestingLeaderRetrievalListener


def conf(values: dict[str, str]) -> Configuration:
    configuration = Configuration()
    for key, value in values.items():
        configuration.set_string(key, value)
    return configuration


def test_ha_enabled_reads_the_type_case_insensitively() -> None:
    assert not ha_enabled(Configuration())
    assert not ha_enabled(conf({"high-availability.type": "none"}))
    assert ha_enabled(conf({"high-availability.type": "zookeeper"}))
    assert ha_enabled(conf({"high-availability.type": " ZooKeeper "}))


def test_unknown_type_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"high-availability.type: 'kubernetes'.*NONE, ZOOKEEPER"):
        ha_enabled(conf({"high-availability.type": "kubernetes"}))
    with pytest.raises(ValueError, match="NONE, ZOOKEEPER"):
        create_ha_services(conf({"high-availability.type": "etcd"}))


def test_zookeeper_needs_a_quorum_and_a_storage_dir() -> None:
    with pytest.raises(ValueError, match=r"high-availability.zookeeper.quorum is not set.*host:port"):
        create_ha_services(conf({"high-availability.type": "zookeeper",
                                 "high-availability.storageDir": "/tmp/ha"}))
    with pytest.raises(ValueError, match=r"high-availability.storageDir is not set.*directory"):
        create_ha_services(conf({"high-availability.type": "zookeeper",
                                 "high-availability.zookeeper.quorum": "localhost:2181"}))


def test_zookeeper_services_are_imported_lazily(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[Configuration] = []

    class FakeModule:
        class ZooKeeperHaServices:
            kind = "ZOOKEEPER"

            def __init__(self, configuration: Configuration) -> None:
                made.append(configuration)

    monkeypatch.setitem(sys.modules, "strom.ha.zookeeper", FakeModule)
    configuration = conf({"high-availability.type": "zookeeper",
                          "high-availability.zookeeper.quorum": "localhost:2181",
                          "high-availability.storageDir": "file:///tmp/ha"})
    services = create_ha_services(configuration)
    assert services.kind == "ZOOKEEPER" and made == [configuration]


def test_standalone_addresses() -> None:
    default = Configuration()
    assert standalone_leader_address(default, RESOURCE_MANAGER) == \
        "tcp://localhost:6123/resourcemanager"
    assert standalone_leader_address(default, DISPATCHER) == "tcp://localhost:6123/dispatcher"
    assert standalone_leader_address(default, REST_SERVER) == "http://localhost:8081"
    custom = conf({"jobmanager.rpc.address": "jm", "jobmanager.rpc.port": "7000",
                   "rest.address": "web", "rest.port": "9000"})
    assert standalone_leader_address(custom, RESOURCE_MANAGER) == "tcp://jm:7000/resourcemanager"
    assert standalone_leader_address(custom, REST_SERVER) == "http://web:9000"
    tls = conf({"security.ssl.rest.enabled": "true"})
    assert standalone_leader_address(tls, REST_SERVER) == "https://localhost:8081"
    with pytest.raises(ValueError, match="Unknown leader component 'jobmaster'"):
        standalone_leader_address(default, "jobmaster")


def test_standalone_services() -> None:
    services = create_ha_services(Configuration())
    assert isinstance(services, StandaloneHaServices) and services.kind == "NONE"
    election_service = services.leader_election_service(lambda fn: fn())
    election = election_service.create_leader_election(DISPATCHER)
    contender = TestingLeaderContender(election, "tcp://localhost:6123/dispatcher")
    election.start_leader_election(contender)
    assert contender.events == [("grant", STANDALONE_SESSION_ID)]
    assert election.has_leadership(STANDALONE_SESSION_ID)
    election_service.close()

    listener = TestingLeaderRetrievalListener()
    retrieval = services.leader_retrieval(RESOURCE_MANAGER)
    retrieval.start(listener)
    assert listener.leaders == [
        LeaderInformation(STANDALONE_SESSION_ID, "tcp://localhost:6123/resourcemanager")]
    retrieval.stop()
    # the stores are the same objects on every call
    assert services.job_graph_store() is services.job_graph_store()
    assert services.job_result_store() is services.job_result_store()
    assert services.checkpoint_recovery_factory() is services.checkpoint_recovery_factory()
    services.close()
