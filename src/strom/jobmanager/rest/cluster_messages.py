"""Bodies of the cluster, JobManager, TaskManager and metric endpoints, in Flink's JSON shapes
(``DashboardConfiguration``, ``ClusterConfigurationInfo``, ``LogListInfo``,
``ThreadDumpInfo``, ``TaskManagerDetailsInfo``, ``MetricCollectionResponseBody``,
``AggregatedMetricsResponseBody``)."""

from __future__ import annotations

from typing import Any

import msgspec

from strom.jobmanager.rest.messages import (
    STROM_VERSION,
    Hardware,
    ResourceProfileInfo,
    TaskManagerInfo,
    TaskManagerMemoryConfiguration,
)

__all__ = [
    "AggregatedMetric", "ClusterConfigurationEntry", "DashboardConfiguration",
    "DashboardFeatures", "EnvironmentInfo", "GarbageCollectorInfo", "Hardware", "JvmInfo",
    "LogInfo", "LogListInfo", "Metric", "ResourceProfileInfo", "SlotInfo",
    "TaskManagerDetailsInfo", "TaskManagerMemoryConfiguration", "TaskManagerMetricsInfo",
    "ThreadDumpInfo", "ThreadInfoEntry",
]


def _field(name: str, default: Any = msgspec.NODEFAULT) -> Any:
    return msgspec.field(name=name, default=default)


class DashboardFeatures(msgspec.Struct):
    web_submit: bool = _field("web-submit")
    web_cancel: bool = _field("web-cancel")
    web_rescale: bool = _field("web-rescale")
    web_history: bool = _field("web-history")


class DashboardConfiguration(msgspec.Struct):
    """``GET /config``: what the web UI needs to know; ``flink-version`` is strom's."""

    refresh_interval: int = _field("refresh-interval")
    timezone_name: str = _field("timezone-name")
    timezone_offset: int = _field("timezone-offset")
    flink_version: str = _field("flink-version")
    flink_revision: str = _field("flink-revision")
    features: DashboardFeatures = _field("features")


class ClusterConfigurationEntry(msgspec.Struct):
    """One entry of ``GET /jobmanager/config``."""

    key: str
    value: str


class JvmInfo(msgspec.Struct):
    """strom has no JVM: ``version`` and ``arch`` describe the Python interpreter and
    ``options`` its command line."""

    version: str
    arch: str
    options: list[str]


class EnvironmentInfo(msgspec.Struct):
    """``GET /jobmanager/environment``; ``classpath`` is ``sys.path``."""

    jvm: JvmInfo
    classpath: list[str]


class LogInfo(msgspec.Struct):
    name: str
    size: int
    mtime: int


class LogListInfo(msgspec.Struct):
    logs: list[LogInfo]


class ThreadInfoEntry(msgspec.Struct):
    thread_name: str = _field("threadName")
    stringified_thread_info: str = _field("stringifiedThreadInfo")


class ThreadDumpInfo(msgspec.Struct):
    """``/jobmanager/thread-dump``, ``/taskmanagers/:id/thread-dump``: the Python threads'
    stacks."""

    thread_infos: list[ThreadInfoEntry] = _field("threadInfos")


class SlotInfo(msgspec.Struct):
    """One allocated slot of a TaskManager."""

    index: int
    job_id: str = _field("jobId")
    resource: ResourceProfileInfo = _field("resource")


class GarbageCollectorInfo(msgspec.Struct):
    name: str
    count: int
    time: int


class TaskManagerMetricsInfo(msgspec.Struct):
    """Flink's TaskManager ``metrics`` block. strom has no JVM heap: ``heapUsed`` is the
    process's resident memory (``Status.Process.Memory.RSS``) and the heap/non-heap/direct/
    mapped figures without a Python counterpart are 0."""

    heap_used: int = _field("heapUsed", 0)
    heap_committed: int = _field("heapCommitted", 0)
    heap_max: int = _field("heapMax", 0)
    non_heap_used: int = _field("nonHeapUsed", 0)
    non_heap_committed: int = _field("nonHeapCommitted", 0)
    non_heap_max: int = _field("nonHeapMax", 0)
    direct_count: int = _field("directCount", 0)
    direct_used: int = _field("directUsed", 0)
    direct_max: int = _field("directMax", 0)
    mapped_count: int = _field("mappedCount", 0)
    mapped_used: int = _field("mappedUsed", 0)
    mapped_max: int = _field("mappedMax", 0)
    memory_segments_available: int = _field("memorySegmentsAvailable", 0)
    memory_segments_total: int = _field("memorySegmentsTotal", 0)
    netty_shuffle_memory_segments_available: int = _field(
        "nettyShuffleMemorySegmentsAvailable", 0)
    netty_shuffle_memory_segments_used: int = _field("nettyShuffleMemorySegmentsUsed", 0)
    netty_shuffle_memory_segments_total: int = _field("nettyShuffleMemorySegmentsTotal", 0)
    netty_shuffle_memory_available: int = _field("nettyShuffleMemoryAvailable", 0)
    netty_shuffle_memory_used: int = _field("nettyShuffleMemoryUsed", 0)
    netty_shuffle_memory_total: int = _field("nettyShuffleMemoryTotal", 0)
    garbage_collectors: list[GarbageCollectorInfo] = _field("garbageCollectors", [])


class TaskManagerDetailsInfo(TaskManagerInfo):
    """``GET /taskmanagers/:taskmanagerid``: the list entry plus its slots and metrics."""

    allocated_slots: list[SlotInfo] = _field("allocatedSlots", [])
    metrics: TaskManagerMetricsInfo = msgspec.field(
        name="metrics", default_factory=lambda: TaskManagerMetricsInfo())


class Metric(msgspec.Struct, omit_defaults=True):
    """One entry of a metric response: ``{"id"}`` in the list of available metrics,
    ``{"id", "value"}`` when asked for with ``get``."""

    id: str
    value: str | None = None


class AggregatedMetric(msgspec.Struct, omit_defaults=True):
    """One metric aggregated over components: only the aggregations asked for (``agg``)."""

    id: str
    min: float | None = None
    max: float | None = None
    avg: float | None = None
    sum: float | None = None
    skew: float | None = None


#: the version the web UI shows
DASHBOARD_VERSION = STROM_VERSION
