"""A standalone cluster of real processes on loopback, for tests: a JobManager and
TaskManagers started as ``strom jobmanager`` and ``strom taskmanager``, reached over
``tcp://``.

::

    with ProcessCluster(task_managers=1, slots=2, log_dir=tmp_path) as cluster:
        env = StreamExecutionEnvironment.get_execution_environment()  # runs on the cluster
        ...
        env.execute()
        cluster.kill_task_manager(0)  # kill -9

Every process binds 127.0.0.1 on a free port. Waits have deadlines. When the block ends the
fixture ends every process it started, by its pid (SIGTERM, then SIGKILL), also when the
test failed; then it prints every process's log so a failing test shows what happened.
Jobs submitted while the block runs go over RPC to the JobManager's Dispatcher.
"""

from __future__ import annotations

import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from strom.client.job_client import ClusterJobClient, job_graph_payload
from strom.common.job import JobID
from strom.graph.job_graph import JobGraph
from strom.processes import ClusterProcess, spawn_process
from strom.rpc.gateways import DispatcherGateway, ResourceManagerGateway
from strom.rpc.messages import TaskManagerInfo
from strom.rpc.service import RpcService

__all__ = ["ClusterProcess", "ProcessCluster"]

_READY = re.compile(r"ready at (tcp://[^\s/]+)")
#: how long a process may take to say it is ready (imports are slow on a loaded machine)
START_TIMEOUT_S = 60.0


class ProcessCluster:
    """A JobManager and ``task_managers`` TaskManagers with ``slots`` slots each, as
    processes (see the module docstring). ``config`` adds ``-D`` keys to every process, e.g.
    ``{"heartbeat.interval": "200 ms", "heartbeat.timeout": "2 s"}``."""

    def __init__(self, task_managers: int = 1, slots: int = 1,
                 config: dict[str, str] | None = None, log_dir: str | Path | None = None,
                 parallelism: int | None = None) -> None:
        self.num_task_managers = task_managers
        self.slots = slots
        self.config = dict(config or {})
        self.log_dir = Path(log_dir or tempfile.mkdtemp(prefix="strom-cluster-"))
        self.parallelism = parallelism
        self.jobmanager: ClusterProcess | None = None
        self.task_managers: list[ClusterProcess] = []
        self._all: list[ClusterProcess] = []
        self._rpc: RpcService | None = None
        self._jm_port = 0

    # ------------------------------------------------------------------ processes
    def _spawn(self, name: str, command: list[str], config: dict[str, str]) -> ClusterProcess:
        log_file = self.log_dir / f"{name}-{len(self._all)}.log"
        process = spawn_process(name, command, config, log_file)
        self._all.append(process)
        return process

    def start_jobmanager(self) -> ClusterProcess:
        """Start the JobManager (again, on the same port after the first time)."""
        config = {"rest.port": "0", **self.config, "jobmanager.rpc.port": str(self._jm_port),
                  "jobmanager.bind-host": "127.0.0.1", "rest.bind-address": "127.0.0.1"}
        process = self._spawn("jobmanager", ["jobmanager"], config)
        process.address = process.wait_for_log(_READY.pattern, START_TIMEOUT_S).group(1)
        self._jm_port = int(process.address.rpartition(":")[2])
        self.jobmanager = process
        return process

    def start_task_manager(self) -> ClusterProcess:
        """Start one more TaskManager (it registers in the background)."""
        config = {"taskmanager.numberOfTaskSlots": str(self.slots), **self.config,
                  "jobmanager.rpc.address": "127.0.0.1",
                  "jobmanager.rpc.port": str(self._jm_port),
                  "taskmanager.bind-host": "127.0.0.1"}
        process = self._spawn("taskmanager", ["taskmanager"], config)
        match = process.wait_for_log(r"TaskManager (\w+) ready at (tcp://\S+)", START_TIMEOUT_S)
        process.extra["resource_id"] = match.group(1)
        process.address = match.group(2)
        self.task_managers.append(process)
        return process

    def start(self) -> ProcessCluster:
        try:
            self.start_jobmanager()
            for _ in range(self.num_task_managers):
                self.start_task_manager()
            self.wait_for_task_managers(self.num_task_managers)
        except BaseException:
            self.stop()
            raise
        return self

    def kill_task_manager(self, index: int) -> ClusterProcess:
        process = self.task_managers[index]
        process.kill()
        return process

    # ------------------------------------------------------------------ RPC client
    @property
    def rpc(self) -> RpcService:
        if self._rpc is None:
            from strom.common.configuration import Configuration
            from strom.common.security import internal_tls

            # with security.ssl.internal.* in ``config``, the client presents its certificate
            self._rpc = RpcService("strom-test-client-rpc", mode="tcp",
                                   tls=internal_tls(Configuration.from_dict(self.config)))
        return self._rpc

    def _gateway(self, endpoint: str, protocol: Any) -> Any:
        assert self.jobmanager is not None, "start() the cluster first"
        return self.rpc.connect(f"{self.jobmanager.address}/{endpoint}", protocol)

    @property
    def dispatcher_gateway(self) -> DispatcherGateway:
        gateway: DispatcherGateway = self._gateway("dispatcher", DispatcherGateway)
        return gateway

    def registered_task_managers(self) -> list[TaskManagerInfo]:
        rm: ResourceManagerGateway = self._gateway("resourcemanager", ResourceManagerGateway)
        return self.rpc.run_sync(rm.list_task_managers(), timeout=30)

    def wait_for_task_managers(self, count: int, timeout_s: float = START_TIMEOUT_S) -> None:
        """Wait until ``count`` TaskManagers are registered with the JobManager."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                registered = len(self.registered_task_managers())
            except Exception:
                registered = -1
            if registered == count:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"{registered} TaskManagers registered after {timeout_s} s, "
                                   f"expected {count}.\n{self.logs()}")
            time.sleep(0.05)

    def submit(self, job_graph: JobGraph, job_id: JobID | None = None) -> ClusterJobClient:
        """Submit a job to the Dispatcher; a client that follows it."""
        job_id = job_id or JobID.generate()
        gateway = self.dispatcher_gateway
        self.rpc.run_sync(gateway.submit_job(job_graph_payload(job_graph, self.rpc), job_id),
                          timeout=60)
        return ClusterJobClient(self.rpc, gateway, job_id)

    # ------------------------------------------------------------------ teardown
    def logs(self) -> str:
        return "\n".join(f"----- {p.name} (pid {p.pid}, exit {p.popen.poll()}) {p.log_file}\n"
                         f"{p.log()}" for p in self._all)

    def stop(self) -> None:
        """End every process this cluster started (TaskManagers first), then the client."""
        try:
            for process in sorted(self._all, key=lambda p: p.name == "jobmanager"):
                process.stop()
        finally:
            if self._rpc is not None:
                self._rpc.stop()
                self._rpc = None

    def __enter__(self) -> ProcessCluster:
        from strom.datastream import stream_execution_environment as see

        self.start()
        see._context.cluster = self
        see._context.parallelism = self.parallelism
        return self

    def __exit__(self, exc_type: Any, *exc: Any) -> None:
        from strom.datastream import stream_execution_environment as see

        see._context.cluster = None
        see._context.parallelism = None
        try:
            self.stop()
        finally:
            if exc_type is not None:
                print(f"Logs of the strom processes:\n{self.logs()}", file=sys.stderr)
