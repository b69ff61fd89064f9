"""The metric fetcher (Flink's ``MetricFetcherImpl``): fills the JobManager's
:class:`~strom.jobmanager.metrics.store.MetricStore` for the REST handlers.

``await fetcher.update()`` refreshes the store when the last refresh is older than
``metrics.fetcher.update-interval`` (10 s by default), else returns at once. A refresh asks
every TaskExecutor the Dispatcher lists for its metrics (``request_metric_dump``), all at
once, each within ``timeout_s``, and adds the JobManager's own ("jm" and "jm_job" groups of
its registry). A TaskExecutor that does not answer keeps its previous values (logged at
debug); TaskManagers and jobs the cluster no longer knows are dropped from the store. Calls
of ``update()`` while a refresh runs wait for that one: there is one fetch at a time.

It runs on the JobManager's RPC loop, which owns the store; the fetch runs in a task the
fetcher owns, so a REST request that goes away does not abort it for the others waiting.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from strom.common.config_options_metrics import METRICS_FETCHER_UPDATE_INTERVAL
from strom.common.configuration import Configuration
from strom.jobmanager.metrics.store import MetricStore
from strom.metrics.dump import MetricDump, metric_values
from strom.metrics.registry import MetricRegistry
from strom.rpc.gateways import DispatcherGateway, TaskExecutorGateway
from strom.rpc.service import RpcService

__all__ = ["DEFAULT_FETCH_TIMEOUT_S", "MetricFetcher", "dump_jobmanager_metrics"]

log = logging.getLogger(__name__)

#: how long one TaskExecutor may take to answer a fetch
DEFAULT_FETCH_TIMEOUT_S = 10.0

_JOBMANAGER_CATEGORIES = frozenset({"jm", "jm_job"})


def dump_jobmanager_metrics(registry: MetricRegistry) -> list[MetricDump]:
    """The JobManager's metrics in ``registry`` ("jm" and "jm_job" groups): in a local
    cluster the TaskExecutors share the registry, and answer for theirs themselves."""
    registry.refresh_views()
    dumps = []
    for group, name, metric in registry.metrics():
        info = group.info
        if info.category not in _JOBMANAGER_CATEGORIES:
            continue
        prefix = ".".join(info.user_scope)
        for metric_name, value in metric_values(f"{prefix}.{name}" if prefix else name, metric):
            dumps.append(MetricDump(info.category, metric_name, value, job_id=info.job_id))
    return dumps


class MetricFetcher:
    """Keeps :attr:`store` at most ``metrics.fetcher.update-interval`` old (see the module
    docstring). ``clock`` is monotonic seconds."""

    def __init__(self, rpc: RpcService, dispatcher: DispatcherGateway,
                 registry: MetricRegistry | None, configuration: Configuration | None = None,
                 timeout_s: float | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        configuration = configuration if configuration is not None else Configuration()
        interval_ms = configuration.get(METRICS_FETCHER_UPDATE_INTERVAL)
        self.rpc = rpc
        self.dispatcher = dispatcher
        self.registry = registry
        self.update_interval_s = (10_000 if interval_ms is None else interval_ms) / 1000.0
        self.timeout_s = min(DEFAULT_FETCH_TIMEOUT_S, rpc.ask_timeout_s) \
            if timeout_s is None else timeout_s
        self.clock = clock
        self.store = MetricStore()
        #: when the last refresh started (monotonic seconds); None: never
        self.last_update: float | None = None
        self._fetch: asyncio.Task[None] | None = None

    async def update(self) -> None:
        """Refresh the store if it is older than the update interval (see the module
        docstring); a failure of the cluster's own calls propagates."""
        fetch = self._fetch
        if fetch is None or fetch.done():
            now = self.clock()
            if self.last_update is not None and now - self.last_update < self.update_interval_s:
                return
            self.last_update = now
            fetch = self._fetch = asyncio.get_running_loop().create_task(
                self._fetch_all(), name="strom metric fetch")
        await asyncio.shield(fetch)

    async def _fetch_all(self) -> None:
        task_managers = await self.dispatcher.list_task_managers()
        jobs = await self.dispatcher.list_jobs()
        answers = await asyncio.gather(*(self._fetch_one(tm.resource_id, tm.address)
                                         for tm in task_managers))
        store = self.store
        if self.registry is not None:
            store.add_all(dump_jobmanager_metrics(self.registry))
        for dumps in answers:
            if dumps is not None:
                store.add_all(dumps)
        store.retain_taskmanagers(tm.resource_id for tm in task_managers)
        store.retain_jobs(str(job.job_id) for job in jobs)

    async def _fetch_one(self, resource_id: str, address: str) -> list[MetricDump] | None:
        gateway = self.rpc.connect(address, TaskExecutorGateway)
        try:
            return await asyncio.wait_for(gateway.request_metric_dump(), self.timeout_s)
        except Exception as e:  # keeps its old values; the next refresh asks again
            log.debug("metrics of TaskManager %s at %s could not be fetched: %s: %s",
                      resource_id, address, type(e).__name__, e)
            return None

    async def close(self) -> None:
        """Stop a fetch in progress (on the fetcher's loop)."""
        fetch, self._fetch = self._fetch, None
        if fetch is not None and not fetch.done():
            fetch.cancel()
            await asyncio.gather(fetch, return_exceptions=True)
