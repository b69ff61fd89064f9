"""The embedded local cluster: the real Dispatcher, ResourceManager, JobMasters and
TaskExecutors, in this process, over the ``local://`` RPC transport.

``StreamExecutionEnvironment.execute()`` starts one sized for the job and stops it when the
job ends. Tests and tools can keep one running for several jobs::

    with MiniCluster(num_task_managers=2, slots_per_task_manager=2) as cluster:
        client = cluster.submit(job_graph)
        client.get_job_execution_result().result()
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from strom.client.job_client import ClusterJobClient
from strom.common.job import JobID
from strom.graph.job_graph import JobGraph
from strom.jobmanager.dispatcher import Dispatcher
from strom.jobmanager.resourcemanager import ResourceManager
from strom.network.local_network import LocalNetwork
from strom.rpc.gateways import DispatcherGateway
from strom.rpc.service import RpcService
from strom.taskmanager.task_executor import STOP_GRACE_S, TaskExecutor

__all__ = ["MiniCluster"]


def _wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


class MiniCluster:
    def __init__(
        self,
        num_task_managers: int = 1,
        slots_per_task_manager: int = 1,
        clock: Callable[[], int] | None = None,
    ) -> None:
        if num_task_managers < 1 or slots_per_task_manager < 1:
            raise ValueError(
                "A MiniCluster needs at least one TaskManager with at least one slot, got "
                f"{num_task_managers} TaskManagers with {slots_per_task_manager} slots."
            )
        self.num_task_managers = num_task_managers
        self.slots_per_task_manager = slots_per_task_manager
        self.clock = clock or _wall_clock_ms
        self.rpc: RpcService | None = None
        self.task_executors: list[TaskExecutor] = []
        self.dispatcher: Dispatcher | None = None
        self.resource_manager: ResourceManager | None = None
        #: how long stop() waits for running tasks to end (in all, not per slot)
        self.stop_grace_s = STOP_GRACE_S

    def start(self) -> MiniCluster:
        rpc = self.rpc = RpcService()
        network = LocalNetwork()
        self.resource_manager = ResourceManager(rpc)
        self.dispatcher = Dispatcher(rpc, self.resource_manager.address)
        self.task_executors = [
            TaskExecutor(rpc, self.resource_manager.address, self.slots_per_task_manager,
                         network, self.clock)
            for _ in range(self.num_task_managers)
        ]
        listen = getattr(self.clock, "add_listener", None)
        if listen is not None:
            for te in self.task_executors:
                listen(te.wake_all)

        async def start_all() -> None:
            assert self.resource_manager is not None and self.dispatcher is not None
            await self.resource_manager.start()
            await self.dispatcher.start()
            for te in self.task_executors:
                await te.start()

        rpc.run_sync(start_all(), timeout=30)
        return self

    @property
    def dispatcher_gateway(self) -> DispatcherGateway:
        assert self.rpc is not None and self.dispatcher is not None, "start() the cluster first"
        return self.rpc.connect(self.dispatcher.address, DispatcherGateway)

    def submit(self, job_graph: JobGraph, job_id: JobID | None = None) -> ClusterJobClient:
        """Submit a job; returns a client that follows it."""
        assert self.rpc is not None, "start() the cluster first"
        job_id = job_id or JobID.generate()
        gateway = self.dispatcher_gateway
        # local:// hands control messages over by reference; the JobMaster pickles each
        # vertex's operators for its tasks before submission returns.
        self.rpc.run_sync(gateway.submit_job(job_graph, str(job_id)), timeout=30)
        return ClusterJobClient(self.rpc, gateway, str(job_id))

    def stop(self, grace_s: float | None = None) -> None:
        """Stop every component; waits at most ``grace_s`` (default :attr:`stop_grace_s`)
        for tasks still running. A task blocked in a user function cannot be interrupted: its
        slot's daemon thread is left to end with the process."""
        rpc = self.rpc
        if rpc is None:
            return
        self.rpc = None
        grace = self.stop_grace_s if grace_s is None else grace_s

        async def stop_all() -> None:
            assert self.dispatcher is not None and self.resource_manager is not None
            await self.dispatcher.stop()
            for te in self.task_executors:
                te.stop_grace_s = grace
                await te.stop()
            await self.resource_manager.stop()
            # calls still waiting on the loop (a client waiting for the result of a job whose
            # task never returned) end now, rather than being destroyed with the loop
            leftovers = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in leftovers:
                task.cancel()
            await asyncio.gather(*leftovers, return_exceptions=True)

        try:
            rpc.run_sync(stop_all(), timeout=30)
        finally:
            rpc.stop()

    def __enter__(self) -> MiniCluster:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
