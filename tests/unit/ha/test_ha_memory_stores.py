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
from strom.ha.stores import JobResultEntry, LeadershipLostError
from strom.ha.testing import (
    check_checkpoint_id_counter,
    check_completed_checkpoint_store,
    check_job_graph_store,
    check_job_result_store,
)

J1 = JobID("0" * 31 + "1")
J2 = JobID("0" * 31 + "2")


def entry(job_id: JobID, status: str = "FINISHED") -> JobResultEntry:
    return JobResultEntry(job_id=str(job_id), job_name="job", status=status, start_time=1,
                          end_time=2)


def test_job_graph_store_conforms() -> None:
    check_job_graph_store(MemoryJobGraphStore())


def test_job_result_store_conforms() -> None:
    check_job_result_store(MemoryJobResultStore())


def test_checkpoint_id_counter_and_store_of_the_factory_conform() -> None:
    factory = MemoryCheckpointRecoveryFactory()
    check_checkpoint_id_counter(lambda: factory.create_checkpoint_id_counter(J1))
    check_completed_checkpoint_store(lambda: factory.create_completed_checkpoint_store(J1))


def test_job_result_store_errors_name_the_job() -> None:
    store = MemoryJobResultStore()
    store.create_dirty(entry(J1))
    with pytest.raises(ValueError, match=f"already has a dirty entry for job {J1}"):
        store.create_dirty(entry(J1))
    store.mark_clean(J1)
    with pytest.raises(ValueError, match="already has a clean entry"):
        store.create_dirty(entry(J1))
    with pytest.raises(ValueError, match=f"Cannot mark job {J2} clean.*no entry"):
        store.mark_clean(J2)


def test_a_lone_checkpoint_id_counter_starts_at_one() -> None:
    counter = MemoryCheckpointIDCounter()
    assert [counter.get_and_increment() for _ in range(2)] == [1, 2]
    assert MemoryCheckpointIDCounter(start=5).get() == 5


def test_a_checkpoint_added_again_replaces_its_payload() -> None:
    store = MemoryCompletedCheckpointStore()
    store.add(1, b"one")
    store.add(1, b"one again")
    assert store.recover() == [(1, b"one again")]


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
