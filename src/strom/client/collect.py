"""The client side of ``execute_and_collect``: follows the job and hands out its batches.

:class:`CollectJob` reads the batches the collect sink puts into a
:class:`~strom.runtime.collect.CollectBuffer`, ends when the job has finished (re-raising its
failure), and releases what the job holds: the buffer, the job (cancelled if still
running) and, for the embedded local cluster, the cluster. It does so at the end of the
results, on ``close()``, or — for an iterator the user dropped without closing it — when
the ``CollectJob`` is garbage collected.
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
import weakref
from collections.abc import Iterable, Iterator
from typing import Any, Protocol

from strom.common.job import JobClient
from strom.runtime.collect import unregister_collect_buffer

__all__ = ["CollectJob"]

log = logging.getLogger(__name__)

#: how long closing an iterator waits for the cluster to answer its cancel
_CANCEL_ANSWER_S = 10.0

POLL_INTERVAL_S = 0.05
"""How long one wait for batches lasts before the job's status is looked at again."""


class CollectedBatches(Protocol):
    """Where the batches come from: the in-process ``CollectBuffer``, or a fetcher from a
    remote cluster's collect coordinator."""

    def take(self, timeout: float) -> tuple[Iterable[list[Any]], bool]: ...


class CollectJob:
    """One ``execute_and_collect`` job, seen from the client.

    Nothing the job runs refers back to this object, so it lives exactly as long as the
    user's iterator (and the :meth:`batches` generator it wraps); a finalizer then cancels
    the job from a background thread, since garbage collection may run on any thread,
    including one of the job's own.
    """

    def __init__(self, collect_id: str, buffer: CollectedBatches, client: JobClient) -> None:
        self._buffer = buffer
        self._result = client.get_job_execution_result()
        self._closed = False
        # The finalizer's arguments must not refer to self, or it would never be collected.
        self._finalizer = weakref.finalize(
            self, _release_in_background, collect_id, client, self._result
        )
        self._finalizer.atexit = False  # the job's threads are daemons; nothing to do at exit

    def batches(self) -> Iterator[list[Any]]:
        """The collected batches in arrival order; returns once the job has finished (raising
        its failure, after releasing it)."""
        buffer, result = self._buffer, self._result
        while not self._closed:
            batches, ended = buffer.take(POLL_INTERVAL_S)
            yield from batches
            if ended:
                break
            if not batches and result.done():
                # The job ended without ending the buffer (it failed or was cancelled); take
                # what arrived between the two looks before reporting how it ended.
                batches, _ = buffer.take(0)
                yield from batches
                break
        if self._closed:
            return
        try:
            result.result()  # the job's end; raises its failure
        finally:
            self.close()

    def close(self) -> None:
        """Release the job now (cancelling it if it still runs); later calls do nothing."""
        self._closed = True
        detached = self._finalizer.detach()
        if detached is not None:
            _release(*detached[2])


def _release(collect_id: str, client: JobClient,
             result: concurrent.futures.Future[Any]) -> None:
    unregister_collect_buffer(collect_id)  # unblocks the sink: it drops what it puts from now
    close = getattr(client, "close", None)
    if close is not None:
        # the embedded cluster that ran only this job: close() cancels it, waits for its
        # end, then stops the cluster, in that order
        close()
    elif not result.done():
        # wait (bounded) for the cluster to answer, so no cancel is still in flight when the
        # caller goes on (to stop the cluster, say); a job that ended meanwhile is fine
        try:
            client.cancel().result(timeout=_CANCEL_ANSWER_S)
        except Exception:
            log.debug("cancelling the job of a closed execute_and_collect iterator failed",
                      exc_info=True)


def _release_quietly(collect_id: str, client: JobClient,
                     result: concurrent.futures.Future[Any]) -> None:
    try:
        _release(collect_id, client, result)
    except Exception:  # nobody is left to tell (the cluster may be gone already)
        log.debug("Releasing the job of a dropped execute_and_collect iterator failed",
                  exc_info=True)


def _release_in_background(collect_id: str, client: JobClient,
                           result: concurrent.futures.Future[Any]) -> None:
    threading.Thread(target=_release_quietly, args=(collect_id, client, result),
                     name=f"strom-collect-release-{collect_id[:8]}", daemon=True).start()
