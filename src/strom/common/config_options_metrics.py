"""Configuration options of the metric system: the JobManager's metric fetcher and the
Prometheus reporter, with Flink's keys and defaults (see :mod:`strom.common.config_options`,
which re-exports every name here and validates them with the rest).

A reporter is configured under ``metrics.reporter.<name>.*``; strom knows one kind, Flink's
Prometheus reporter, usually named ``prom``. The port is a string (a port, a range
``9250-9260`` or a list ``9250,9252``) checked when the reporter starts: a bad or occupied
port is logged and the process goes on without the reporter, as in Flink.
"""

from __future__ import annotations

from typing import Any

from strom.common._option_types import BOOL, DURATION, STRING, at_least
from strom.common.config_options import ConfigOption

__all__ = [
    "METRICS_FETCHER_UPDATE_INTERVAL",
    "METRICS_REPORTERS",
    "METRICS_OPTIONS",
    "PROMETHEUS_FACTORY_CLASS",
    "PROMETHEUS_FILTER_LABEL_VALUE_CHARACTERS",
    "PROMETHEUS_HOST",
    "PROMETHEUS_PORT",
]

METRICS_FETCHER_UPDATE_INTERVAL: ConfigOption[int] = ConfigOption(
    "metrics.fetcher.update-interval",
    DURATION,
    10_000,
    "How often (milliseconds) the JobManager's REST endpoint fetches the TaskManagers' "
    "metrics at most; a metric request in between reads the last fetch.",
    constraint=at_least(1),
)
METRICS_REPORTERS: ConfigOption[str] = ConfigOption(
    "metrics.reporters",
    STRING,
    None,
    "Comma-separated names of the reporters to start (configured under "
    "metrics.reporter.<name>.*); unset: every configured reporter. The name 'prom' alone "
    "starts the Prometheus reporter.",
)
PROMETHEUS_FACTORY_CLASS: ConfigOption[str] = ConfigOption(
    "metrics.reporter.prom.factory.class",
    STRING,
    None,
    "org.apache.flink.metrics.prometheus.PrometheusReporterFactory: the reporter 'prom' "
    "serves Prometheus' text format over HTTP.",
)
PROMETHEUS_PORT: ConfigOption[str] = ConfigOption(
    "metrics.reporter.prom.port",
    STRING,
    "9249",
    "Port of the Prometheus reporter's HTTP server: a port, a range (9250-9260) or a list "
    "(9250,9252); the first free one is taken.",
)
PROMETHEUS_HOST: ConfigOption[str] = ConfigOption(
    "metrics.reporter.prom.host",
    STRING,
    "127.0.0.1",
    "Address the Prometheus reporter's HTTP server binds (0.0.0.0: every interface).",
)
PROMETHEUS_FILTER_LABEL_VALUE_CHARACTERS: ConfigOption[bool] = ConfigOption(
    "metrics.reporter.prom.filterLabelValueCharacters",
    BOOL,
    True,
    "Replace every character but [a-zA-Z0-9:_] in label values with '_', as Flink does.",
)

METRICS_OPTIONS: tuple[ConfigOption[Any], ...] = (
    METRICS_FETCHER_UPDATE_INTERVAL,
    METRICS_REPORTERS,
    PROMETHEUS_FACTORY_CLASS,
    PROMETHEUS_PORT,
    PROMETHEUS_HOST,
    PROMETHEUS_FILTER_LABEL_VALUE_CHARACTERS,
)
