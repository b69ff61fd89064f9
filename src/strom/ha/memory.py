"""The in-memory recovery stores of a cluster without HA (Flink's ``Standalone*`` and
``Embedded*`` stores): they keep today's behaviour of a single JobManager (checkpoint ids
start at 1, nothing survives the process) and serve as the reference implementations the
ZooKeeper stores are tested against. All are thread-safe.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Callable

from strom.common.job import JobID, JobStatus
from strom.ha.stores import JobResultEntry, LeadershipLostError, StoredJobGraph

__all__ = [
    "MemoryCheckpointIDCounter",
    "MemoryCheckpointRecoveryFactory",
    "MemoryCompletedCheckpointStore",
    "MemoryJobGraphStore",
    "MemoryJobResultStore",
]


class MemoryJobGraphStore:
    """Submitted job graphs by job id (a :class:`~strom.ha.stores.JobGraphStore`)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._graphs: dict[JobID, StoredJobGraph] = {}

    def put(self, job: StoredJobGraph) -> None:
        """Store (or replace) ``job`` under its job id."""
        job_id = JobID(job.job_id)
        with self._lock:
            self._graphs[job_id] = job

    def job_ids(self) -> list[JobID]:
        """The ids of the stored jobs, sorted."""
        with self._lock:
            return sorted(self._graphs)

    def recover(self, job_id: JobID) -> StoredJobGraph | None:
        """The stored graph of ``job_id``, ``None`` when there is none."""
        with self._lock:
            return self._graphs.get(job_id)

    def remove(self, job_id: JobID) -> None:
        """Forget ``job_id`` (nothing happens when it is not stored)."""
        with self._lock:
            self._graphs.pop(job_id, None)


class MemoryJobResultStore:
    """Results of globally terminated jobs, dirty until their resources are cleaned up (a
    :class:`~strom.ha.stores.JobResultStore`; clean entries are kept, as Flink's embedded
    store does)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._dirty: dict[JobID, JobResultEntry] = {}
        self._clean: dict[JobID, JobResultEntry] = {}

    def create_dirty(self, entry: JobResultEntry) -> None:
        """Record ``entry`` as dirty; raises ``ValueError`` when the job has an entry."""
        job_id = JobID(entry.job_id)
        with self._lock:
            if job_id in self._dirty or job_id in self._clean:
                state = "dirty" if job_id in self._dirty else "clean"
                raise ValueError(
                    f"The job result store already has a {state} entry for job {job_id}; a "
                    "job's result is written once (check has_entry before create_dirty).")
            self._dirty[job_id] = entry

    def mark_clean(self, job_id: JobID) -> None:
        """Mark the dirty entry of ``job_id`` clean (a clean one stays as it is); raises
        ``ValueError`` when the job has no entry."""
        with self._lock:
            if job_id in self._clean:
                return
            entry = self._dirty.pop(job_id, None)
            if entry is None:
                raise ValueError(
                    f"Cannot mark job {job_id} clean: the job result store has no entry for "
                    "it (create_dirty first).")
            self._clean[job_id] = entry

    def has_entry(self, job_id: JobID) -> bool:
        """Whether ``job_id`` has a dirty or a clean entry."""
        with self._lock:
            return job_id in self._dirty or job_id in self._clean

    def has_dirty(self, job_id: JobID) -> bool:
        with self._lock:
            return job_id in self._dirty

    def has_clean(self, job_id: JobID) -> bool:
        with self._lock:
            return job_id in self._clean

    def dirty_entries(self) -> list[JobResultEntry]:
        """The dirty entries, in job id order."""
        with self._lock:
            return [self._dirty[job_id] for job_id in sorted(self._dirty)]


class MemoryCheckpointIDCounter:
    """Checkpoint ids of one job, from ``start`` (1, as the checkpoint tracker counts)."""

    def __init__(self, start: int = 1) -> None:
        self._lock = threading.Lock()
        self._next = start

    def get_and_increment(self) -> int:
        """The next checkpoint id; the counter moves on by one."""
        with self._lock:
            value = self._next
            self._next += 1
            return value

    def get(self) -> int:
        """The id the next ``get_and_increment`` returns."""
        with self._lock:
            return self._next

    def set_count(self, count: int) -> None:
        """Continue from ``count`` (after a restore from a savepoint, say)."""
        with self._lock:
            self._next = count

    def shutdown(self, status: JobStatus) -> None:
        """Nothing to forget: the counter lives as long as the object."""


class MemoryCompletedCheckpointStore:
    """The retained completed checkpoints of one job, oldest first. ``has_leadership`` (for
    tests of a deposed leader) makes ``add`` raise :class:`LeadershipLostError` when it
    answers ``False``."""

    def __init__(self, has_leadership: Callable[[], bool] | None = None) -> None:
        self._lock = threading.Lock()
        self._has_leadership = has_leadership
        self._ids: list[int] = []
        self._payloads: dict[int, bytes] = {}

    def add(self, checkpoint_id: int, payload: bytes) -> None:
        """Keep checkpoint ``checkpoint_id`` (replacing one with the same id)."""
        if self._has_leadership is not None and not self._has_leadership():
            raise LeadershipLostError(
                f"Cannot add completed checkpoint {checkpoint_id}: this JobManager no longer "
                "leads; the new leader recovers the job from its own store.")
        with self._lock:
            if checkpoint_id not in self._payloads:
                bisect.insort(self._ids, checkpoint_id)
            self._payloads[checkpoint_id] = payload

    def remove(self, checkpoint_id: int) -> None:
        """Forget checkpoint ``checkpoint_id`` (nothing happens when it is not kept)."""
        with self._lock:
            if self._payloads.pop(checkpoint_id, None) is not None:
                self._ids.remove(checkpoint_id)

    def recover(self) -> list[tuple[int, bytes]]:
        """The kept checkpoints as ``(id, payload)``, oldest first."""
        with self._lock:
            return [(checkpoint_id, self._payloads[checkpoint_id])
                    for checkpoint_id in self._ids]

    def shutdown(self, status: JobStatus) -> None:
        """Forget every checkpoint when ``status`` is globally terminal."""
        if status.is_globally_terminal_state():
            with self._lock:
                self._ids.clear()
                self._payloads.clear()


class MemoryCheckpointRecoveryFactory:
    """Makes each job's counter and store once and hands out the same ones until the job
    ends globally (its ``shutdown`` with a globally terminal status): a JobMaster started
    again in this process (after a leadership change, say) recovers what its predecessor
    kept, while a finished job's id starts anew."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counters: dict[JobID, _FactoryCounter] = {}
        self._stores: dict[JobID, _FactoryStore] = {}

    def create_checkpoint_id_counter(self, job_id: JobID) -> MemoryCheckpointIDCounter:
        with self._lock:
            counter = self._counters.get(job_id)
            if counter is None:
                counter = self._counters[job_id] = _FactoryCounter(self, job_id)
            return counter

    def create_completed_checkpoint_store(self, job_id: JobID
                                          ) -> MemoryCompletedCheckpointStore:
        with self._lock:
            store = self._stores.get(job_id)
            if store is None:
                store = self._stores[job_id] = _FactoryStore(self, job_id)
            return store

    def _forget_counter(self, job_id: JobID, counter: MemoryCheckpointIDCounter) -> None:
        with self._lock:
            if self._counters.get(job_id) is counter:
                del self._counters[job_id]

    def _forget_store(self, job_id: JobID, store: MemoryCompletedCheckpointStore) -> None:
        with self._lock:
            if self._stores.get(job_id) is store:
                del self._stores[job_id]


class _FactoryCounter(MemoryCheckpointIDCounter):
    def __init__(self, factory: MemoryCheckpointRecoveryFactory, job_id: JobID) -> None:
        super().__init__()
        self._factory = factory
        self._job_id = job_id

    def shutdown(self, status: JobStatus) -> None:
        if status.is_globally_terminal_state():
            self._factory._forget_counter(self._job_id, self)


class _FactoryStore(MemoryCompletedCheckpointStore):
    def __init__(self, factory: MemoryCheckpointRecoveryFactory, job_id: JobID) -> None:
        super().__init__()
        self._factory = factory
        self._job_id = job_id

    def shutdown(self, status: JobStatus) -> None:
        super().shutdown(status)
        if status.is_globally_terminal_state():
            self._factory._forget_store(self._job_id, self)
