"""Configuration options of the web UI (Flink's ``web.*`` keys and defaults);
:mod:`strom.common.config_options` validates them with the rest."""

from __future__ import annotations

from typing import Any

from strom.common._option_types import BOOL, DURATION, STRING
from strom.common.config_options import ConfigOption

__all__ = ["WEB_CANCEL_ENABLE", "WEB_OPTIONS", "WEB_REFRESH_INTERVAL", "WEB_SUBMIT_ENABLE",
           "WEB_UPLOAD_DIR"]

WEB_SUBMIT_ENABLE: ConfigOption[bool] = ConfigOption(
    "web.submit.enable", BOOL, True,
    "Whether the web UI may upload and run Python job files (the /jars endpoints). True by "
    "default, as in Flink: anyone who reaches the REST port can then run code on the "
    "JobManager's host, so turn it off (or set security.rest.token) on a shared network.",
)
WEB_UPLOAD_DIR: ConfigOption[str] = ConfigOption(
    "web.upload.dir", STRING, None,
    "Directory for uploaded job files (kept across restarts). Unset: a temporary directory "
    "of the JobManager's own, removed when it stops.",
)
WEB_CANCEL_ENABLE: ConfigOption[bool] = ConfigOption(
    "web.cancel.enable", BOOL, True,
    "Whether the web UI shows the button that cancels a job.",
)
WEB_REFRESH_INTERVAL: ConfigOption[int] = ConfigOption(
    "web.refresh-interval", DURATION, 3000,
    "How often the web UI refreshes its pages (a plain number is milliseconds).",
)

WEB_OPTIONS: tuple[ConfigOption[Any], ...] = (
    WEB_SUBMIT_ENABLE, WEB_UPLOAD_DIR, WEB_CANCEL_ENABLE, WEB_REFRESH_INTERVAL,
)
