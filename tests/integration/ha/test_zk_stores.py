"""The ZooKeeper recovery stores against a real ZooKeeper: job graphs, checkpoint id
counters and completed checkpoints survive a new client; a deposed leader cannot add a
checkpoint; and the file-based job result store."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest
from zk_helpers import WAIT_S, RecordingEvents, expire_session, ha_config

from strom.common.configuration import Configuration
from strom.common.job import JobID, JobStatus
from strom.ha.stores import JobResultEntry, LeadershipLostError, StoredJobGraph
from strom.ha.zookeeper import ZooKeeperHaServices
from strom.ha.zookeeper.client import ZooKeeperClient
from strom.ha.zookeeper.leader_election_driver import ZooKeeperLeaderElectionDriver
from strom.ha.zookeeper.stores import (
    FileSystemJobResultStore,
    HaStorage,
    ZooKeeperCompletedCheckpointStore,
)
from strom.jobmanager.cluster_info import JobFile, JobSubmission
from strom.testing import wait_until
from strom.testing.zookeeper import ZooKeeperServer


@pytest.fixture
def services(zookeeper: ZooKeeperServer, tmp_path: Path) -> Iterator[list[ZooKeeperHaServices]]:
    """A list to append services to; every one is closed at the end."""
    made: list[ZooKeeperHaServices] = []
    yield made
    for service in made:
        service.close()


def _new(services: list[ZooKeeperHaServices], config: Configuration) -> ZooKeeperHaServices:
    services.append(ZooKeeperHaServices(config))
    return services[-1]


def _files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.rglob("*") if p.is_file())


def test_job_graphs_round_trip_and_survive_a_new_client(services, zookeeper, tmp_path):
    config = ha_config(zookeeper, tmp_path / "ha")
    store = _new(services, config).job_graph_store()
    job_id = JobID.generate()
    job = StoredJobGraph(job_id.to_hex_string(), b"graph bytes",
                         JobSubmission([JobFile("job.py", b"print(1)")], ["."]))
    store.put(job)
    assert store.job_ids() == [job_id]
    assert [name.split("-")[0] for name in _files(tmp_path / "ha" / "default")] == [
        "submittedJobGraph"]

    again = _new(services, config).job_graph_store()  # another JobManager, another session
    assert again.job_ids() == [job_id]
    assert again.recover(job_id) == job
    assert again.recover(JobID.generate()) is None

    replaced = msgspec.structs.replace(job, graph=b"new graph")
    again.put(replaced)  # the old file goes, the node points at the new one
    assert store.recover(job_id) == replaced
    assert len(_files(tmp_path / "ha" / "default")) == 1

    store.remove(job_id)
    assert again.job_ids() == [] and again.recover(job_id) is None
    assert _files(tmp_path / "ha" / "default") == []


def test_checkpoint_ids_are_unique_under_two_concurrent_clients(services, zookeeper,
                                                                 tmp_path):
    config = ha_config(zookeeper, tmp_path / "ha")
    job_id = JobID.generate()
    counters = [_new(services, config).checkpoint_recovery_factory()
                .create_checkpoint_id_counter(job_id) for _ in range(2)]
    assert counters[0].get() == 1
    taken: list[list[int]] = [[], []]

    def take(i: int) -> None:
        for _ in range(40):
            taken[i].append(counters[i].get_and_increment())

    threads = [threading.Thread(target=take, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT_S)
    assert sorted(taken[0] + taken[1]) == list(range(1, 81))
    assert counters[1].get() == 81
    counters[0].set_count(200)
    assert counters[1].get_and_increment() == 200

    counters[0].shutdown(JobStatus.SUSPENDED)  # not globally terminal: kept
    assert counters[1].get() == 201
    counters[0].shutdown(JobStatus.FINISHED)
    client = services[0].client()
    assert client.kazoo.exists(client.paths.checkpoint_id_counter(job_id)) is None
    assert client.kazoo.exists(client.paths.job(job_id)) is None


def test_completed_checkpoints_round_trip_and_survive_a_new_client(services, zookeeper,
                                                                    tmp_path):
    config = ha_config(zookeeper, tmp_path / "ha")
    client = _new(services, config).client()
    events = RecordingEvents()
    driver = ZooKeeperLeaderElectionDriver(client, events)
    try:
        wait_until(lambda: events.leading, WAIT_S, "leadership")
        storage = HaStorage(str(tmp_path / "ha"), "/default")
        job_id = JobID.generate()
        store = ZooKeeperCompletedCheckpointStore(client, storage, job_id,
                                                  driver.leader_latch_path)
        for checkpoint_id in (3, 11, 7):
            store.add(checkpoint_id, f"checkpoint {checkpoint_id}".encode())
        store.remove(7)
        assert client.kazoo.get_children(client.paths.checkpoints(job_id)) != []
        with pytest.raises(ValueError, match="already in the completed checkpoint store"):
            store.add(11, b"again")

        fresh = _new(services, config).checkpoint_recovery_factory() \
            .create_completed_checkpoint_store(job_id)
        assert fresh.recover() == [(3, b"checkpoint 3"), (11, b"checkpoint 11")]
        assert len(_files(tmp_path / "ha" / "default")) == 2

        store.shutdown(JobStatus.CANCELED)
        assert fresh.recover() == []
        assert _files(tmp_path / "ha" / "default") == []
        assert client.kazoo.exists(client.paths.job(job_id)) is None
    finally:
        driver.close()


def test_a_deposed_leaders_add_raises_leadership_lost(services, zookeeper, tmp_path):
    config = ha_config(zookeeper, tmp_path / "ha")
    clients = [_new(services, config).client() for _ in range(2)]
    events = [RecordingEvents(), RecordingEvents()]
    drivers = [ZooKeeperLeaderElectionDriver(clients[0], events[0])]
    try:
        wait_until(lambda: events[0].leading, WAIT_S, "the first to lead")
        drivers.append(ZooKeeperLeaderElectionDriver(clients[1], events[1]))
        storage = HaStorage(str(tmp_path / "ha"), "/default")
        job_id = JobID.generate()
        old = ZooKeeperCompletedCheckpointStore(clients[0], storage, job_id,
                                                drivers[0].leader_latch_path)
        old.add(1, b"one")
        stale_latch = drivers[0].leader_latch_path()

        expire_session(clients[0])
        wait_until(lambda: events[1].leading, WAIT_S, "the standby to lead")
        with pytest.raises(LeadershipLostError, match="does not lead"):
            old.add(2, b"two")
        # a leader that has not heard yet: its latch node is gone, the transaction refuses
        wait_until(lambda: clients[0].connected, WAIT_S, "the new session")
        unaware = ZooKeeperCompletedCheckpointStore(clients[0], storage, job_id,
                                                    lambda: stale_latch)
        with pytest.raises(LeadershipLostError, match=r"latch .* is gone"):
            unaware.add(2, b"two")

        new = ZooKeeperCompletedCheckpointStore(clients[1], storage, job_id,
                                                drivers[1].leader_latch_path)
        new.add(2, b"two")
        assert new.recover() == [(1, b"one"), (2, b"two")]
        assert len(_files(tmp_path / "ha" / "default")) == 2  # refused payloads are deleted
    finally:
        for driver in drivers:
            driver.close()


def test_services_need_the_quorum_and_a_usable_storage_dir(tmp_path):
    with pytest.raises(ValueError, match=r"'high-availability\.zookeeper\.quorum'.*not set"):
        ZooKeeperHaServices(Configuration.from_dict({
            "high-availability.type": "zookeeper",
            "high-availability.storageDir": str(tmp_path)}))
    with pytest.raises(ValueError, match=r"'high-availability\.storageDir'.*not set"):
        ZooKeeperHaServices(Configuration.from_dict({
            "high-availability.type": "zookeeper",
            "high-availability.zookeeper.quorum": "127.0.0.1:1"}))
    with pytest.raises(ValueError, match=r"'high-availability\.storageDir' is 'nosuchfs://x'"):
        ZooKeeperHaServices(ha_config("127.0.0.1:1", tmp_path, **{
            "high-availability.storageDir": "nosuchfs://x"}))


def test_an_unwritable_storage_dir_names_the_key(services, zookeeper, tmp_path):
    (tmp_path / "blocker").write_text("a file where the directory should be")
    store = _new(services, ha_config(zookeeper, tmp_path / "blocker")).job_graph_store()
    job = StoredJobGraph(JobID.generate().to_hex_string(), b"g", JobSubmission())
    with pytest.raises(OSError, match=r"high-availability\.storageDir"):
        store.put(job)


def test_the_job_result_store_keeps_json_files(tmp_path):
    store = FileSystemJobResultStore(f"file://{tmp_path}/jrs", delete_on_commit=False)
    job_id = JobID.generate()
    entry = JobResultEntry(job_id.to_hex_string(), "word count", "FINISHED", 1, 2)
    assert not store.has_entry(job_id) and store.dirty_entries() == []
    store.create_dirty(entry)
    assert store.has_dirty(job_id) and not store.has_clean(job_id)
    assert store.dirty_entries() == [entry]
    written = msgspec.json.decode((tmp_path / "jrs" / f"{job_id}_DIRTY.json").read_bytes())
    assert written == {"version": 1, "result": msgspec.to_builtins(entry)}
    with pytest.raises(ValueError, match="already has an entry"):
        store.create_dirty(entry)

    store.mark_clean(job_id)
    assert store.has_clean(job_id) and not store.has_dirty(job_id)
    assert store.dirty_entries() == []
    assert sorted(p.name for p in (tmp_path / "jrs").iterdir()) == [f"{job_id}.json"]
    store.mark_clean(job_id)  # again: nothing to do

    deleting = FileSystemJobResultStore(str(tmp_path / "jrs2"))
    other = JobID.generate()
    deleting.create_dirty(JobResultEntry(other.to_hex_string(), "j", "FAILED", 1, 2, "boom"))
    deleting.mark_clean(other)
    assert not deleting.has_entry(other)
    assert list((tmp_path / "jrs2").iterdir()) == []
    with pytest.raises(ValueError, match="no dirty entry"):
        deleting.mark_clean(JobID.generate())


def test_the_job_result_store_path_defaults_under_the_storage_dir(services, zookeeper,
                                                                   tmp_path):
    config = ha_config(zookeeper, tmp_path / "ha",
                       **{"high-availability.cluster-id": "cluster-a"})
    store = _new(services, config).job_result_store()
    job_id = JobID.generate()
    store.create_dirty(JobResultEntry(job_id.to_hex_string(), "j", "CANCELED", 1, 2))
    assert (tmp_path / "ha" / "job-result-store" / "cluster-a" / f"{job_id}_DIRTY.json").exists()


def test_a_client_of_another_cluster_id_sees_nothing(services, zookeeper, tmp_path):
    first = _new(services, ha_config(zookeeper, tmp_path / "ha"))
    second = _new(services, ha_config(zookeeper, tmp_path / "ha",
                                      **{"high-availability.cluster-id": "/other"}))
    job = StoredJobGraph(JobID.generate().to_hex_string(), b"g", JobSubmission())
    first.job_graph_store().put(job)
    assert second.job_graph_store().job_ids() == []
    assert isinstance(first.client(), ZooKeeperClient)
