"""The TaskExecutor's metric service: its metrics as a dump, which the JobManager's metric
fetcher asks for (Flink's ``MetricQueryService``, answered on the TaskExecutor's loop)."""

from __future__ import annotations

from strom.metrics.dump import MetricDump, dump_metrics
from strom.metrics.groups import MetricGroup
from strom.metrics.registry import MetricRegistry

__all__ = ["MetricsServiceMixin", "dump_taskmanager_metrics"]

#: the categories of a TaskManager's groups (its own, its jobs', tasks' and operators')
_TASKMANAGER_CATEGORIES = frozenset({"tm", "job", "task", "operator"})


def dump_taskmanager_metrics(registry: MetricRegistry, tm_id: str) -> list[MetricDump]:
    """The metrics of TaskManager ``tm_id`` in ``registry`` (which the TaskExecutors and the
    JobManager of one process may share), views refreshed first."""
    return dump_metrics(registry, lambda info: info.tm_id == tm_id
                        and info.category in _TASKMANAGER_CATEGORIES)


class MetricsServiceMixin:
    """``request_metric_dump`` of the ``TaskExecutorGateway``."""

    metric_registry: MetricRegistry
    metric_group: MetricGroup

    async def request_metric_dump(self) -> list[MetricDump]:
        """This TaskExecutor's metrics only (not other TaskExecutors' of the process)."""
        return dump_taskmanager_metrics(self.metric_registry, self.metric_group.info.tm_id)
