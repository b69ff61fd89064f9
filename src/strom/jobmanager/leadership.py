"""The JobManager's leadership: what runs only while this process leads (Flink's
``DispatcherResourceManagerComponent`` under its leader election).

One :class:`JobManagerLeadership` per JobManager process registers three leader elections
with the process's election service: DISPATCHER, RESOURCE_MANAGER and REST_SERVER. When the
service grants leadership under a session id, the runner

1. builds a ResourceManager and a Dispatcher (fixed endpoint names ``resourcemanager`` and
   ``dispatcher``) with the session id as their fencing token, and starts them;
2. lets the Dispatcher recover the jobs of the job graph store;
3. confirms the session for the three components with their addresses
   (``tcp://host:port/dispatcher``, ``tcp://host:port/resourcemanager`` and the REST URL),
   which the election service then publishes.

When the service revokes leadership, the runner stops both components at once: the
Dispatcher suspends its jobs (they stay in the job graph store for the next leader), then
the ResourceManager stops. A standalone JobManager is granted leadership at once and keeps
it. The RPC service, the REST endpoint and the metric fetcher outlive every grant: they
reach the Dispatcher at its fixed address.

Grants and revokes arrive on the RPC loop (the election service's executor) and are handled
one after the other, in the order they came.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from strom.common.configuration import Configuration
from strom.ha.leader_election import (
    DISPATCHER,
    RESOURCE_MANAGER,
    REST_SERVER,
    DefaultLeaderElectionService,
    LeaderElection,
)
from strom.heartbeat import HeartbeatSettings
from strom.rpc.service import RpcService

if TYPE_CHECKING:
    from strom.ha.services import HighAvailabilityServices
    from strom.jobmanager.dispatcher import Dispatcher
    from strom.jobmanager.resourcemanager import ResourceManager

__all__ = ["COMPONENTS", "JobManagerLeadership"]

log = logging.getLogger(__name__)

#: the components that lead together, in the order they are confirmed
COMPONENTS = (RESOURCE_MANAGER, DISPATCHER, REST_SERVER)


class _Contender:
    """One component's side of the election; all three report to the same runner."""

    def __init__(self, runner: JobManagerLeadership, component_id: str) -> None:
        self._runner = runner
        self._component_id = component_id

    def grant_leadership(self, session_id: str) -> None:
        self._runner._granted(self._component_id, session_id)

    def revoke_leadership(self) -> None:
        self._runner._revoked(self._component_id)

    def handle_error(self, error: BaseException) -> None:
        self._runner._fail(error)


class JobManagerLeadership:
    """Runs the ResourceManager and Dispatcher of ``rpc`` while this process leads (see the
    module docstring).

    ``rest_url()`` is the REST endpoint's URL to publish; ``on_leading(rm, dispatcher)`` and
    ``on_not_leading()`` tell the rest of the process (REST standby state, metrics) on the
    loop; ``on_fatal_error(error)`` is told when leading failed beyond repair (the process
    should stop, as Flink's does). ``components(session_id)`` builds the two components
    (default: :func:`~strom.jobmanager.entrypoint.create_jobmanager_components`)."""

    def __init__(self, rpc: RpcService, heartbeat: HeartbeatSettings,
                 configuration: Configuration, ha: HighAvailabilityServices,
                 rest_url: Callable[[], str],
                 on_leading: Callable[[ResourceManager, Dispatcher], None] | None = None,
                 on_not_leading: Callable[[], None] | None = None,
                 on_fatal_error: Callable[[BaseException], None] | None = None,
                 components: Callable[[str], tuple[ResourceManager, Dispatcher]] | None = None,
                 ) -> None:
        self.rpc = rpc
        self.heartbeat = heartbeat
        self.configuration = configuration
        self.ha = ha
        self.rest_url = rest_url
        self.on_leading = on_leading
        self.on_not_leading = on_not_leading
        self.on_fatal_error = on_fatal_error
        self._components = components or self._create_components
        #: the running components (None while this process does not lead)
        self.resource_manager: ResourceManager | None = None
        self.dispatcher: Dispatcher | None = None
        #: the session the components run under, once confirmed (None: not leading)
        self.leader_session_id: str | None = None
        #: the latest session granted and not revoked since
        self._session: str | None = None
        #: the session each component was granted
        self._grants: dict[str, str] = {}
        self._elections: dict[str, LeaderElection] = {}
        self._transitions: set[asyncio.Task[None]] = set()
        self._lock: asyncio.Lock | None = None
        #: what made leading fail beyond repair (the process gives up)
        self.fatal_error: BaseException | None = None
        self._closed = False

    @property
    def address(self) -> str:
        return f"tcp://{self.rpc.listen_address}"

    # ------------------------------------------------------------------ lifecycle
    def start(self, service: DefaultLeaderElectionService) -> None:
        """Join the election of ``service`` with the three components."""
        for component_id in COMPONENTS:
            election = service.create_leader_election(component_id)
            self._elections[component_id] = election
            election.start_leader_election(_Contender(self, component_id))

    async def stop(self, suspend_jobs: bool) -> None:
        """Leave the election and stop the components (on the loop): with
        ``suspend_jobs`` the jobs are suspended for another JobManager to recover (high
        availability), else they are cancelled as a standalone JobManager's are."""
        self._closed = True
        self._session = None
        for election in self._elections.values():
            try:
                election.close()
            except Exception:
                log.exception("closing the leader election failed")
        for task in list(self._transitions):
            await asyncio.gather(task, return_exceptions=True)
        async with self._transition_lock():
            await self._stop_components(suspend=suspend_jobs)

    # ------------------------------------------------------------------ election events
    def _granted(self, component_id: str, session_id: str) -> None:
        if self._closed:
            return
        self._grants[component_id] = session_id
        if session_id != self._session:
            self._session = session_id
            self._spawn(self._lead(session_id))
        elif self.leader_session_id == session_id:
            self._confirm(component_id, session_id)

    def _revoked(self, component_id: str) -> None:
        self._grants.pop(component_id, None)
        if self._session is not None:
            self._session = None
            self._spawn(self._step_down())

    def _fail(self, error: BaseException) -> None:
        log.error("JobManager %s: the leader election failed", self.address, exc_info=error)
        if self.fatal_error is None:
            self.fatal_error = error
        if self.on_fatal_error is not None:
            self.on_fatal_error(error)

    def _spawn(self, transition: Any) -> None:
        task: asyncio.Task[None] = self.rpc.loop.create_task(transition,
                                                             name="strom leadership")
        self._transitions.add(task)
        task.add_done_callback(self._transitions.discard)

    def _transition_lock(self) -> asyncio.Lock:
        # made on the loop; a FIFO lock keeps grants and revokes in their order
        if self._lock is None:
            self._lock = asyncio.Lock()
        return self._lock

    # ------------------------------------------------------------------ transitions
    async def _lead(self, session_id: str) -> None:
        async with self._transition_lock():
            if self._session != session_id:
                return  # revoked (or granted anew) before it was our turn
            log.info("JobManager %s was granted leadership (session %s); starting the "
                     "ResourceManager and the Dispatcher", self.address, session_id)
            try:
                resource_manager, dispatcher = self._components(session_id)
                self.resource_manager, self.dispatcher = resource_manager, dispatcher
                await resource_manager.start()
                await dispatcher.start()
                if self.on_leading is not None:
                    self.on_leading(resource_manager, dispatcher)
                await dispatcher.recover_jobs()
            except Exception as e:
                await self._stop_components(suspend=True)
                self._fail(e)
                return
            if self._session != session_id:
                return  # the revoke that follows stops them
            self.leader_session_id = session_id
            for component_id in COMPONENTS:
                if self._grants.get(component_id) == session_id:
                    self._confirm(component_id, session_id)
            log.info("JobManager %s is now the leader (session %s)", self.address, session_id)

    def _confirm(self, component_id: str, session_id: str) -> None:
        assert self.resource_manager is not None and self.dispatcher is not None
        address = {RESOURCE_MANAGER: self.resource_manager.address,
                   DISPATCHER: self.dispatcher.address}.get(component_id) or self.rest_url()
        self._elections[component_id].confirm_leadership(session_id, address)

    async def _step_down(self) -> None:
        async with self._transition_lock():
            if self.resource_manager is None and self.dispatcher is None:
                return
            session = self.leader_session_id
            await self._stop_components(suspend=True)
            log.info("JobManager %s lost leadership (session %s); its jobs are suspended "
                     "and it stands by", self.address, session)

    async def _stop_components(self, suspend: bool) -> None:
        resource_manager, dispatcher = self.resource_manager, self.dispatcher
        self.resource_manager = self.dispatcher = None
        self.leader_session_id = None
        if dispatcher is None and resource_manager is None:
            return
        if self.on_not_leading is not None:
            self.on_not_leading()
        try:
            if dispatcher is not None:
                if suspend:
                    await dispatcher.suspend()
                await dispatcher.stop()
        finally:
            if resource_manager is not None:
                await resource_manager.stop()

    def _create_components(self, session_id: str) -> tuple[ResourceManager, Dispatcher]:
        from strom.jobmanager.entrypoint import create_jobmanager_components

        return create_jobmanager_components(self.rpc, self.heartbeat, self.configuration,
                                            ha=self.ha, fencing_token=session_id)
