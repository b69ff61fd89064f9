"""PyFlink's ``CheckpointConfig``, ``CheckpointingMode`` and
``ExternalizedCheckpointRetention``: a view of the ``execution.checkpointing.*`` keys of a
:class:`~strom.datastream.StreamExecutionEnvironment`'s configuration.

>>> from strom.common.checkpointing import get_bool, get_int
from strom.common.configuration import Configuration
>>> config = CheckpointConfig(Configuration())
>>> config.is_checkpointing_enabled()
False
>>> config.set_checkpoint_interval(5000).get_checkpoint_interval()
5000
"""

from __future__ import annotations

import enum
from typing import Any

from strom.common import config_options as opts
from strom.common.checkpointing import get_bool, get_int
from strom.common.configuration import Configuration
from strom.common.time import Duration

__all__ = ["CheckpointConfig", "CheckpointingMode", "ExternalizedCheckpointRetention"]


class CheckpointingMode(enum.Enum):
    """EXACTLY_ONCE: tasks with several inputs align barriers (each record is in the state
    once); AT_LEAST_ONCE: no alignment, records may count twice after a recovery."""

    EXACTLY_ONCE = 0
    AT_LEAST_ONCE = 1


class ExternalizedCheckpointRetention(enum.Enum):
    """Whether a job's retained checkpoints outlive it when it is cancelled."""

    DELETE_ON_CANCELLATION = 0
    RETAIN_ON_CANCELLATION = 1
    NO_EXTERNALIZED_CHECKPOINTS = 2


def _int(value: Any, what: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{what} must be an integer >= {low}, got {value!r}.")
    return value


class CheckpointConfig:
    """The checkpoint settings of an environment; setters write the configuration keys, so
    ``env.get_checkpoint_config().set_checkpoint_timeout(60000)`` and
    ``-Dexecution.checkpointing.timeout=1min`` are the same."""

    def __init__(self, configuration: Configuration) -> None:
        self._config = configuration

    def is_checkpointing_enabled(self) -> bool:
        return self.get_checkpoint_interval() > 0

    def get_checkpointing_mode(self) -> CheckpointingMode:
        return CheckpointingMode[str(self._config.get(opts.CHECKPOINTING_MODE))]

    def set_checkpointing_mode(self, checkpointing_mode: CheckpointingMode) -> CheckpointConfig:
        if not isinstance(checkpointing_mode, CheckpointingMode):
            raise TypeError("set_checkpointing_mode() takes a CheckpointingMode "
                            f"(EXACTLY_ONCE or AT_LEAST_ONCE), got {checkpointing_mode!r}.")
        self._config.set(opts.CHECKPOINTING_MODE, checkpointing_mode.name)
        return self

    def get_checkpoint_interval(self) -> int:
        """The interval in milliseconds; -1 when checkpointing is disabled (as Flink)."""
        return get_int(self._config, opts.CHECKPOINTING_INTERVAL) or -1

    def set_checkpoint_interval(self, checkpoint_interval: int) -> CheckpointConfig:
        # Flink's minimum checkpoint interval is 10 ms
        self._config.set(opts.CHECKPOINTING_INTERVAL,
                         _int(checkpoint_interval, "The checkpoint interval (ms)", 10))
        return self

    def get_checkpoint_timeout(self) -> int:
        return get_int(self._config, opts.CHECKPOINTING_TIMEOUT)

    def set_checkpoint_timeout(self, checkpoint_timeout: int) -> CheckpointConfig:
        self._config.set(opts.CHECKPOINTING_TIMEOUT,
                         _int(checkpoint_timeout, "The checkpoint timeout (ms)", 1))
        return self

    def get_min_pause_between_checkpoints(self) -> int:
        return get_int(self._config, opts.CHECKPOINTING_MIN_PAUSE)

    def set_min_pause_between_checkpoints(self,
                                          min_pause_between_checkpoints: int) -> CheckpointConfig:
        self._config.set(opts.CHECKPOINTING_MIN_PAUSE, _int(
            min_pause_between_checkpoints, "The minimum pause between checkpoints (ms)", 0))
        return self

    def get_max_concurrent_checkpoints(self) -> int:
        return get_int(self._config, opts.CHECKPOINTING_MAX_CONCURRENT)

    def set_max_concurrent_checkpoints(self, max_concurrent_checkpoints: int) -> CheckpointConfig:
        self._config.set(opts.CHECKPOINTING_MAX_CONCURRENT, _int(
            max_concurrent_checkpoints, "The maximum number of concurrent checkpoints", 1))
        return self

    def is_fail_on_checkpointing_errors(self) -> bool:
        return self.get_tolerable_checkpoint_failure_number() == 0

    def set_fail_on_checkpointing_errors(self,
                                         fail_on_checkpointing_errors: bool) -> CheckpointConfig:
        return self.set_tolerable_checkpoint_failure_number(
            0 if fail_on_checkpointing_errors else 2147483647)

    def get_tolerable_checkpoint_failure_number(self) -> int:
        return get_int(self._config, opts.CHECKPOINTING_TOLERABLE_FAILURES)

    def set_tolerable_checkpoint_failure_number(
            self, tolerable_checkpoint_failure_number: int) -> CheckpointConfig:
        self._config.set(opts.CHECKPOINTING_TOLERABLE_FAILURES, _int(
            tolerable_checkpoint_failure_number, "The tolerable checkpoint failure number", 0))
        return self

    def set_externalized_checkpoint_retention(
            self, retention_mode: ExternalizedCheckpointRetention) -> CheckpointConfig:
        if not isinstance(retention_mode, ExternalizedCheckpointRetention):
            raise TypeError("set_externalized_checkpoint_retention() takes an "
                            f"ExternalizedCheckpointRetention, got {retention_mode!r}.")
        self._config.set(opts.CHECKPOINTING_EXTERNALIZED_RETENTION, retention_mode.name)
        return self

    def is_externalized_checkpoints_enabled(self) -> bool:
        retention = self.get_externalized_checkpoint_retention()
        return retention not in (None, ExternalizedCheckpointRetention.NO_EXTERNALIZED_CHECKPOINTS)

    def get_externalized_checkpoint_retention(self) -> ExternalizedCheckpointRetention | None:
        return ExternalizedCheckpointRetention[
            str(self._config.get(opts.CHECKPOINTING_EXTERNALIZED_RETENTION))]

    def is_unaligned_checkpoints_enabled(self) -> bool:
        return get_bool(self._config, opts.CHECKPOINTING_UNALIGNED)

    def enable_unaligned_checkpoints(self, enabled: bool = True) -> CheckpointConfig:
        self._config.set(opts.CHECKPOINTING_UNALIGNED, bool(enabled))
        return self

    def disable_unaligned_checkpoints(self) -> CheckpointConfig:
        return self.enable_unaligned_checkpoints(False)

    def set_aligned_checkpoint_timeout(self, alignment_timeout: Duration) -> CheckpointConfig:
        self._config.set(opts.CHECKPOINTING_ALIGNED_TIMEOUT, alignment_timeout.to_milliseconds())
        return self

    def get_aligned_checkpoint_timeout(self) -> Duration:
        return Duration.of_millis(get_int(self._config, opts.CHECKPOINTING_ALIGNED_TIMEOUT))

    def set_alignment_timeout(self, alignment_timeout: Duration) -> CheckpointConfig:
        return self.set_aligned_checkpoint_timeout(alignment_timeout)

    def get_alignment_timeout(self) -> Duration:
        return self.get_aligned_checkpoint_timeout()

    def set_force_unaligned_checkpoints(
            self, force_unaligned_checkpoints: bool = True) -> CheckpointConfig:
        self._config.set(opts.CHECKPOINTING_FORCE_UNALIGNED, bool(force_unaligned_checkpoints))
        return self

    def is_force_unaligned_checkpoints(self) -> bool:
        return get_bool(self._config, opts.CHECKPOINTING_FORCE_UNALIGNED)

    def set_checkpoint_storage_dir(self, checkpoint_path: str) -> CheckpointConfig:
        """Write checkpoints to ``checkpoint_path`` (a path or an fsspec URL such as
        ``file:///data/checkpoints`` or ``s3://bucket/checkpoints``), as
        ``execution.checkpointing.dir``."""
        if not isinstance(checkpoint_path, str) or not checkpoint_path:
            raise ValueError("set_checkpoint_storage_dir() takes a non-empty path or URL, "
                             f"got {checkpoint_path!r}.")
        self._config.set(opts.CHECKPOINTS_DIRECTORY, checkpoint_path)
        return self

    def get_checkpoint_storage_dir(self) -> str | None:
        value = self._config.get(opts.CHECKPOINTS_DIRECTORY)
        return None if value is None else str(value)
