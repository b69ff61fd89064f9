"""Metrics, as in ``pyflink.metrics``: counters, gauges, meters and distributions, registered
through ``RuntimeContext.get_metrics_group()``.

The system metrics (``numRecordsIn``, ``busyTimeMsPerSecond``, ...) live in the same groups
(:mod:`strom.metrics.groups`), one registry per process (:mod:`strom.metrics.registry`),
reported to the JobManager (:mod:`strom.metrics.dump`) and to Prometheus.
"""

from __future__ import annotations

from strom.metrics.groups import MetricGroup
from strom.metrics.metric_types import Counter, Distribution, Meter

__all__ = ["Counter", "Distribution", "Meter", "MetricGroup"]
