"""The checkpoint settings of one job, as the JobMaster's CheckpointCoordinator gets them
(Flink's ``CheckpointCoordinatorConfiguration``), read from the ``execution.checkpointing.*``
keys of the job's configuration."""

from __future__ import annotations

from dataclasses import dataclass

from strom.common import config_options as opts
from strom.common.configuration import Configuration

__all__ = ["CheckpointCoordinatorConfiguration", "get_bool", "get_int"]


def get_int(config: Configuration, option: opts.ConfigOption[int], unset: int = 0) -> int:
    """``option``'s integer value in ``config``; ``unset`` when neither set nor defaulted."""
    value: int | None = config.get(option)
    return unset if value is None else value


def get_bool(config: Configuration, option: opts.ConfigOption[bool]) -> bool:
    value: bool | None = config.get(option)
    return bool(value)


@dataclass(frozen=True)
class CheckpointCoordinatorConfiguration:
    """What the coordinator needs; ``interval_ms`` None: no periodic checkpoints (a
    coordinator still takes savepoints and manual checkpoints)."""

    interval_ms: int | None = None
    exactly_once: bool = True
    timeout_ms: int = 600_000
    min_pause_ms: int = 0
    max_concurrent: int = 1
    tolerable_failures: int = 0
    num_retained: int = 1
    unaligned: bool = False
    #: NO_EXTERNALIZED_CHECKPOINTS, DELETE_ON_CANCELLATION or RETAIN_ON_CANCELLATION
    externalized_retention: str = "NO_EXTERNALIZED_CHECKPOINTS"
    #: where checkpoints go (a URL or path); None: job-manager storage (kept in memory)
    checkpoint_dir: str | None = None
    savepoint_dir: str | None = None
    incremental: bool = False
    checkpoints_after_tasks_finish: bool = True

    @property
    def periodic(self) -> bool:
        return bool(self.interval_ms)

    @classmethod
    def from_configuration(cls, config: Configuration) -> CheckpointCoordinatorConfiguration:
        """The settings of ``config``; raises ``ConfigError`` on a combination that cannot
        work (unaligned checkpoints need EXACTLY_ONCE and at most one concurrent checkpoint)."""
        interval = config.get(opts.CHECKPOINTING_INTERVAL)
        mode = config.get(opts.CHECKPOINTING_MODE)
        unaligned = get_bool(config, opts.CHECKPOINTING_UNALIGNED)
        max_concurrent = get_int(config, opts.CHECKPOINTING_MAX_CONCURRENT)
        if unaligned and (mode != "EXACTLY_ONCE" or max_concurrent != 1):
            raise opts.ConfigError(
                "Unaligned checkpoints need execution.checkpointing.mode EXACTLY_ONCE and "
                "execution.checkpointing.max-concurrent-checkpoints 1; got mode "
                f"{mode} and {max_concurrent} concurrent checkpoints. Disable unaligned "
                "checkpoints or change those settings.")
        aligned_timeout = get_int(config, opts.CHECKPOINTING_ALIGNED_TIMEOUT)
        if unaligned and aligned_timeout > 0:
            raise opts.ConfigError(
                "execution.checkpointing.aligned-checkpoint-timeout is "
                f"{aligned_timeout} ms, but strom does not switch a checkpoint from aligned "
                "to unaligned after a timeout yet: with unaligned checkpoints enabled every "
                "checkpoint is unaligned from its start. Set the timeout to 0 (the default), "
                "or disable unaligned checkpoints to keep them aligned.")
        storage = config.get(opts.CHECKPOINTING_STORAGE)
        checkpoint_dir = config.get(opts.CHECKPOINTS_DIRECTORY)
        if storage == "filesystem" and not checkpoint_dir:
            raise opts.ConfigError(
                "execution.checkpointing.storage is 'filesystem' but no "
                "execution.checkpointing.dir is set: set the directory checkpoints are "
                "written to (a path or an fsspec URL), or use 'jobmanager' storage.")
        return cls(
            interval_ms=interval or None,
            exactly_once=mode == "EXACTLY_ONCE",
            timeout_ms=get_int(config, opts.CHECKPOINTING_TIMEOUT),
            min_pause_ms=get_int(config, opts.CHECKPOINTING_MIN_PAUSE),
            max_concurrent=max_concurrent,
            tolerable_failures=get_int(config, opts.CHECKPOINTING_TOLERABLE_FAILURES),
            num_retained=get_int(config, opts.CHECKPOINTING_NUM_RETAINED),
            unaligned=unaligned,
            externalized_retention=str(config.get(opts.CHECKPOINTING_EXTERNALIZED_RETENTION)),
            checkpoint_dir=None if storage == "jobmanager" else checkpoint_dir,
            savepoint_dir=config.get(opts.SAVEPOINT_DIRECTORY),
            incremental=get_bool(config, opts.INCREMENTAL_CHECKPOINTS),
            checkpoints_after_tasks_finish=get_bool(
                config, opts.CHECKPOINTS_AFTER_TASKS_FINISH),
        )
