"""The JobManager's own metrics (Flink's ``JobManagerMetricGroup`` and
``JobManagerJobMetricGroup``).

The "jm" group of a JobManager process holds the cluster's numbers and the process metrics
(:mod:`strom.metrics.process`)::

    numRegisteredTaskManagers  numRunningJobs  taskSlotsAvailable  taskSlotsTotal

Each job has a "jm_job" group below it while its JobMaster runs, closed when the job ends::

    numRestarts  uptime  downtime  restartingTime                  (ms; Flink's gauges)
    lastCheckpointDuration  lastCheckpointSize  lastCheckpointFullSize
    numberOfCompletedCheckpoints  numberOfFailedCheckpoints  numberOfInProgressCheckpoints
    totalNumberOfCheckpoints  lastCheckpointRestoreTimestamp  lastCheckpointExternalPath
    lastCompletedCheckpointId

Every value is a gauge read when reported (by the metric fetcher on the JobManager's loop,
or by a Prometheus scrape on the reporter's thread): they read counters and the latest
completed checkpoint, which only ever get replaced, never changed in place. The time
gauges follow Flink's ``UpTimeGauge``, ``DownTimeGauge`` and ``JobStatusMetrics``'s
restarting time, computed from the job's status and when it last entered each status
(:func:`uptime_ms`, :func:`downtime_ms`, :func:`restarting_time_ms`).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from strom.common.job import JobStatus
from strom.jobmanager.checkpoint.stats import CheckpointStatsTracker
from strom.metrics.groups import MetricGroup
from strom.metrics.process import register_process_metrics
from strom.metrics.registry import MetricRegistry, add_job_group

if TYPE_CHECKING:
    from strom.jobmanager.dispatcher import Dispatcher
    from strom.jobmanager.jobmaster import JobMaster
    from strom.jobmanager.resourcemanager import ResourceManager

__all__ = ["NO_LONGER_RUNNING", "downtime_ms", "open_jobmanager_metrics", "open_leader_metrics",
           "register_job_metrics", "register_jobmanager_metrics", "restarting_time_ms",
           "uptime_ms"]

#: what the time gauges of an ended job show (Flink's ``NO_LONGER_RUNNING``)
NO_LONGER_RUNNING = -1


def _wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


# ---------------------------------------------------------------------- time gauges
def uptime_ms(status: JobStatus, timestamps: Mapping[str, int], now_ms: int) -> int:
    """How long the job has run without interruption: since it last became RUNNING; 0 while
    it does not run; -1 once it ended."""
    if status is JobStatus.RUNNING:
        return max(0, now_ms - timestamps.get(JobStatus.RUNNING.value, now_ms))
    return NO_LONGER_RUNNING if status.is_terminal_state() else 0


def downtime_ms(status: JobStatus, timestamps: Mapping[str, int], now_ms: int) -> int:
    """How long the current outage lasts: since the job last began FAILING (or RESTARTING,
    for a restart without failing first), if it had run before; 0 while it runs or never
    ran; -1 once it ended."""
    if status is JobStatus.RUNNING:
        return 0
    if status.is_terminal_state():
        return NO_LONGER_RUNNING
    running = timestamps.get(JobStatus.RUNNING.value, 0)
    if running <= 0:
        return 0  # it never ran: not down, still starting
    outage = [t for t in (timestamps.get(JobStatus.FAILING.value, 0),
                          timestamps.get(JobStatus.RESTARTING.value, 0)) if t >= running]
    return max(0, now_ms - min(outage)) if outage else 0


def restarting_time_ms(status: JobStatus, timestamps: Mapping[str, int], now_ms: int) -> int:
    """How long the last restart took (RESTARTING until RUNNING again), or how long the
    current one takes so far; 0 before the first restart."""
    restarting = timestamps.get(JobStatus.RESTARTING.value, 0)
    if restarting <= 0:
        return 0
    running = timestamps.get(JobStatus.RUNNING.value, 0)
    if running >= restarting:
        return running - restarting
    if status.is_terminal_state():
        return max(0, timestamps.get(status.value, now_ms) - restarting)
    return max(0, now_ms - restarting)


# ---------------------------------------------------------------------- groups
def open_jobmanager_metrics(registry: MetricRegistry, resource_manager: ResourceManager,
                            dispatcher: Dispatcher, host: str | None = None) -> MetricGroup:
    """The JobManager's "jm" group in ``registry`` (one per process), with the process
    metrics and the cluster's gauges; from now on each job gets its group below it."""
    group = open_leader_metrics(registry, lambda: (resource_manager, dispatcher), host)
    dispatcher.metric_group = group
    return group


def open_leader_metrics(registry: MetricRegistry,
                        components: Callable[[], tuple[ResourceManager, Dispatcher] | None],
                        host: str | None = None) -> MetricGroup:
    """The "jm" group of a JobManager whose components change with its leadership: the
    cluster's gauges read ``components()`` (None while it stands by: zeros). Each new
    Dispatcher gets the group as its ``metric_group``."""
    group = registry.jobmanager_group(host or socket.gethostname())
    register_process_metrics(group)
    register_jobmanager_metrics(group, components)
    return group


def register_jobmanager_metrics(
        group: MetricGroup,
        components: Callable[[], tuple[ResourceManager, Dispatcher] | None]) -> None:
    """The cluster's gauges in the JobManager's "jm" ``group``, reading the components
    ``components()`` returns (zeros while there are none)."""

    def resource_manager_value(read: Callable[[ResourceManager], int]) -> Callable[[], int]:
        def value() -> int:
            current = components()
            return 0 if current is None else read(current[0])
        return value

    def running_jobs() -> int:
        current = components()
        if current is None:
            return 0
        return sum(1 for job_master in list(current[1].job_masters.values())
                   if not job_master.status.is_globally_terminal_state())

    group.gauge("numRegisteredTaskManagers",
                resource_manager_value(lambda rm: len(rm.task_executors)))
    group.gauge("taskSlotsTotal", resource_manager_value(lambda rm: len(rm.slots)))
    group.gauge("taskSlotsAvailable", resource_manager_value(
        lambda rm: sum(1 for slot in list(rm.slots) if slot.job_id is None)))
    group.gauge("numRunningJobs", running_jobs)


def register_job_metrics(jobmanager_group: MetricGroup, job_master: JobMaster,
                         clock: Callable[[], int] = _wall_clock_ms) -> MetricGroup:
    """The job's "jm_job" group below the JobManager's, with its gauges; close it when the
    job ends."""
    group = add_job_group(jobmanager_group, str(job_master.job_id), job_master.job_graph.name)

    def times(gauge: Callable[[JobStatus, Mapping[str, int], int], int]) -> Callable[[], int]:
        return lambda: gauge(job_master.status, job_master.timestamps, clock())

    group.gauge("numRestarts", lambda: job_master.scheduler.job_attempt)
    group.gauge("uptime", times(uptime_ms))
    group.gauge("downtime", times(downtime_ms))
    group.gauge("restartingTime", times(restarting_time_ms))
    _register_checkpoint_metrics(group, job_master)
    return group


def _register_checkpoint_metrics(group: MetricGroup, job_master: JobMaster) -> None:
    """Flink's checkpoint gauges, over the job's checkpoint statistics (a job without a
    CheckpointCoordinator yet, or a batch job, shows none taken: 0 counts, -1 values)."""

    def tracker() -> CheckpointStatsTracker | None:
        coordinator = job_master.checkpoint_coordinator
        return None if coordinator is None else coordinator.stats

    def count(name: str) -> Callable[[], int]:
        def read() -> int:
            stats = tracker()
            return 0 if stats is None else stats.counts[name]
        return read

    def last(value: Callable[[CheckpointStatsTracker], int | str | None],
             missing: int | str = -1) -> Callable[[], int | str]:
        def read() -> int | str:
            stats = tracker()
            found = None if stats is None else value(stats)
            return missing if found is None else found
        return read

    def completed(read: Callable[..., int | str | None]
                  ) -> Callable[[CheckpointStatsTracker], int | str | None]:
        def of(stats: CheckpointStatsTracker) -> int | str | None:
            latest = stats.latest_completed
            return None if latest is None else read(latest)
        return of

    group.gauge("numberOfCompletedCheckpoints", count("completed"))
    group.gauge("numberOfFailedCheckpoints", count("failed"))
    group.gauge("numberOfInProgressCheckpoints", count("in_progress"))
    group.gauge("totalNumberOfCheckpoints", count("total"))
    group.gauge("lastCheckpointDuration",
                last(completed(lambda c: c.end_to_end_duration)))
    group.gauge("lastCheckpointSize", last(completed(lambda c: c.total("checkpointed_size"))))
    group.gauge("lastCheckpointFullSize", last(completed(lambda c: c.total("state_size"))))
    group.gauge("lastCompletedCheckpointId", last(completed(lambda c: c.checkpoint_id)))
    group.gauge("lastCheckpointExternalPath",
                last(completed(lambda c: c.external_path), missing="n/a"))
    group.gauge("lastCheckpointRestoreTimestamp", last(
        lambda s: None if s.latest_restored is None else s.latest_restored.restore_timestamp))
