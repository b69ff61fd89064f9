"""The embedded local cluster: the real Dispatcher, ResourceManager, JobMasters and
TaskExecutors, in this process, over the ``local://`` RPC transport.

``rpc`` picks how their calls travel: ``local`` (by reference), ``codec`` (through the TCP
codec, as over a socket) or ``tcp`` (over loopback TCP); by default the ``STROM_RPC``
environment variable decides, else ``local``. ``ask_timeout_s`` bounds every call
(``pekko.ask.timeout``); ``heartbeat`` sets ``heartbeat.interval`` and ``heartbeat.timeout``.

``network`` picks how the TaskExecutors exchange data: ``local`` (one in-process network,
batches by reference) or ``tcp`` (each TaskExecutor has its own network environment and
data port on 127.0.0.1, and every channel between two TaskExecutors runs over loopback TCP
with credit-based flow control); by default the ``STROM_NETWORK`` environment variable
decides, else ``local``.

``taskmanagers`` picks where the TaskExecutors run: ``thread`` (in this process) or
``process`` (one ``strom taskmanager`` process each, see :mod:`strom.local_taskmanagers`;
the Dispatcher, ResourceManager and JobMasters stay here and talk to them over ``tcp://`` on
127.0.0.1, and the processes exchange data over loopback TCP).

``StreamExecutionEnvironment.execute()`` starts one sized for the job and stops it when the
job ends. Tests and tools can keep one running for several jobs::

    with MiniCluster(num_task_managers=2, slots_per_task_manager=2) as cluster:
        client = cluster.submit(job_graph)
        client.get_job_execution_result().result()

With ``rest_port`` (0 = any free port) it also serves the REST API on 127.0.0.1, as a
JobManager does, at :attr:`rest_url`.

Its JobManager and in-process TaskExecutors share one metric registry
(:attr:`metric_registry`); :attr:`metric_fetcher` fills the store REST reads. The
``metrics.*`` keys of ``configuration`` apply as in a JobManager process: a reporter it
names (``metrics.reporters: prom``) starts with the cluster and stops with it, and
TaskManager processes (``taskmanagers="process"``) get the keys too.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from typing import Any

from strom.client.job_client import ClusterJobClient, job_graph_payload
from strom.common.configuration import Configuration
from strom.common.job import JobID
from strom.graph.job_graph import JobGraph
from strom.heartbeat import HeartbeatSettings
from strom.jobmanager.dispatcher import Dispatcher
from strom.jobmanager.entrypoint import create_jobmanager_components
from strom.jobmanager.job_metrics import open_jobmanager_metrics
from strom.jobmanager.metrics.fetcher import MetricFetcher
from strom.jobmanager.resourcemanager import ResourceManager
from strom.local_taskmanagers import LocalTaskManagerProcesses
from strom.metrics.process import ProcessStats, register_process_metrics
from strom.metrics.prometheus import start_reporters
from strom.metrics.registry import MetricRegistry
from strom.network.environment import NetworkEnvironment
from strom.network.local_network import LocalNetwork
from strom.rpc.gateways import DispatcherGateway, ResourceManagerGateway, TaskExecutorGateway
from strom.rpc.messages import TaskStatus
from strom.rpc.service import DEFAULT_ASK_TIMEOUT_S, RpcService, rpc_mode_from_env
from strom.taskmanager.task_executor import STOP_GRACE_S, TaskExecutor

__all__ = ["NETWORK_MODE_ENV", "MiniCluster", "network_mode_from_env"]

#: selects the data plane of clusters that are not told one: ``local`` or ``tcp``
NETWORK_MODE_ENV = "STROM_NETWORK"
_NETWORK_MODES = ("local", "tcp")
_TASKMANAGER_MODES = ("thread", "process")


def network_mode_from_env(default: str = "local") -> str:
    """The data plane the ``STROM_NETWORK`` environment variable asks for (``local`` if
    unset)."""
    mode = os.environ.get(NETWORK_MODE_ENV, "").strip().lower() or default
    if mode not in _NETWORK_MODES:
        raise ValueError(f"{NETWORK_MODE_ENV}={mode!r} is not a network mode; use one of "
                         f"{', '.join(_NETWORK_MODES)}.")
    return mode


def _wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


class MiniCluster:
    def __init__(
        self,
        num_task_managers: int = 1,
        slots_per_task_manager: int = 1,
        clock: Callable[[], int] | None = None,
        rpc: str | None = None,
        ask_timeout_s: float = DEFAULT_ASK_TIMEOUT_S,
        network: str | None = None,
        heartbeat: HeartbeatSettings | None = None,
        taskmanagers: str = "thread",
        rest_port: int | None = None,
        configuration: Configuration | None = None,
        rest_configuration: Configuration | None = None,
    ) -> None:
        if num_task_managers < 1 or slots_per_task_manager < 1:
            raise ValueError(
                "A MiniCluster needs at least one TaskManager with at least one slot, got "
                f"{num_task_managers} TaskManagers with {slots_per_task_manager} slots."
            )
        self.num_task_managers = num_task_managers
        self.slots_per_task_manager = slots_per_task_manager
        self.clock = clock or _wall_clock_ms
        self.rpc_mode = rpc or rpc_mode_from_env()
        self.ask_timeout_s = ask_timeout_s
        self.heartbeat = heartbeat or HeartbeatSettings()
        self.network_mode = network or network_mode_from_env()
        if self.network_mode not in _NETWORK_MODES:
            raise ValueError(f"network must be one of {', '.join(_NETWORK_MODES)}, got "
                             f"{self.network_mode!r}.")
        if taskmanagers not in _TASKMANAGER_MODES:
            raise ValueError(f"taskmanagers must be one of {', '.join(_TASKMANAGER_MODES)}, "
                             f"got {taskmanagers!r}.")
        if taskmanagers == "process" and clock is not None:
            raise ValueError("A MiniCluster with TaskManager processes runs on the wall clock; "
                             "use taskmanagers='thread' with a custom clock.")
        self.taskmanagers = taskmanagers
        if taskmanagers == "process":
            self.rpc_mode, self.network_mode = "tcp", "tcp"
        self.rpc: RpcService | None = None
        self.task_executors: list[TaskExecutor] = []
        #: the TaskManager processes (``taskmanagers="process"``)
        self.processes: LocalTaskManagerProcesses | None = None
        self.dispatcher: Dispatcher | None = None
        self.resource_manager: ResourceManager | None = None
        #: how long stop() waits for running tasks to end (in all, not per slot)
        self.stop_grace_s = STOP_GRACE_S
        self.rest_port = rest_port
        #: the REST server's keys (rest.*, web.*, security.ssl.rest.*, security.rest.token)
        self.rest_configuration = rest_configuration
        self.rest_server: Any = None
        #: the cluster's configuration (its metrics.* keys)
        self.configuration = configuration if configuration is not None else Configuration()
        #: the metrics of this process (JobManager and in-process TaskExecutors)
        self.metric_registry: MetricRegistry | None = None
        #: what the REST API reads the cluster's metrics through
        self.metric_fetcher: MetricFetcher | None = None

    @property
    def rest_url(self) -> str:
        """``http://127.0.0.1:<port>`` of the REST API (with ``rest_port`` set)."""
        assert self.rest_server is not None, "start the MiniCluster with rest_port= first"
        return str(self.rest_server.url)

    def start(self) -> MiniCluster:
        if self.taskmanagers == "process":
            return self._start_with_processes()
        rpc = self.rpc = RpcService(mode=self.rpc_mode, ask_timeout_s=self.ask_timeout_s)
        shared = LocalNetwork()
        tcp = self.network_mode == "tcp"
        self.resource_manager, self.dispatcher = create_jobmanager_components(
            rpc, self.heartbeat)
        registry = self._start_metrics()
        self.task_executors = [
            TaskExecutor(rpc, self.resource_manager.address, self.slots_per_task_manager,
                         NetworkEnvironment(channels=None if tcp else shared, tcp=tcp),
                         self.clock, heartbeat=self.heartbeat, metric_registry=registry)
            for _ in range(self.num_task_managers)
        ]
        process_stats = ProcessStats()
        for te in self.task_executors:
            register_process_metrics(te.metric_group, process_stats)
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
            for te in self.task_executors:
                await asyncio.wait_for(te.registered.wait(), 30)
            if self.rest_port is not None:
                from strom.jobmanager.rest.server import RestServer

                self.rest_server = RestServer(self.dispatcher_gateway, port=self.rest_port,
                                              configuration=self.rest_configuration,
                                              metric_fetcher=self.metric_fetcher)
                await self.rest_server.start()

        try:
            rpc.run_sync(start_all(), timeout=30)
        except BaseException:
            self.stop()
            raise
        return self

    def _start_with_processes(self) -> MiniCluster:
        rpc = self.rpc = RpcService(mode="tcp", host="127.0.0.1",
                                    ask_timeout_s=self.ask_timeout_s)
        try:
            self.resource_manager, self.dispatcher = create_jobmanager_components(
                rpc, self.heartbeat)
            self._start_metrics()

            async def start_jobmanager() -> None:
                assert self.resource_manager is not None and self.dispatcher is not None
                await self.resource_manager.start()
                await self.dispatcher.start()
                if self.rest_port is not None:
                    from strom.jobmanager.rest.server import RestServer

                    self.rest_server = RestServer(self.dispatcher_gateway, port=self.rest_port,
                                                  configuration=self.rest_configuration,
                                                  metric_fetcher=self.metric_fetcher)
                    await self.rest_server.start()

            rpc.run_sync(start_jobmanager(), timeout=30)
            self.processes = LocalTaskManagerProcesses(
                self.num_task_managers, self.slots_per_task_manager,
                self.resource_manager.address, self.ask_timeout_s, self.heartbeat,
                extra_config={key: self.configuration.get_string(key, "")
                              for key in self.configuration.key_set()
                              if key.startswith("metrics.")})
            self.processes.start()
            self._wait_registered(self.processes)
        except BaseException:
            self.stop(grace_s=0.0)
            raise
        return self

    def _start_metrics(self) -> MetricRegistry:
        """The registry with the JobManager's groups, the reporters the configuration asks
        for and the metric fetcher (the components exist, not started yet)."""
        assert self.rpc is not None and self.resource_manager is not None \
            and self.dispatcher is not None
        registry = self.metric_registry = MetricRegistry()
        open_jobmanager_metrics(registry, self.resource_manager, self.dispatcher)
        start_reporters(self.configuration, registry)
        self.metric_fetcher = MetricFetcher(self.rpc, self.dispatcher_gateway, registry,
                                            self.configuration)
        return registry

    def _wait_registered(self, processes: LocalTaskManagerProcesses) -> None:
        rpc, rm = self.rpc, self.resource_manager
        assert rpc is not None and rm is not None
        gateway = rpc.connect(rm.address, ResourceManagerGateway)
        deadline = time.monotonic() + 60.0
        while len(rpc.run_sync(gateway.list_task_managers(), timeout=30)) < processes.num:
            failed = processes.failed()
            if failed is not None:
                raise RuntimeError(failed)
            if time.monotonic() > deadline:
                raise TimeoutError("The local TaskManager processes did not register within "
                                   f"60 s; their logs:\n{processes.logs()}")
            time.sleep(0.01)

    def _task_executor_addresses(self) -> list[str]:
        if self.processes is not None:
            return [p.address for p in self.processes.processes]
        return [te.address for te in self.task_executors]

    @property
    def dispatcher_gateway(self) -> DispatcherGateway:
        assert self.rpc is not None and self.dispatcher is not None, "start() the cluster first"
        return self.rpc.connect(self.dispatcher.address, DispatcherGateway)

    def submit(self, job_graph: JobGraph, job_id: JobID | None = None) -> ClusterJobClient:
        """Submit a job; returns a client that follows it."""
        assert self.rpc is not None, "start() the cluster first"
        job_id = job_id or JobID.generate()
        gateway = self.dispatcher_gateway
        # Over plain local:// the JobGraph goes by reference and the JobMaster pickles each
        # vertex's operators for its tasks before submission returns.
        payload = job_graph_payload(job_graph, self.rpc)
        self.rpc.run_sync(gateway.submit_job(payload, job_id), timeout=30)
        return ClusterJobClient(self.rpc, gateway, job_id)

    def task_statuses(self) -> list[TaskStatus]:
        """The tasks of every TaskExecutor, as their gateways report them."""
        rpc = self.rpc
        assert rpc is not None, "start() the cluster first"

        async def ask_all() -> list[TaskStatus]:
            statuses: list[TaskStatus] = []
            for address in self._task_executor_addresses():
                statuses += await rpc.connect(address, TaskExecutorGateway) \
                    .request_task_status()
            return statuses

        return rpc.run_sync(ask_all(), timeout=30)

    def leftovers(self) -> list[str]:
        """What a cluster without jobs should not hold, endpoint by endpoint: allocated slots,
        deployed tasks, open channels, background tasks, running jobs, unanswered calls."""
        rpc = self.rpc
        if rpc is None:
            return []

        async def collect() -> list[str]:
            found = rpc.leftovers()
            for endpoint in rpc.endpoints():
                found += endpoint.leftovers()
            return found

        return rpc.run_sync(collect(), timeout=30)

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
            if self.rest_server is not None:
                await self.rest_server.stop()
                self.rest_server = None
            if self.metric_fetcher is not None:
                await self.metric_fetcher.close()
            await self.dispatcher.stop()
            for te in self.task_executors:
                te.stop_grace_s = grace
                await te.stop()
            await self.resource_manager.stop()
            if self.processes is not None:
                # after the ResourceManager, which would report them lost
                await asyncio.to_thread(self.processes.stop, max(grace, 1.0))

        try:
            rpc.run_sync(stop_all(), timeout=30)
        finally:
            try:
                if self.processes is not None:
                    self.processes.stop(timeout_s=1.0)  # at once if stop_all() did not get there
            finally:
                try:
                    if self.metric_registry is not None:
                        self.metric_registry.close()  # stops the reporters' servers
                finally:
                    rpc.stop()

    def __enter__(self) -> MiniCluster:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
