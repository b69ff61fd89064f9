"""A checkpoint the store may or may not hold (the answer to its ZooKeeper transaction was
lost with the connection: ``PossibleInconsistentStateError``) is aborted for the tasks but
its files stay, since the next leader may find it in the store and restore it; the job then
finishes exactly once on that leader. Before, the files were discarded and the next leader
failed the job on a missing checkpoint (found by the process test that stops ZooKeeper)."""

from __future__ import annotations

from pathlib import Path

from test_integration_job_recovery import (
    DEADLINE_S,
    Cluster,
    SharedStores,
    assert_exactly_once,
    window_job,
)

from strom.client.job_client import job_graph_payload
from strom.common.job import JobID, JobStatus
from strom.ha.memory import MemoryCheckpointRecoveryFactory, MemoryCompletedCheckpointStore
from strom.ha.stores import PossibleInconsistentStateError
from strom.testing import wait_until


class _AnswerLostStore(MemoryCompletedCheckpointStore):
    def __init__(self, factory: AnswerLostStores) -> None:
        super().__init__()
        self.factory = factory

    def add(self, checkpoint_id: int, payload: bytes) -> None:
        super().add(checkpoint_id, payload)  # the store has it...
        if self.factory.losing:  # ...but the JobManager never hears so
            raise PossibleInconsistentStateError(
                f"checkpoint {checkpoint_id}: the connection was lost before the answer")


class AnswerLostStores(MemoryCheckpointRecoveryFactory):
    """Completed checkpoint stores that keep what ``add`` gives them but raise
    ``PossibleInconsistentStateError`` while ``losing``."""

    def __init__(self) -> None:
        super().__init__()
        self.losing = False
        self.stores: list[_AnswerLostStore] = []

    def create_completed_checkpoint_store(self, job_id: JobID) -> _AnswerLostStore:
        store = _AnswerLostStore(self)
        self.stores.append(store)
        return store


def test_a_checkpoint_the_store_may_hold_keeps_its_files_for_the_next_leader(
        tmp_path: Path) -> None:
    stores = AnswerLostStores()
    cluster = Cluster(SharedStores(stores))
    try:
        records = 24_000
        job_id = JobID.generate()
        a = cluster.dispatcher("dispatcher-a")
        graph = window_job(tmp_path, records, rate=2_000, **{
            "execution.checkpointing.tolerable-failed-checkpoints": "1000"})
        stores.losing = True
        cluster.run(cluster.gateway(a).submit_job(job_graph_payload(graph, cluster.rpc),
                                                  job_id))
        job_master = a.job_masters[job_id]

        def failed() -> int:
            coordinator = job_master.checkpoint_coordinator
            return 0 if coordinator is None else coordinator.stats.snapshot().failed

        wait_until(lambda: failed() >= 2, DEADLINE_S, "checkpoints whose answer was lost")
        held = [checkpoint_id for checkpoint_id, _ in stores.stores[0].recover()]
        assert held, "the store holds none of the checkpoints"
        # the files of what the store holds are still there, whatever a new leader picks
        wait_until(lambda: failed() >= 3, DEADLINE_S, "one more checkpoint")
        missing = [n for n in held if not (tmp_path / "checkpoints" / str(job_id)
                                           / f"chk-{n}" / "_metadata").exists()]
        assert not missing, f"checkpoints {missing} are in the store but their files are gone"

        cluster.run(a.suspend())  # A loses its leadership
        cluster.run(a.stop())
        stores.losing = False
        b = cluster.dispatcher("dispatcher-b")
        assert cluster.run(b.recover_jobs()) == [job_id]
        result = cluster.run(cluster.gateway(b).request_job_result(job_id), timeout=120)
        assert result.status is JobStatus.FINISHED, result.error
        assert_exactly_once(tmp_path / "out", records)
    finally:
        cluster.stop()
