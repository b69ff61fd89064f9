"""The JobManager's metric store (Flink's ``MetricStore``): the latest value of every metric
of the cluster, as strings, filed by component.

Names inside a store follow Flink's REST API: a task's store (``task(job, vertex)``) holds
``"<subtask>.<name>"`` and ``"<subtask>.<operator>.<name>"``; a subtask's store
(``subtask(job, vertex, i)``) holds ``"<name>"`` and ``"<operator>.<name>"``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from strom.metrics.dump import MetricDump

__all__ = ["ComponentMetricStore", "JobMetricStore", "MetricStore", "TaskMetricStore"]


@dataclass
class ComponentMetricStore:
    metrics: dict[str, str] = field(default_factory=dict)

    def get(self, name: str, default: str | None = None) -> str | None:
        return self.metrics.get(name, default)


@dataclass
class TaskMetricStore(ComponentMetricStore):
    """One job vertex: ``"<subtask>.<name>"`` entries, and one store per subtask."""

    subtasks: dict[int, ComponentMetricStore] = field(default_factory=dict)


@dataclass
class JobMetricStore(ComponentMetricStore):
    """One job: its JobManager-side metrics (checkpoints, restarts, uptime) and its
    vertices."""

    tasks: dict[str, TaskMetricStore] = field(default_factory=dict)


class MetricStore:
    """Filled by :meth:`add` (or :meth:`replace_taskmanager`), read by the REST handlers.

    Owned by the JobManager's REST loop: not thread-safe.
    """

    def __init__(self) -> None:
        self.jobmanager = ComponentMetricStore()
        self.taskmanagers: dict[str, ComponentMetricStore] = {}
        self.jobs: dict[str, JobMetricStore] = {}

    # ------------------------------------------------------------------ reads
    def taskmanager(self, tm_id: str) -> ComponentMetricStore | None:
        return self.taskmanagers.get(tm_id)

    def job(self, job_id: str) -> JobMetricStore | None:
        return self.jobs.get(job_id)

    def task(self, job_id: str, vertex_id: str) -> TaskMetricStore | None:
        job = self.jobs.get(job_id)
        return None if job is None else job.tasks.get(vertex_id)

    def subtask(self, job_id: str, vertex_id: str,
                subtask_index: int) -> ComponentMetricStore | None:
        task = self.task(job_id, vertex_id)
        return None if task is None else task.subtasks.get(subtask_index)

    # ------------------------------------------------------------------ writes
    def add(self, dump: MetricDump) -> None:
        category, name, value = dump.category, dump.name, dump.value
        if category == "jm":
            self.jobmanager.metrics[name] = value
        elif category == "tm":
            self.taskmanagers.setdefault(dump.tm_id, ComponentMetricStore()).metrics[name] = value
        elif category == "jm_job":
            self.jobs.setdefault(dump.job_id, JobMetricStore()).metrics[name] = value
        elif category == "job":
            # a TaskManager's job-level metrics: filed with the job's
            self.jobs.setdefault(dump.job_id, JobMetricStore()).metrics[name] = value
        elif category in ("task", "operator"):
            job = self.jobs.setdefault(dump.job_id, JobMetricStore())
            task = job.tasks.setdefault(dump.vertex_id, TaskMetricStore())
            subtask = task.subtasks.setdefault(dump.subtask_index, ComponentMetricStore())
            if category == "operator":
                name = f"{dump.operator_name}.{name}"
            subtask.metrics[name] = value
            task.metrics[f"{dump.subtask_index}.{name}"] = value

    def add_all(self, dumps: Iterable[MetricDump]) -> None:
        for dump in dumps:
            self.add(dump)

    def retain_taskmanagers(self, tm_ids: Iterable[str]) -> None:
        """Forget TaskManagers that are gone."""
        keep = set(tm_ids)
        for tm_id in list(self.taskmanagers):
            if tm_id not in keep:
                del self.taskmanagers[tm_id]

    def retain_jobs(self, job_ids: Iterable[str]) -> None:
        """Forget jobs the Dispatcher no longer knows."""
        keep = set(job_ids)
        for job_id in list(self.jobs):
            if job_id not in keep:
                del self.jobs[job_id]
