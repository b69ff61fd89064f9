"""``ExecutionConfig``: per-job execution settings, stored in a ``Configuration``.

As in Flink 2.x, the config object holds no state of its own: every setter writes the
Flink key into the backing :class:`~strom.common.configuration.Configuration`
(``parallelism.default``, ``pipeline.max-parallelism``,
``pipeline.auto-watermark-interval``, ``pipeline.global-job-parameters``,
``pipeline.object-reuse``, ``metrics.latency.interval``), so the environment's
configuration and this view never disagree.
"""

from __future__ import annotations

from collections.abc import Mapping

from strom.common.config_options import (
    AUTO_WATERMARK_INTERVAL,
    GLOBAL_JOB_PARAMETERS,
    LATENCY_TRACKING_INTERVAL,
    MAX_PARALLELISM,
    OBJECT_REUSE,
    PARALLELISM_DEFAULT,
)
from strom.common.configuration import Configuration

__all__ = ["ExecutionConfig"]

# Flink's KeyGroupRangeAssignment.UPPER_BOUND_MAX_PARALLELISM.
UPPER_BOUND_MAX_PARALLELISM = 1 << 15
PARALLELISM_DEFAULT_VALUE = -1


class ExecutionConfig:
    """PyFlink's ``ExecutionConfig`` API over a ``Configuration``.

    >>> config = Configuration()
    >>> _ = ExecutionConfig(config).set_auto_watermark_interval(1000)
    >>> config.get_string("pipeline.auto-watermark-interval", "")
    '1 s'
    """

    __slots__ = ("_configuration",)

    def __init__(self, configuration: Configuration | None = None) -> None:
        self._configuration = configuration if configuration is not None else Configuration()

    @property
    def configuration(self) -> Configuration:
        """The backing configuration (shared, not copied)."""
        return self._configuration

    def set_auto_watermark_interval(self, interval: int) -> ExecutionConfig:
        """Emit periodic watermarks every ``interval`` milliseconds; 0 disables them."""
        if isinstance(interval, bool) or not isinstance(interval, int) or interval < 0:
            raise ValueError(
                f"The auto watermark interval must be a non-negative number of milliseconds, "
                f"got {interval!r}."
            )
        self._configuration.set(AUTO_WATERMARK_INTERVAL, interval)
        return self

    def get_auto_watermark_interval(self) -> int:
        return self._configuration.get_required(AUTO_WATERMARK_INTERVAL)

    def set_parallelism(self, parallelism: int) -> ExecutionConfig:
        """Default parallelism of the job's operators: at least 1, or -1 for the system
        default."""
        if (
            isinstance(parallelism, bool)
            or not isinstance(parallelism, int)
            or (parallelism < 1 and parallelism != PARALLELISM_DEFAULT_VALUE)
        ):
            raise ValueError(
                f"Parallelism must be at least 1, or -1 to use the system default; "
                f"got {parallelism!r}."
            )
        self._configuration.set(PARALLELISM_DEFAULT, parallelism)
        return self

    def get_parallelism(self) -> int:
        return self._configuration.get_required(PARALLELISM_DEFAULT)

    def set_max_parallelism(self, max_parallelism: int) -> ExecutionConfig:
        """Upper bound for rescaling (the number of key groups): 1 to 32768."""
        if (
            isinstance(max_parallelism, bool)
            or not isinstance(max_parallelism, int)
            or not 0 < max_parallelism <= UPPER_BOUND_MAX_PARALLELISM
        ):
            raise ValueError(
                f"Max parallelism must be between 1 and {UPPER_BOUND_MAX_PARALLELISM}, "
                f"got {max_parallelism!r}."
            )
        self._configuration.set(MAX_PARALLELISM, max_parallelism)
        return self

    def get_max_parallelism(self) -> int:
        """The configured max parallelism, or -1 when it is derived from the parallelism."""
        return self._configuration.get_required(MAX_PARALLELISM)

    def set_global_job_parameters(
        self, global_job_parameters_dict: Mapping[str, str]
    ) -> ExecutionConfig:
        """Parameters every user function can read; replaces earlier ones."""
        for key in [
            k
            for k in self._configuration.key_set()
            if k.startswith(GLOBAL_JOB_PARAMETERS.key + ".")
        ]:
            self._configuration.remove_config(key)
        self._configuration.set(GLOBAL_JOB_PARAMETERS, dict(global_job_parameters_dict))
        return self

    def get_global_job_parameters(self) -> dict[str, str]:
        parameters: dict[str, str] | None = self._configuration.get(GLOBAL_JOB_PARAMETERS)
        return dict(parameters) if parameters is not None else {}

    def enable_object_reuse(self) -> ExecutionConfig:
        """Let chained operators hand records on without copying them."""
        self._configuration.set(OBJECT_REUSE, True)
        return self

    def disable_object_reuse(self) -> ExecutionConfig:
        self._configuration.set(OBJECT_REUSE, False)
        return self

    def is_object_reuse_enabled(self) -> bool:
        enabled: bool | None = self._configuration.get(OBJECT_REUSE)
        return bool(enabled)

    def set_latency_tracking_interval(self, interval: int) -> ExecutionConfig:
        """Emit latency markers from the sources every ``interval`` milliseconds; 0 or a
        negative value disables them."""
        if isinstance(interval, bool) or not isinstance(interval, int):
            raise ValueError(
                f"The latency tracking interval must be an int of milliseconds, got {interval!r}."
            )
        self._configuration.set(LATENCY_TRACKING_INTERVAL, max(interval, 0))
        return self

    def get_latency_tracking_interval(self) -> int:
        return self._configuration.get_required(LATENCY_TRACKING_INTERVAL)

    def is_latency_tracking_configured(self) -> bool:
        return self._configuration.contains(LATENCY_TRACKING_INTERVAL)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ExecutionConfig):
            return self._configuration == other._configuration
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"ExecutionConfig({self._configuration!r})"
