"""Metric dumps: the values of a registry's metrics as typed messages, what a TaskManager
sends to the JobManager's metric fetcher (Flink's ``MetricDumpSerialization``)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import msgspec

from strom.metrics.groups import ComponentInfo
from strom.metrics.metric_types import Counter, Distribution, Gauge, Meter, Metric
from strom.metrics.registry import MetricRegistry

__all__ = ["MetricDump", "dump_metrics", "metric_values"]


class MetricDump(msgspec.Struct, frozen=True, array_like=True):
    """One metric value and where it belongs (see :class:`~strom.metrics.groups.ComponentInfo`).

    ``name`` includes the user groups between the component and the metric
    (``my_group.my_counter``); ``value`` is a string, as Flink's metric store keeps it.
    """

    category: str
    name: str
    value: str
    tm_id: str = ""
    job_id: str = ""
    vertex_id: str = ""
    subtask_index: int = -1
    attempt_number: int = 0
    operator_name: str = ""


def _format(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return str(value)
        return repr(value)
    return str(value)


def metric_values(name: str, metric: Metric) -> list[tuple[str, str]]:
    """``(name, value)`` pairs of one metric: one for counters, gauges and meters (the
    rate), several for a distribution (``name_count``, ``_sum``, ``_min``, ``_max``,
    ``_mean``). A gauge whose callable raises is left out."""
    if isinstance(metric, Counter):
        return [(name, str(metric.get_count()))]
    if isinstance(metric, Meter):
        return [(name, _format(metric.get_rate()))]
    if isinstance(metric, Gauge):
        try:
            value = metric.get_value()
        except Exception:
            return []
        return [] if value is None else [(name, _format(value))]
    if isinstance(metric, Distribution):
        return [(f"{name}_count", str(metric.count)), (f"{name}_sum", str(metric.sum)),
                (f"{name}_min", str(metric.min if metric.min is not None else 0)),
                (f"{name}_max", str(metric.max if metric.max is not None else 0)),
                (f"{name}_mean", _format(metric.mean))]
    return []


def dump_metrics(registry: MetricRegistry,
                 include: Callable[[ComponentInfo], bool] | None = None) -> list[MetricDump]:
    """Every metric of ``registry`` as of now (views refreshed first); with ``include``,
    those of the groups whose :class:`ComponentInfo` it accepts."""
    registry.refresh_views()
    dumps = []
    for group, name, metric in registry.metrics():
        info = group.info
        if include is not None and not include(info):
            continue
        prefix = ".".join(info.user_scope)
        for metric_name, value in metric_values(f"{prefix}.{name}" if prefix else name, metric):
            dumps.append(MetricDump(info.category, metric_name, value, info.tm_id, info.job_id,
                                    info.vertex_id, info.subtask_index, info.attempt_number,
                                    info.operator_name))
    return dumps
