"""The JobManager process (``strom jobmanager``), shaped like Flink's ClusterEntrypoint.

:func:`start_jobmanager` builds the services (the high-availability services of
``high-availability.type``, RPC over ``tcp://`` on ``jobmanager.bind-host`` and
``jobmanager.rpc.port`` — with high availability ``high-availability.jobmanager.port`` —,
heartbeat settings, metrics, the REST endpoint on ``rest.bind-address``:``rest.port``),
then joins the leader election with :class:`~strom.jobmanager.leadership.JobManagerLeadership`,
which runs the ResourceManager and the Dispatcher while this process leads. A standalone
JobManager leads at once. :func:`run_jobmanager` is the process: it prints ``JobManager ready
at tcp://host:port (...)`` first, saying whether it leads or stands by (what ``strom cluster
start`` and tests wait for), then runs until SIGTERM or SIGINT stops it gracefully. Exit codes: 0 after a requested stop, 1 when it could not start (the
port is taken, the configuration is wrong), 2 when it failed while running.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
from dataclasses import dataclass
from typing import Any, TextIO

from strom.common.config_options import (
    ASK_TIMEOUT,
    JOBMANAGER_BIND_HOST,
    JOBMANAGER_RPC_ADDRESS,
    JOBMANAGER_RPC_PORT,
    REST_ADDRESS,
    RESTART_OPTIONS,
    WEB_CHECKPOINTS_HISTORY,
    option_for_key,
)
from strom.common.config_options_ha import HA_JOBMANAGER_PORT
from strom.common.configuration import Configuration
from strom.common.security import internal_tls
from strom.entrypoint import EXIT_RUNTIME_FAILURE, EXIT_STARTUP_FAILURE, serve_until_stopped
from strom.ha.leader_election import REST_SERVER, STANDALONE_SESSION_ID
from strom.ha.services import HighAvailabilityServices, create_ha_services, ha_enabled
from strom.heartbeat import HeartbeatSettings
from strom.jobmanager.dispatcher import Dispatcher
from strom.jobmanager.flame_graph import FlameGraphSettings
from strom.jobmanager.job_metrics import open_leader_metrics
from strom.jobmanager.leadership import JobManagerLeadership
from strom.jobmanager.metrics.fetcher import MetricFetcher
from strom.jobmanager.resourcemanager import ResourceManager
from strom.jobmanager.rest.standby import RestLeadership
from strom.metrics.groups import MetricGroup
from strom.metrics.prometheus import start_reporters
from strom.metrics.registry import MetricRegistry
from strom.rpc.errors import RpcError
from strom.rpc.gateways import DispatcherGateway
from strom.rpc.service import RpcService

__all__ = ["EXIT_RUNTIME_FAILURE", "EXIT_STARTUP_FAILURE", "JobManagerProcess",
           "create_jobmanager_components", "ready_line", "rpc_ports", "run_jobmanager",
           "start_jobmanager"]

log = logging.getLogger(__name__)

#: bind hosts that name no host another machine could dial
_WILDCARD_HOSTS = ("0.0.0.0", "::", "")



@dataclass
class JobManagerProcess:
    """The running services of a JobManager: RPC, REST, metrics and the leadership runner,
    under which the ResourceManager and the Dispatcher run while this process leads."""

    rpc: RpcService
    leadership: JobManagerLeadership
    ha: HighAvailabilityServices
    #: the REST endpoint (a running REST server with ``url`` and ``stop()``)
    rest: Any = None
    #: whether the REST endpoint serves or sends requests to the leader
    rest_leadership: RestLeadership | None = None
    #: the process's metrics (its reporters stop with it) and what REST reads of the
    #: cluster's (:class:`~strom.jobmanager.metrics.fetcher.MetricFetcher`)
    metric_registry: MetricRegistry | None = None
    metric_fetcher: MetricFetcher | None = None
    #: the JobManager's "jm" metric group, which each leading Dispatcher opens jobs below
    metric_group: MetricGroup | None = None
    _election: Any = None
    _retrieval: Any = None

    @property
    def address(self) -> str:
        """``tcp://host:port``: where TaskManagers and clients reach the JobManager's RPC."""
        return f"tcp://{self.rpc.listen_address}"

    @property
    def leading(self) -> bool:
        """Whether this JobManager leads now (its Dispatcher runs and is confirmed)."""
        return self.leadership.leader_session_id is not None

    @property
    def dispatcher(self) -> Dispatcher:
        """The Dispatcher, while this JobManager leads."""
        dispatcher = self.leadership.dispatcher
        if dispatcher is None:
            raise RuntimeError(f"The JobManager at {self.address} does not lead now: no "
                               "Dispatcher runs here; ask the leader.")
        return dispatcher

    @property
    def resource_manager(self) -> ResourceManager:
        """The ResourceManager, while this JobManager leads."""
        resource_manager = self.leadership.resource_manager
        if resource_manager is None:
            raise RuntimeError(f"The JobManager at {self.address} does not lead now: no "
                               "ResourceManager runs here; ask the leader.")
        return resource_manager

    def stop(self) -> None:
        """Leave the election, stop the components (a standalone JobManager cancels its
        jobs, one with high availability suspends them for the next leader) and close the
        RPC service."""
        try:
            if self.rest is not None:
                self.rest.stop()

            async def stop_all() -> None:
                if self.metric_fetcher is not None:
                    await self.metric_fetcher.close()
                await self.leadership.stop(suspend_jobs=self.ha.kind != "NONE")

            self.rpc.run_sync(stop_all(), timeout=30)
        finally:
            try:
                for service in (self._retrieval, self._election):
                    if service is not None:
                        _close_quietly(service)
                self.ha.close()
                if self.metric_registry is not None:
                    self.metric_registry.close()  # stops the reporters' servers
            finally:
                self.rpc.stop()


def _close_quietly(service: Any) -> None:
    try:
        (getattr(service, "stop", None) or service.close)()
    except Exception:
        log.exception("closing %r failed", service)


def create_jobmanager_components(rpc: RpcService, heartbeat: HeartbeatSettings,
                                 configuration: Configuration | None = None, *,
                                 ha: HighAvailabilityServices | None = None,
                                 fencing_token: str = STANDALONE_SESSION_ID,
                                 ) -> tuple[ResourceManager, Dispatcher]:
    """The JobManager's components on ``rpc`` (not started); the MiniCluster builds its
    JobManager with this too. The ``restart-strategy.*`` and failover keys of
    ``configuration`` apply to jobs that do not set them, and its
    ``execution.checkpointing.savepoint-dir`` is the default for savepoints that name no
    directory. ``ha`` holds the recovery stores the Dispatcher writes to and recovers from
    (None: in-memory ones); ``fencing_token`` is the leader session both components run
    under (a standalone cluster's fixed one by default)."""
    resource_manager = ResourceManager(rpc, heartbeat=heartbeat, fencing_token=fencing_token)
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
                            checkpoint_history=10 if history is None else history,
                            ha=ha, fencing_token=fencing_token)
    # ---- flame graphs
    dispatcher.flame_graph_settings = FlameGraphSettings.from_configuration(configuration)
    return resource_manager, dispatcher


def default_savepoint_dir(configuration: Configuration) -> str | None:
    """``execution.checkpointing.savepoint-dir`` (1.x ``state.savepoints.dir``), if set."""
    return (configuration.get_string("execution.checkpointing.savepoint-dir", "")
            or configuration.get_string("state.savepoints.dir", "") or None)


def rpc_ports(configuration: Configuration) -> list[int]:
    """The ports the JobManager's RPC may listen on, in the order tried: with high
    availability ``high-availability.jobmanager.port`` (``0``, ``50100``, ``50100-50200``
    or ``50100,50105``), else ``jobmanager.rpc.port``."""
    if not ha_enabled(configuration):
        return [configuration.get(JOBMANAGER_RPC_PORT) or 0]
    configured: str | None = configuration.get(HA_JOBMANAGER_PORT)
    text = configured or "0"
    ports: list[int] = []
    for part in (p.strip() for p in text.split(",")):
        low, dash, high = part.partition("-")
        try:
            first = int(low)
            last = int(high) if dash else first
        except ValueError:
            first, last = -1, -1
        if not 0 <= first <= last <= 65535:
            raise ValueError(
                f"high-availability.jobmanager.port: {part!r} of {text!r} is not a port or a "
                "range of ports within 0-65535; use e.g. 0 (any free port), 50100, "
                "50100-50200 or 50100,50105.")
        ports.extend(range(first, last + 1))
    return ports


def _rpc_service(configuration: Configuration) -> RpcService:
    """The JobManager's RPC service, listening on the first free port of
    :func:`rpc_ports`."""
    bind_host = configuration.get(JOBMANAGER_BIND_HOST) or "127.0.0.1"
    ports = rpc_ports(configuration)
    for index, port in enumerate(ports):
        try:
            return RpcService(
                "strom-jobmanager-rpc", mode="tcp", host=bind_host, port=port,
                ask_timeout_s=(configuration.get(ASK_TIMEOUT) or 10_000) / 1000.0,
                # bound to every interface, it is reached at jobmanager.rpc.address (as in
                # Flink): the JobMasters' addresses it hands out must name a host others
                # can dial
                advertised_host=(configuration.get(JOBMANAGER_RPC_ADDRESS)
                                 if bind_host in _WILDCARD_HOSTS else None),
                tls=internal_tls(configuration),
            )
        except RpcError:
            if index == len(ports) - 1:
                raise
    raise AssertionError("rpc_ports() returned no port")


def start_jobmanager(configuration: Configuration,
                     ready_timeout_s: float = 10.0) -> JobManagerProcess:
    """Build and start a JobManager from ``configuration``; raises if it cannot start.

    A standalone JobManager leads at once: this returns once its Dispatcher runs. With high
    availability it returns once it leads or another JobManager is known to lead (at most
    ``ready_timeout_s``); it stands by until the election makes it the leader."""
    heartbeat = HeartbeatSettings.from_configuration(configuration)
    ha = create_ha_services(configuration)
    try:
        rpc = _rpc_service(configuration)
    except BaseException:
        ha.close()
        raise
    process: JobManagerProcess | None = None
    try:
        rest_leadership = RestLeadership(
            lambda: process is not None and process.leading,
            lambda: _published_rest_url(configuration, process) if process and process.rest
            else None)
        def leading(resource_manager: ResourceManager, dispatcher: Dispatcher) -> None:
            # each Dispatcher opens its jobs' metric groups below the process's "jm" group
            dispatcher.metric_group = process.metric_group if process else None
            # DELETE /cluster stops this process as SIGTERM does (serve_until_stopped)
            dispatcher.on_shutdown_requested = _request_process_stop

        runner = JobManagerLeadership(
            rpc, heartbeat, configuration, ha,
            rest_url=lambda: _published_rest_url(configuration, process),
            on_leading=leading)
        process = JobManagerProcess(rpc, runner, ha, rest_leadership=rest_leadership)
        _start_metrics(configuration, process)
        process.rest = _start_rest(configuration, process)
        if ha.kind != "NONE":
            process._retrieval = ha.leader_retrieval(REST_SERVER, rpc.call_soon)
            process._retrieval.start(rest_leadership)
        process._election = ha.leader_election_service(rpc.call_soon)
        runner.start(process._election)
        _wait_for_leader(process, rest_leadership, ha.kind == "NONE", ready_timeout_s)
    except BaseException:
        try:
            if process is not None:
                process.stop()
            else:
                rpc.stop()
                ha.close()
        except Exception:
            log.exception("stopping the JobManager that failed to start failed")
        raise
    return process


def _wait_for_leader(process: JobManagerProcess, rest_leadership: RestLeadership,
                     standalone: bool, timeout_s: float) -> None:
    """Standalone: until the Dispatcher runs (or leading failed). With high availability:
    until this process leads or another one is known to."""
    deadline = time.monotonic() + (30.0 if standalone else timeout_s)
    while time.monotonic() < deadline:
        if process.leadership.fatal_error is not None:
            raise process.leadership.fatal_error
        if process.leading or (not standalone and rest_leadership.redirect_target()):
            return
        time.sleep(0.01)
    if standalone:
        raise TimeoutError("The JobManager's Dispatcher did not start within 30 s; see the "
                           "log above.")


def _published_rest_url(configuration: Configuration,
                        process: JobManagerProcess | None) -> str:
    """The REST URL others dial: the bound one, with ``rest.address`` for a wildcard
    bind address."""
    assert process is not None and process.rest is not None
    url: str = process.rest.url
    scheme, _, rest = url.partition("://")
    host, _, port = rest.rpartition(":")
    if host.strip("[]") in _WILDCARD_HOSTS:
        address: str | None = configuration.get(REST_ADDRESS)
        return f"{scheme}://{address or 'localhost'}:{port}"
    return url


def _request_process_stop() -> None:
    os.kill(os.getpid(), signal.SIGTERM)


def _start_metrics(configuration: Configuration, process: JobManagerProcess) -> None:
    """The process's metric registry with the JobManager's groups, its reporters
    (``metrics.reporter.*``) and the fetcher REST reads the cluster's metrics through; the
    cluster gauges read the components of whichever leadership runs now."""
    registry = process.metric_registry = MetricRegistry()
    runner = process.leadership

    def components() -> tuple[ResourceManager, Dispatcher] | None:
        rm, dispatcher = runner.resource_manager, runner.dispatcher
        return None if rm is None or dispatcher is None else (rm, dispatcher)

    process.metric_group = open_leader_metrics(registry, components)
    start_reporters(configuration, registry)
    process.metric_fetcher = MetricFetcher(
        process.rpc, process.rpc.connect(process.rpc.address_of("dispatcher"),
                                         DispatcherGateway),
        registry, configuration)


def _start_rest(configuration: Configuration, process: JobManagerProcess) -> Any:
    """The REST endpoint of the Dispatcher (``rest.bind-address``, ``rest.port``), at the
    Dispatcher's fixed address whichever leadership runs it."""
    from strom.jobmanager.rest.server import serve_rest

    return serve_rest(process.rpc, process.rpc.address_of("dispatcher"), configuration,
                      process.metric_fetcher,
                      process.rest_leadership if process.ha.kind != "NONE" else None)


def run_jobmanager(configuration: Configuration, out: TextIO | None = None) -> int:
    """Run a JobManager in this process until SIGTERM/SIGINT; the process's exit code."""
    out = out or sys.stdout
    try:
        process = start_jobmanager(configuration)
    except Exception as e:
        log.error("the JobManager could not start", exc_info=e)
        print(f"JobManager could not start: {e}", file=out, flush=True)
        return EXIT_STARTUP_FAILURE
    print(ready_line(process), file=out, flush=True)

    def failure() -> str | None:
        error = process.leadership.fatal_error
        return None if error is None else f"leading failed: {type(error).__name__}: {error}"

    return serve_until_stopped(process.rpc, process.stop, "JobManager", out, failure)


def ready_line(process: JobManagerProcess) -> str:
    """``JobManager ready at tcp://host:port (...; REST http://...)``: what `strom cluster
    start` and tests wait for; it says whether this JobManager leads or stands by."""
    runner = process.leadership
    if process.ha.kind == "NONE":
        return (f"JobManager ready at {process.address} (dispatcher "
                f"{process.dispatcher.address}, resource manager "
                f"{process.resource_manager.address}, REST {process.rest.url})")
    if runner.leader_session_id is not None:
        return (f"JobManager ready at {process.address} (leader, session "
                f"{runner.leader_session_id}; REST {process.rest.url})")
    return f"JobManager ready at {process.address} (standby; REST {process.rest.url})"
