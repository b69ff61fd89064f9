"""JobManager failover in one process, without ZooKeeper: two Dispatchers on the same
in-memory recovery stores (and the same ResourceManager and TaskExecutors) model the old and
the new leader. Dispatcher A runs a checkpointed keyed window job that writes exactly once
with the FileSink; A is suspended mid-job (its leadership revoked); Dispatcher B recovers the
job from the job graph store and its latest completed checkpoint, and the finished part
files equal the plain-Python oracle of an uninterrupted run
(``examples/exactly_once_windows.py``). Also: a finished job is not run again, a dirty
result is cleaned up by the new leader, and a completed checkpoint the store refuses is
aborted (nothing committed).
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import cloudpickle
import pytest

from strom.client.job_client import job_graph_payload
from strom.common.job import JobID, JobStatus
from strom.datastream import StreamExecutionEnvironment
from strom.ha.memory import (
    MemoryCheckpointRecoveryFactory,
    MemoryCompletedCheckpointStore,
    MemoryJobGraphStore,
    MemoryJobResultStore,
)
from strom.ha.stores import JobResultEntry, StoredJobGraph
from strom.heartbeat import HeartbeatSettings
from strom.jobmanager.checkpoint import CompletedCheckpoint
from strom.jobmanager.checkpoint.stored import encode_checkpoint
from strom.jobmanager.cluster_info import JobSubmission
from strom.jobmanager.dispatcher import Dispatcher
from strom.jobmanager.jobmaster import JobMaster
from strom.jobmanager.resourcemanager import ResourceManager
from strom.minicluster import MiniCluster
from strom.network.elements import CheckpointType
from strom.network.environment import NetworkEnvironment
from strom.network.local_network import LocalNetwork
from strom.rpc.gateways import DispatcherGateway
from strom.rpc.service import RpcService
from strom.state.checkpoint_metadata import CheckpointMetadata
from strom.state.checkpoint_storage import CheckpointLocation
from strom.taskmanager.task_executor import TaskExecutor
from strom.testing import wait_until

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
DEADLINE_S = 60.0
TIMEOUT_S = 30.0


def _job_module() -> ModuleType:
    sys.path.insert(0, str(EXAMPLES))
    try:
        import exactly_once_windows  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(EXAMPLES))
    # the stored job graph must unpickle without examples/ on sys.path
    cloudpickle.register_pickle_by_value(exactly_once_windows)
    return exactly_once_windows


job = _job_module()


class SharedStores:
    """The recovery stores of an HA setup, in memory, shared by the Dispatchers of one test
    (a ZooKeeper cluster's role). ``kind`` is not NONE: job graphs are persisted."""

    kind = "MEMORY"

    def __init__(self, checkpoints: MemoryCheckpointRecoveryFactory | None = None) -> None:
        self.graphs = MemoryJobGraphStore()
        self.results = MemoryJobResultStore()
        self.checkpoints = checkpoints or MemoryCheckpointRecoveryFactory()

    def job_graph_store(self) -> MemoryJobGraphStore:
        return self.graphs

    def job_result_store(self) -> MemoryJobResultStore:
        return self.results

    def checkpoint_recovery_factory(self) -> MemoryCheckpointRecoveryFactory:
        return self.checkpoints

    def leader_election_service(self, executor: Any) -> Any:
        raise NotImplementedError("the tests start and stop the Dispatchers themselves")

    def leader_retrieval(self, component_id: str, executor: Any = None) -> Any:
        raise NotImplementedError("the tests start and stop the Dispatchers themselves")

    def close(self) -> None:
        pass


class RefusingStores(MemoryCheckpointRecoveryFactory):
    """Completed checkpoint stores whose ``add`` fails while ``leading`` is False (a deposed
    leader's ZooKeeper transaction)."""

    def __init__(self) -> None:
        super().__init__()
        self.leading = True
        self.stores: list[MemoryCompletedCheckpointStore] = []

    def create_completed_checkpoint_store(self, job_id: JobID) -> MemoryCompletedCheckpointStore:
        store = MemoryCompletedCheckpointStore(has_leadership=lambda: self.leading)
        self.stores.append(store)
        return store


class Cluster:
    """A ResourceManager and two TaskExecutors on one RPC service; Dispatchers come and go."""

    def __init__(self, stores: SharedStores) -> None:
        self.stores = stores
        self.rpc = RpcService(mode="local")
        heartbeat = HeartbeatSettings()
        self.rm = ResourceManager(self.rpc, heartbeat=heartbeat)
        network = LocalNetwork()
        self.task_executors = [
            TaskExecutor(self.rpc, self.rm.address, 2, NetworkEnvironment(channels=network),
                         _wall_clock_ms, heartbeat=heartbeat) for _ in range(2)]
        self.dispatchers: list[Dispatcher] = []

        async def start() -> None:
            await self.rm.start()
            for te in self.task_executors:
                await te.start()

        self.rpc.run_sync(start(), timeout=TIMEOUT_S)
        wait_until(lambda: all(te.registered.is_set() for te in self.task_executors),
                   TIMEOUT_S, "the TaskExecutors to register")

    def dispatcher(self, name: str) -> Dispatcher:
        dispatcher = Dispatcher(self.rpc, self.rm.address, name=name, ha=self.stores,
                                fencing_token=name[-1] * 32)
        self.rpc.run_sync(dispatcher.start(), timeout=TIMEOUT_S)
        self.dispatchers.append(dispatcher)
        return dispatcher

    def gateway(self, dispatcher: Dispatcher) -> DispatcherGateway:
        return self.rpc.connect(dispatcher.address, DispatcherGateway)

    def run(self, coro: Any, timeout: float = TIMEOUT_S) -> Any:
        return self.rpc.run_sync(coro, timeout=timeout)

    def stop(self) -> None:
        async def stop() -> None:
            for dispatcher in self.dispatchers:
                await dispatcher.stop()
            for te in self.task_executors:
                await te.stop()
            await self.rm.stop()

        try:
            self.rpc.run_sync(stop(), timeout=TIMEOUT_S)
        finally:
            self.rpc.stop()


def _wall_clock_ms() -> int:
    import time

    return time.time_ns() // 1_000_000


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    c = Cluster(SharedStores())
    try:
        yield c
    finally:
        c.stop()


def window_job(tmp_path: Path, records: int, rate: float, in_memory: bool = False,
               **config: str) -> Any:
    """The example's job graph: checkpoints every 100 ms into ``tmp_path/checkpoints`` (or
    the JobManager's memory)."""
    directory = None if in_memory else str(tmp_path / "checkpoints")
    configuration = job.configuration(directory, 100, restart_delay_ms=50)
    for key, value in config.items():
        configuration.set_string(key, value)
    env = StreamExecutionEnvironment.get_execution_environment(configuration)
    job.build(env, str(tmp_path / "out"), records, rate=rate, parallelism=2)
    return env._job_graph("exactly-once windows")


def finished_lines(output: Path) -> list[str]:
    return sorted(line for part in output.glob(f"{job.PART_PREFIX}-*")
                  for line in part.read_text().splitlines())


def assert_exactly_once(output: Path, records: int) -> None:
    got, expected = Counter(finished_lines(output)), Counter(job.expected_lines(records))
    duplicated = sorted(line for line, n in got.items() if n > 1)
    missing = sorted((expected - got).elements())
    unexpected = sorted((got - expected).elements())
    assert not (duplicated or missing or unexpected), (
        f"finished output differs from the oracle ({sum(expected.values())} lines): "
        f"{len(duplicated)} duplicated, e.g. {duplicated[:3]}; {len(missing)} missing, e.g. "
        f"{missing[:3]}; {len(unexpected)} unexpected, e.g. {unexpected[:3]}")


def latest_completed(job_master: JobMaster) -> CompletedCheckpoint | None:
    coordinator = job_master.checkpoint_coordinator
    return None if coordinator is None else coordinator.latest_completed()


@pytest.mark.parametrize("storage", ["filesystem", "jobmanager"])
def test_the_new_leader_recovers_a_running_job_from_its_latest_checkpoint(
        cluster: Cluster, tmp_path: Path, storage: str) -> None:
    """With the JobManager's in-memory checkpoint storage too: the stored checkpoint holds
    the state inline."""
    records = 30_000
    job_id = JobID.generate()
    a = cluster.dispatcher("dispatcher-a")
    graph = window_job(tmp_path, records, rate=6_000, in_memory=storage == "jobmanager")
    cluster.run(cluster.gateway(a).submit_job(job_graph_payload(graph, cluster.rpc), job_id))
    assert cluster.stores.graphs.job_ids() == [job_id]  # stored before the JobMaster started

    # some checkpoints completed and committed part files: then A loses its leadership
    job_master_a = a.job_masters[job_id]
    wait_until(lambda: (latest_completed(job_master_a) or _NONE).checkpoint_id >= 3
               and finished_lines(tmp_path / "out"), DEADLINE_S, "checkpoints on A")
    cluster.run(a.suspend())
    assert job_master_a.status is JobStatus.SUSPENDED
    before = latest_completed(job_master_a)
    assert before is not None
    counter = cluster.stores.checkpoints.create_checkpoint_id_counter(job_id)
    used_by_a = counter.get() - 1  # the last id A took (perhaps of an aborted checkpoint)
    committed_on_a = finished_lines(tmp_path / "out")
    assert 0 < len(committed_on_a) < len(job.expected_lines(records)), "A ran to the end"
    # suspended is not terminated: no result, the graph and checkpoints stay (the retained
    # one: subsumed ones left the store); its tasks ended and its slots are free
    assert not cluster.stores.results.has_entry(job_id)
    assert cluster.stores.graphs.job_ids() == [job_id]
    store = cluster.stores.checkpoints.create_completed_checkpoint_store(job_id)
    assert [checkpoint_id for checkpoint_id, _ in store.recover()] == [before.checkpoint_id]
    assert cluster.run(cluster.rm.free_slot_count()) == 4
    cluster.run(a.stop())

    b = cluster.dispatcher("dispatcher-b")
    assert cluster.run(b.recover_jobs()) == [job_id]
    gateway = cluster.gateway(b)
    wait_until(lambda: cluster.run(gateway.request_job_status(job_id)) is JobStatus.RUNNING,
               DEADLINE_S, "the recovered job to run")
    [overview] = cluster.run(gateway.list_jobs())
    assert (overview.job_id, overview.job_name) == (job_id, "exactly-once windows")
    job_master_b = b.job_masters[job_id]
    coordinator = job_master_b.checkpoint_coordinator
    assert coordinator is not None
    restored = coordinator.stats.snapshot().latest_restored
    assert restored is not None and restored.checkpoint_id == before.checkpoint_id
    assert restored.external_path == before.external_pointer
    # checkpoint ids go on from the job's counter
    wait_until(lambda: (latest_completed(job_master_b) or _NONE).checkpoint_id > used_by_a,
               DEADLINE_S, "a checkpoint on B")

    result = cluster.run(gateway.request_job_result(job_id), timeout=120)
    assert result.status is JobStatus.FINISHED, result.error
    assert_exactly_once(tmp_path / "out", records)
    assert set(committed_on_a) <= set(finished_lines(tmp_path / "out"))
    # a globally terminated job leaves a clean result and nothing else
    assert cluster.stores.results.has_clean(job_id)
    assert cluster.stores.graphs.job_ids() == []
    wait_until(lambda: not (tmp_path / "checkpoints" / str(job_id)).exists(), TIMEOUT_S,
               "the finished job's checkpoints to be discarded")


def test_a_damaged_recovered_checkpoint_fails_the_job_instead_of_starting_it_afresh(
        cluster: Cluster, tmp_path: Path) -> None:
    job_id = JobID.generate()
    a = cluster.dispatcher("dispatcher-a")
    graph = window_job(tmp_path, 30_000, rate=6_000)
    cluster.run(cluster.gateway(a).submit_job(job_graph_payload(graph, cluster.rpc), job_id))
    wait_until(lambda: (latest_completed(a.job_masters[job_id]) or _NONE).checkpoint_id >= 1,
               DEADLINE_S, "a checkpoint on A")
    cluster.run(a.suspend())
    store = cluster.stores.checkpoints.create_completed_checkpoint_store(job_id)
    [(checkpoint_id, _)] = store.recover()
    store.add(checkpoint_id, b"not a checkpoint")

    b = cluster.dispatcher("dispatcher-b")
    assert cluster.run(b.recover_jobs()) == [job_id]
    result = cluster.run(cluster.gateway(b).request_job_result(job_id))
    assert result.status is JobStatus.FAILED
    assert result.error is not None and "damaged" in result.error.message
    assert cluster.stores.results.has_clean(job_id)


def test_stopping_a_dispatcher_with_ha_suspends_its_jobs_instead_of_cancelling_them(
        cluster: Cluster, tmp_path: Path) -> None:
    job_id = JobID.generate()
    a = cluster.dispatcher("dispatcher-a")
    graph = window_job(tmp_path, 30_000, rate=6_000)
    cluster.run(cluster.gateway(a).submit_job(job_graph_payload(graph, cluster.rpc), job_id))
    job_master = a.job_masters[job_id]
    wait_until(lambda: job_master.status is JobStatus.RUNNING, DEADLINE_S, "the job to run")
    cluster.run(a.stop())
    assert job_master.status is JobStatus.SUSPENDED
    assert not cluster.stores.results.has_entry(job_id)
    assert cluster.stores.graphs.job_ids() == [job_id]
    assert cluster.run(cluster.rm.free_slot_count()) == 4


class _NoCheckpoint:
    checkpoint_id = 0


_NONE: Any = _NoCheckpoint()


def test_a_finished_job_is_not_run_again_by_the_new_leader(
        cluster: Cluster, tmp_path: Path) -> None:
    records = 2_000
    job_id = JobID.generate()
    a = cluster.dispatcher("dispatcher-a")
    graph = window_job(tmp_path, records, rate=0)
    cluster.run(cluster.gateway(a).submit_job(job_graph_payload(graph, cluster.rpc), job_id))
    result = cluster.run(cluster.gateway(a).request_job_result(job_id), timeout=120)
    assert result.status is JobStatus.FINISHED
    assert cluster.stores.results.has_clean(job_id)
    assert cluster.stores.graphs.job_ids() == []
    cluster.run(a.stop())

    b = cluster.dispatcher("dispatcher-b")
    assert cluster.run(b.recover_jobs()) == []
    assert b.job_masters == {}
    # and it cannot be submitted again under the same id
    with pytest.raises(Exception, match="already submitted"):
        cluster.run(cluster.gateway(b).submit_job(job_graph_payload(graph, cluster.rpc),
                                                  job_id))


def test_a_stored_job_with_a_clean_result_loses_its_graph_and_does_not_run(
        cluster: Cluster) -> None:
    job_id = JobID.generate()
    stores = cluster.stores
    stores.graphs.put(StoredJobGraph(str(job_id), b"not read", JobSubmission()))
    stores.results.create_dirty(JobResultEntry(str(job_id), "done", "CANCELED", 1, 2))
    stores.results.mark_clean(job_id)
    b = cluster.dispatcher("dispatcher-b")
    assert cluster.run(b.recover_jobs()) == []
    assert stores.graphs.job_ids() == []


def test_the_new_leader_finishes_the_cleanup_of_a_dirty_result(
        cluster: Cluster, tmp_path: Path) -> None:
    """The old leader wrote the dirty result and died: B removes the job graph and the
    checkpoint pointers, discards the FINISHED job's checkpoint files, marks the result clean
    and answers it to clients; it does not run the job."""
    job_id = JobID.generate()
    stores = cluster.stores
    stores.graphs.put(StoredJobGraph(str(job_id), b"never unpickled", JobSubmission()))
    location = CheckpointLocation(str(tmp_path / "checkpoints" / str(job_id) / "chk-4"))
    metadata = CheckpointMetadata(checkpoint_id=4, job_id=str(job_id), timestamp_ms=1)
    pointer = location.write_metadata(metadata)
    checkpoint = CompletedCheckpoint(4, 1, CheckpointType.CHECKPOINT, pointer, metadata, 0, 3)
    checkpoint_store = stores.checkpoints.create_completed_checkpoint_store(job_id)
    checkpoint_store.add(4, encode_checkpoint(checkpoint))
    stores.checkpoints.create_checkpoint_id_counter(job_id).set_count(5)
    stores.results.create_dirty(JobResultEntry(str(job_id), "old job", "FINISHED", 10, 20))
    assert (tmp_path / "checkpoints" / str(job_id) / "chk-4" / "_metadata").exists()

    b = cluster.dispatcher("dispatcher-b")
    assert cluster.run(b.recover_jobs()) == []
    assert b.job_masters == {}
    assert stores.results.has_clean(job_id) and not stores.results.has_dirty(job_id)
    assert stores.graphs.job_ids() == []
    assert checkpoint_store.recover() == []
    # the factory forgot the job's counter: a new one starts at 1
    assert stores.checkpoints.create_checkpoint_id_counter(job_id).get() == 1
    assert not (tmp_path / "checkpoints" / str(job_id) / "chk-4").exists()
    result = cluster.run(cluster.gateway(b).request_job_result(job_id))
    assert (result.status, result.job_name) == (JobStatus.FINISHED, "old job")


def test_a_checkpoint_the_store_refuses_is_aborted_and_nothing_is_committed(
        tmp_path: Path) -> None:
    refusing = RefusingStores()
    cluster = Cluster(SharedStores(refusing))
    try:
        records = 24_000
        job_id = JobID.generate()
        a = cluster.dispatcher("dispatcher-a")
        refusing.leading = False  # every add fails from the start
        graph = window_job(tmp_path, records, rate=2_000, **{
            "execution.checkpointing.tolerable-failed-checkpoints": "1000"})
        cluster.run(cluster.gateway(a).submit_job(job_graph_payload(graph, cluster.rpc),
                                                  job_id))
        job_master = a.job_masters[job_id]

        def failed() -> int:
            coordinator = job_master.checkpoint_coordinator
            return 0 if coordinator is None else coordinator.stats.snapshot().failed

        wait_until(lambda: failed() >= 2, DEADLINE_S, "refused checkpoints")
        coordinator = job_master.checkpoint_coordinator
        assert coordinator is not None and coordinator.latest_completed() is None
        snapshot = coordinator.stats.snapshot()
        assert snapshot.completed == 0
        assert snapshot.latest_failed is not None
        assert "completed checkpoint store" in (snapshot.latest_failed.failure_message or "")
        # the tasks heard of the aborts only: the FileSink committed no part file (its
        # input has not ended: the source still runs after the look)
        committed = finished_lines(tmp_path / "out")
        assert all(e.state == "RUNNING" for e in job_master.graph.all() if e.vertex.is_source)
        assert committed == []
        assert refusing.stores[0].recover() == []

        refusing.leading = True
        result = cluster.run(cluster.gateway(a).request_job_result(job_id), timeout=120)
        assert result.status is JobStatus.FINISHED, result.error
        assert_exactly_once(tmp_path / "out", records)
    finally:
        cluster.stop()


def test_a_standalone_cluster_keeps_results_but_no_job_graphs(tmp_path: Path) -> None:
    """Without HA (``ha=None``: a MiniCluster) nothing is ever recovered, so no job graph is
    pickled into the store; results and checkpoints still pass through the in-memory
    stores, and a finished job's are cleaned up."""
    with MiniCluster(num_task_managers=1, slots_per_task_manager=2) as mini:
        assert mini.dispatcher is not None
        stores = mini.dispatcher.ha
        assert stores.kind == "NONE"
        graph = window_job(tmp_path, 3_000, rate=3_000)
        client = mini.submit(graph)
        job_id = client.get_job_id()
        wait_until(lambda: mini.dispatcher is not None and job_id in mini.dispatcher.job_masters
                   and (latest_completed(mini.dispatcher.job_masters[job_id])
                        or _NONE).checkpoint_id >= 1, DEADLINE_S, "a checkpoint")
        assert stores.job_graph_store().job_ids() == []
        store = stores.checkpoint_recovery_factory().create_completed_checkpoint_store(job_id)
        assert [checkpoint_id for checkpoint_id, _ in store.recover()]
        assert client.get_job_result().result(timeout=120).status \
            is JobStatus.FINISHED
        assert stores.job_result_store().has_clean(job_id)
        assert store.recover() == []
    assert_exactly_once(tmp_path / "out", 3_000)
