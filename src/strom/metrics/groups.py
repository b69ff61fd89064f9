"""Metric groups: Flink's scope hierarchy, with its variables and logical scopes.

A process has one :class:`~strom.metrics.registry.MetricRegistry`; its component groups
nest as Flink's do::

    jobmanager <host>                                  category "jm"
      └ job <job_id> <job_name>                        category "jm_job"
    taskmanager <host> <tm_id>                         category "tm"
      └ job <job_id> <job_name>                        category "job"
          └ task <task_id> <task_name> <subtask_index> <task_attempt_num> ...   "task"
              └ operator <operator_id> <operator_name> category "operator"

User groups (``add_group``) hang below any of them and keep the component's category; their
names prefix the metric's name in the JobManager's metric store (``my_group.my_counter``)
and extend the logical scope (the Prometheus metric name). ``add_group(key, value)`` is a
key/value group: ``value`` becomes the variable (Prometheus label) ``key``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, TypeVar

from strom.metrics.metric_types import Counter, Distribution, Gauge, Meter, Metric

if TYPE_CHECKING:
    from strom.metrics.registry import MetricRegistry

__all__ = ["ComponentInfo", "MetricGroup", "unregistered_group"]

M = TypeVar("M", bound=Metric)


@dataclass(frozen=True)
class ComponentInfo:
    """Which component a group's metrics belong to, as the JobManager's metric store files
    them (Flink's ``QueryScopeInfo``)."""

    #: "jm", "jm_job", "tm", "job", "task" or "operator"
    category: str
    tm_id: str = ""
    job_id: str = ""
    vertex_id: str = ""
    subtask_index: int = -1
    attempt_number: int = 0
    operator_name: str = ""
    #: the names of the user groups between the component and the metric
    user_scope: tuple[str, ...] = ()


class MetricGroup:
    """A named scope of metrics (PyFlink's ``MetricGroup``).

    ``counter``, ``gauge``, ``meter`` and ``distribution`` register a metric under ``name``
    (asking again for a name returns the metric registered first); ``add_group`` nests a
    scope. Groups are made by the registry and by ``add_*_group``; user code gets them from
    ``RuntimeContext.get_metrics_group()``.
    """

    def __init__(self, registry: MetricRegistry | None, parent: MetricGroup | None,
                 scope: tuple[str, ...], logical_scope: tuple[str, ...],
                 variables: dict[str, str], info: ComponentInfo) -> None:
        self._registry = registry
        self._parent = parent
        self._scope = scope
        self._logical_scope = logical_scope
        self._variables = variables
        self.info = info
        self.metrics: dict[str, Metric] = {}
        self.groups: dict[str, MetricGroup] = {}
        self._closed = False

    # ------------------------------------------------------------------ PyFlink API
    def add_group(self, name: str, extra: str | None = None) -> MetricGroup:
        """A sub-group ``name``; with ``extra``, a key/value group (``name`` is the key,
        ``extra`` the value, also a variable)."""
        if not isinstance(name, str) or not name:
            raise ValueError(f"add_group: a group name must be a non-empty string, got {name!r}")
        key = name if extra is None else f"{name}.{extra}"
        group = self.groups.get(key)
        if group is None:
            user: tuple[str, ...] = (name,) if extra is None else (name, str(extra))
            scope = (*self._scope, *user)
            logical = (*self._logical_scope, name)
            variables = self._variables if extra is None \
                else {**self._variables, f"<{name}>": str(extra)}
            info = replace(self.info, user_scope=self.info.user_scope + user)
            group = MetricGroup(self._registry, self, scope, logical, variables, info)
            if self._closed:
                group._closed = True
            self.groups[key] = group
        return group

    def counter(self, name: str, counter: Counter | None = None) -> Counter:
        return self._register(name, counter if counter is not None else Counter(), Counter)

    def gauge(self, name: str, obj: Callable[[], Any] | Gauge) -> Gauge:
        """A gauge reading ``obj()``; a :class:`Gauge` object (a view, say) is registered
        as it is."""
        if isinstance(obj, Gauge):
            return self._register(name, obj, Gauge)
        if not callable(obj):
            raise TypeError(f"gauge {name!r}: expected a callable returning the value, got "
                            f"{type(obj).__name__}")
        return self._register(name, Gauge(obj), Gauge)

    def meter(self, name: str, time_span_in_seconds: int = 60,
              meter: Meter | None = None) -> Meter:
        return self._register(name, meter if meter is not None
                              else Meter(time_span_in_seconds), Meter)

    def distribution(self, name: str) -> Distribution:
        return self._register(name, Distribution(), Distribution)

    # ------------------------------------------------------------------ Flink's MetricGroup
    def get_scope_components(self) -> tuple[str, ...]:
        return self._scope

    def get_all_variables(self) -> dict[str, str]:
        """``{"<host>": ..., "<job_id>": ..., ...}`` of this group and its parents."""
        return dict(self._variables)

    def get_metric_identifier(self, name: str) -> str:
        return ".".join((*self._scope, name))

    def get_logical_scope(self) -> tuple[str, ...]:
        """The scope without the variables' values, e.g. ``("taskmanager", "job", "task")``:
        what a Prometheus metric is named after."""
        return self._logical_scope

    # ------------------------------------------------------------------ components
    def add_component(self, kind: str, scope_name: str, variables: dict[str, str],
                      info: ComponentInfo) -> MetricGroup:
        """A component group (job, task, operator) below this one: ``kind`` extends the
        logical scope, ``scope_name`` the scope, ``variables`` are added."""
        group = MetricGroup(self._registry, self, (*self._scope, scope_name),
                            (*self._logical_scope, kind), {**self._variables, **variables},
                            info)
        self.groups[f"\0{kind}\0{scope_name}\0{id(group)}"] = group
        return group

    def close(self) -> None:
        """Unregister this group's metrics and its sub-groups' (a task that ended)."""
        if self._closed:
            return
        self._closed = True
        for group in list(self.groups.values()):
            group.close()
        if self._registry is not None:
            for name in list(self.metrics):
                self._registry.unregister(self, name)
        if self._parent is not None:
            for key, group in list(self._parent.groups.items()):
                if group is self:
                    del self._parent.groups[key]

    @property
    def closed(self) -> bool:
        return self._closed

    def _register(self, name: str, metric: M, kind: type[M]) -> M:
        if not isinstance(name, str) or not name:
            raise ValueError(f"a metric name must be a non-empty string, got {name!r}")
        existing = self.metrics.get(name)
        if existing is not None:
            if isinstance(existing, kind):
                return existing
            raise ValueError(
                f"metric {self.get_metric_identifier(name)!r} is already registered as a "
                f"{type(existing).__name__}; pick another name for the {kind.__name__}")
        self.metrics[name] = metric
        if self._registry is not None and not self._closed:
            self._registry.register(self, name, metric)
        return metric


def unregistered_group(name: str) -> MetricGroup:
    """A group that belongs to no registry: its metrics work but are reported nowhere."""
    return MetricGroup(None, None, (name,), (name,), {}, ComponentInfo("operator"))
