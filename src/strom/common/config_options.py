"""Configuration options: typed keys with Flink's names and defaults, and validation.

A :class:`ConfigOption` names a key, its value type, its default, the values it accepts
(its :class:`Constraint`) and older keys it falls back to.
:meth:`Configuration.get <strom.common.configuration.Configuration.get>` reads an option
through it. The module constants are the options strom understands, with Flink's keys and
defaults (reference §4.3); each declares its range or choices here, and every way of
setting a value (``Configuration`` setters, ``from_dict``, ``config.yaml``, ``-D``) checks
it against them at once. :func:`validate` checks a whole configuration early: every known
key must parse and be allowed, and a key that looks like a typo of a known key is an error,
while other unknown keys pass silently as in Flink.

>>> from strom.common.configuration import Configuration
>>> Configuration.from_dict({"pipeline.auto-watermark-interval": "1 s"}).get(AUTO_WATERMARK_INTERVAL)
1000
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from strom.common._option_types import (
    BOOL,
    DURATION,
    FLOAT,
    INT,
    MAP,
    MEMORY_SIZE,
    STRING,
    Constraint,
    OptionType,
    at_least,
    enum_type,
    format_duration_ms,
    format_map,
    format_memory_size,
    in_range,
    not_available_yet,
    parse_bool,
    parse_duration_ms,
    parse_float,
    parse_int,
    parse_map,
    parse_memory_size,
    power_of_two_at_least,
)

if TYPE_CHECKING:
    from strom.common.configuration import Configuration

__all__ = [
    # the option type and its value types
    "ConfigError",
    "ConfigOption",
    "Constraint",
    "OptionType",
    "BOOL",
    "DURATION",
    "FLOAT",
    "INT",
    "MAP",
    "MEMORY_SIZE",
    "STRING",
    "enum_type",
    "at_least",
    "in_range",
    "not_available_yet",
    "power_of_two_at_least",
    "parse_bool",
    "parse_duration_ms",
    "parse_float",
    "parse_int",
    "parse_map",
    "parse_memory_size",
    "format_duration_ms",
    "format_map",
    "format_memory_size",
    # the options
    "PARALLELISM_DEFAULT",
    "MAX_PARALLELISM",
    "RUNTIME_MODE",
    "AUTO_WATERMARK_INTERVAL",
    "BUFFER_TIMEOUT_ENABLED",
    "BUFFER_TIMEOUT_INTERVAL",
    "OPERATOR_CHAINING",
    "PIPELINE_NAME",
    "GLOBAL_JOB_PARAMETERS",
    "OBJECT_REUSE",
    "LATENCY_TRACKING_INTERVAL",
    "NUM_TASK_SLOTS",
    "MINICLUSTER_NUM_TASKMANAGERS",
    "LOCAL_TASKMANAGERS",
    "ASK_TIMEOUT",
    "SEGMENT_SIZE",
    "BUFFERS_PER_CHANNEL",
    "FLOATING_BUFFERS_PER_GATE",
    "TASKMANAGER_DATA_PORT",
    "TASKMANAGER_BIND_HOST",
    "STATE_BACKEND_TYPE",
    "REST_PORT",
    "WEB_CHECKPOINTS_HISTORY",
    "REST_ADDRESS",
    "JOBMANAGER_RPC_ADDRESS",
    "JOBMANAGER_RPC_PORT",
    "JOBMANAGER_BIND_HOST",
    "TASKMANAGER_HOST",
    "TASKMANAGER_RPC_PORT",
    "STATE_RECOVERY_PATH",
    "STATE_RECOVERY_IGNORE_UNCLAIMED_STATE",
    "HEARTBEAT_INTERVAL",
    "HEARTBEAT_TIMEOUT",
    "HEARTBEAT_RPC_FAILURE_THRESHOLD",
    "REGISTRATION_INITIAL_TIMEOUT",
    "REGISTRATION_MAX_TIMEOUT",
    "REGISTRATION_ERROR_DELAY",
    "TASKMANAGER_REGISTRATION_TIMEOUT",
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
    "all_options",
    "option_for_key",
    "validate",
    # ---- metrics
    "METRICS_FETCHER_UPDATE_INTERVAL",
    "METRICS_REPORTERS",
    "METRICS_OPTIONS",
    "PROMETHEUS_FACTORY_CLASS",
    "PROMETHEUS_FILTER_LABEL_VALUE_CHARACTERS",
    "PROMETHEUS_HOST",
    "PROMETHEUS_PORT",
]

T = TypeVar("T")


class ConfigError(ValueError):
    """A configuration value or key is invalid. The message names the key, the value given
    and what would have been accepted."""


@dataclass(frozen=True)
class ConfigOption(Generic[T]):
    """A configuration key with its value type, default, fallback keys and the constraint
    its values must meet.

    ``parse(text)`` turns a stored string into the value and raises :class:`ConfigError`
    naming the key when the text is malformed or not allowed; ``to_string(value)`` turns a
    value given in code into the string that is stored (a string is checked, then stored as
    given), with the same checks.

    >>> SLOTS = ConfigOption("my.slots", INT, 1, constraint=at_least(1))
    >>> SLOTS.parse("4"), SLOTS.to_string(2)
    (4, '2')
    >>> SLOTS.parse("0")
    Traceback (most recent call last):
    ...
    strom.common.config_options.ConfigError: Invalid value for 'my.slots': got '0'; expected an integer >= 1.
    """

    key: str
    type: OptionType[T]
    default: T | None = None
    description: str = ""
    fallback_keys: tuple[str, ...] = ()
    constraint: Constraint | None = None

    @property
    def parser(self) -> Callable[[str], T]:
        """The bare parser (raises ``ValueError``); prefer :meth:`parse` for its message."""
        return self.type.parse

    def has_default_value(self) -> bool:
        return self.default is not None

    def with_fallback_keys(self, *keys: str) -> ConfigOption[T]:
        return dataclasses.replace(self, fallback_keys=keys)

    def parse(self, text: str, key: str | None = None) -> T:
        """The value of ``text``; ``key`` names the key it was stored under in errors."""
        try:
            value = self.type.parse(text)
        except (ValueError, OverflowError):
            raise ConfigError(
                f"Invalid value for '{key or self.key}': got {text!r}; "
                f"expected {self.type.expected}."
            ) from None
        self._check(value, repr(text), key)
        return value

    def to_string(self, value: Any) -> str:
        """The stored form of ``value`` (a typed value, or a string in the option's syntax)."""
        if isinstance(value, str):
            self.parse(value)
            return value
        try:
            typed = self.type.coerce(value)
        except TypeError as exc:
            raise ConfigError(
                f"Invalid value for '{self.key}': got {value!r} ({type(value).__name__}); "
                f"expected {exc.args[0] if exc.args else self.type.expected}."
            ) from None
        self._check(typed, repr(value), None)
        return self.type.format(typed)

    def _check(self, value: T, given: str, key: str | None) -> None:
        constraint = self.constraint
        if constraint is not None and not constraint.accepts(value):
            raise ConfigError(
                f"Invalid value for '{key or self.key}': got {given}; {constraint.explain(value)}"
            )

    def __repr__(self) -> str:
        return f"ConfigOption(key={self.key!r}, type={self.type.name}, default={self.default!r})"


# The checkpointing, restart, recovery and state-backend options live in their own module,
# imported here (after ConfigOption, which they are made of) so that every name stays
# importable from this one; ``strom.common`` imports this module first.
from strom.common.config_options_checkpointing import (  # noqa: E402  (needs ConfigOption)
    CHECKPOINTING_ALIGNED_TIMEOUT,
    CHECKPOINTING_EXTERNALIZED_RETENTION,
    CHECKPOINTING_FORCE_UNALIGNED,
    CHECKPOINTING_INTERVAL,
    CHECKPOINTING_MAX_CONCURRENT,
    CHECKPOINTING_MIN_PAUSE,
    CHECKPOINTING_MODE,
    CHECKPOINTING_NUM_RETAINED,
    CHECKPOINTING_STORAGE,
    CHECKPOINTING_TIMEOUT,
    CHECKPOINTING_TOLERABLE_FAILURES,
    CHECKPOINTING_UNALIGNED,
    CHECKPOINTS_AFTER_TASKS_FINISH,
    CHECKPOINTS_DIRECTORY,
    FAILOVER_STRATEGY,
    INCREMENTAL_CHECKPOINTS,
    RESTART_EXPONENTIAL_ATTEMPTS,
    RESTART_EXPONENTIAL_BACKOFF_MULTIPLIER,
    RESTART_EXPONENTIAL_INITIAL_BACKOFF,
    RESTART_EXPONENTIAL_JITTER_FACTOR,
    RESTART_EXPONENTIAL_MAX_BACKOFF,
    RESTART_EXPONENTIAL_RESET_BACKOFF_THRESHOLD,
    RESTART_FAILURE_RATE_DELAY,
    RESTART_FAILURE_RATE_INTERVAL,
    RESTART_FAILURE_RATE_MAX_FAILURES,
    RESTART_FIXED_DELAY_ATTEMPTS,
    RESTART_FIXED_DELAY_DELAY,
    RESTART_OPTIONS,
    RESTART_STRATEGY_TYPE,
    ROCKSDB_LOCALDIR,
    ROCKSDB_MEMORY_FIXED_PER_SLOT,
    ROCKSDB_MEMORY_MANAGED,
    ROCKSDB_WRITE_BUFFER_RATIO,
    SAVEPOINT_DIRECTORY,
    STATE_BACKEND_TYPE,
    STATE_RECOVERY_IGNORE_UNCLAIMED_STATE,
    STATE_RECOVERY_PATH,
)

# ---- high availability (strom.common.config_options_ha)
from strom.common.config_options_ha import HA_OPTIONS  # noqa: E402

# ---- metrics: the fetcher and the Prometheus reporter, in their own module too
from strom.common.config_options_metrics import (  # noqa: E402  (needs ConfigOption)
    METRICS_FETCHER_UPDATE_INTERVAL,
    METRICS_OPTIONS,
    METRICS_REPORTERS,
    PROMETHEUS_FACTORY_CLASS,
    PROMETHEUS_FILTER_LABEL_VALUE_CHARACTERS,
    PROMETHEUS_HOST,
    PROMETHEUS_PORT,
)

# ---- security: TLS and the REST token (strom.common.config_options_security)
from strom.common.config_options_security import SECURITY_OPTIONS  # noqa: E402

# ---- web UI (strom.common.config_options_web)
from strom.common.config_options_web import WEB_OPTIONS  # noqa: E402

# -- the options strom understands (Flink's keys and defaults) --------------------------

# Flink's KeyGroupRangeAssignment.UPPER_BOUND_MAX_PARALLELISM.
_UPPER_BOUND_MAX_PARALLELISM = 1 << 15

PARALLELISM_DEFAULT: ConfigOption[int] = ConfigOption(
    "parallelism.default",
    INT,
    1,
    "Default parallelism of jobs; -1 uses the system default (CPU cores locally).",
    constraint=in_range(1, special={-1: "the system default: the number of CPU cores locally"}),
)
MAX_PARALLELISM: ConfigOption[int] = ConfigOption(
    "pipeline.max-parallelism",
    INT,
    -1,
    "Upper bound of parallelism after rescaling (number of key groups); -1 derives it.",
    constraint=in_range(
        1, _UPPER_BOUND_MAX_PARALLELISM, special={-1: "derive it from the parallelism"}
    ),
)
RUNTIME_MODE: ConfigOption[str] = ConfigOption(
    "execution.runtime-mode",
    enum_type(["STREAMING", "BATCH", "AUTOMATIC"]),
    "STREAMING",
    "STREAMING, BATCH, or AUTOMATIC (BATCH when all sources are bounded).",
)
AUTO_WATERMARK_INTERVAL: ConfigOption[int] = ConfigOption(
    "pipeline.auto-watermark-interval",
    DURATION,
    200,
    "Interval of periodic watermark emission, in milliseconds; 0 disables it.",
)
BUFFER_TIMEOUT_ENABLED: ConfigOption[bool] = ConfigOption(
    "execution.buffer-timeout.enabled",
    BOOL,
    True,
    "Whether partly filled output buffers are flushed periodically.",
)
BUFFER_TIMEOUT_INTERVAL: ConfigOption[int] = ConfigOption(
    "execution.buffer-timeout.interval",
    DURATION,
    100,
    "Flush interval of output buffers in milliseconds; 0 flushes after every record.",
)
OPERATOR_CHAINING: ConfigOption[bool] = ConfigOption(
    "pipeline.operator-chaining.enabled", BOOL, True, "Whether operators are chained."
)
PIPELINE_NAME: ConfigOption[str] = ConfigOption(
    "pipeline.name", STRING, None, "The job name used for printing and logging."
)
GLOBAL_JOB_PARAMETERS: ConfigOption[dict[str, str]] = ConfigOption(
    "pipeline.global-job-parameters",
    MAP,
    None,
    "Parameters visible to all user functions: 'k1:v1,k2:v2' or a YAML mapping.",
)
OBJECT_REUSE: ConfigOption[bool] = ConfigOption(
    "pipeline.object-reuse", BOOL, False, "Whether records may be handed on without copying."
)
LATENCY_TRACKING_INTERVAL: ConfigOption[int] = ConfigOption(
    "metrics.latency.interval",
    DURATION,
    0,
    "Interval of latency markers from the sources in milliseconds; 0 disables them.",
)
NUM_TASK_SLOTS: ConfigOption[int] = ConfigOption(
    "taskmanager.numberOfTaskSlots",
    INT,
    1,
    "Task slots offered by each TaskManager.",
    constraint=at_least(1),
)
ASK_TIMEOUT: ConfigOption[int] = ConfigOption(
    "pekko.ask.timeout",
    DURATION,
    10_000,
    "Timeout of an RPC call between the cluster's components, in milliseconds.",
    constraint=at_least(1),
)
MINICLUSTER_NUM_TASKMANAGERS: ConfigOption[int] = ConfigOption(
    "minicluster.number-of-taskmanagers",
    INT,
    1,
    "TaskManagers of the local cluster.",
    constraint=at_least(1),
)
LOCAL_TASKMANAGERS: ConfigOption[str] = ConfigOption(
    "execution.local.taskmanagers",
    enum_type(["auto", "thread", "process"]),
    "auto",
    "How the embedded local cluster runs its TaskManagers: 'process' (one process per slot, "
    "so a job uses every core), 'thread' (in this process), or 'auto' (process when the job "
    "needs more than one slot; the STROM_LOCAL_TASKMANAGERS environment variable overrides "
    "auto).",
)
SEGMENT_SIZE: ConfigOption[int] = ConfigOption(
    "taskmanager.memory.segment-size",
    MEMORY_SIZE,
    32 * 1024,
    "Network buffer size in bytes: a power of two, at least 4 kb (as in Flink).",
    constraint=power_of_two_at_least(4096, format_memory_size),
)
BUFFERS_PER_CHANNEL: ConfigOption[int] = ConfigOption(
    "taskmanager.network.memory.buffers-per-channel",
    INT,
    2,
    "Exclusive buffers (initial credit) per input channel.",
    constraint=at_least(0),
)
FLOATING_BUFFERS_PER_GATE: ConfigOption[int] = ConfigOption(
    "taskmanager.network.memory.floating-buffers-per-gate",
    INT,
    8,
    "Floating buffers shared by the channels of one input gate.",
    constraint=at_least(0),
)
TASKMANAGER_DATA_PORT: ConfigOption[int] = ConfigOption(
    "taskmanager.data.port",
    INT,
    0,
    "Port of the TaskManager's data server (channels from other TaskManagers); 0 = any "
    "free port.",
    constraint=in_range(0, 65535),
)
TASKMANAGER_BIND_HOST: ConfigOption[str] = ConfigOption(
    "taskmanager.bind-host",
    STRING,
    "127.0.0.1",
    "Address a TaskManager's RPC and data server bind to (Flink's default is 0.0.0.0; "
    "strom listens on loopback unless told otherwise).",
)
REST_PORT: ConfigOption[int] = ConfigOption(
    "rest.port",
    INT,
    8081,
    "Port of the REST server and web UI.",
    constraint=in_range(0, 65535),
)
WEB_CHECKPOINTS_HISTORY: ConfigOption[int] = ConfigOption(
    "web.checkpoints.history",
    INT,
    10,
    "How many recent checkpoints the REST API lists per job (/jobs/:jobid/checkpoints).",
    constraint=at_least(0),
)
REST_ADDRESS: ConfigOption[str] = ConfigOption(
    "rest.address", STRING, "localhost", "Address clients use to reach the REST server."
)
JOBMANAGER_RPC_ADDRESS: ConfigOption[str] = ConfigOption(
    "jobmanager.rpc.address",
    STRING,
    "localhost",
    "Host TaskManagers and clients connect to for the JobManager's RPC.",
)
JOBMANAGER_RPC_PORT: ConfigOption[int] = ConfigOption(
    "jobmanager.rpc.port",
    INT,
    6123,
    "Port of the JobManager's RPC (Dispatcher, ResourceManager, JobMasters); 0 = any free.",
    constraint=in_range(0, 65535),
)
JOBMANAGER_BIND_HOST: ConfigOption[str] = ConfigOption(
    "jobmanager.bind-host",
    STRING,
    "127.0.0.1",
    "Local address the JobManager's RPC listens on (0.0.0.0: every interface).",
)
TASKMANAGER_HOST: ConfigOption[str] = ConfigOption(
    "taskmanager.host",
    STRING,
    None,
    "Host name the JobManager uses to reach a TaskManager; unset: its bind host.",
)
TASKMANAGER_RPC_PORT: ConfigOption[int] = ConfigOption(
    "taskmanager.rpc.port",
    INT,
    0,
    "Port of a TaskManager's RPC; 0 = any free port.",
    constraint=in_range(0, 65535),
)
HEARTBEAT_INTERVAL: ConfigOption[int] = ConfigOption(
    "heartbeat.interval",
    DURATION,
    10_000,
    "How often the JobManager asks each TaskManager for a heartbeat, in milliseconds.",
    constraint=at_least(1),
)
HEARTBEAT_TIMEOUT: ConfigOption[int] = ConfigOption(
    "heartbeat.timeout",
    DURATION,
    50_000,
    "A peer not heard from for this long (milliseconds) is declared lost.",
    constraint=at_least(1),
)
HEARTBEAT_RPC_FAILURE_THRESHOLD: ConfigOption[int] = ConfigOption(
    "heartbeat.rpc-failure-threshold",
    INT,
    2,
    "Failed heartbeat RPCs in a row that declare a peer lost before the timeout; -1: never.",
    constraint=in_range(1, special={-1: "failed RPCs never declare a peer lost"}),
)
REGISTRATION_INITIAL_TIMEOUT: ConfigOption[int] = ConfigOption(
    "cluster.registration.initial-timeout",
    DURATION,
    100,
    "First back-off of a TaskManager's registration with the ResourceManager, in ms.",
    constraint=at_least(1),
)
REGISTRATION_MAX_TIMEOUT: ConfigOption[int] = ConfigOption(
    "cluster.registration.max-timeout",
    DURATION,
    30_000,
    "Longest wait of one registration attempt, in milliseconds.",
    constraint=at_least(1),
)
REGISTRATION_ERROR_DELAY: ConfigOption[int] = ConfigOption(
    "cluster.registration.error-delay",
    DURATION,
    10_000,
    "Longest pause after a failed registration attempt, in milliseconds (the pause "
    "doubles from cluster.registration.initial-timeout up to this).",
    constraint=at_least(1),
)
TASKMANAGER_REGISTRATION_TIMEOUT: ConfigOption[int] = ConfigOption(
    "taskmanager.registration.timeout",
    DURATION,
    300_000,
    "A TaskManager process not registered with its ResourceManager for this long (at start "
    "or after losing it) exits, in milliseconds.",
    constraint=at_least(1),
)

# ---- flame graphs (Flink's rest.flamegraph.* keys; read by the Dispatcher, the JobMasters
# and the REST handler of /jobs/:jobid/vertices/:vertexid/flamegraph)
FLAMEGRAPH_ENABLED: ConfigOption[bool] = ConfigOption(
    "rest.flamegraph.enabled",
    BOOL,
    True,
    "Serve flame graphs of the job vertices' Python stacks (Flink's default is false; strom "
    "samples only while a flame graph is asked for).",
)
FLAMEGRAPH_NUM_SAMPLES: ConfigOption[int] = ConfigOption(
    "rest.flamegraph.num-samples",
    INT,
    100,
    "Number of stack samples one flame graph takes per subtask.",
    constraint=at_least(1),
)
FLAMEGRAPH_DELAY_BETWEEN_SAMPLES: ConfigOption[int] = ConfigOption(
    "rest.flamegraph.delay-between-samples",
    DURATION,
    50,
    "Delay between the stack samples of one flame graph, in milliseconds.",
)
FLAMEGRAPH_STACK_DEPTH: ConfigOption[int] = ConfigOption(
    "rest.flamegraph.stack-depth",
    INT,
    100,
    "The innermost frames kept per stack sample.",
    constraint=at_least(1),
)
FLAMEGRAPH_REFRESH_INTERVAL: ConfigOption[int] = ConfigOption(
    "rest.flamegraph.refresh-interval",
    DURATION,
    60_000,
    "How long a flame graph's samples answer requests before a request takes new ones, in "
    "milliseconds.",
    constraint=at_least(1),
)
FLAMEGRAPH_CLEANUP_INTERVAL: ConfigOption[int] = ConfigOption(
    "rest.flamegraph.cleanup-interval",
    DURATION,
    600_000,
    "Samples not asked for this long are dropped, in milliseconds.",
    constraint=at_least(1),
)
FLAMEGRAPH_OPTIONS: tuple[ConfigOption[Any], ...] = (
    FLAMEGRAPH_ENABLED, FLAMEGRAPH_NUM_SAMPLES, FLAMEGRAPH_DELAY_BETWEEN_SAMPLES,
    FLAMEGRAPH_STACK_DEPTH, FLAMEGRAPH_REFRESH_INTERVAL, FLAMEGRAPH_CLEANUP_INTERVAL,
)
__all__ += ["FLAMEGRAPH_CLEANUP_INTERVAL", "FLAMEGRAPH_DELAY_BETWEEN_SAMPLES",
            "FLAMEGRAPH_ENABLED", "FLAMEGRAPH_NUM_SAMPLES", "FLAMEGRAPH_OPTIONS",
            "FLAMEGRAPH_REFRESH_INTERVAL", "FLAMEGRAPH_STACK_DEPTH"]

_ALL_OPTIONS: tuple[ConfigOption[Any], ...] = (
    PARALLELISM_DEFAULT,
    MAX_PARALLELISM,
    RUNTIME_MODE,
    AUTO_WATERMARK_INTERVAL,
    BUFFER_TIMEOUT_ENABLED,
    BUFFER_TIMEOUT_INTERVAL,
    OPERATOR_CHAINING,
    PIPELINE_NAME,
    GLOBAL_JOB_PARAMETERS,
    OBJECT_REUSE,
    LATENCY_TRACKING_INTERVAL,
    NUM_TASK_SLOTS,
    MINICLUSTER_NUM_TASKMANAGERS,
    LOCAL_TASKMANAGERS,
    ASK_TIMEOUT,
    SEGMENT_SIZE,
    BUFFERS_PER_CHANNEL,
    FLOATING_BUFFERS_PER_GATE,
    TASKMANAGER_DATA_PORT,
    TASKMANAGER_BIND_HOST,
    STATE_BACKEND_TYPE,
    ROCKSDB_LOCALDIR,
    ROCKSDB_MEMORY_MANAGED,
    ROCKSDB_MEMORY_FIXED_PER_SLOT,
    ROCKSDB_WRITE_BUFFER_RATIO,
    REST_PORT,
    WEB_CHECKPOINTS_HISTORY,
    REST_ADDRESS,
    JOBMANAGER_RPC_ADDRESS,
    JOBMANAGER_RPC_PORT,
    JOBMANAGER_BIND_HOST,
    TASKMANAGER_HOST,
    TASKMANAGER_RPC_PORT,
    HEARTBEAT_INTERVAL,
    HEARTBEAT_TIMEOUT,
    HEARTBEAT_RPC_FAILURE_THRESHOLD,
    REGISTRATION_INITIAL_TIMEOUT,
    REGISTRATION_MAX_TIMEOUT,
    REGISTRATION_ERROR_DELAY,
    TASKMANAGER_REGISTRATION_TIMEOUT,
    CHECKPOINTING_INTERVAL,
    CHECKPOINTING_MODE,
    CHECKPOINTING_TIMEOUT,
    CHECKPOINTING_MIN_PAUSE,
    CHECKPOINTING_MAX_CONCURRENT,
    CHECKPOINTING_TOLERABLE_FAILURES,
    CHECKPOINTING_NUM_RETAINED,
    CHECKPOINTING_UNALIGNED,
    CHECKPOINTING_ALIGNED_TIMEOUT,
    CHECKPOINTING_FORCE_UNALIGNED,
    CHECKPOINTING_EXTERNALIZED_RETENTION,
    CHECKPOINTING_STORAGE,
    CHECKPOINTS_DIRECTORY,
    SAVEPOINT_DIRECTORY,
    INCREMENTAL_CHECKPOINTS,
    CHECKPOINTS_AFTER_TASKS_FINISH,
    *RESTART_OPTIONS,
    STATE_RECOVERY_PATH,
    STATE_RECOVERY_IGNORE_UNCLAIMED_STATE,
    *FLAMEGRAPH_OPTIONS,
    *METRICS_OPTIONS,
    # ---- security
    *SECURITY_OPTIONS,
    # ---- web UI
    *WEB_OPTIONS,
    # ---- high availability
    *HA_OPTIONS,
)

# Flink keys strom does not model (yet) that must never be mistaken for typos of the ones
# above; they are accepted as-is, like any other key Flink would ignore.
_OTHER_FLINK_KEYS = frozenset(
    {
        "rest.bind-port",
        "rest.bind-address",
        "jobmanager.memory.process.size",
        "taskmanager.memory.process.size",
        "pipeline.jars",
        "pipeline.classpaths",
    }
)


_BY_KEY: dict[str, ConfigOption[Any]] = {}
for _option in _ALL_OPTIONS:
    _BY_KEY[_option.key] = _option
    for _fallback in _option.fallback_keys:
        _BY_KEY.setdefault(_fallback, _option)


def all_options() -> list[ConfigOption[Any]]:
    """Every option defined in this module, in declaration order."""
    return list(_ALL_OPTIONS)


def option_for_key(key: str) -> ConfigOption[Any] | None:
    """The option stored under ``key`` (its own key or a fallback key), or ``None``."""
    return _BY_KEY.get(key)


def _typo_distance(a: str, b: str) -> int:
    """Edit distance counting insertions, deletions, substitutions and swaps of
    neighbouring characters as one edit each (optimal string alignment)."""
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[len(b)]


def _near_miss(key: str, known: list[str]) -> str | None:
    """The known key that ``key`` most likely misspells, or ``None``.

    A candidate must be close by difflib's ratio and within two typing mistakes (or
    differ only in letter case), so that real but different keys are not flagged.
    """
    lowered = {k.lower(): k for k in known}
    if key.lower() in lowered:
        return lowered[key.lower()]
    for candidate in difflib.get_close_matches(key, known, n=3, cutoff=0.8):
        if _typo_distance(key, candidate) <= 2:
            return candidate
    return None


def validate(configuration: Configuration, extra_options: Iterable[ConfigOption[Any]] = ()) -> None:
    """Fail early on a configuration that cannot work.

    Every key of a known option (this module's, plus ``extra_options``) that is present,
    under its own key or a fallback key, must parse; a key that is a near miss of a known
    key raises ``ConfigError`` with a suggestion. Keys under a map option's prefix
    (``pipeline.global-job-parameters.k1``) are entries of that map. Other unknown keys are
    accepted silently, as Flink ignores them.

    >>> from strom.common.configuration import Configuration
    >>> validate(Configuration.from_dict({"parallelism.defualt": "2"}))
    Traceback (most recent call last):
    ...
    strom.common.config_options.ConfigError: Unknown configuration key 'parallelism.defualt'; did you mean 'parallelism.default'?
    """
    options = list(_ALL_OPTIONS) + list(extra_options)
    by_key: dict[str, ConfigOption[Any]] = {}
    for option in options:
        by_key[option.key] = option
        for fallback in option.fallback_keys:
            by_key.setdefault(fallback, option)
    map_prefixes = tuple(o.key + "." for o in options if o.type is MAP)
    known = [o.key for o in options]
    for key in sorted(configuration.key_set()):
        known_option = by_key.get(key)
        if known_option is not None:
            known_option.parse(configuration.get_string(key, ""), key)
            continue
        if key in _OTHER_FLINK_KEYS or key.startswith(map_prefixes):
            continue
        suggestion = _near_miss(key, known)
        if suggestion is not None:
            raise ConfigError(f"Unknown configuration key '{key}'; did you mean '{suggestion}'?")
