"""The Prometheus reporter (Flink's ``PrometheusReporter``): a process's metrics in
Prometheus' text format over HTTP, with Flink's names and labels.

A metric is named ``flink_<logical scope joined by _>_<name>``, every character but
``[a-zA-Z0-9:_]`` replaced by ``_`` (``flink_taskmanager_job_task_numRecordsIn``,
``flink_jobmanager_Status_Process_CPU_Load``); its labels are its group's variables without
the angle brackets (``host``, ``tm_id``, ``job_id``, ``job_name``, ``task_id``, ``task_name``,
``subtask_index``, ...), whose values are filtered the same way unless
``metrics.reporter.prom.filterLabelValueCharacters`` is false. As Flink's reporter does,
counters, meters (their rate) and gauges are Prometheus gauges: a gauge's value is its
number, 1/0 for a boolean, 0 for anything else; a distribution is a summary with
``_count``, ``_sum`` and its minimum and maximum as the quantiles 0.0 and 1.0.

The values are read from the registry when Prometheus scrapes (a custom collector), so
counting on the hot path costs nothing extra. Configuration (``metrics.reporter.prom.*``)::

    metrics.reporters: prom                  # or metrics.reporter.prom.factory.class:
                                             # org.apache.flink.metrics.prometheus.PrometheusReporterFactory
    metrics.reporter.prom.port: 9249         # or a range 9250-9260: the first free port
    metrics.reporter.prom.host: 127.0.0.1

:func:`start_reporters` starts what the configuration asks for; a bad or occupied port is
logged as an error and the process goes on without the reporter, as Flink does.
"""

from __future__ import annotations

import logging
import math
import re
import threading
from collections.abc import Iterator
from typing import Any

from prometheus_client import start_http_server
from prometheus_client.core import Metric as PromMetric
from prometheus_client.registry import Collector, CollectorRegistry

from strom.common.config_options_metrics import (
    METRICS_REPORTERS,
    PROMETHEUS_FILTER_LABEL_VALUE_CHARACTERS,
)
from strom.common.configuration import Configuration
from strom.metrics.groups import MetricGroup
from strom.metrics.metric_types import Counter, Distribution, Gauge, Meter, Metric
from strom.metrics.registry import MetricRegistry

__all__ = ["FLINK_FACTORY_CLASS", "PrometheusCollector", "PrometheusReporter", "parse_ports",
           "prometheus_name", "start_reporters"]

log = logging.getLogger(__name__)

#: the factory class Flink's configuration names for this reporter (strom's own name too)
FLINK_FACTORY_CLASS = "org.apache.flink.metrics.prometheus.PrometheusReporterFactory"
#: what ``metrics.reporter.<name>.factory.class`` (or Flink 1.x's ``.class``) may name
_FACTORY_CLASSES = (FLINK_FACTORY_CLASS, "org.apache.flink.metrics.prometheus.PrometheusReporter",
                    "strom.metrics.prometheus.PrometheusReporterFactory")
_DEFAULT_PORT = "9249"
_DEFAULT_HOST = "127.0.0.1"
_INVALID = re.compile(r"[^a-zA-Z0-9:_]")


def _filter(text: str) -> str:
    return _INVALID.sub("_", text)


def prometheus_name(group: MetricGroup, name: str) -> str:
    """``flink_<logical scope>_<name>``, as Flink's reporter names a metric."""
    scope = "_".join(_filter(part) for part in group.get_logical_scope())
    return f"flink_{scope}_{_filter(name)}"


def _number(value: Any) -> float:
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float):
        return float(value)
    return 0.0  # strings, None: Flink's reporter reports 0


class PrometheusCollector(Collector):
    """Every metric of ``registry`` at the time of a scrape, named and labelled as Flink's
    reporter does."""

    def __init__(self, registry: MetricRegistry, filter_label_values: bool = True) -> None:
        self._registry = registry
        self._filter_values = filter_label_values
        #: per group: (the group, its label names and values), or None when two of its
        #: variables map to one label name (Prometheus would refuse the whole scrape)
        self._labels: dict[int, tuple[MetricGroup, tuple[list[str], list[str]] | None]] = {}
        self._warned: set[str] = set()
        self._lock = threading.Lock()

    def _labels_of(self, group: MetricGroup) -> tuple[list[str], list[str]] | None:
        cached = self._labels.get(id(group))
        if cached is not None and cached[0] is group:
            return cached[1]
        names: list[str] = []
        values: list[str] = []
        labels: tuple[list[str], list[str]] | None = (names, values)
        for key, value in group.get_all_variables().items():
            label = _filter(key.strip("<>"))
            if label in names:
                if label not in self._warned:
                    self._warned.add(label)
                    log.warning("Several metric group variables map to the Prometheus label "
                                "%s; metrics carrying them (such as those of %s) are not "
                                "reported.", label, ".".join(group.get_scope_components()))
                labels = None
                break
            names.append(label)
            values.append(_filter(value) if self._filter_values else value)
        self._labels[id(group)] = (group, labels)
        return labels

    def collect(self) -> Iterator[PromMetric]:
        registry = self._registry
        registry.refresh_views()
        families: dict[str, PromMetric] = {}
        with self._lock:  # scrapes may overlap (one thread per request)
            entries = registry.metrics()
            live = {id(group) for group, _, _ in entries}
            for key in [k for k in self._labels if k not in live]:
                del self._labels[key]
            labelled = [(group, name, metric, self._labels_of(group))
                        for group, name, metric in entries]
        for group, name, metric, labels in labelled:
            if labels is None:
                continue
            full_name = prometheus_name(group, name)
            family = families.get(full_name)
            if family is None:
                kind = "summary" if isinstance(metric, Distribution) else "gauge"
                help_text = f"{name} (scope: {'_'.join(group.get_logical_scope())})"
                family = families[full_name] = PromMetric(full_name, help_text, kind)
            self._add_samples(family, full_name, metric, dict(zip(*labels, strict=True)))
        yield from families.values()

    @staticmethod
    def _add_samples(family: PromMetric, name: str, metric: Metric,
                     labels: dict[str, str]) -> None:
        if isinstance(metric, Counter):
            family.add_sample(name, labels, float(metric.get_count()))
        elif isinstance(metric, Meter):
            family.add_sample(name, labels, metric.get_rate())
        elif isinstance(metric, Gauge):
            try:
                value = _number(metric.get_value())
            except Exception as e:  # a user's gauge that fails costs only its own sample
                log.debug("gauge %s failed: %s", name, e)
                return
            family.add_sample(name, labels, value)
        elif isinstance(metric, Distribution):
            family.add_sample(f"{name}_count", labels, float(metric.count))
            family.add_sample(f"{name}_sum", labels, float(metric.sum))
            for quantile, extreme in (("0.0", metric.min), ("1.0", metric.max)):
                family.add_sample(name, {**labels, "quantile": quantile},
                                  math.nan if extreme is None else float(extreme))


def parse_ports(ports: str) -> list[int]:
    """``9249``, ``9250-9260`` or ``9250,9252-9254`` as a list of ports (Flink's
    ``NetUtils.getPortRangeFromString``); raises ValueError saying what is wrong."""
    found: list[int] = []
    for part in (p.strip() for p in ports.split(",")):
        low, dash, high = part.partition("-")
        try:
            first = int(low)
            last = int(high) if dash else first
        except ValueError:
            raise ValueError(
                f"metrics.reporter.prom.port: {part!r} of {ports!r} is not a port or a range "
                "of ports; use e.g. 9249, 9250-9260 or 9250,9252.") from None
        if not 0 <= first <= last <= 65535:
            raise ValueError(
                f"metrics.reporter.prom.port: {part!r} of {ports!r} is not within 0-65535 "
                "(a range goes from the lower port to the higher).")
        found.extend(range(first, last + 1))
    return found


class PrometheusReporter:
    """Serves ``registry``'s metrics at ``http://host:port/metrics`` from a thread of its
    own; a :class:`~strom.metrics.registry.MetricReporter` of the registry, so closing the
    registry stops it.

    The server starts in the constructor's caller with :meth:`start`; ``port`` is the port
    it took. Metrics are pulled from the registry at each scrape: adding and removing them
    needs no bookkeeping here.
    """

    def __init__(self, registry: MetricRegistry, host: str = _DEFAULT_HOST,
                 ports: str = _DEFAULT_PORT, filter_label_values: bool = True,
                 name: str = "prom") -> None:
        self.name = name
        self.host = host
        self.ports = ports
        self.collector = PrometheusCollector(registry, filter_label_values)
        self.collector_registry = CollectorRegistry(auto_describe=False)
        self.collector_registry.register(self.collector)
        self.port: int | None = None
        self._server: Any = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """``http://host:port/metrics`` (after :meth:`start`)."""
        assert self.port is not None, "start() the reporter first"
        return f"http://{self.host}:{self.port}/metrics"

    def start(self) -> PrometheusReporter:
        """Bind the first free port of :attr:`ports`; raises ``OSError``/``ValueError``
        with what went wrong when none can be bound."""
        errors = []
        for port in parse_ports(self.ports):
            try:
                self._server, self._thread = start_http_server(
                    port, addr=self.host, registry=self.collector_registry)
            except OSError as e:
                errors.append(f"{port}: {e.strerror or e}")
                continue
            self.port = int(self._server.server_address[1])
            log.info("Started PrometheusReporter HTTP server on %s:%d (reporter %s).",
                     self.host, self.port, self.name)
            return self
        raise OSError(
            f"Could not start PrometheusReporter HTTP server on {self.host} on any configured "
            f"port. Ports: {self.ports} ({'; '.join(errors)}). Set "
            f"metrics.reporter.{self.name}.port to a free port or a range of ports.")

    # ------------------------------------------------------------------ MetricReporter
    def notify_of_added_metric(self, metric: Metric, name: str, group: MetricGroup) -> None:
        """Nothing to do: the collector reads the registry at each scrape."""

    def notify_of_removed_metric(self, metric: Metric, name: str, group: MetricGroup) -> None:
        """Nothing to do: the collector reads the registry at each scrape."""

    def close(self) -> None:
        """Stop the HTTP server and its thread, and free the port."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout=5)


def _configured_reporters(configuration: Configuration) -> list[tuple[str, str | None]]:
    """``(name, factory class)`` of each reporter the configuration asks to start."""
    factories: dict[str, str] = {}
    for key in configuration.key_set():
        match = re.fullmatch(r"metrics\.reporter\.([^.]+)\.(factory\.class|class)", key)
        if match is not None:
            factories[match.group(1)] = configuration.get_string(key, "").strip()
    listed = configuration.get(METRICS_REPORTERS)
    if listed is None or not listed.strip():
        return sorted(factories.items())
    names = [n.strip() for n in listed.split(",") if n.strip()]
    return [(n, factories.get(n) or (FLINK_FACTORY_CLASS if n == "prom" else None))
            for n in names]


def start_reporters(configuration: Configuration, registry: MetricRegistry
                    ) -> list[PrometheusReporter]:
    """Start the reporters ``configuration`` asks for and add them to ``registry`` (which
    stops them when closed). One that cannot start is logged as an error and left out: a
    process does not fail for its metrics."""
    started = []
    for name, factory in _configured_reporters(configuration):
        if factory not in _FACTORY_CLASSES:
            log.error("Metric reporter %s is not started: strom has only the Prometheus "
                      "reporter (metrics.reporter.%s.factory.class: %s), got %r.",
                      name, name, FLINK_FACTORY_CLASS, factory)
            continue
        prefix = f"metrics.reporter.{name}."
        filter_values = configuration.get_string(
            prefix + "filterLabelValueCharacters",
            str(PROMETHEUS_FILTER_LABEL_VALUE_CHARACTERS.default).lower())
        reporter = PrometheusReporter(
            registry, host=configuration.get_string(prefix + "host", _DEFAULT_HOST),
            ports=configuration.get_string(prefix + "port", _DEFAULT_PORT),
            filter_label_values=filter_values.strip().lower() != "false", name=name)
        try:
            reporter.start()
        except (OSError, ValueError) as e:
            log.error("Metric reporter %s is not started; metrics are not exposed to "
                      "Prometheus: %s", name, e)
            continue
        registry.add_reporter(reporter)
        started.append(reporter)
    return started
