"""Configuration options of checkpointing, restarts, state recovery and the state backends,
with Flink's keys and defaults (see :mod:`strom.common.config_options`, which re-exports
every name here and validates them with the rest).
"""

from __future__ import annotations

from typing import Any

from strom.common._option_types import (
    BOOL,
    DURATION,
    FLOAT,
    INT,
    MEMORY_SIZE,
    STRING,
    Constraint,
    at_least,
    enum_type,
)
from strom.common.config_options import ConfigOption

__all__ = [
    "STATE_BACKEND_TYPE",
    "ROCKSDB_LOCALDIR",
    "ROCKSDB_MEMORY_MANAGED",
    "ROCKSDB_MEMORY_FIXED_PER_SLOT",
    "ROCKSDB_WRITE_BUFFER_RATIO",
    "CHECKPOINTING_INTERVAL",
    "CHECKPOINTING_MODE",
    "CHECKPOINTING_TIMEOUT",
    "CHECKPOINTING_MIN_PAUSE",
    "CHECKPOINTING_MAX_CONCURRENT",
    "CHECKPOINTING_TOLERABLE_FAILURES",
    "CHECKPOINTING_NUM_RETAINED",
    "CHECKPOINTING_UNALIGNED",
    "CHECKPOINTING_ALIGNED_TIMEOUT",
    "CHECKPOINTING_FORCE_UNALIGNED",
    "CHECKPOINTING_EXTERNALIZED_RETENTION",
    "CHECKPOINTING_STORAGE",
    "CHECKPOINTS_DIRECTORY",
    "SAVEPOINT_DIRECTORY",
    "INCREMENTAL_CHECKPOINTS",
    "CHECKPOINTS_AFTER_TASKS_FINISH",
    "RESTART_STRATEGY_TYPE",
    "RESTART_FIXED_DELAY_ATTEMPTS",
    "RESTART_FIXED_DELAY_DELAY",
    "RESTART_FAILURE_RATE_MAX_FAILURES",
    "RESTART_FAILURE_RATE_INTERVAL",
    "RESTART_FAILURE_RATE_DELAY",
    "RESTART_EXPONENTIAL_INITIAL_BACKOFF",
    "RESTART_EXPONENTIAL_MAX_BACKOFF",
    "RESTART_EXPONENTIAL_BACKOFF_MULTIPLIER",
    "RESTART_EXPONENTIAL_RESET_BACKOFF_THRESHOLD",
    "RESTART_EXPONENTIAL_JITTER_FACTOR",
    "RESTART_EXPONENTIAL_ATTEMPTS",
    "FAILOVER_STRATEGY",
    "RESTART_OPTIONS",
    "STATE_RECOVERY_PATH",
    "STATE_RECOVERY_IGNORE_UNCLAIMED_STATE",
]


STATE_BACKEND_TYPE: ConfigOption[str] = ConfigOption(
    "state.backend.type",
    enum_type(["hashmap", "rocksdb"]),
    "hashmap",
    "State backend: 'hashmap' (Python objects on the heap) or 'rocksdb' (an embedded "
    "RocksDB on local disk, for state larger than memory).",
    ("state.backend",),
)
ROCKSDB_LOCALDIR: ConfigOption[str] = ConfigOption(
    "state.backend.rocksdb.localdir",
    STRING,
    None,
    "Directory the rocksdb backend keeps its DBs in (one fresh directory per keyed operator "
    "instance, removed when it ends); unset: the first of io.tmp.dirs, else the system's "
    "temp directory.",
)
ROCKSDB_MEMORY_MANAGED: ConfigOption[bool] = ConfigOption(
    "state.backend.rocksdb.memory.managed",
    BOOL,
    True,
    "Whether each rocksdb backend's block cache and write buffers share one bounded "
    "budget (fixed-per-slot, else 64 mb); false without fixed-per-slot uses RocksDB's own "
    "defaults.",
)
ROCKSDB_MEMORY_FIXED_PER_SLOT: ConfigOption[int] = ConfigOption(
    "state.backend.rocksdb.memory.fixed-per-slot",
    MEMORY_SIZE,
    None,
    "Memory budget of one rocksdb backend (block cache plus write buffers), e.g. '128 mb'.",
    constraint=at_least(1024 * 1024),
)
ROCKSDB_WRITE_BUFFER_RATIO: ConfigOption[float] = ConfigOption(
    "state.backend.rocksdb.memory.write-buffer-ratio",
    FLOAT,
    0.5,
    "Share of the rocksdb memory budget given to write buffers (memtables).",
)

CHECKPOINTING_INTERVAL: ConfigOption[int] = ConfigOption(
    "execution.checkpointing.interval",
    DURATION,
    None,
    "Checkpoint interval in milliseconds; unset (or 0) disables checkpointing.",
)
CHECKPOINTING_MODE: ConfigOption[str] = ConfigOption(
    "execution.checkpointing.mode",
    enum_type(["EXACTLY_ONCE", "AT_LEAST_ONCE"]),
    "EXACTLY_ONCE",
    "Checkpointing guarantee: EXACTLY_ONCE (aligned barriers) or AT_LEAST_ONCE.",
)
CHECKPOINTING_TIMEOUT: ConfigOption[int] = ConfigOption(
    "execution.checkpointing.timeout",
    DURATION,
    600_000,
    "A checkpoint not complete after this long (milliseconds) is aborted.",
    constraint=at_least(1),
)
CHECKPOINTING_MIN_PAUSE: ConfigOption[int] = ConfigOption(
    "execution.checkpointing.min-pause",
    DURATION,
    0,
    "Least time (milliseconds) between the end of one checkpoint and the next trigger.",
)
CHECKPOINTING_MAX_CONCURRENT: ConfigOption[int] = ConfigOption(
    "execution.checkpointing.max-concurrent-checkpoints",
    INT,
    1,
    "Most checkpoints in flight at once.",
    constraint=at_least(1),
)
CHECKPOINTING_TOLERABLE_FAILURES: ConfigOption[int] = ConfigOption(
    "execution.checkpointing.tolerable-failed-checkpoints",
    INT,
    None,
    "Consecutive checkpoint failures tolerated before the job fails; unset: 0.",
    constraint=at_least(0),
)
CHECKPOINTING_NUM_RETAINED: ConfigOption[int] = ConfigOption(
    "execution.checkpointing.num-retained",
    INT,
    1,
    "Completed checkpoints kept; older ones are deleted.",
    ("state.checkpoints.num-retained",),
    constraint=at_least(1),
)
CHECKPOINTING_UNALIGNED: ConfigOption[bool] = ConfigOption(
    "execution.checkpointing.unaligned.enabled",
    BOOL,
    False,
    "Unaligned checkpoints (EXACTLY_ONCE only).",
    ("execution.checkpointing.unaligned",),
)
CHECKPOINTING_ALIGNED_TIMEOUT: ConfigOption[int] = ConfigOption(
    "execution.checkpointing.aligned-checkpoint-timeout",
    DURATION,
    0,
    "With unaligned checkpoints: start aligned and switch after this long (0: unaligned).",
    ("execution.checkpointing.alignment-timeout",),
)
CHECKPOINTING_FORCE_UNALIGNED: ConfigOption[bool] = ConfigOption(
    "execution.checkpointing.unaligned.forced", BOOL, False,
    "Force unaligned checkpoints where they would otherwise be disabled.",
)
CHECKPOINTING_EXTERNALIZED_RETENTION: ConfigOption[str] = ConfigOption(
    "execution.checkpointing.externalized-checkpoint-retention",
    enum_type(["NO_EXTERNALIZED_CHECKPOINTS", "DELETE_ON_CANCELLATION",
               "RETAIN_ON_CANCELLATION"]),
    "NO_EXTERNALIZED_CHECKPOINTS",
    "Whether the retained checkpoints outlive a cancelled job.",
)
CHECKPOINTING_STORAGE: ConfigOption[str] = ConfigOption(
    "execution.checkpointing.storage",
    enum_type(["jobmanager", "filesystem"]),
    None,
    "Checkpoint storage; unset: 'filesystem' when a checkpoint dir is set, else 'jobmanager'.",
    ("state.checkpoint-storage",),
)
CHECKPOINTS_DIRECTORY: ConfigOption[str] = ConfigOption(
    "execution.checkpointing.dir",
    STRING,
    None,
    "Where checkpoints are written (an fsspec URL or a path): <dir>/<job-id>/chk-<n>.",
    ("state.checkpoints.dir",),
)
SAVEPOINT_DIRECTORY: ConfigOption[str] = ConfigOption(
    "execution.checkpointing.savepoint-dir",
    STRING,
    None,
    "Default directory of savepoints (an fsspec URL or a path).",
    ("state.savepoints.dir",),
)
INCREMENTAL_CHECKPOINTS: ConfigOption[bool] = ConfigOption(
    "execution.checkpointing.incremental",
    BOOL,
    False,
    "Incremental checkpoints (state backends that support them).",
    ("state.backend.incremental",),
)
CHECKPOINTS_AFTER_TASKS_FINISH: ConfigOption[bool] = ConfigOption(
    "execution.checkpointing.checkpoints-after-tasks-finish.enabled",
    BOOL,
    True,
    "Go on checkpointing after some tasks finished.",
)
RESTART_STRATEGY_TYPE: ConfigOption[str] = ConfigOption(
    "restart-strategy.type",
    enum_type(
        [
            "none",
            "off",
            "disable",
            "fixed-delay",
            "fixeddelay",
            "failure-rate",
            "failurerate",
            "exponential-delay",
            "exponentialdelay",
        ]
    ),
    None,
    "How a failed job restarts: none/off/disable, fixed-delay, failure-rate or "
    "exponential-delay; unset: exponential-delay with checkpointing, else none.",
    ("restart-strategy",),
)


def _float_above(low: float, high: float | None = None) -> Constraint:
    def accepts(value: Any) -> bool:
        return bool(value > low and (high is None or value <= high))

    words = f"a number > {low}" + (f" and <= {high}" if high is not None else "")
    return Constraint(accepts, lambda _value: f"expected {words}.")


def _float_between(low: float, high: float) -> Constraint:
    return Constraint(lambda value: bool(low <= value <= high),
                      lambda _value: f"expected a number from {low} to {high}.")


RESTART_FIXED_DELAY_ATTEMPTS: ConfigOption[int] = ConfigOption(
    "restart-strategy.fixed-delay.attempts",
    INT,
    1,
    "How many restarts the fixed-delay strategy allows before the job fails.",
    constraint=at_least(0),
)
RESTART_FIXED_DELAY_DELAY: ConfigOption[int] = ConfigOption(
    "restart-strategy.fixed-delay.delay",
    DURATION,
    1_000,
    "Pause between two restarts of the fixed-delay strategy, in milliseconds.",
)
RESTART_FAILURE_RATE_MAX_FAILURES: ConfigOption[int] = ConfigOption(
    "restart-strategy.failure-rate.max-failures-per-interval",
    INT,
    1,
    "How many restarts the failure-rate strategy allows within one failure-rate interval.",
    constraint=at_least(1),
)
RESTART_FAILURE_RATE_INTERVAL: ConfigOption[int] = ConfigOption(
    "restart-strategy.failure-rate.failure-rate-interval",
    DURATION,
    60_000,
    "The interval the failure-rate strategy counts failures in, in milliseconds.",
    constraint=at_least(1),
)
RESTART_FAILURE_RATE_DELAY: ConfigOption[int] = ConfigOption(
    "restart-strategy.failure-rate.delay",
    DURATION,
    1_000,
    "Pause between two restarts of the failure-rate strategy, in milliseconds.",
)
RESTART_EXPONENTIAL_INITIAL_BACKOFF: ConfigOption[int] = ConfigOption(
    "restart-strategy.exponential-delay.initial-backoff",
    DURATION,
    1_000,
    "First pause of the exponential-delay strategy, in milliseconds.",
    constraint=at_least(1),
)
RESTART_EXPONENTIAL_MAX_BACKOFF: ConfigOption[int] = ConfigOption(
    "restart-strategy.exponential-delay.max-backoff",
    DURATION,
    300_000,
    "Longest pause of the exponential-delay strategy, in milliseconds.",
    constraint=at_least(1),
)
RESTART_EXPONENTIAL_BACKOFF_MULTIPLIER: ConfigOption[float] = ConfigOption(
    "restart-strategy.exponential-delay.backoff-multiplier",
    FLOAT,
    2.0,
    "Factor the exponential-delay pause grows by after each failure.",
    constraint=_float_above(1.0),
)
RESTART_EXPONENTIAL_RESET_BACKOFF_THRESHOLD: ConfigOption[int] = ConfigOption(
    "restart-strategy.exponential-delay.reset-backoff-threshold",
    DURATION,
    3_600_000,
    "A job that runs this long without failing starts again from the initial backoff, in "
    "milliseconds.",
    constraint=at_least(1),
)
RESTART_EXPONENTIAL_JITTER_FACTOR: ConfigOption[float] = ConfigOption(
    "restart-strategy.exponential-delay.jitter-factor",
    FLOAT,
    0.1,
    "Share of the pause added or taken away at random (0 to 1).",
    constraint=_float_between(0.0, 1.0),
)
RESTART_EXPONENTIAL_ATTEMPTS: ConfigOption[int] = ConfigOption(
    "restart-strategy.exponential-delay.attempts-before-reset-backoff",
    INT,
    2**31 - 1,
    "How many restarts the exponential-delay strategy allows before its backoff is reset "
    "(a job failing more often fails).",
    constraint=at_least(1),
)
FAILOVER_STRATEGY: ConfigOption[str] = ConfigOption(
    "jobmanager.execution.failover-strategy",
    enum_type(["full", "region"]),
    "region",
    "Which tasks restart after a failure: 'full' (all) or 'region' (the failed task's "
    "pipelined region).",
)

#: the options the JobMaster reads to restart a job
RESTART_OPTIONS: tuple[ConfigOption[Any], ...] = (
    RESTART_STRATEGY_TYPE,
    RESTART_FIXED_DELAY_ATTEMPTS,
    RESTART_FIXED_DELAY_DELAY,
    RESTART_FAILURE_RATE_MAX_FAILURES,
    RESTART_FAILURE_RATE_INTERVAL,
    RESTART_FAILURE_RATE_DELAY,
    RESTART_EXPONENTIAL_INITIAL_BACKOFF,
    RESTART_EXPONENTIAL_MAX_BACKOFF,
    RESTART_EXPONENTIAL_BACKOFF_MULTIPLIER,
    RESTART_EXPONENTIAL_RESET_BACKOFF_THRESHOLD,
    RESTART_EXPONENTIAL_JITTER_FACTOR,
    RESTART_EXPONENTIAL_ATTEMPTS,
    FAILOVER_STRATEGY,
)

STATE_RECOVERY_PATH: ConfigOption[str] = ConfigOption(
    "execution.state-recovery.path",
    STRING,
    None,
    "Path or URL of a savepoint (or retained checkpoint) to start the job from; what "
    "'strom run -s' sets.",
    ("execution.savepoint.path",),
)
STATE_RECOVERY_IGNORE_UNCLAIMED_STATE: ConfigOption[bool] = ConfigOption(
    "execution.state-recovery.ignore-unclaimed-state",
    BOOL,
    False,
    "Start even when the savepoint holds state of an operator the job no longer has (that "
    "state is dropped); what 'strom run -n' sets.",
    ("execution.savepoint.ignore-unclaimed-state",),
)
