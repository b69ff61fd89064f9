"""The checkpoint statistics endpoints' handlers: statistics, config, details per checkpoint
and per subtask, and the job's checkpoint metrics. Each turns
the Dispatcher's :class:`CheckpointStatsSnapshot` into Flink's shapes."""

from __future__ import annotations

from typing import Any

import msgspec

from strom.graph.ids import JobVertexID
from strom.jobmanager.checkpoint.stats import (
    COMPLETED,
    FAILED,
    CheckpointStats,
    CheckpointStatsSnapshot,
    StatsSummary,
    SubtaskStats,
)
from strom.jobmanager.rest import checkpoint_messages as cm
from strom.jobmanager.rest import specs
from strom.jobmanager.rest.specs import EndpointSpec
from strom.rpc.gateways import DispatcherGateway

__all__ = ["CHECKPOINT_HANDLERS", "CHECKPOINT_METRICS", "checkpoint_metrics"]

#: Flink's ``interval`` of a job without periodic checkpoints (Long.MAX_VALUE)
NO_INTERVAL = 2**63 - 1

#: the job's checkpoint metrics (Flink's names), in the order REST lists them
CHECKPOINT_METRICS = (
    "lastCheckpointDuration", "lastCheckpointSize", "lastCheckpointFullSize",
    "numberOfCompletedCheckpoints", "numberOfFailedCheckpoints",
    "numberOfInProgressCheckpoints", "totalNumberOfCheckpoints",
    "lastCheckpointRestoreTimestamp", "lastCompletedCheckpointId",
)


def _summary(s: StatsSummary) -> cm.StatsSummaryDto:
    return cm.StatsSummaryDto(s.min, s.max, s.avg, s.p50, s.p90, s.p95, s.p99, s.p999)


def _class_name(stats: CheckpointStats) -> str:
    return {COMPLETED: "completed", FAILED: "failed"}.get(stats.status, "in_progress")


def _task(stats: CheckpointStats, vertex_id: str) -> cm.TaskCheckpointStatistics:
    acks = list(stats.acks.get(vertex_id, {}).values())
    latest = max((a.ack_timestamp for a in acks), default=-1)
    return cm.TaskCheckpointStatistics(
        id=stats.checkpoint_id, status=stats.status, latest_ack_timestamp=latest,
        checkpointed_size=sum(a.checkpointed_size for a in acks),
        state_size=sum(a.state_size for a in acks),
        end_to_end_duration=max(0, latest - stats.trigger_timestamp) if acks else 0,
        alignment_buffered=0, processed_data=sum(a.processed_data for a in acks),
        persisted_data=sum(a.persisted_data for a in acks),
        num_subtasks=stats.parallelism.get(vertex_id, 0),
        num_acknowledged_subtasks=len(acks))


def checkpoint_statistics(stats: CheckpointStats, with_tasks: bool = False
                          ) -> cm.CheckpointStatistics:
    """One checkpoint in Flink's shape (``tasks`` only in its details, as Flink does)."""
    completed = stats.status == COMPLETED
    failed = stats.status == FAILED
    return cm.CheckpointStatistics(
        class_name=_class_name(stats), id=stats.checkpoint_id, status=stats.status,
        is_savepoint=stats.is_savepoint, trigger_timestamp=stats.trigger_timestamp,
        latest_ack_timestamp=stats.latest_ack_timestamp,
        checkpointed_size=stats.total("checkpointed_size"),
        state_size=stats.total("state_size"), end_to_end_duration=stats.end_to_end_duration,
        alignment_buffered=0, processed_data=stats.total("processed_data"),
        persisted_data=stats.total("persisted_data"), num_subtasks=stats.num_subtasks,
        num_acknowledged_subtasks=stats.num_acknowledged,
        checkpoint_type=stats.checkpoint_type,
        tasks={v: _task(stats, v) for v in stats.parallelism} if with_tasks else {},
        savepoint_format="CANONICAL" if stats.is_savepoint else None,
        external_path=stats.external_path if completed else None,
        discarded=stats.discarded if completed else None,
        failure_timestamp=stats.end_timestamp if failed else None,
        failure_message=stats.failure_message if failed else None)


async def _snapshot(gateway: DispatcherGateway, request: base.RestRequest
                    ) -> CheckpointStatsSnapshot:
    job_id = base.parse_job_id(request.path_parameters["jobid"])
    snapshot = await gateway.request_checkpoint_stats(job_id)
    if snapshot.config is None:
        raise base.RestHandlerError(
            404, f"Checkpointing has not been enabled for job {job_id}: it runs in BATCH "
                 "mode, which takes no checkpoints.")
    return snapshot


async def get_checkpoint_statistics(gateway: DispatcherGateway, request: base.RestRequest
                                    ) -> cm.CheckpointingStatistics:
    s = await _snapshot(gateway, request)

    def latest(stats: CheckpointStats | None) -> cm.CheckpointStatistics | None:
        return None if stats is None else checkpoint_statistics(stats)

    restored = s.latest_restored
    return cm.CheckpointingStatistics(
        counts=cm.CheckpointCounts(s.restored, s.total, s.in_progress, s.completed, s.failed),
        summary={name: _summary(summary) for name, summary in s.summary.items()},
        latest=cm.LatestCheckpoints(
            completed=latest(s.latest_completed), savepoint=latest(s.latest_savepoint),
            failed=latest(s.latest_failed),
            restored=None if restored is None else cm.RestoredCheckpointStatistics(
                restored.checkpoint_id, restored.restore_timestamp, restored.is_savepoint,
                restored.external_path)),
        history=[checkpoint_statistics(h) for h in s.history])


async def get_checkpoint_config(gateway: DispatcherGateway, request: base.RestRequest
                                ) -> cm.CheckpointConfigInfo:
    job_id = base.parse_job_id(request.path_parameters["jobid"])
    config = (await gateway.request_checkpoint_stats(job_id)).config
    if config is None:
        raise base.RestHandlerError(
            404, f"Checkpointing is not enabled for this job ({job_id}): it runs in BATCH "
                 "mode.")
    retention = config.externalized_retention
    return cm.CheckpointConfigInfo(
        mode="exactly_once" if config.exactly_once else "at_least_once",
        interval=config.interval_ms or NO_INTERVAL, timeout=config.timeout_ms,
        min_pause=config.min_pause_ms, max_concurrent=config.max_concurrent,
        externalization=cm.ExternalizedCheckpointInfo(
            enabled=retention != "NO_EXTERNALIZED_CHECKPOINTS",
            delete_on_cancellation=retention == "DELETE_ON_CANCELLATION"),
        state_backend=config.state_backend, checkpoint_storage=config.checkpoint_storage,
        unaligned_checkpoints=config.unaligned,
        tolerable_failed_checkpoints=config.tolerable_failures,
        aligned_checkpoint_timeout=config.aligned_checkpoint_timeout_ms,
        checkpoints_after_tasks_finish=config.checkpoints_after_tasks_finish,
        state_changelog_enabled=False, changelog_periodic_materialization_interval=0,
        changelog_storage="memory")


def _checkpoint_id(request: base.RestRequest) -> int:
    text = request.path_parameters["checkpointid"]
    try:
        checkpoint_id = int(text)
        if checkpoint_id < 0:
            raise ValueError
    except ValueError:
        raise base.RestHandlerError(
            400, f"Bad checkpoint id in the path: {text!r}; it must be a number >= 0, as "
                 "/jobs/:jobid/checkpoints lists them.") from None
    return checkpoint_id


async def _checkpoint(gateway: DispatcherGateway, request: base.RestRequest) -> CheckpointStats:
    checkpoint_id = _checkpoint_id(request)
    stats = (await _snapshot(gateway, request)).checkpoint(checkpoint_id)
    if stats is None:
        raise base.RestHandlerError(
            404, f"Could not find checkpointing statistics for checkpoint {checkpoint_id}. "
                 "Only the most recent checkpoints (web.checkpoints.history) are kept; "
                 "/jobs/:jobid/checkpoints lists them.")
    return stats


async def get_checkpoint_details(gateway: DispatcherGateway, request: base.RestRequest
                                 ) -> cm.CheckpointStatistics:
    return checkpoint_statistics(await _checkpoint(gateway, request), with_tasks=True)


def _subtask(ack: SubtaskStats, trigger_timestamp: int) -> cm.SubtaskCheckpointStatistics:
    return cm.SubtaskCheckpointStatistics(
        index=ack.subtask, status="completed", ack_timestamp=ack.ack_timestamp,
        end_to_end_duration=max(0, ack.ack_timestamp - trigger_timestamp),
        state_size=ack.state_size, checkpointed_size=ack.checkpointed_size,
        processed_data=ack.processed_data, persisted_data=ack.persisted_data,
        checkpoint=cm.CheckpointDurations(ack.sync_duration_ms, ack.async_duration_ms),
        alignment=cm.SubtaskAlignment(0, ack.processed_data, ack.persisted_data,
                                      ack.alignment_duration_ms),
        start_delay=ack.start_delay_ms, unaligned_checkpoint=ack.unaligned, aborted=False)


async def get_subtask_details(gateway: DispatcherGateway, request: base.RestRequest
                              ) -> cm.TaskCheckpointStatisticsWithSubtaskDetails:
    text = request.path_parameters["vertexid"]
    try:
        vertex_id = str(JobVertexID(text))
    except ValueError as e:
        raise base.RestHandlerError(400, f"Bad vertex id in the path: {e}.") from None
    stats = await _checkpoint(gateway, request)
    if vertex_id not in stats.parallelism:
        raise base.RestHandlerError(
            404, f"There is no checkpoint statistics for task {vertex_id} in checkpoint "
                 f"{stats.checkpoint_id}; its tasks: {sorted(stats.parallelism) or 'none'}.")
    task = _task(stats, vertex_id)
    acks = sorted(stats.acks.get(vertex_id, {}).values(), key=lambda a: a.subtask)
    subtasks = {a.subtask: _subtask(a, stats.trigger_timestamp) for a in acks}

    def summary(values: list[int]) -> cm.StatsSummaryDto:
        return _summary(StatsSummary.of(values))

    def of(field: str) -> cm.StatsSummaryDto:
        return summary([getattr(a, field) for a in acks])

    return cm.TaskCheckpointStatisticsWithSubtaskDetails(
        **msgspec.structs.asdict(task),
        summary=cm.SubtaskDetailsSummary(
            checkpointed_size=of("checkpointed_size"), state_size=of("state_size"),
            end_to_end_duration=summary([max(0, a.ack_timestamp - stats.trigger_timestamp)
                                         for a in acks]),
            checkpoint_duration=cm.CheckpointDurationsSummary(
                of("sync_duration_ms"), of("async_duration_ms")),
            alignment=cm.AlignmentSummary(summary([0] * len(acks)), of("processed_data"),
                                          of("persisted_data"), of("alignment_duration_ms")),
            start_delay=of("start_delay_ms")),
        subtasks=[subtasks.get(i) or cm.SubtaskCheckpointStatistics(i, "pending_or_failed")
                  for i in range(stats.parallelism[vertex_id])])


def checkpoint_metrics(s: CheckpointStatsSnapshot) -> dict[str, int]:
    """The job's checkpoint metrics (Flink's names; -1 where there is nothing yet)."""
    last = s.latest_completed
    restored = s.latest_restored
    return {
        "lastCheckpointDuration": last.end_to_end_duration if last else -1,
        "lastCheckpointSize": last.total("checkpointed_size") if last else -1,
        "lastCheckpointFullSize": last.total("state_size") if last else -1,
        "numberOfCompletedCheckpoints": s.completed,
        "numberOfFailedCheckpoints": s.failed,
        "numberOfInProgressCheckpoints": s.in_progress,
        "totalNumberOfCheckpoints": s.total,
        "lastCheckpointRestoreTimestamp": restored.restore_timestamp if restored else -1,
        "lastCompletedCheckpointId": last.checkpoint_id if last else -1,
    }


async def job_metrics(gateway: DispatcherGateway, request: base.RestRequest
                      ) -> list[cm.JobMetric]:
    job_id = base.parse_job_id(request.path_parameters["jobid"])
    wanted = [name.strip() for name in request.query.get("get", "").split(",")
              if name.strip()]
    snapshot = await gateway.request_checkpoint_stats(job_id)
    # the JobManager's job metrics (restarts, uptime, ...) where the metric system has them;
    # the checkpoint metrics from the statistics, which are never older
    from strom.jobmanager.rest.metric_handlers import metric_store

    job_store = (await metric_store(request)).job(str(job_id))
    metrics = dict(job_store.metrics) if job_store is not None else {}
    metrics.update((k, str(v)) for k, v in checkpoint_metrics(snapshot).items())
    if not wanted:
        return [cm.JobMetric(name) for name in
                [*CHECKPOINT_METRICS, *sorted(set(metrics) - set(CHECKPOINT_METRICS))]]
    # as Flink: unknown ids are left out
    return [cm.JobMetric(name, metrics[name]) for name in wanted if name in metrics]


#: which handler answers which checkpoint spec
CHECKPOINT_HANDLERS: dict[EndpointSpec[Any], Any] = {
    specs.CHECKPOINT_STATISTICS: get_checkpoint_statistics,
    specs.CHECKPOINT_CONFIG: get_checkpoint_config,
    specs.CHECKPOINT_DETAILS: get_checkpoint_details,
    specs.CHECKPOINT_SUBTASK_DETAILS: get_subtask_details,
    specs.JOB_METRICS: job_metrics,
}

# last: handlers.py registers CHECKPOINT_HANDLERS at its own end, whichever is imported first
from strom.jobmanager.rest import handlers as base  # noqa: E402
