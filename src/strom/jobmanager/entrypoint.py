"""The JobManager process (``strom jobmanager``), shaped like Flink's ClusterEntrypoint.

:func:`start_jobmanager` builds the services (RPC over ``tcp://`` on ``jobmanager.bind-host``
and ``jobmanager.rpc.port``, heartbeat settings), then the components (ResourceManager,
Dispatcher, and the REST endpoint on ``rest.bind-address``:``rest.port``) and starts them.
:func:`run_jobmanager` is the process: it prints ``JobManager ready at tcp://host:port``
first (what ``strom cluster start`` and tests wait for), then runs until SIGTERM or SIGINT
stops it gracefully. Exit codes: 0 after a requested stop, 1 when it could not start (the
port is taken, the configuration is wrong), 2 when it failed while running.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from dataclasses import dataclass
from typing import Any, TextIO

from strom.common.config_options import (
    ASK_TIMEOUT,
    JOBMANAGER_BIND_HOST,
    JOBMANAGER_RPC_ADDRESS,
    JOBMANAGER_RPC_PORT,
    RESTART_OPTIONS,
    WEB_CHECKPOINTS_HISTORY,
    option_for_key,
)
from strom.common.configuration import Configuration
from strom.common.security import internal_tls
from strom.entrypoint import EXIT_RUNTIME_FAILURE, EXIT_STARTUP_FAILURE, serve_until_stopped
from strom.heartbeat import HeartbeatSettings
from strom.jobmanager.dispatcher import Dispatcher
from strom.jobmanager.flame_graph import FlameGraphSettings
from strom.jobmanager.job_metrics import open_jobmanager_metrics
from strom.jobmanager.metrics.fetcher import MetricFetcher
from strom.jobmanager.resourcemanager import ResourceManager
from strom.metrics.prometheus import start_reporters
from strom.metrics.registry import MetricRegistry
from strom.rpc.gateways import DispatcherGateway
from strom.rpc.service import RpcService

__all__ = ["EXIT_RUNTIME_FAILURE", "EXIT_STARTUP_FAILURE", "JobManagerProcess",
           "create_jobmanager_components", "run_jobmanager", "start_jobmanager"]

log = logging.getLogger(__name__)

#: bind hosts that name no host another machine could dial
_WILDCARD_HOSTS = ("0.0.0.0", "::", "")



@dataclass
class JobManagerProcess:
    """The running components of a JobManager."""

    rpc: RpcService
    resource_manager: ResourceManager
    dispatcher: Dispatcher
    #: the REST endpoint (a running REST server with ``url`` and ``stop()``)
    rest: Any = None
    #: the process's metrics (its reporters stop with it) and what REST reads of the
    #: cluster's (:class:`~strom.jobmanager.metrics.fetcher.MetricFetcher`)
    metric_registry: MetricRegistry | None = None
    metric_fetcher: MetricFetcher | None = None

    @property
    def address(self) -> str:
        """``tcp://host:port``: where TaskManagers and clients reach the JobManager's RPC."""
        return f"tcp://{self.rpc.listen_address}"

    def stop(self) -> None:
        """Cancel the running jobs, stop the components and close the RPC service."""
        try:
            if self.rest is not None:
                self.rest.stop()

            async def stop_all() -> None:
                if self.metric_fetcher is not None:
                    await self.metric_fetcher.close()
                await self.dispatcher.stop()
                await self.resource_manager.stop()

            self.rpc.run_sync(stop_all(), timeout=30)
        finally:
            try:
                if self.metric_registry is not None:
                    self.metric_registry.close()  # stops the reporters' servers
            finally:
                self.rpc.stop()


def create_jobmanager_components(rpc: RpcService, heartbeat: HeartbeatSettings,
                                 configuration: Configuration | None = None,
                                 ) -> tuple[ResourceManager, Dispatcher]:
    """The JobManager's components on ``rpc`` (not started); the MiniCluster builds its
    JobManager with this too. The ``restart-strategy.*`` and failover keys of
    ``configuration`` apply to jobs that do not set them, and its
    ``execution.checkpointing.savepoint-dir`` is the default for savepoints that name no
    directory."""
    resource_manager = ResourceManager(rpc, heartbeat=heartbeat)
    restart_defaults = {}
    savepoint_dir = None
    if configuration is not None:
        restart_defaults = {key: configuration.get_string(key, "")
                            for key in configuration.key_set()
                            if option_for_key(key) in RESTART_OPTIONS}
        savepoint_dir = default_savepoint_dir(configuration)
    history = configuration.get(WEB_CHECKPOINTS_HISTORY) if configuration is not None else None
    dispatcher = Dispatcher(rpc, resource_manager.address, heartbeat=heartbeat,
                            restart_defaults=restart_defaults,
                            default_savepoint_dir=savepoint_dir,
                            checkpoint_history=10 if history is None else history)
    # ---- flame graphs
    dispatcher.flame_graph_settings = FlameGraphSettings.from_configuration(configuration)
    return resource_manager, dispatcher


def default_savepoint_dir(configuration: Configuration) -> str | None:
    """``execution.checkpointing.savepoint-dir`` (1.x ``state.savepoints.dir``), if set."""
    return (configuration.get_string("execution.checkpointing.savepoint-dir", "")
            or configuration.get_string("state.savepoints.dir", "") or None)


def start_jobmanager(configuration: Configuration) -> JobManagerProcess:
    """Build and start a JobManager from ``configuration``; raises if it cannot start."""
    heartbeat = HeartbeatSettings.from_configuration(configuration)
    bind_host = configuration.get(JOBMANAGER_BIND_HOST) or "127.0.0.1"
    rpc = RpcService(
        "strom-jobmanager-rpc", mode="tcp",
        host=bind_host,
        port=configuration.get(JOBMANAGER_RPC_PORT) or 0,
        ask_timeout_s=(configuration.get(ASK_TIMEOUT) or 10_000) / 1000.0,
        # bound to every interface, it is reached at jobmanager.rpc.address (as in Flink):
        # the JobMasters' addresses it hands out must name a host others can dial
        advertised_host=(configuration.get(JOBMANAGER_RPC_ADDRESS)
                         if bind_host in _WILDCARD_HOSTS else None),
        tls=internal_tls(configuration),
    )
    process: JobManagerProcess | None = None
    try:
        resource_manager, dispatcher = create_jobmanager_components(rpc, heartbeat,
                                                                    configuration)

        async def start_all() -> None:
            await resource_manager.start()
            await dispatcher.start()

        rpc.run_sync(start_all(), timeout=30)
        process = JobManagerProcess(rpc, resource_manager, dispatcher)
        _start_metrics(configuration, process)
        process.rest = _start_rest(configuration, process)
        # DELETE /cluster stops this process as SIGTERM does (serve_until_stopped)
        dispatcher.on_shutdown_requested = _request_process_stop
    except BaseException:
        try:
            if process is not None and process.metric_registry is not None:
                process.metric_registry.close()
        finally:
            rpc.stop()
        raise
    return process


def _request_process_stop() -> None:
    os.kill(os.getpid(), signal.SIGTERM)


def _start_metrics(configuration: Configuration, process: JobManagerProcess) -> None:
    """The process's metric registry with the JobManager's groups, its reporters
    (``metrics.reporter.*``) and the fetcher REST reads the cluster's metrics through."""
    registry = process.metric_registry = MetricRegistry()
    open_jobmanager_metrics(registry, process.resource_manager, process.dispatcher)
    start_reporters(configuration, registry)
    process.metric_fetcher = MetricFetcher(
        process.rpc, process.rpc.connect(process.dispatcher.address, DispatcherGateway),
        registry, configuration)


def _start_rest(configuration: Configuration, process: JobManagerProcess) -> Any:
    """The REST endpoint of the Dispatcher (``rest.bind-address``, ``rest.port``)."""
    from strom.jobmanager.rest.server import serve_rest

    return serve_rest(process.rpc, process.dispatcher.address, configuration,
                      process.metric_fetcher)


def run_jobmanager(configuration: Configuration, out: TextIO | None = None) -> int:
    """Run a JobManager in this process until SIGTERM/SIGINT; the process's exit code."""
    out = out or sys.stdout
    try:
        process = start_jobmanager(configuration)
    except Exception as e:
        log.error("the JobManager could not start", exc_info=e)
        print(f"JobManager could not start: {e}", file=out, flush=True)
        return EXIT_STARTUP_FAILURE
    print(f"JobManager ready at {process.address} (dispatcher "
          f"{process.dispatcher.address}, resource manager "
          f"{process.resource_manager.address}, REST {process.rest.url})", file=out,
          flush=True)
    return serve_until_stopped(process.rpc, process.stop, "JobManager", out)
