"""A checkpoint whose ZooKeeper transaction went through but whose answer was lost with the
connection: the store cannot know, so it keeps the payload and says so; a new leader then
recovers the checkpoint instead of failing on a missing file (found by the process test
that stops ZooKeeper under a running job)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from kazoo.exceptions import ConnectionLoss
from zk_helpers import WAIT_S, RecordingEvents, ha_config

from strom.common.job import JobID
from strom.ha.stores import PossibleInconsistentStateError
from strom.ha.zookeeper import ZooKeeperHaServices
from strom.ha.zookeeper.leader_election_driver import ZooKeeperLeaderElectionDriver
from strom.ha.zookeeper.stores import HaStorage, ZooKeeperCompletedCheckpointStore
from strom.testing import wait_until
from strom.testing.zookeeper import ZooKeeperServer


class _AnswerLost:
    """A kazoo transaction that ZooKeeper applies, but whose answer never arrives."""

    def __init__(self, transaction: Any) -> None:
        self._transaction = transaction

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transaction, name)

    def commit(self) -> Any:
        self._transaction.commit()
        raise ConnectionLoss()


def test_an_add_whose_answer_is_lost_keeps_its_payload_for_the_next_leader(
        zookeeper: ZooKeeperServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = ha_config(zookeeper, tmp_path / "ha")
    services = [ZooKeeperHaServices(config), ZooKeeperHaServices(config)]
    events = RecordingEvents()
    driver = ZooKeeperLeaderElectionDriver(services[0].client(), events)
    try:
        wait_until(lambda: events.leading, WAIT_S, "the driver to lead")
        storage = HaStorage(str(tmp_path / "ha"), "/default")
        job_id = JobID.generate()
        store = ZooKeeperCompletedCheckpointStore(services[0].client(), storage, job_id,
                                                  driver.leader_latch_path)
        kazoo = services[0].client().kazoo
        real_transaction = kazoo.transaction
        monkeypatch.setattr(kazoo, "transaction", lambda: _AnswerLost(real_transaction()))
        with pytest.raises(PossibleInconsistentStateError, match=r"may or may not .* kept"):
            store.add(7, b"seven")
        monkeypatch.undo()

        # the node was written: whoever recovers the store next finds the payload too
        other = ZooKeeperCompletedCheckpointStore(services[1].client(), storage, job_id,
                                                  lambda: None)
        assert other.recover() == [(7, b"seven")]
    finally:
        driver.close()
        for service in services:
            service.close()
