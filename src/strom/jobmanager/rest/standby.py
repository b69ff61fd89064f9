"""REST on a standby JobManager: requests go to the leader.

With high availability every JobManager serves REST, but only the leader runs a Dispatcher.
:class:`RestLeadership` knows whether this process leads (``leading()``: the leadership
runner has confirmed its session, after the Dispatcher recovered the jobs) and where the leader's REST endpoint is (it listens to the
REST_SERVER leader retrieval). While this process does not lead, every request except the
web UI's own files is answered with

* **307 Temporary Redirect** to ``<leader's REST URL><same path and query>`` when a leader
  is known (clients repeat the request there, with the same method and body), else
* **503** with Flink's "ongoing leader election" error, to be retried.

A REST server without a :class:`RestLeadership` (standalone, MiniCluster) always leads.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import msgspec
from aiohttp import web

from strom.ha.leader_election import LeaderInformation
from strom.jobmanager.rest import messages as m

__all__ = ["LEADER_ELECTION_ONGOING", "RestLeadership", "standby_response"]

log = logging.getLogger(__name__)

#: Flink's text for a request that arrives while no leader is known
LEADER_ELECTION_ONGOING = ("Service temporarily unavailable due to an ongoing leader "
                           "election. Please refresh.")


class RestLeadership:
    """Whether this JobManager's REST endpoint leads, and the leader's URL if not
    (a :class:`~strom.ha.leader_retrieval.LeaderRetrievalListener` of REST_SERVER)."""

    def __init__(self, leading: Callable[[], bool],
                 own_url: Callable[[], str | None] = lambda: None) -> None:
        self._leading = leading
        #: the REST URL the REST_SERVER leader published (None: no leader known)
        self.leader_url: str | None = None
        self._own_url = own_url

    @property
    def leading(self) -> bool:
        """Whether this JobManager leads now (its Dispatcher runs and recovered the jobs)."""
        return self._leading()

    def notify_leader_address(self, info: LeaderInformation | None) -> None:
        self.leader_url = info.address.rstrip("/") if info is not None else None
        log.info("The leading REST endpoint is now %s", self.leader_url or "unknown")

    def handle_error(self, error: BaseException) -> None:
        log.error("Retrieving the REST leader failed", exc_info=error)
        self.leader_url = None

    def redirect_target(self) -> str | None:
        """Where a request goes now: the leader's URL, unless it is unknown or names this
        endpoint (a leadership just lost, not yet taken over)."""
        leader = self.leader_url
        if leader is None or leader == self._own_url():
            return None
        return leader


def standby_response(leadership: RestLeadership, request: web.Request) -> web.Response:
    """The 307 to the leader (or 503 while none is known) for ``request``."""
    target = leadership.redirect_target()
    if target is None:
        response = web.Response(
            status=503, body=msgspec.json.encode(m.ErrorResponse([LEADER_ELECTION_ONGOING])),
            content_type="application/json")
        response.headers["Retry-After"] = "1"
        return response
    response = web.Response(
        status=307, content_type="application/json",
        body=msgspec.json.encode(m.ErrorResponse([
            f"This JobManager is a standby; the leading JobManager's REST endpoint is "
            f"{target}."])))
    response.headers["Location"] = target + request.path_qs
    return response
