"""The ZooKeeper leader election and retrieval drivers against a real ZooKeeper: the latch,
the published leader information, and the connection states."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import msgspec
import pytest
from zk_helpers import WAIT_S, RecordingEvents, RecordingListener, expire_session, ha_config

from strom.ha.leader_election import LeaderInformation
from strom.ha.leader_retrieval import DefaultLeaderRetrievalService
from strom.ha.zookeeper.client import (
    CONNECTED,
    LOST,
    SUSPENDED,
    ZooKeeperClient,
    ZooKeeperUnavailableError,
)
from strom.ha.zookeeper.leader_election_driver import ZooKeeperLeaderElectionDriver
from strom.ha.zookeeper.leader_retrieval_driver import ZooKeeperLeaderRetrievalDriver
from strom.testing import wait_until
from strom.testing.zookeeper import ZooKeeperServer, free_port


class Contender:
    """One JobManager's client, driver and events."""

    def __init__(self, client: ZooKeeperClient) -> None:
        self.client = client
        self.events = RecordingEvents()
        self.driver = ZooKeeperLeaderElectionDriver(client, self.events)

    def close(self) -> None:
        self.driver.close()
        self.client.close()


@pytest.fixture
def new_contender(zookeeper: ZooKeeperServer,
                  tmp_path: Path) -> Iterator[Callable[[], Contender]]:
    """Makes contenders (each its own client and session); closes them all at the end."""
    made: list[Contender] = []

    def make() -> Contender:
        client = ZooKeeperClient(ha_config(zookeeper, tmp_path / "ha")).start()
        made.append(Contender(client))
        return made[-1]

    yield make
    for contender in made:
        contender.close()


def _retrieval(client: ZooKeeperClient, component_id: str) -> DefaultLeaderRetrievalService:
    return DefaultLeaderRetrievalService(
        lambda events: ZooKeeperLeaderRetrievalDriver(client, component_id, events))


def _leaders(contenders: list[Contender]) -> list[Contender]:
    return [c for c in contenders if c.events.leading]


def test_two_contenders_exactly_one_leads_and_the_other_takes_over(new_contender, zookeeper):
    contenders = [new_contender(), new_contender()]
    wait_until(lambda: len(_leaders(contenders)) == 1, WAIT_S, "one leader")
    [first] = _leaders(contenders)
    [second] = [c for c in contenders if c is not first]
    assert first.driver.has_leadership() and not second.driver.has_leadership()
    assert first.driver.leader_latch_path() is not None
    assert second.driver.leader_latch_path() is None

    first.client.close()  # the leader's process ends: its session and latch go at once
    wait_until(lambda: second.events.leading, WAIT_S, "the standby to lead")
    wait_until(lambda: first.events.revokes == 1, WAIT_S, "the closed one to revoke")
    assert second.events.grants == 1 and _leaders(contenders) == [second]


def test_an_expired_session_revokes_and_the_standby_leads(new_contender):
    first = new_contender()
    wait_until(lambda: first.events.leading, WAIT_S, "the first to lead")
    second = new_contender()
    old_session = expire_session(first.client)
    wait_until(lambda: second.events.leading, WAIT_S, "the standby to lead")
    wait_until(lambda: first.events.revokes == 1, WAIT_S, "the old leader's revocation")
    # the old leader reconnects with a new session and queues up behind the new leader
    wait_until(lambda: first.client.session_id not in (None, old_session), WAIT_S,
               "a new session")
    wait_until(lambda: len(first.client.kazoo.get_children(
        first.client.paths.latch_dir)) == 2, WAIT_S, "the old leader to rejoin")
    assert not first.events.leading and second.events.leading


def test_published_information_is_retrieved_and_rewritten_after_a_foreign_change(new_contender):
    leader = new_contender()
    wait_until(lambda: leader.events.leading, WAIT_S, "leadership")
    listener = RecordingListener()
    retrieval = _retrieval(leader.client, "dispatcher")
    retrieval.start(listener)
    try:
        info = LeaderInformation("a" * 32, "tcp://127.0.0.1:1/dispatcher")
        leader.driver.publish_leader_information("dispatcher", info)
        wait_until(lambda: listener.current == info, WAIT_S, "the retrieval to see the leader")

        path = leader.client.paths.connection_info("dispatcher")
        data, stat = leader.client.kazoo.get(path)
        assert msgspec.json.decode(data) == {"session_id": "a" * 32,
                                             "address": "tcp://127.0.0.1:1/dispatcher"}
        assert stat.ephemeralOwner == leader.client.session_id

        other = LeaderInformation("b" * 32, "tcp://elsewhere:2/dispatcher")
        leader.client.kazoo.set(path, msgspec.json.encode(other))
        wait_until(lambda: ("dispatcher", other) in leader.events.changes, WAIT_S,
                   "the driver to report the foreign change")
        wait_until(lambda: other in listener.seen, WAIT_S, "the retrieval to see the change")

        leader.client.kazoo.delete(path)
        wait_until(lambda: listener.current is None, WAIT_S, "the retrieval to see no leader")
        leader.driver.publish_leader_information("dispatcher", info)
        wait_until(lambda: listener.current == info, WAIT_S, "the leader published again")
    finally:
        retrieval.stop()


def test_a_standby_cannot_publish(new_contender):
    leader = new_contender()
    wait_until(lambda: leader.events.leading, WAIT_S, "leadership")
    standby = new_contender()
    info = LeaderInformation("c" * 32, "tcp://standby:1/dispatcher")
    standby.driver.publish_leader_information("dispatcher", info)
    mine = LeaderInformation("d" * 32, "tcp://leader:1/dispatcher")
    leader.driver.publish_leader_information("dispatcher", mine)
    path = leader.client.paths.connection_info("dispatcher")
    wait_until(lambda: leader.client.kazoo.exists(path) is not None, WAIT_S, "publication")
    data, _stat = leader.client.kazoo.get(path)
    assert msgspec.json.decode(data, type=LeaderInformation) == mine


def test_a_stopped_zookeeper_revokes_and_a_restarted_one_elects_again(new_contender, zookeeper):
    leader = new_contender()
    wait_until(lambda: leader.events.leading, WAIT_S, "leadership")
    standby = new_contender()
    listener = RecordingListener()
    retrieval = _retrieval(standby.client, "rest_server")
    retrieval.start(listener)
    try:
        info = LeaderInformation("e" * 32, "http://127.0.0.1:8081")
        leader.driver.publish_leader_information("rest_server", info)
        wait_until(lambda: listener.current == info, WAIT_S, "the leader's address")

        zookeeper.stop()
        wait_until(lambda: leader.events.revokes == 1, WAIT_S, "revocation on SUSPENDED")
        wait_until(lambda: listener.current is None and len(listener.seen) == 2, WAIT_S,
                   "the retrieval to report no leader")

        zookeeper.start()  # same port and data: the sessions may survive
        wait_until(lambda: len(_leaders([leader, standby])) == 1, WAIT_S, "a leader again")
        new_leader = _leaders([leader, standby])[0]
        again = LeaderInformation("f" * 32, "http://127.0.0.1:8082")
        new_leader.driver.publish_leader_information("rest_server", again)
        wait_until(lambda: listener.current == again, WAIT_S, "the new leader's address")
    finally:
        retrieval.stop()


def test_tolerated_suspension_keeps_leadership(zookeeper, tmp_path):
    config = ha_config(zookeeper, tmp_path,
                       **{"high-availability.zookeeper.client.tolerate-suspended-connections":
                          "true",
                          "high-availability.zookeeper.client.session-timeout": "20 s"})
    contender = Contender(ZooKeeperClient(config).start())
    try:
        wait_until(lambda: contender.events.leading, WAIT_S, "leadership")
        states: list[str] = []
        contender.client.add_state_listener(states.append)  # after the driver's listener
        zookeeper.stop()
        wait_until(lambda: SUSPENDED in states, WAIT_S, "the suspension")
        assert contender.driver.sync()  # the driver has handled SUSPENDED too
        assert contender.events.leading and contender.events.revokes == 0
        assert contender.driver.leader_latch_path() is not None

        zookeeper.start()
        # generous deadlines: on a loaded machine the restarted server may expire the
        # session, and kazoo then reconnects only after its backoff
        wait_until(lambda: CONNECTED in states, 3 * WAIT_S, "the reconnection")
        assert contender.driver.sync()
        if LOST not in states:  # the session survived the restart: leading all along
            assert contender.events.leading and contender.events.revokes == 0
        wait_until(lambda: contender.events.leading, 3 * WAIT_S,
                   "leadership after the restart")
    finally:
        contender.close()


def test_an_unreachable_quorum_names_the_keys(tmp_path):
    config = ha_config(f"127.0.0.1:{free_port()}", tmp_path, **{
        "high-availability.zookeeper.client.connection-timeout": "1 s"})
    with pytest.raises(ZooKeeperUnavailableError,
                       match=r"high-availability\.zookeeper\.quorum.*connection-timeout"):
        ZooKeeperClient(config).start()


class _BlockingEvents(RecordingEvents):
    """Blocks the driver's thread in ``on_leader_information_change`` until released."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.release = threading.Event()

    def on_leader_information_change(self, component_id: str,
                                     info: LeaderInformation | None) -> None:
        super().on_leader_information_change(component_id, info)
        self.entered.set()
        self.release.wait(WAIT_S)


def test_a_suspension_revokes_at_once_while_the_drivers_thread_is_busy(zookeeper, tmp_path):
    client = ZooKeeperClient(ha_config(zookeeper, tmp_path)).start()
    events = _BlockingEvents()
    driver = ZooKeeperLeaderElectionDriver(client, events)
    try:
        wait_until(lambda: events.leading, WAIT_S, "leadership")
        info = LeaderInformation("a" * 32, "tcp://127.0.0.1:1/dispatcher")
        driver.publish_leader_information("dispatcher", info)
        path = client.paths.connection_info("dispatcher")
        wait_until(lambda: client.kazoo.exists(path) is not None, WAIT_S, "publication")
        client.kazoo.delete(path)  # the driver's thread hears it and blocks in the events
        assert events.entered.wait(WAIT_S)
        zookeeper.stop()
        wait_until(lambda: events.revokes == 1, WAIT_S, "the revocation")
        assert not driver.has_leadership() and driver.leader_latch_path() is None
    finally:
        events.release.set()
        driver.close()
        client.close()
