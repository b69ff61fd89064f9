"""The cluster and JobManager endpoints: the web UI's configuration, the cluster
configuration, the JobManager's environment, logs and thread dump, and ``DELETE /cluster``.

The REST server runs in the JobManager's process, so the JobManager's log and threads are
this process's own.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any, TypeVar

from strom.common.config_options import ConfigOption
from strom.common.config_options_web import (
    WEB_CANCEL_ENABLE,
    WEB_REFRESH_INTERVAL,
    WEB_SUBMIT_ENABLE,
)
from strom.common.configuration import ConfigError, Configuration
from strom.common.process_files import (
    list_log_files,
    python_environment,
    read_log_file,
    thread_dump,
)
from strom.jobmanager.rest import cluster_messages as clm
from strom.jobmanager.rest import messages as m
from strom.jobmanager.rest import specs
from strom.jobmanager.rest.specs import EndpointSpec
from strom.rpc.gateways import DispatcherGateway

__all__ = ["CLUSTER_HANDLERS", "SECRET_KEY_PARTS", "hide_secret", "log_list", "thread_dump_info"]

log = logging.getLogger(__name__)
T = TypeVar("T")

#: configuration keys whose values REST shows as ****** (as Flink's GlobalConfiguration)
SECRET_KEY_PARTS = ("password", "secret", "token", "fs.azure.account.key", "apikey",
                    "auth-params")
_HIDDEN = "******"


def hide_secret(key: str, value: str) -> str:
    lowered = key.lower()
    return _HIDDEN if any(part in lowered for part in SECRET_KEY_PARTS) else value


def _setting(configuration: Configuration, option: ConfigOption[T]) -> T:
    """A web.* setting; a malformed one is logged and its default used (the web UI must
    load to show anything)."""
    try:
        value = configuration.get(option)
    except ConfigError as e:
        log.warning("%s; using %r", e, option.default)
        value = None
    if value is None:
        assert option.default is not None
        return option.default
    return value


async def dashboard_config(gateway: DispatcherGateway, request: base.RestRequest
                           ) -> clm.DashboardConfiguration:
    configuration = base.context(request).configuration
    offset_s = -(time.altzone if time.daylight and time.localtime().tm_isdst else time.timezone)
    return clm.DashboardConfiguration(
        refresh_interval=_setting(configuration, WEB_REFRESH_INTERVAL),
        timezone_name=time.tzname[time.localtime().tm_isdst > 0],
        timezone_offset=offset_s * 1000,
        flink_version=m.STROM_VERSION, flink_revision="",
        features=clm.DashboardFeatures(
            web_submit=_setting(configuration, WEB_SUBMIT_ENABLE),
            web_cancel=_setting(configuration, WEB_CANCEL_ENABLE),
            web_rescale=False, web_history=False),
    )


async def jobmanager_config(gateway: DispatcherGateway, request: base.RestRequest
                            ) -> list[clm.ClusterConfigurationEntry]:
    configuration = base.context(request).configuration
    return [clm.ClusterConfigurationEntry(key, hide_secret(key, value))
            for key, value in sorted(configuration.to_dict().items())]


async def jobmanager_environment(gateway: DispatcherGateway, request: base.RestRequest
                                 ) -> clm.EnvironmentInfo:
    version, arch, options = python_environment()
    return clm.EnvironmentInfo(clm.JvmInfo(version, arch, options), list(sys.path))


def log_list(files: list[Any]) -> clm.LogListInfo:
    return clm.LogListInfo([clm.LogInfo(f.name, f.size, f.mtime) for f in files])


def thread_dump_info(threads: list[Any]) -> clm.ThreadDumpInfo:
    return clm.ThreadDumpInfo([clm.ThreadInfoEntry(t.thread_name, t.stringified_thread_info)
                               for t in threads])


async def jobmanager_logs(gateway: DispatcherGateway, request: base.RestRequest
                          ) -> clm.LogListInfo:
    return log_list(list_log_files(base.context(request).log_file, "JobManager"))


async def jobmanager_log(gateway: DispatcherGateway, request: base.RestRequest) -> str:
    return read_log_file(base.context(request).log_file, process="JobManager")


async def jobmanager_log_file(gateway: DispatcherGateway, request: base.RestRequest) -> str:
    return read_log_file(base.context(request).log_file, request.path_parameters["filename"],
                         process="JobManager")


async def jobmanager_thread_dump(gateway: DispatcherGateway, request: base.RestRequest
                                 ) -> clm.ThreadDumpInfo:
    return thread_dump_info(thread_dump())


async def shutdown_cluster(gateway: DispatcherGateway, request: base.RestRequest
                           ) -> m.EmptyResponse:
    await gateway.shutdown_cluster()
    return m.EmptyResponse()


#: which handler answers which cluster spec
CLUSTER_HANDLERS: dict[EndpointSpec[Any], Any] = {
    specs.DASHBOARD_CONFIG: dashboard_config,
    specs.JOBMANAGER_CONFIG: jobmanager_config,
    specs.JOBMANAGER_ENVIRONMENT: jobmanager_environment,
    specs.JOBMANAGER_LOGS: jobmanager_logs,
    specs.JOBMANAGER_LOG_FILE: jobmanager_log_file,
    specs.JOBMANAGER_LOG: jobmanager_log,
    # one file holds a strom process's stdout and its log
    specs.JOBMANAGER_STDOUT: jobmanager_log,
    specs.JOBMANAGER_THREAD_DUMP: jobmanager_thread_dump,
    specs.SHUTDOWN_CLUSTER: shutdown_cluster,
}

# last: handlers.py registers CLUSTER_HANDLERS at its own end, whichever is imported first
from strom.jobmanager.rest import handlers as base  # noqa: E402
