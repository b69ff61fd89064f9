"""The metric registry of one process: the root groups, the registered metrics, and the
reporters told of each metric added or removed (Flink's ``MetricRegistryImpl``)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol

from strom.metrics.groups import ComponentInfo, MetricGroup
from strom.metrics.metric_types import VIEW_REFRESH_MIN_INTERVAL_S, Metric, View

__all__ = ["MetricRegistry", "MetricReporter", "add_job_group", "add_operator_group",
           "add_task_group"]


class MetricReporter(Protocol):
    """Told of every metric registered and unregistered (Flink's ``MetricReporter``)."""

    def notify_of_added_metric(self, metric: Metric, name: str, group: MetricGroup) -> None: ...

    def notify_of_removed_metric(self, metric: Metric, name: str,
                                 group: MetricGroup) -> None: ...

    def close(self) -> None: ...


class MetricRegistry:
    """All metrics of one process (a JobManager, a TaskManager, or a local cluster).

    Thread-safe: tasks register and unregister from their threads, reporters read from
    theirs. ``metrics()`` is a snapshot; ``refresh_views()`` brings meters and time gauges
    up to date and is called by whatever reports (at most once a second takes effect).
    """

    def __init__(self, reporters: list[MetricReporter] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._metrics: dict[tuple[int, str], tuple[MetricGroup, str, Metric]] = {}
        self._views: dict[tuple[int, str], View] = {}
        self.reporters: list[MetricReporter] = list(reporters or ())
        self._clock = clock
        self._last_refresh = float("-inf")

    # ------------------------------------------------------------------ root groups
    def jobmanager_group(self, host: str) -> MetricGroup:
        return MetricGroup(self, None, (host, "jobmanager"), ("jobmanager",),
                           {"<host>": host}, ComponentInfo("jm"))

    def taskmanager_group(self, host: str, tm_id: str) -> MetricGroup:
        return MetricGroup(self, None, (host, "taskmanager", tm_id), ("taskmanager",),
                           {"<host>": host, "<tm_id>": tm_id}, ComponentInfo("tm", tm_id=tm_id))

    # ------------------------------------------------------------------ registration
    def add_reporter(self, reporter: MetricReporter) -> None:
        with self._lock:
            self.reporters.append(reporter)
            existing = list(self._metrics.values())
        for group, name, metric in existing:
            reporter.notify_of_added_metric(metric, name, group)

    def register(self, group: MetricGroup, name: str, metric: Metric) -> None:
        key = (id(group), name)
        with self._lock:
            self._metrics[key] = (group, name, metric)
            if isinstance(metric, View):
                self._views[key] = metric
            reporters = list(self.reporters)
        for reporter in reporters:
            reporter.notify_of_added_metric(metric, name, group)

    def unregister(self, group: MetricGroup, name: str) -> None:
        key = (id(group), name)
        with self._lock:
            entry = self._metrics.pop(key, None)
            self._views.pop(key, None)
            reporters = list(self.reporters)
        if entry is not None:
            for reporter in reporters:
                reporter.notify_of_removed_metric(entry[2], name, group)

    def metrics(self) -> list[tuple[MetricGroup, str, Metric]]:
        with self._lock:
            return list(self._metrics.values())

    def refresh_views(self, force: bool = False) -> None:
        now = self._clock()
        with self._lock:
            if not force and now - self._last_refresh < VIEW_REFRESH_MIN_INTERVAL_S:
                return
            self._last_refresh = now
            views = list(self._views.values())
        for view in views:
            view.refresh()

    def close(self) -> None:
        with self._lock:
            reporters, self.reporters = self.reporters, []
        for reporter in reporters:
            reporter.close()


def add_job_group(parent: MetricGroup, job_id: str, job_name: str) -> MetricGroup:
    """The job's group below a TaskManager's (category "job") or the JobManager's
    ("jm_job")."""
    category = "jm_job" if parent.info.category == "jm" else "job"
    return parent.add_component("job", job_name,
                                {"<job_id>": job_id, "<job_name>": job_name},
                                ComponentInfo(category, tm_id=parent.info.tm_id, job_id=job_id))


def add_task_group(job_group: MetricGroup, vertex_id: str, task_name: str,
                   subtask_index: int, attempt_number: int,
                   attempt_id: str) -> MetricGroup:
    """A task's group (one subtask attempt) below its job's group on a TaskManager."""
    info = job_group.info
    return job_group.add_component(
        "task", f"{task_name}.{subtask_index}",
        {"<task_id>": vertex_id, "<task_name>": task_name,
         "<subtask_index>": str(subtask_index), "<task_attempt_num>": str(attempt_number),
         "<task_attempt_id>": attempt_id},
        ComponentInfo("task", tm_id=info.tm_id, job_id=info.job_id, vertex_id=vertex_id,
                      subtask_index=subtask_index, attempt_number=attempt_number))


def add_operator_group(task_group: MetricGroup, operator_id: str,
                       operator_name: str) -> MetricGroup:
    """An operator's group below its task's."""
    info = task_group.info
    return task_group.add_component(
        "operator", operator_name,
        {"<operator_id>": operator_id, "<operator_name>": operator_name},
        ComponentInfo("operator", tm_id=info.tm_id, job_id=info.job_id,
                      vertex_id=info.vertex_id, subtask_index=info.subtask_index,
                      attempt_number=info.attempt_number, operator_name=operator_name))
