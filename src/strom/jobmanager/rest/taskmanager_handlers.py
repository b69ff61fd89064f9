"""The TaskManager endpoints: the list (enriched by each TaskManager's own description),
details with allocated slots and metrics, logs, metrics and thread dumps.

The ResourceManager knows the registered TaskManagers, their slots and heartbeats; each
TaskManager describes the rest itself (its data port, hardware and allocated slots) through
the Dispatcher. One that does not answer in time is listed with what the ResourceManager
knows (``dataPort`` -1, zero hardware).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from strom.common.process_files import DEFAULT_MAX_LOG_BYTES
from strom.graph.ids import ResourceID
from strom.jobmanager.cluster_info import TaskManagerDetails
from strom.jobmanager.rest import cluster_messages as clm
from strom.jobmanager.rest import messages as m
from strom.jobmanager.rest import specs
from strom.jobmanager.rest.cluster_handlers import log_list, thread_dump_info
from strom.jobmanager.rest.metric_handlers import metric_store, query_metrics
from strom.jobmanager.rest.specs import EndpointSpec
from strom.rpc.gateways import DispatcherGateway
from strom.taskmanager.file_service import TaskManagerDescription

__all__ = ["DESCRIPTION_TIMEOUT_S", "TASK_MANAGER_HANDLERS", "task_manager_metrics_info"]

log = logging.getLogger(__name__)

#: how long the list waits for a TaskManager's own description
DESCRIPTION_TIMEOUT_S = 2.0


def _task_manager_id(request: base.RestRequest) -> str:
    text = request.path_parameters["taskmanagerid"]
    try:
        return str(ResourceID(text))
    except ValueError:
        raise base.RestHandlerError(
            400, f"Bad TaskManager id in the path: {text!r}; a TaskManager id is 32 lowercase "
                 "hex characters (see /taskmanagers).") from None


async def _describe(gateway: DispatcherGateway, tm_id: str) -> TaskManagerDescription | None:
    try:
        return await asyncio.wait_for(gateway.request_task_manager_description(tm_id),
                                      DESCRIPTION_TIMEOUT_S)
    except asyncio.CancelledError:
        raise
    except Exception as e:
        log.debug("TaskManager %s did not describe itself: %s", tm_id, e)
        return None


def _info(tm: TaskManagerDetails, description: TaskManagerDescription | None
          ) -> dict[str, Any]:
    # as Flink's, timeSinceLastHeartbeat holds the time of the last heartbeat (epoch ms),
    # which its web UI shows as a date
    fields: dict[str, Any] = dict(
        id=tm.resource_id, path=tm.address, data_port=-1, jmx_port=-1,
        time_since_last_heartbeat=tm.last_heartbeat, slots_number=tm.slots_number,
        free_slots=tm.free_slots)
    if description is not None:
        hw = description.hardware
        fields["data_port"] = description.data_port
        fields["hardware"] = m.Hardware(hw.cpu_cores, hw.physical_memory, hw.free_memory,
                                        hw.managed_memory)
    return fields


async def task_managers(gateway: DispatcherGateway, request: base.RestRequest
                        ) -> m.TaskManagersInfo:
    listed = await gateway.list_task_managers()
    descriptions = await asyncio.gather(*(_describe(gateway, tm.resource_id) for tm in listed))
    return m.TaskManagersInfo([m.TaskManagerInfo(**_info(tm, d))
                               for tm, d in zip(listed, descriptions)])


def task_manager_metrics_info(metrics: dict[str, str]) -> clm.TaskManagerMetricsInfo:
    """Flink's TaskManager ``metrics`` block from the TaskManager's process metrics."""

    def number(name: str) -> int:
        try:
            return int(float(metrics.get(name, "0")))
        except ValueError:
            return 0

    total = number("Status.Shuffle.Network.TotalMemorySegments")
    available = number("Status.Shuffle.Network.AvailableMemorySegments")
    return clm.TaskManagerMetricsInfo(
        heap_used=number("Status.Process.Memory.RSS"),
        heap_committed=number("Status.Process.Memory.RSS"),
        memory_segments_available=available, memory_segments_total=total,
        netty_shuffle_memory_segments_available=available,
        netty_shuffle_memory_segments_used=max(0, total - available),
        netty_shuffle_memory_segments_total=total,
        garbage_collectors=[clm.GarbageCollectorInfo("python", number("Status.Python.GC.Count"),
                                                     0)] if "Status.Python.GC.Count" in metrics
        else [])


async def task_manager_details(gateway: DispatcherGateway, request: base.RestRequest
                               ) -> clm.TaskManagerDetailsInfo:
    tm_id = _task_manager_id(request)
    listed = {tm.resource_id: tm for tm in await gateway.list_task_managers()}
    if tm_id not in listed:
        raise base.RestHandlerError(
            404, f"No TaskManager with id {tm_id} is registered; the registered ones: "
                 f"{', '.join(listed) or 'none'} (see /taskmanagers).")
    description = await gateway.request_task_manager_description(tm_id)
    store = await metric_store(request)
    tm_metrics = store.taskmanagers.get(tm_id)
    return clm.TaskManagerDetailsInfo(
        **_info(listed[tm_id], description),
        allocated_slots=[clm.SlotInfo(s.index, s.job_id, m.ResourceProfileInfo())
                         for s in description.allocated_slots],
        metrics=task_manager_metrics_info(tm_metrics.metrics if tm_metrics else {}))


async def task_manager_logs(gateway: DispatcherGateway, request: base.RestRequest
                            ) -> clm.LogListInfo:
    return log_list(await gateway.request_task_manager_log_list(_task_manager_id(request)))


async def task_manager_log(gateway: DispatcherGateway, request: base.RestRequest) -> str:
    return await gateway.request_task_manager_log(_task_manager_id(request), "",
                                                  DEFAULT_MAX_LOG_BYTES)


async def task_manager_log_file(gateway: DispatcherGateway, request: base.RestRequest) -> str:
    name = request.path_parameters["filename"]
    return await gateway.request_task_manager_log(_task_manager_id(request), name,
                                                  DEFAULT_MAX_LOG_BYTES)


async def task_manager_metrics(gateway: DispatcherGateway, request: base.RestRequest
                               ) -> list[clm.Metric]:
    tm_id = _task_manager_id(request)
    if tm_id not in {tm.resource_id for tm in await gateway.list_task_managers()}:
        raise base.RestHandlerError(404, f"No TaskManager with id {tm_id} is registered "
                                         "(see /taskmanagers).")
    tm_metrics = (await metric_store(request)).taskmanagers.get(tm_id)
    return query_metrics(tm_metrics.metrics if tm_metrics else {}, request)


async def task_manager_thread_dump(gateway: DispatcherGateway, request: base.RestRequest
                                   ) -> clm.ThreadDumpInfo:
    return thread_dump_info(
        await gateway.request_task_manager_thread_dump(_task_manager_id(request)))


#: which handler answers which TaskManager spec
TASK_MANAGER_HANDLERS: dict[EndpointSpec[Any], Any] = {
    specs.TASK_MANAGER_DETAILS: task_manager_details,
    specs.TASK_MANAGER_LOGS: task_manager_logs,
    specs.TASK_MANAGER_LOG_FILE: task_manager_log_file,
    specs.TASK_MANAGER_LOG: task_manager_log,
    # one file holds a strom process's stdout and its log
    specs.TASK_MANAGER_STDOUT: task_manager_log,
    specs.TASK_MANAGER_METRICS: task_manager_metrics,
    specs.TASK_MANAGER_THREAD_DUMP: task_manager_thread_dump,
    specs.TASK_MANAGERS: task_managers,
}

# last: handlers.py registers TASK_MANAGER_HANDLERS at its own end, whichever is imported first
from strom.jobmanager.rest import handlers as base  # noqa: E402
