"""The metric endpoints' semantics (Flink's ``AbstractMetricsHandler`` and
``AbstractAggregatingMetricsHandler``) and what other handlers derive from the metric store:
a subtask's or vertex's I/O metrics and back pressure.

- Without ``get`` (or with an empty one): the ids of the available metrics, ``[{"id"}]``.
- With ``get=a,b``: ``[{"id", "value"}]`` for those that exist; unknown ids are left out.
- Aggregating endpoints take ``agg=min,max,avg,sum,skew`` (all when left out) and answer
  ``[{"id", "min", ...}]`` over the selected components; values that are not numbers are
  skipped; an unknown aggregation is a 400.

Every handler reads the store after ``await metric_fetcher.update()``; a server without a
fetcher (no metrics) answers from an empty store.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from strom.jobmanager.metrics.store import ComponentMetricStore, MetricStore
from strom.jobmanager.rest import cluster_messages as clm
from strom.jobmanager.rest import messages as m
from strom.jobmanager.rest import specs
from strom.jobmanager.rest.specs import EndpointSpec
from strom.rpc.gateways import DispatcherGateway

__all__ = ["AGGREGATIONS", "METRIC_HANDLERS", "aggregate_metrics", "backpressure_level",
           "io_metrics", "metric_store", "parse_aggregations", "parse_subtask_ranges",
           "query_metrics"]

#: the aggregations ``agg`` may name, in Flink's order
AGGREGATIONS = ("min", "max", "avg", "sum", "skew")


async def metric_store(request: base.RestRequest) -> MetricStore:
    """The metric store, refreshed if it is older than ``metrics.fetcher.update-interval``."""
    fetcher = request.context.metric_fetcher if request.context is not None else None
    if fetcher is None:
        return MetricStore()
    await fetcher.update()
    store: MetricStore = fetcher.store
    return store


def _names(text: str | None) -> list[str]:
    return [n.strip() for n in (text or "").split(",") if n.strip()]


def query_metrics(metrics: Mapping[str, str], request: base.RestRequest) -> list[clm.Metric]:
    """``get`` answered from one component's metrics."""
    wanted = _names(request.query.get("get"))
    if not wanted:
        return [clm.Metric(name) for name in sorted(metrics)]
    return [clm.Metric(name, metrics[name]) for name in wanted if name in metrics]


def parse_aggregations(text: str | None) -> list[str]:
    if text is None:
        return list(AGGREGATIONS)
    names = [n.lower() for n in _names(text)]
    bad = [n for n in names if n not in AGGREGATIONS]
    if bad or not names:
        raise base.RestHandlerError(
            400, f"Bad agg {text!r}: aggregations are {', '.join(AGGREGATIONS)}, "
                 "comma-separated (e.g. agg=min,max).")
    return names


def _skew(values: list[float]) -> float:
    """Flink's data skew: the mean absolute deviation over the mean, in percent (≤ 100)."""
    avg = sum(values) / len(values)
    if avg == 0:
        return 0.0
    deviation = sum(abs(avg - v) for v in values) / len(values)
    return min(deviation / avg * 100.0, 100.0)


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return None if math.isnan(value) else value


def aggregate_metrics(components: Iterable[Mapping[str, str]],
                      request: base.RestRequest) -> list[clm.AggregatedMetric]:
    """``get`` and ``agg`` answered over several components' metrics."""
    components = list(components)
    aggregations = parse_aggregations(request.query.get("agg"))
    if not _names(request.query.get("get")):
        available = sorted({name for c in components for name in c})
        return [clm.AggregatedMetric(name) for name in available]
    answer = []
    for name in _names(request.query.get("get")):
        values = [v for c in components if name in c
                  if (v := _number(c[name])) is not None]
        if not values:
            continue
        computed = {"min": min(values), "max": max(values), "sum": sum(values),
                    "avg": sum(values) / len(values), "skew": _skew(values)}
        answer.append(clm.AggregatedMetric(name, **{a: computed[a] for a in aggregations}))
    return answer


def parse_subtask_ranges(text: str | None) -> set[int] | None:
    """``1,3,5-9`` → {1, 3, 5, 6, 7, 8, 9}; None for all."""
    if text is None:
        return None
    chosen: set[int] = set()
    for part in _names(text):
        low, dash, high = part.partition("-")
        try:
            start, end = int(low), int(high) if dash else int(low)
        except ValueError:
            start = end = -1
        if start < 0 or end < start or end - start > 100_000:
            raise base.RestHandlerError(
                400, f"Bad subtasks {text!r}: give subtask indexes and ranges, "
                     "comma-separated (e.g. subtasks=1,3,5-9).")
        chosen.update(range(start, end + 1))
    return chosen


# ---------------------------------------------------------------- derived metrics
#: IOMetricsInfo field ← the task metric it sums
_IO_METRICS = {
    "read_bytes": "numBytesIn", "write_bytes": "numBytesOut",
    "read_records": "numRecordsIn", "write_records": "numRecordsOut",
}
_ACCUMULATED = {
    "accumulated_backpressured_time": "accumulatedBackpressuredTime",
    "accumulated_idle_time": "accumulatedIdleTime",
    "accumulated_busy_time": "accumulatedBusyTime",
}


def io_metrics(subtasks: Iterable[ComponentMetricStore | None]) -> m.IOMetricsInfo:
    """The I/O metrics summed over subtasks; ``*-complete`` when every subtask had it."""
    stores = list(subtasks)
    fields: dict[str, Any] = {}
    for field, name in _IO_METRICS.items():
        values = [_number(s.metrics[name]) if s is not None and name in s.metrics else None
                  for s in stores]
        present = [v for v in values if v is not None]
        fields[field] = int(sum(present))
        fields[f"{field}_complete"] = bool(stores) and len(present) == len(stores)
    for field, name in _ACCUMULATED.items():
        total = sum(v for s in stores if s is not None and name in s.metrics
                    if (v := _number(s.metrics[name])) is not None)
        fields[field] = float(total) if field == "accumulated_busy_time" else int(total)
    return m.IOMetricsInfo(**fields)


def backpressure_level(ratio: float) -> str:
    """Flink's levels: ≤ 0.10 ok, ≤ 0.5 low, above high."""
    if ratio <= 0.10:
        return "ok"
    if ratio <= 0.5:
        return "low"
    return "high"


# ---------------------------------------------------------------- JobManager, jobs
async def jobmanager_metrics(gateway: DispatcherGateway, request: base.RestRequest
                             ) -> list[clm.Metric]:
    return query_metrics((await metric_store(request)).jobmanager.metrics, request)


async def jobs_metrics(gateway: DispatcherGateway, request: base.RestRequest
                       ) -> list[clm.AggregatedMetric]:
    store = await metric_store(request)
    jobs = _names(request.query.get("jobs")) if "jobs" in request.query else list(store.jobs)
    for job in jobs:
        base.parse_job_id(job)
    return aggregate_metrics((store.jobs[j].metrics for j in jobs if j in store.jobs),
                             request)


async def taskmanagers_metrics(gateway: DispatcherGateway, request: base.RestRequest
                               ) -> list[clm.AggregatedMetric]:
    store = await metric_store(request)
    chosen = (_names(request.query.get("taskmanagers")) if "taskmanagers" in request.query
              else list(store.taskmanagers))
    return aggregate_metrics((store.taskmanagers[t].metrics for t in chosen
                              if t in store.taskmanagers), request)


#: which handler answers which metric spec
METRIC_HANDLERS: dict[EndpointSpec[Any], Any] = {
    specs.JOBMANAGER_METRICS: jobmanager_metrics,
    specs.JOBS_METRICS: jobs_metrics,
    specs.TASK_MANAGERS_METRICS: taskmanagers_metrics,
}

# last: handlers.py registers METRIC_HANDLERS at its own end, whichever is imported first
from strom.jobmanager.rest import handlers as base  # noqa: E402
