"""A job the Dispatcher has accepted but whose JobMaster it has not made yet (its recovery
stores are still being opened) is INITIALIZING, as in Flink: listing the jobs in that
moment does not fail with an unknown job (REST's /jobs answered 404)."""

from __future__ import annotations

import threading
from typing import Any

from strom.common.configuration import Configuration
from strom.common.job import JobID, JobStatus
from strom.datastream import StreamExecutionEnvironment
from strom.ha.memory import MemoryCheckpointRecoveryFactory
from strom.ha.services import StandaloneHaServices
from strom.heartbeat import HeartbeatSettings
from strom.jobmanager.entrypoint import create_jobmanager_components
from strom.rpc.messages import SerializedValue
from strom.rpc.service import RpcService
from strom.testing import CollectSink
from strom.testing.sync import wait_until


class SlowCheckpointStores(MemoryCheckpointRecoveryFactory):
    """Opening a job's checkpoint id counter waits until the test lets it."""

    def __init__(self) -> None:
        super().__init__()
        self.opening = threading.Event()
        self.go_on = threading.Event()

    def create_checkpoint_id_counter(self, job_id: JobID) -> Any:
        self.opening.set()
        assert self.go_on.wait(30), "the test never let the store open"
        return super().create_checkpoint_id_counter(job_id)


async def _idle(dispatcher: Any) -> bool:
    return not dispatcher.leftovers()


def test_a_job_whose_stores_are_opening_is_listed_as_initializing() -> None:
    stores = SlowCheckpointStores()
    ha = StandaloneHaServices(Configuration())
    ha.checkpoint_recovery_factory = lambda: stores  # type: ignore[method-assign]
    rpc = RpcService("initializing-test")
    rm, dispatcher = create_jobmanager_components(rpc, HeartbeatSettings(), ha=ha)
    try:
        rpc.run_sync(rm.start(), timeout=10)
        rpc.run_sync(dispatcher.start(), timeout=10)
        env = StreamExecutionEnvironment.get_execution_environment()
        env.from_collection([1]).sink_to(CollectSink())
        job_id = JobID.generate()
        submitted = rpc.submit(dispatcher.submit_job(
            SerializedValue(env._job_graph("slow stores")), job_id))
        wait_until(stores.opening.is_set, timeout_s=10, what="the stores to be opened")
        jobs = rpc.run_sync(dispatcher.list_jobs(), timeout=10)
        assert [(job.job_id, job.status) for job in jobs] == [
            (job_id, JobStatus.INITIALIZING)]
        stores.go_on.set()
        submitted.result(timeout=30)
        result = rpc.run_sync(dispatcher.request_job_result(job_id), timeout=30)
        assert result.status.is_globally_terminal_state()  # no TaskManagers: it fails
        wait_until(lambda: rpc.run_sync(_idle(dispatcher), timeout=10), timeout_s=30,
                   what="the finished job's JobMaster to stop")
    finally:
        stores.go_on.set()
        rpc.run_sync(dispatcher.stop(), timeout=30)
        rpc.run_sync(rm.stop(), timeout=30)
        rpc.stop()
