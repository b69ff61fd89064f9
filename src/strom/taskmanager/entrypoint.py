"""The TaskManager process (``strom taskmanager``), shaped like Flink's TaskManagerRunner.

:func:`start_taskmanager` builds the services (RPC over ``tcp://`` on
``taskmanager.bind-host`` and ``taskmanager.rpc.port``, advertised as ``taskmanager.host``;
heartbeat and registration settings; the data server on ``taskmanager.bind-host`` and
``taskmanager.data.port``), then a TaskExecutor with ``taskmanager.numberOfTaskSlots``
slots that follows the ResourceManager leader of the HA services
(:func:`strom.ha.services.create_ha_services`): without HA the one at
``jobmanager.rpc.address``:``jobmanager.rpc.port``, with ``high-availability.type:
zookeeper`` whichever JobManager leads, as ZooKeeper names it. It registers with that leader,
retrying until it answers, and again with each new leader (the process exits with code 2 when
it stays unregistered longer than ``taskmanager.registration.timeout``, 5 minutes).
:func:`run_taskmanager` is the process: it prints ``TaskManager <resource id> ready at
tcp://host:port/...`` first, logs when it registered, and runs until SIGTERM or SIGINT.
Exit codes as in :mod:`strom.entrypoint`.

Channels between tasks of this TaskManager are local; those from tasks in other
TaskManagers run over TCP to its data server, with credit-based flow control.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

from strom.common.config_options import (
    ASK_TIMEOUT,
    JOBMANAGER_RPC_ADDRESS,
    JOBMANAGER_RPC_PORT,
    NUM_TASK_SLOTS,
    TASKMANAGER_BIND_HOST,
    TASKMANAGER_HOST,
    TASKMANAGER_REGISTRATION_TIMEOUT,
    TASKMANAGER_RPC_PORT,
)
from strom.common.config_options_ha import HA_CLUSTER_ID, HA_ZOOKEEPER_QUORUM
from strom.common.configuration import Configuration
from strom.common.process_files import process_log_file
from strom.common.security import internal_tls
from strom.entrypoint import EXIT_STARTUP_FAILURE, serve_until_stopped
from strom.graph.ids import ResourceID
from strom.ha.leader_election import RESOURCE_MANAGER
from strom.ha.services import HighAvailabilityServices, create_ha_services, ha_enabled
from strom.heartbeat import HeartbeatSettings, monotonic_ms
from strom.metrics.process import register_process_metrics
from strom.metrics.prometheus import start_reporters
from strom.metrics.registry import MetricRegistry
from strom.network.environment import NetworkEnvironment
from strom.rpc.service import RpcService
from strom.taskmanager.registration import RegistrationSettings
from strom.taskmanager.task_executor import TaskExecutor

__all__ = ["TaskManagerProcess", "resource_manager_address", "run_taskmanager",
           "start_taskmanager"]

log = logging.getLogger(__name__)


def _wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


def resource_manager_address(configuration: Configuration) -> str:
    """Where the ResourceManager of the configured JobManager listens."""
    host = configuration.get(JOBMANAGER_RPC_ADDRESS) or "localhost"
    port = configuration.get(JOBMANAGER_RPC_PORT)
    return f"tcp://{host}:{port}/resourcemanager"


@dataclass
class TaskManagerProcess:
    rpc: RpcService
    task_executor: TaskExecutor
    ha_services: HighAvailabilityServices

    def stop(self) -> None:
        try:
            self.rpc.run_sync(self.task_executor.stop(), timeout=30)
        finally:
            try:
                self.task_executor.metric_registry.close()  # stops the reporters' servers
            finally:
                try:
                    self.ha_services.close()
                finally:
                    self.rpc.stop()


def start_taskmanager(configuration: Configuration, resource_id: ResourceID | None = None,
                      on_ready: Callable[[TaskExecutor], None] | None = None
                      ) -> TaskManagerProcess:
    """Build and start a TaskManager; it registers in the background. ``on_ready`` runs
    once its RPC listens, before it starts registering."""
    rpc = RpcService(
        "strom-taskmanager-rpc", mode="tcp",
        host=configuration.get(TASKMANAGER_BIND_HOST) or "127.0.0.1",
        port=configuration.get(TASKMANAGER_RPC_PORT) or 0,
        ask_timeout_s=(configuration.get(ASK_TIMEOUT) or 10_000) / 1000.0,
        advertised_host=configuration.get(TASKMANAGER_HOST),
        tls=internal_tls(configuration),
    )
    registry = MetricRegistry()
    ha_services: HighAvailabilityServices | None = None
    try:
        ha_services = create_ha_services(configuration)
        task_executor = TaskExecutor(
            rpc, ha_services.leader_retrieval(RESOURCE_MANAGER),
            configuration.get(NUM_TASK_SLOTS) or 1,
            NetworkEnvironment.from_configuration(configuration, resource_id), _wall_clock_ms,
            name="taskexecutor", heartbeat=HeartbeatSettings.from_configuration(configuration),
            registration=RegistrationSettings.from_configuration(configuration),
            metric_registry=registry,
        )
        register_process_metrics(task_executor.metric_group)
        start_reporters(configuration, registry)
        task_executor.log_file = process_log_file()
        if on_ready is not None:
            on_ready(task_executor)
        rpc.run_sync(task_executor.start(), timeout=30)
    except BaseException:
        try:
            registry.close()
            if ha_services is not None:
                ha_services.close()
        finally:
            rpc.stop()
        raise
    return TaskManagerProcess(rpc, task_executor, ha_services)


def run_taskmanager(configuration: Configuration, out: TextIO | None = None,
                    resource_id: ResourceID | None = None) -> int:
    """Run a TaskManager in this process until SIGTERM/SIGINT; the process's exit code."""
    output = out or sys.stdout
    quorum = configuration.get(HA_ZOOKEEPER_QUORUM)
    cluster_id = configuration.get(HA_CLUSTER_ID)
    leader_source = resource_manager_address(configuration)

    def ready(te: TaskExecutor) -> None:
        print(f"TaskManager {te.resource_id} ready at {te.address} with {te.num_slots} "
              f"slots; registering at {leader_source}", file=output, flush=True)
        te.on_registered = lambda: print(
            f"TaskManager {te.resource_id} registered at {te.rm_address}", file=output,
            flush=True)

    try:
        ha = ha_enabled(configuration)
        if ha:
            leader_source = f"the ResourceManager leader that ZooKeeper ({quorum}) names"
        process = start_taskmanager(configuration, resource_id, on_ready=ready)
    except Exception as e:
        log.error("the TaskManager could not start", exc_info=e)
        print(f"TaskManager could not start: {e}", file=output, flush=True)
        return EXIT_STARTUP_FAILURE
    te = process.task_executor
    timeout_ms = configuration.get(TASKMANAGER_REGISTRATION_TIMEOUT) or 300_000

    def unregistered_too_long() -> str | None:
        if te.leader_retrieval_error is not None:
            return (f"cannot follow the ResourceManager leader: {te.leader_retrieval_error}. "
                    "Check the high-availability.* settings and that ZooKeeper runs.")
        since = te.unregistered_since_ms
        if since is None or monotonic_ms() - since <= timeout_ms:
            return None
        if ha:
            last = te.rm_address or "none was named"
            return (f"not registered at a ResourceManager leader for {timeout_ms} ms "
                    f"(taskmanager.registration.timeout); the last leader known: {last}. Is "
                    "a JobManager of this cluster running and leading? Check "
                    f"high-availability.zookeeper.quorum ({quorum}) and "
                    f"high-availability.cluster-id ({cluster_id}).")
        return (f"not registered at {te.rm_address} for {timeout_ms} ms "
                "(taskmanager.registration.timeout). Is the JobManager running there? Check "
                "jobmanager.rpc.address and jobmanager.rpc.port.")

    return serve_until_stopped(process.rpc, process.stop, "TaskManager", output,
                               failure=unregistered_too_long)
