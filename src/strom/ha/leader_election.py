"""Leader election, structured as Flink's ``DefaultLeaderElectionService``.

One service per JobManager process. Each component that must lead (Dispatcher,
ResourceManager, REST endpoint; JobMasters share their process's leadership) registers as a
*contender* under a component id. A *driver* decides whether this process leads (standalone:
always; ZooKeeper: the owner of the first latch node). When the driver reports leadership,
the service issues a new *leader session id* and grants it to every contender. A contender
starts acting as leader, then *confirms* the session id together with its address; only a
confirmation of the current session id while the driver still leads is *published* (the
driver writes it where retrievers read it). When the driver reports the loss of leadership,
the service revokes it from every contender at once. The session id is the fencing token of
every RPC the leader sends or accepts.

Everything here is decision logic without I/O: the driver calls the service's
``on_*`` methods (from any thread), and the service calls the contenders through the
``executor`` it is given (the JobManager's RPC loop), in the order of the events.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from typing import Protocol

import msgspec

__all__ = [
    "DISPATCHER",
    "REST_SERVER",
    "RESOURCE_MANAGER",
    "STANDALONE_SESSION_ID",
    "DefaultLeaderElectionService",
    "LeaderContender",
    "LeaderElection",
    "LeaderElectionDriver",
    "LeaderElectionEvents",
    "LeaderInformation",
    "StandaloneLeaderElectionDriver",
]

log = logging.getLogger(__name__)

Executor = Callable[[Callable[[], None]], None]

#: the component ids under which leaders publish their addresses (Flink's names)
DISPATCHER = "dispatcher"
RESOURCE_MANAGER = "resource_manager"
REST_SERVER = "rest_server"

#: the fixed leader session id of a standalone cluster (Flink's DEFAULT_LEADER_ID, zeros)
STANDALONE_SESSION_ID = "0" * 32


class LeaderInformation(msgspec.Struct, frozen=True):
    """A published leader: its session id (32 hex characters, the fencing token) and the
    address others reach the component at (``tcp://host:port/name``, or the REST URL)."""

    session_id: str
    address: str


class LeaderContender(Protocol):
    """A component that acts only while it leads."""

    def grant_leadership(self, session_id: str) -> None:
        """Start leading under ``session_id``; confirm it (with the address) once ready."""

    def revoke_leadership(self) -> None:
        """Stop leading at once."""

    def handle_error(self, error: BaseException) -> None:
        """The election failed beyond repair (the JobManager process should stop)."""


class LeaderElectionDriver(Protocol):
    """What the service asks of the mechanism that elects (standalone or ZooKeeper).

    The service calls these methods while it holds its lock, so a driver must never call the
    service's events from a thread that these methods wait on (with kazoo: hand connection
    state changes to another thread, never call the service from the connection thread).
    ``has_leadership`` must answer from memory, without I/O."""

    def has_leadership(self) -> bool: ...

    def publish_leader_information(self, component_id: str, info: LeaderInformation) -> None:
        """Write ``info`` where retrievers of ``component_id`` read it (only while leading)."""

    def delete_leader_information(self, component_id: str) -> None: ...

    def close(self) -> None: ...


class LeaderElectionEvents(Protocol):
    """What a driver reports to the service (any thread)."""

    def on_grant_leadership(self) -> None: ...

    def on_revoke_leadership(self) -> None: ...

    def on_leader_information_change(self, component_id: str,
                                     info: LeaderInformation | None) -> None:
        """The published information of ``component_id`` changed (or was deleted) behind
        the service's back: a leader publishes its confirmed information again."""

    def on_error(self, error: BaseException) -> None: ...


class LeaderElection(Protocol):
    """One contender's handle on the service (``create_leader_election(component_id)``)."""

    def start_leader_election(self, contender: LeaderContender) -> None: ...

    def confirm_leadership(self, session_id: str, address: str) -> None: ...

    def has_leadership(self, session_id: str) -> bool: ...

    def close(self) -> None: ...


class _Registration:
    """A registered contender and the session it was last granted (``None``: not granted, or
    revoked since), so that a revoke reaches only a contender that was granted."""

    __slots__ = ("contender", "granted")

    def __init__(self, contender: LeaderContender) -> None:
        self.contender = contender
        self.granted: str | None = None


class DefaultLeaderElectionService:
    """See the module docstring. ``driver_factory(events)`` creates the driver once the first
    contender registers (and the service closes it when the last one leaves);
    ``executor(fn)`` runs ``fn`` on the contenders' thread, in the order it was given (e.g.
    ``loop.call_soon_threadsafe``); ``new_session_id()`` makes session ids (random 32 hex
    characters by default).

    The contract, as Flink's ``DefaultLeaderElectionService``:

    * the driver's grant issues a new session id and grants it to every registered contender;
      a contender registering while the service leads is granted at once;
    * ``confirm_leadership`` publishes ``LeaderInformation(session_id, address)`` through the
      driver, only for the current session id while the driver leads (anything else is
      logged and ignored: a late confirmation of a lost leadership);
    * the driver's revoke clears the session and the confirmed information and revokes every
      contender that was granted;
    * a change of the published information behind the service's back (another value, or
      deleted) while leading is corrected: the confirmed information is published again;
    * closing a contender's election while leading revokes it and deletes its information.

    One lock guards everything; the driver factory and the driver's methods run while it is
    held (see :class:`LeaderElectionDriver`), and so do the contenders' calls (a contender may
    confirm or close from inside ``grant_leadership``).

    Example (standalone: the driver leads at once)::

        service = DefaultLeaderElectionService(StandaloneLeaderElectionDriver,
                                               loop.call_soon_threadsafe)
        election = service.create_leader_election(DISPATCHER)
        election.start_leader_election(contender)   # later: contender.grant_leadership(s)
        election.confirm_leadership(s, "tcp://host:6123/dispatcher")  # published
    """

    def __init__(self, driver_factory: Callable[[LeaderElectionEvents], LeaderElectionDriver],
                 executor: Executor,
                 new_session_id: Callable[[], str] | None = None) -> None:
        self._driver_factory = driver_factory
        self._executor = executor
        self._new_session_id = new_session_id or _random_session_id
        # guards the state below; reentrant because contenders are called while it is held
        # and may confirm or close from inside grant_leadership
        self._lock = threading.RLock()
        self._elections: dict[str, _ComponentElection] = {}
        self._contenders: dict[str, _Registration] = {}
        self._driver: LeaderElectionDriver | None = None
        #: the generation of the driver whose events count (None: no driver)
        self._generation: int | None = None
        self._generations = 0
        self._session_id: str | None = None
        self._confirmed: dict[str, LeaderInformation] = {}
        self._closed = False

    # -- the contenders' side ---------------------------------------------------------

    def create_leader_election(self, component_id: str) -> LeaderElection:
        """The handle of ``component_id``'s contender (one open handle per component)."""
        with self._lock:
            self._check_open()
            if component_id in self._elections:
                raise ValueError(
                    f"A leader election for component {component_id!r} already exists in this "
                    f"service (open: {sorted(self._elections)}); close it before creating "
                    "another one.")
            election = _ComponentElection(self, component_id)
            self._elections[component_id] = election
            return election

    def close(self) -> None:
        """Revoke every granted contender, delete their published information, close the
        driver; the service cannot be used again."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            for component_id in list(self._contenders):
                self._deregister(component_id)
            self._elections.clear()
            driver = self._detach_driver()
        if driver is not None:
            driver.close()

    @property
    def session_id(self) -> str | None:
        """The current leader session id, ``None`` while not leading."""
        with self._lock:
            return self._session_id

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError(
                "This DefaultLeaderElectionService is closed and cannot be used again; "
                "create a new one (one per JobManager process run).")

    def _is_open(self, election: _ComponentElection) -> bool:
        return self._elections.get(election.component_id) is election

    def _register(self, election: _ComponentElection, contender: LeaderContender) -> None:
        component_id = election.component_id
        with self._lock:
            self._check_open()
            if not self._is_open(election):
                raise RuntimeError(
                    f"The leader election of component {component_id!r} is closed; create "
                    "a new one with create_leader_election.")
            if component_id in self._contenders:
                raise RuntimeError(
                    f"A contender is already registered for component {component_id!r}; "
                    "start_leader_election is called once per election.")
            if self._generation is None:
                self._generations += 1
                self._generation = self._generations
                try:
                    # the driver may report leadership from inside its constructor
                    self._driver = self._driver_factory(_DriverEvents(self, self._generation))
                except BaseException:
                    self._generation = None
                    self._session_id = None
                    raise
                log.info("leader election driver %r started for component %r", self._driver,
                         component_id)
            registration = _Registration(contender)
            self._contenders[component_id] = registration
            if self._session_id is not None:
                self._submit_grant(component_id, registration, self._session_id)

    def _remove(self, election: _ComponentElection) -> None:
        component_id = election.component_id
        with self._lock:
            if not self._is_open(election):
                return  # closed already (another election of the component may be open)
            del self._elections[component_id]
            if component_id not in self._contenders:
                return
            self._deregister(component_id)
            driver = self._detach_driver() if not self._contenders else None
        if driver is not None:
            driver.close()

    def _deregister(self, component_id: str) -> None:
        registration = self._contenders.pop(component_id)
        self._confirmed.pop(component_id, None)
        if self._session_id is None:
            return
        self._submit_revoke(registration)
        if self._driver is not None and self._driver.has_leadership():
            self._driver.delete_leader_information(component_id)

    def _detach_driver(self) -> LeaderElectionDriver | None:
        driver, self._driver, self._generation = self._driver, None, None
        self._session_id = None
        self._confirmed.clear()
        return driver

    def _confirm(self, election: _ComponentElection, session_id: str, address: str) -> None:
        component_id = election.component_id
        with self._lock:
            if not self._is_open(election) or component_id not in self._contenders:
                log.info("confirmation of session %s for %r ignored: its election is closed "
                         "or has no contender", session_id, component_id)
                return
            if not self._leads(session_id):
                if session_id != self._session_id:
                    log.info("ignored an old confirmation of leader session %s for component "
                             "%r (the current session is %s)", session_id, component_id,
                             self._session_id)
                else:
                    log.info("ignored the confirmation of leader session %s for component %r: "
                             "this process does not lead any more", session_id, component_id)
                return
            info = LeaderInformation(session_id, address)
            if self._confirmed.get(component_id) == info:
                return
            self._confirmed[component_id] = info
            assert self._driver is not None
            try:
                self._driver.publish_leader_information(component_id, info)
            except Exception as e:
                log.exception("publishing the leader information of %r failed", component_id)
                self._forward_error(e)

    def _leads(self, session_id: str) -> bool:
        return (self._driver is not None and session_id == self._session_id
                and self._driver.has_leadership())

    def _has_leadership(self, election: _ComponentElection, session_id: str) -> bool:
        with self._lock:
            return (self._is_open(election) and election.component_id in self._contenders
                    and self._leads(session_id))

    # -- the driver's side (any thread) --------------------------------------------------

    def _on_grant(self, generation: int) -> None:
        with self._lock:
            if generation != self._generation:
                log.debug("grant of a closed leader election driver ignored")
                return
            if self._session_id is not None:
                log.debug("grant ignored: already leading under session %s", self._session_id)
                return
            session_id = self._session_id = self._new_session_id()
            log.info("leadership granted: leader session %s for %s", session_id,
                     sorted(self._contenders) or "no contender yet")
            for component_id, registration in self._contenders.items():
                self._submit_grant(component_id, registration, session_id)

    def _on_revoke(self, generation: int) -> None:
        with self._lock:
            if generation != self._generation:
                log.debug("revoke of a closed leader election driver ignored")
                return
            if self._session_id is None:
                log.debug("revoke ignored: not leading")
                return
            log.info("leadership of session %s revoked from %s", self._session_id,
                     sorted(self._contenders) or "no contender")
            self._session_id = None
            self._confirmed.clear()
            for registration in self._contenders.values():
                self._submit_revoke(registration)

    def _on_info_change(self, generation: int, component_id: str,
                        info: LeaderInformation | None) -> None:
        with self._lock:
            if generation != self._generation or component_id not in self._contenders:
                return
            driver = self._driver
            if self._session_id is None or driver is None or not driver.has_leadership():
                return
            confirmed = self._confirmed.get(component_id)
            if info == confirmed:
                return
            try:
                if confirmed is None:
                    # not confirmed yet: nothing of this leader's to show, so no one else's
                    log.debug("resetting foreign leader information %s of %r", info,
                              component_id)
                    driver.delete_leader_information(component_id)
                else:
                    log.info("correcting the leader information of %r (published: %s, "
                             "confirmed: %s)", component_id, info, confirmed)
                    driver.publish_leader_information(component_id, confirmed)
            except Exception as e:
                log.exception("correcting the leader information of %r failed", component_id)
                self._forward_error(e)

    def _on_error(self, generation: int, error: BaseException) -> None:
        with self._lock:
            if generation != self._generation:
                return
            self._forward_error(error)

    # -- calling the contenders (through the executor, in event order) -------------------

    def _submit_grant(self, component_id: str, registration: _Registration,
                      session_id: str) -> None:
        self._dispatch(lambda: self._deliver_grant(component_id, registration, session_id))

    def _deliver_grant(self, component_id: str, registration: _Registration,
                       session_id: str) -> None:
        with self._lock:
            # a grant overtaken by a revoke (or by the contender's leaving) is not delivered
            if (self._contenders.get(component_id) is not registration
                    or session_id != self._session_id or registration.granted == session_id):
                log.debug("out-dated grant of session %s to %r skipped", session_id,
                          component_id)
                return
            registration.granted = session_id
            self._call(registration, lambda c: c.grant_leadership(session_id))

    def _submit_revoke(self, registration: _Registration) -> None:
        self._dispatch(lambda: self._deliver_revoke(registration))

    def _deliver_revoke(self, registration: _Registration) -> None:
        with self._lock:
            if registration.granted is None:
                return  # its grant was skipped: nothing to revoke
            registration.granted = None
            self._call(registration, lambda c: c.revoke_leadership())

    def _forward_error(self, error: BaseException) -> None:
        if not self._contenders:
            log.error("leader election failed with no contender to tell", exc_info=error)
            return
        for registration in self._contenders.values():
            self._dispatch(_bind(registration.contender.handle_error, error))

    def _dispatch(self, fn: Callable[[], None]) -> None:
        try:
            self._executor(fn)
        except RuntimeError:
            # the contenders' loop is closed (the process is stopping): nobody to tell
            log.warning("leader election event dropped: the contenders' executor refused it",
                        exc_info=True)

    def _call(self, registration: _Registration,
              fn: Callable[[LeaderContender], None]) -> None:
        try:
            fn(registration.contender)
        except Exception as e:
            log.exception("leader contender %r failed", registration.contender)
            registration.contender.handle_error(e)


class _ComponentElection:
    """One component's :class:`LeaderElection` handle on a
    :class:`DefaultLeaderElectionService`."""

    def __init__(self, service: DefaultLeaderElectionService, component_id: str) -> None:
        self._service = service
        self.component_id = component_id

    def start_leader_election(self, contender: LeaderContender) -> None:
        """Register ``contender``: it is granted leadership whenever the service leads."""
        self._service._register(self, contender)

    def confirm_leadership(self, session_id: str, address: str) -> None:
        """Publish ``address`` as this component's leader if ``session_id`` is current."""
        self._service._confirm(self, session_id, address)

    def has_leadership(self, session_id: str) -> bool:
        """Whether ``session_id`` is the current session and the driver still leads."""
        return self._service._has_leadership(self, session_id)

    def close(self) -> None:
        """Leave the election: revoke the contender (if granted), delete its information
        (while leading); the last one to leave closes the driver. Idempotent."""
        self._service._remove(self)

    def __repr__(self) -> str:
        return f"LeaderElection({self.component_id!r})"


class _DriverEvents:
    """The :class:`LeaderElectionEvents` of one driver: events of a driver the service has
    closed (a later driver has another generation) are ignored."""

    def __init__(self, service: DefaultLeaderElectionService, generation: int) -> None:
        self._service = service
        self._generation = generation

    def on_grant_leadership(self) -> None:
        self._service._on_grant(self._generation)

    def on_revoke_leadership(self) -> None:
        self._service._on_revoke(self._generation)

    def on_leader_information_change(self, component_id: str,
                                     info: LeaderInformation | None) -> None:
        self._service._on_info_change(self._generation, component_id, info)

    def on_error(self, error: BaseException) -> None:
        self._service._on_error(self._generation, error)


class StandaloneLeaderElectionDriver:
    """The driver of a cluster without HA: it leads from its creation until it is closed;
    published information stays in :attr:`published` (nobody reads it: standalone
    retrieval uses fixed addresses)."""

    def __init__(self, events: LeaderElectionEvents) -> None:
        self.published: dict[str, LeaderInformation] = {}
        self._closed = False
        events.on_grant_leadership()

    def has_leadership(self) -> bool:
        return not self._closed

    def publish_leader_information(self, component_id: str, info: LeaderInformation) -> None:
        self.published[component_id] = info

    def delete_leader_information(self, component_id: str) -> None:
        self.published.pop(component_id, None)

    def close(self) -> None:
        self._closed = True

    def __repr__(self) -> str:
        return "StandaloneLeaderElectionDriver()"


def _bind(fn: Callable[[BaseException], None], error: BaseException) -> Callable[[], None]:
    return lambda: fn(error)


def _random_session_id() -> str:
    return uuid.uuid4().hex
