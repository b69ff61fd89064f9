"""The Dispatcher: accepts jobs, starts one JobMaster per job, keeps their results."""

from __future__ import annotations

import asyncio

from strom.common.job import JobID, JobStatus
from strom.graph.job_graph import JobGraph
from strom.jobmanager.job_result import JobResult
from strom.jobmanager.jobmaster import JobMaster
from strom.rpc.gateways import DispatcherGateway, JobMasterGateway
from strom.rpc.messages import JobOverview, SerializedValue
from strom.rpc.service import RpcEndpoint, RpcService

__all__ = ["Dispatcher", "UnknownJobError"]


class UnknownJobError(KeyError):
    """No job with that id was submitted to this cluster."""

    def __str__(self) -> str:
        return f"No job with id {self.args[0]} is known to this cluster."


class Dispatcher(RpcEndpoint):
    gateway = DispatcherGateway

    def __init__(self, rpc: RpcService, resource_manager_address: str,
                 name: str = "dispatcher") -> None:
        super().__init__(rpc, name)
        self.rm_address = resource_manager_address
        self.job_masters: dict[JobID, JobMaster] = {}
        self.job_names: dict[JobID, str] = {}
        self.results: dict[JobID, JobResult] = {}
        self._result_futures: dict[JobID, asyncio.Future[JobResult]] = {}

    async def submit_job(self, job_graph: SerializedValue, job_id: JobID) -> JobID:
        """Start a JobMaster for the job. ``job_graph`` holds the JobGraph: the object itself
        over plain ``local://``, its cloudpickled bytes over a serializing transport."""
        if job_id in self.job_names:
            raise ValueError(f"Job {job_id} was already submitted to this cluster.")
        graph = job_graph.value()
        if not isinstance(graph, JobGraph):
            raise TypeError(f"submit_job() needs a JobGraph, got a {type(graph).__name__}.")
        self.job_names[job_id] = graph.name
        self._result_futures[job_id] = self.rpc.loop.create_future()
        job_master = JobMaster(
            self.rpc, job_id, graph, self.rm_address,
            on_done=lambda result: self._job_done(result),
        )
        self.job_masters[job_id] = job_master
        await job_master.start()
        return job_id

    def _job_done(self, result: JobResult) -> None:
        self.results[result.job_id] = result
        job_master = self.job_masters.pop(result.job_id, None)
        future = self._result_futures.get(result.job_id)
        if future is not None and not future.done():
            future.set_result(result)
        if job_master is not None:
            self.spawn(job_master.stop(), name=f"stop-jobmaster-{result.job_id}")

    def _job_master(self, job_id: JobID) -> JobMasterGateway | None:
        job_master = self.job_masters.get(job_id)
        if job_master is None:
            return None
        return self.rpc.connect(job_master.address, JobMasterGateway)

    async def request_job_status(self, job_id: JobID) -> JobStatus:
        if job_id in self.results:
            return self.results[job_id].status
        gateway = self._job_master(job_id)
        if gateway is None:
            raise UnknownJobError(job_id)
        return await gateway.request_job_status()

    async def request_job_result(self, job_id: JobID) -> JobResult:
        future = self._result_futures.get(job_id)
        if future is None:
            raise UnknownJobError(job_id)
        return await asyncio.shield(future)

    async def cancel_job(self, job_id: JobID) -> None:
        if job_id in self.results:
            return
        gateway = self._job_master(job_id)
        if gateway is None:
            raise UnknownJobError(job_id)
        await gateway.cancel()

    async def list_jobs(self) -> list[JobOverview]:
        return [JobOverview(job_id, name, await self.request_job_status(job_id))
                for job_id, name in list(self.job_names.items())]

    def leftovers(self) -> list[str]:
        running = [f"{self.address}: job {job_id} ({self.job_names.get(job_id)}) still runs"
                   for job_id in self.job_masters]
        return super().leftovers() + running

    async def on_stop(self) -> None:
        for job_master in list(self.job_masters.values()):
            await job_master.cancel()
        for job_master in list(self.job_masters.values()):
            await job_master.stop()
