"""What the Dispatcher keeps in the high-availability stores, so that a new leader loses no
job (Flink's ``JobGraphStore``, ``JobResultStore`` and per-job checkpoint services as its
Dispatcher uses them):

* on submission, the job graph (as submitted, with its shipped files) is put into the
  :class:`~strom.ha.stores.JobGraphStore` before its JobMaster starts;
* each JobMaster gets its job's :class:`~strom.ha.stores.CheckpointIDCounter` and
  :class:`~strom.ha.stores.CompletedCheckpointStore`;
* when a job ends globally (FINISHED, CANCELED, FAILED): a *dirty* entry goes into the
  :class:`~strom.ha.stores.JobResultStore` first, then its checkpoints are released (the
  retention policy decides), the job graph is removed, the checkpoint store and counter
  forget the job, and the entry is marked *clean*. A leader that dies anywhere in between
  leaves a dirty entry, and the next one finishes the cleanup instead of running the job
  again;
* a new leader (:meth:`JobRecovery.recoverable_jobs`) runs every stored job that has no
  result entry, and cleans up those with a dirty one.

Every store call does blocking I/O in the ZooKeeper versions: here each runs in the loop's
default executor.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from strom.common.job import JobID, JobStatus
from strom.ha.services import HighAvailabilityServices
from strom.ha.stores import (
    CheckpointIDCounter,
    CompletedCheckpointStore,
    JobResultEntry,
    StoredJobGraph,
)
from strom.jobmanager.cluster_info import JobSubmission
from strom.jobmanager.job_result import JobResult
from strom.rpc.errors import SerializedError

__all__ = ["CheckpointServices", "JobRecovery", "RecoveredJobs"]

log = logging.getLogger(__name__)

T = TypeVar("T")

#: how long a failed write of a job's result waits before it is tried again
RETRY_DELAY_S = 1.0

CheckpointServices = tuple[CheckpointIDCounter, CompletedCheckpointStore]


class RecoveredJobs:
    """What a new leader found: jobs to run again, and results whose cleanup it finishes."""

    def __init__(self, jobs: list[StoredJobGraph], dirty: list[JobResultEntry]) -> None:
        self.jobs = jobs
        self.dirty = dirty


class JobRecovery:
    """The Dispatcher's use of ``ha``'s stores (see the module docstring). Job graphs are
    persisted only with high availability: a standalone cluster (``kind`` NONE) never
    recovers a job, so it does not pickle every submitted graph for nothing."""

    def __init__(self, ha: HighAvailabilityServices) -> None:
        self.ha = ha
        self.persists_job_graphs = ha.kind != "NONE"
        self._graphs = ha.job_graph_store()
        self._results = ha.job_result_store()
        self._checkpoints = ha.checkpoint_recovery_factory()

    async def _io(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(None, fn, *args)

    # ------------------------------------------------------------------ submission
    async def has_result(self, job_id: JobID) -> bool:
        """Whether ``job_id`` has a result entry: it ran to a global end on this cluster
        (possibly under an earlier leader)."""
        return await self._io(self._results.has_entry, job_id)

    async def persist(self, job_id: JobID, graph: bytes, submission: JobSubmission) -> None:
        """Put the submitted job into the job graph store (with HA only)."""
        if self.persists_job_graphs:
            await self._io(self._graphs.put, StoredJobGraph(str(job_id), graph, submission))

    async def checkpoint_services(self, job_id: JobID) -> CheckpointServices:
        """The job's checkpoint id counter and completed checkpoint store."""
        counter = await self._io(self._checkpoints.create_checkpoint_id_counter, job_id)
        store = await self._io(self._checkpoints.create_completed_checkpoint_store, job_id)
        return counter, store

    # ------------------------------------------------------------------ recovery
    async def recoverable_jobs(self) -> RecoveredJobs:
        """The stored jobs without a result entry (to run again), and the dirty results
        (to clean up); a stored job with a clean result only loses its graph."""
        dirty = await self._io(self._results.dirty_entries)
        dirty_ids = {JobID(entry.job_id) for entry in dirty}
        jobs = []
        for job_id in await self._io(self._graphs.job_ids):
            if job_id in dirty_ids:
                continue
            if await self._io(self._results.has_entry, job_id):
                log.info("job %s has a clean result already; removing its job graph", job_id)
                await self._io(self._graphs.remove, job_id)
                continue
            stored = await self._io(self._graphs.recover, job_id)
            if stored is not None:
                jobs.append(stored)
        return RecoveredJobs(jobs, dirty)

    async def clean_up_dirty(self, entry: JobResultEntry) -> None:
        """Finish the cleanup an earlier leader began for a globally terminated job. Its
        checkpoints are forgotten here; their files are discarded when the job FINISHED (a
        CANCELED or FAILED job's retention policy may keep them: they stay)."""
        job_id = JobID(entry.job_id)
        status = JobStatus(entry.status)
        counter, store = await self.checkpoint_services(job_id)
        if status is JobStatus.FINISHED:
            await self._io(_discard_stored_checkpoints, store)
        await self.clean_up(job_id, status, (counter, store))
        log.info("cleaned up job %s (%s), which ended %s under an earlier leader", job_id,
                 entry.job_name, status.value)

    # ------------------------------------------------------------------ termination
    async def record_result(self, result: JobResult) -> None:
        """The job's dirty result entry, tried again until it is written (the job is not
        cleaned up before: a new leader would run it again)."""
        entry = result_entry(result)
        while True:
            try:
                if not await self._io(self._results.has_entry, result.job_id):
                    await self._io(self._results.create_dirty, entry)
                return
            except Exception as e:
                log.warning("could not write the result of job %s to the job result store "
                            "(tried again in %.0f s): %s", result.job_id, RETRY_DELAY_S, e)
                await asyncio.sleep(RETRY_DELAY_S)

    async def clean_up(self, job_id: JobID, status: JobStatus,
                       services: CheckpointServices | None) -> None:
        """After the dirty entry (and the release of the checkpoints' files): the job graph
        goes, the checkpoint store and counter forget the job, the entry is marked clean."""
        await self._io(self._graphs.remove, job_id)
        if services is not None:
            counter, store = services
            await self._io(store.shutdown, status)
            await self._io(counter.shutdown, status)
        await self._io(self._results.mark_clean, job_id)


def result_entry(result: JobResult) -> JobResultEntry:
    error = result.error
    return JobResultEntry(
        job_id=str(result.job_id), job_name=result.job_name, status=result.status.value,
        start_time=result.start_time, end_time=result.end_time,
        error=None if error is None else f"{error.type_name}: {error.message}")


def result_of(entry: JobResultEntry) -> JobResult:
    """The JobResult a client asks for, from an entry an earlier leader wrote."""
    error = None
    if entry.error is not None:
        type_name, _, message = entry.error.partition(": ")
        error = SerializedError(type_name=type_name, message=message)
    return JobResult(
        job_id=JobID(entry.job_id), job_name=entry.job_name, status=JobStatus(entry.status),
        start_time=entry.start_time, end_time=entry.end_time, error=error)


def _discard_stored_checkpoints(store: CompletedCheckpointStore) -> None:
    from strom.jobmanager.checkpoint.stored import decode_checkpoint

    for checkpoint_id, payload in store.recover():
        try:
            checkpoint = decode_checkpoint(payload)
            if checkpoint.location is not None:
                checkpoint.location.discard()
        except Exception as e:
            log.warning("could not discard checkpoint %d of a finished job: %s",
                        checkpoint_id, e)
