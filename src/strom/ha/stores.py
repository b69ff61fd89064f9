"""What a new leader recovers from: job graphs, checkpoint id counters, completed checkpoints
and job results (Flink's ``JobGraphStore``, ``CheckpointIDCounter``,
``CompletedCheckpointStore`` and ``JobResultStore``).

Every method does blocking I/O in the ZooKeeper versions: call them off the RPC loop
(``loop.run_in_executor``). A write that needs leadership (adding a completed checkpoint)
fails with :class:`LeadershipLostError` when this JobManager no longer leads, so a deposed
leader can never complete a checkpoint.
"""

from __future__ import annotations

from typing import Protocol

import msgspec

from strom.common.job import JobID, JobStatus
from strom.jobmanager.cluster_info import JobSubmission

__all__ = [
    "CheckpointIDCounter",
    "CheckpointRecoveryFactory",
    "CompletedCheckpointStore",
    "JobGraphStore",
    "JobResultEntry",
    "JobResultStore",
    "LeadershipLostError",
    "PossibleInconsistentStateError",
    "StoredJobGraph",
]


class LeadershipLostError(RuntimeError):
    """This JobManager lost its leadership: the write was refused."""


class PossibleInconsistentStateError(RuntimeError):
    """The connection was lost before the store answered: the write may have happened or
    not (Flink's ``PossibleInconsistentStateException``). What it refers to must be kept,
    since a new leader may find it in the store."""


class StoredJobGraph(msgspec.Struct, frozen=True):
    """A submitted job as the Dispatcher received it: the cloudpickled JobGraph and the
    job's shipped files."""

    job_id: str
    graph: bytes
    submission: JobSubmission


class JobGraphStore(Protocol):
    def put(self, job: StoredJobGraph) -> None: ...

    def job_ids(self) -> list[JobID]: ...

    def recover(self, job_id: JobID) -> StoredJobGraph | None: ...

    def remove(self, job_id: JobID) -> None: ...


class JobResultEntry(msgspec.Struct, frozen=True):
    """A globally terminated job (Flink's JobResultEntry, written as JSON)."""

    job_id: str
    job_name: str
    status: str
    start_time: int
    end_time: int
    #: the failure's text when FAILED
    error: str | None = None


class JobResultStore(Protocol):
    """``create_dirty`` when the job terminates globally, ``mark_clean`` after its
    resources (job graph, checkpoints) are cleaned up."""

    def create_dirty(self, entry: JobResultEntry) -> None: ...

    def mark_clean(self, job_id: JobID) -> None: ...

    def has_entry(self, job_id: JobID) -> bool: ...

    def has_dirty(self, job_id: JobID) -> bool: ...

    def has_clean(self, job_id: JobID) -> bool: ...

    def dirty_entries(self) -> list[JobResultEntry]: ...


class CheckpointIDCounter(Protocol):
    def get_and_increment(self) -> int: ...

    def get(self) -> int: ...

    def set_count(self, count: int) -> None: ...

    def shutdown(self, status: JobStatus) -> None:
        """Forget the counter when ``status`` is globally terminal."""


class CompletedCheckpointStore(Protocol):
    """The retained completed checkpoints of one job, oldest first. The payload is what the
    JobMaster needs to restore (it serializes its own ``CompletedCheckpoint``)."""

    def add(self, checkpoint_id: int, payload: bytes) -> None:
        """Persist a completed checkpoint; raises LeadershipLostError when not leading."""

    def remove(self, checkpoint_id: int) -> None: ...

    def recover(self) -> list[tuple[int, bytes]]: ...

    def shutdown(self, status: JobStatus) -> None:
        """Forget the job's checkpoints here when ``status`` is globally terminal (the
        checkpoint files themselves are the coordinator's to discard or retain)."""


class CheckpointRecoveryFactory(Protocol):
    def create_checkpoint_id_counter(self, job_id: JobID) -> CheckpointIDCounter: ...

    def create_completed_checkpoint_store(self, job_id: JobID) -> CompletedCheckpointStore:
        ...
