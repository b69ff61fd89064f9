"""The in-memory recovery stores of a cluster without HA."""

from __future__ import annotations

import pytest

from strom.common.job import JobID, JobStatus
from strom.ha.memory import (
    MemoryCheckpointIDCounter,
    MemoryCheckpointRecoveryFactory,
    MemoryCompletedCheckpointStore,
    MemoryJobGraphStore,
    MemoryJobResultStore,
)
from strom.ha.stores import JobResultEntry, LeadershipLostError, StoredJobGraph
from strom.jobmanager.cluster_info import JobSubmission

J1 = JobID("0" * 31 + "1")
J2 = JobID("0" * 31 + "2")


def graph(job_id: JobID, data: bytes = b"graph") -> StoredJobGraph:
    return StoredJobGraph(job_id=str(job_id), graph=data, submission=JobSubmission())


def entry(job_id: JobID, status: str = "FINISHED") -> JobResultEntry:
    return JobResultEntry(job_id=str(job_id), job_name="job", status=status, start_time=1,
                          end_time=2)


def test_job_graph_store_put_recover_remove() -> None:
    store = MemoryJobGraphStore()
    assert store.job_ids() == [] and store.recover(J1) is None
    store.put(graph(J2))
    store.put(graph(J1))
    store.put(graph(J1, b"replaced"))
    assert store.job_ids() == [J1, J2]
    recovered = store.recover(J1)
    assert recovered is not None and recovered.graph == b"replaced"
    store.remove(J1)
    store.remove(J1)
    assert store.job_ids() == [J2]


def test_job_result_store_dirty_then_clean() -> None:
    store = MemoryJobResultStore()
    assert not store.has_entry(J1)
    store.create_dirty(entry(J1))
    assert store.has_entry(J1) and store.has_dirty(J1) and not store.has_clean(J1)
    assert store.dirty_entries() == [entry(J1)]
    with pytest.raises(ValueError, match=f"already has a dirty entry for job {J1}"):
        store.create_dirty(entry(J1))
    store.mark_clean(J1)
    store.mark_clean(J1)  # clean stays clean
    assert store.has_entry(J1) and store.has_clean(J1) and not store.has_dirty(J1)
    assert store.dirty_entries() == []
    with pytest.raises(ValueError, match="already has a clean entry"):
        store.create_dirty(entry(J1))
    with pytest.raises(ValueError, match=f"Cannot mark job {J2} clean.*no entry"):
        store.mark_clean(J2)


def test_checkpoint_id_counter_starts_at_one() -> None:
    counter = MemoryCheckpointIDCounter()
    assert counter.get() == 1
    assert [counter.get_and_increment() for _ in range(3)] == [1, 2, 3]
    assert counter.get() == 4
    counter.set_count(10)
    assert counter.get_and_increment() == 10
    counter.shutdown(JobStatus.FINISHED)


def test_completed_checkpoint_store_keeps_checkpoints_oldest_first() -> None:
    store = MemoryCompletedCheckpointStore()
    store.add(2, b"two")
    store.add(1, b"one")
    store.add(3, b"three")
    store.add(2, b"two again")
    assert store.recover() == [(1, b"one"), (2, b"two again"), (3, b"three")]
    store.remove(1)
    store.remove(7)
    assert store.recover() == [(2, b"two again"), (3, b"three")]
    store.shutdown(JobStatus.SUSPENDED)  # not globally terminal: kept for the next leader
    assert [cid for cid, _ in store.recover()] == [2, 3]
    store.shutdown(JobStatus.CANCELED)
    assert store.recover() == []


def test_completed_checkpoint_store_refuses_a_deposed_leader() -> None:
    leading = [True]
    store = MemoryCompletedCheckpointStore(has_leadership=lambda: leading[0])
    store.add(1, b"one")
    leading[0] = False
    with pytest.raises(LeadershipLostError, match="Cannot add completed checkpoint 2"):
        store.add(2, b"two")
    assert store.recover() == [(1, b"one")]


def test_recovery_factory_hands_out_a_jobs_stores_until_it_ends_globally() -> None:
    factory = MemoryCheckpointRecoveryFactory()
    counter = factory.create_checkpoint_id_counter(J1)
    store = factory.create_completed_checkpoint_store(J1)
    assert counter.get_and_increment() == 1
    store.add(1, b"one")
    # a JobMaster started again (suspended, then recovered) sees what was kept
    counter.shutdown(JobStatus.SUSPENDED)
    store.shutdown(JobStatus.SUSPENDED)
    assert factory.create_checkpoint_id_counter(J1).get() == 2
    assert factory.create_completed_checkpoint_store(J1).recover() == [(1, b"one")]
    assert factory.create_checkpoint_id_counter(J2).get() == 1  # per job
    counter.shutdown(JobStatus.FINISHED)
    store.shutdown(JobStatus.FINISHED)
    assert factory.create_checkpoint_id_counter(J1).get() == 1
    assert factory.create_completed_checkpoint_store(J1).recover() == []
