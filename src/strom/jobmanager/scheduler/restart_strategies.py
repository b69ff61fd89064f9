"""Restart strategies: whether and when a failed job restarts (Flink's
``RestartBackoffTimeStrategy``).

The scheduler tells a strategy about each failure (:meth:`notify_failure`), then asks whether
the job may restart (:meth:`can_restart`) and after how long (:meth:`backoff_time_ms`). A
strategy reads time only from its injected clock (epoch milliseconds), so tests drive it
without sleeping.

``restart-strategy.type`` picks one, with Flink's keys and defaults:

* ``none`` / ``off`` / ``disable``: never restart.
* ``fixed-delay``: up to ``.fixed-delay.attempts`` (1) restarts, each after
  ``.fixed-delay.delay`` (1 s).
* ``failure-rate``: restart after ``.failure-rate.delay`` (1 s) unless more than
  ``.max-failures-per-interval`` (1) failures fall within ``.failure-rate-interval`` (1 min).
* ``exponential-delay``: the pause starts at ``.initial-backoff`` (1 s) and is multiplied by
  ``.backoff-multiplier`` (2.0) up to ``.max-backoff`` (5 min), with ``.jitter-factor`` (0.1)
  of it added or taken away at random; failures while a restart is pending count once; a job
  that ran ``.reset-backoff-threshold`` (1 h) past its last planned restart starts over at the
  initial backoff; more than ``.attempts-before-reset-backoff`` (unlimited) restarts without
  such a reset fail the job.

Unset, the type is ``exponential-delay`` when checkpointing is enabled and ``none`` otherwise.

>>> clock = iter([0, 0, 0]).__next__
>>> strategy = FixedDelayRestartStrategy(attempts=1, delay_ms=10, clock=clock)
>>> strategy.notify_failure(), strategy.can_restart(), strategy.backoff_time_ms()
(True, True, 10)
"""

from __future__ import annotations

import random
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from strom.common import config_options as opts
from strom.common.configuration import Configuration

__all__ = [
    "ExponentialDelayRestartStrategy",
    "FailureRateRestartStrategy",
    "FixedDelayRestartStrategy",
    "NoRestartStrategy",
    "RestartStrategy",
    "restart_strategy_from_config",
]

Clock = Callable[[], int]


def _epoch_ms() -> int:
    return time.time_ns() // 1_000_000


class RestartStrategy(Protocol):
    """What the scheduler asks after a failure. ``str()`` names the strategy and its settings
    (the job's failure says "Recovery is suppressed by <it>")."""

    def notify_failure(self) -> bool:
        """Count a failure; False when it was merged into a restart already planned."""
        ...

    def can_restart(self) -> bool: ...

    def backoff_time_ms(self) -> int:
        """How long to wait before restarting, after the last :meth:`notify_failure`."""
        ...


class NoRestartStrategy:
    def notify_failure(self) -> bool:
        return True

    def can_restart(self) -> bool:
        return False

    def backoff_time_ms(self) -> int:
        return 0

    def __str__(self) -> str:
        return "NoRestartBackoffTimeStrategy"


class FixedDelayRestartStrategy:
    def __init__(self, attempts: int, delay_ms: int, clock: Clock = _epoch_ms) -> None:
        if attempts < 0 or delay_ms < 0:
            raise ValueError(f"fixed-delay needs attempts >= 0 and delay >= 0 ms, got "
                             f"attempts={attempts}, delay={delay_ms} ms.")
        self.attempts = attempts
        self.delay_ms = delay_ms
        self.current_attempt = 0

    def notify_failure(self) -> bool:
        self.current_attempt += 1
        return True

    def can_restart(self) -> bool:
        return self.current_attempt <= self.attempts

    def backoff_time_ms(self) -> int:
        return self.delay_ms

    def __str__(self) -> str:
        return (f"FixedDelayRestartBackoffTimeStrategy(maxNumberRestartAttempts={self.attempts}"
                f", backoffTimeMS={self.delay_ms})")


class FailureRateRestartStrategy:
    """Restarts while at most ``max_failures`` failures fall within ``interval_ms``; the
    next one within that interval fails the job."""

    def __init__(self, max_failures: int, interval_ms: int, delay_ms: int,
                 clock: Clock = _epoch_ms) -> None:
        if max_failures < 1 or interval_ms < 1 or delay_ms < 0:
            raise ValueError(
                f"failure-rate needs max-failures-per-interval >= 1, an interval >= 1 ms and "
                f"a delay >= 0 ms, got {max_failures}, {interval_ms} ms, {delay_ms} ms.")
        self.max_failures = max_failures
        self.interval_ms = interval_ms
        self.delay_ms = delay_ms
        self.clock = clock
        #: the times of the last ``max_failures + 1`` failures
        self.failures: deque[int] = deque(maxlen=max_failures + 1)

    def notify_failure(self) -> bool:
        self.failures.append(self.clock())
        return True

    def can_restart(self) -> bool:
        if len(self.failures) <= self.max_failures:
            return True
        return self.clock() - self.failures[0] > self.interval_ms

    def backoff_time_ms(self) -> int:
        return self.delay_ms

    def __str__(self) -> str:
        return (f"FailureRateRestartBackoffTimeStrategy(failuresIntervalMS={self.interval_ms}"
                f",backoffTimeMS={self.delay_ms},maxFailuresPerInterval={self.max_failures})")


class ExponentialDelayRestartStrategy:
    def __init__(self, initial_backoff_ms: int = 1_000, max_backoff_ms: int = 300_000,
                 multiplier: float = 2.0, reset_threshold_ms: int = 3_600_000,
                 jitter_factor: float = 0.1, attempts_before_reset: int = 2**31 - 1,
                 clock: Clock = _epoch_ms, rng: random.Random | None = None) -> None:
        problems = [
            what for what, bad in (
                (f"initial-backoff >= 1 ms (got {initial_backoff_ms})", initial_backoff_ms < 1),
                (f"max-backoff >= initial-backoff (got {max_backoff_ms})",
                 max_backoff_ms < initial_backoff_ms),
                (f"backoff-multiplier > 1 (got {multiplier})", multiplier <= 1),
                (f"reset-backoff-threshold >= 1 ms (got {reset_threshold_ms})",
                 reset_threshold_ms < 1),
                (f"jitter-factor from 0 to 1 (got {jitter_factor})",
                 not 0 <= jitter_factor <= 1),
                (f"attempts-before-reset-backoff >= 1 (got {attempts_before_reset})",
                 attempts_before_reset < 1),
            ) if bad
        ]
        if problems:
            raise ValueError("exponential-delay needs " + "; ".join(problems) + ".")
        self.initial_backoff_ms = initial_backoff_ms
        self.max_backoff_ms = max_backoff_ms
        self.multiplier = multiplier
        self.reset_threshold_ms = reset_threshold_ms
        self.jitter_factor = jitter_factor
        self.attempts_before_reset = attempts_before_reset
        self.clock = clock
        self.rng = rng or random.Random()
        self.current_attempt = 0
        #: when the planned restart happens (epoch ms); None before the first failure
        self.next_restart_ms: int | None = None

    def notify_failure(self) -> bool:
        now = self.clock()
        if self.next_restart_ms is not None:
            if now <= self.next_restart_ms:
                return False  # a restart is already planned: this failure joins it
            if now - self.next_restart_ms >= self.reset_threshold_ms:
                self.current_attempt = 0
        self.next_restart_ms = now + self._backoff()
        self.current_attempt += 1
        return True

    def _backoff(self) -> int:
        backoff = int(self.initial_backoff_ms * self.multiplier ** self.current_attempt)
        jitter = 0
        if self.jitter_factor > 0:
            offset = int(backoff * self.jitter_factor)
            jitter = self.rng.randint(-offset, offset)
        return max(self.initial_backoff_ms, min(backoff + jitter, self.max_backoff_ms))

    def can_restart(self) -> bool:
        return self.current_attempt <= self.attempts_before_reset

    def backoff_time_ms(self) -> int:
        if self.next_restart_ms is None:
            raise RuntimeError("backoff_time_ms() was called before notify_failure().")
        return max(0, self.next_restart_ms - self.clock())

    def __str__(self) -> str:
        return (f"ExponentialDelayRestartBackoffTimeStrategy(initialBackoffMS="
                f"{self.initial_backoff_ms}, maxBackoffMS={self.max_backoff_ms}, "
                f"backoffMultiplier={self.multiplier}, resetBackoffThresholdMS="
                f"{self.reset_threshold_ms}, jitterFactor={self.jitter_factor}, "
                f"attemptsBeforeResetBackoff={self.attempts_before_reset}, "
                f"currentRestartAttempt={self.current_attempt}, nextRestartTimestamp="
                f"{self.next_restart_ms})")


_TYPES = {
    "none": "none", "off": "none", "disable": "none",
    "fixed-delay": "fixed-delay", "fixeddelay": "fixed-delay",
    "failure-rate": "failure-rate", "failurerate": "failure-rate",
    "exponential-delay": "exponential-delay", "exponentialdelay": "exponential-delay",
}


def restart_strategy_from_config(config: Configuration | Mapping[str, Any],
                                 checkpointing_enabled: bool = False,
                                 clock: Clock = _epoch_ms) -> RestartStrategy:
    """The strategy ``restart-strategy.*`` configure (a mapping is read as a
    :class:`Configuration`); unset type: exponential-delay with checkpointing, else none."""
    if not isinstance(config, Configuration):
        config = Configuration.from_dict({k: str(v) for k, v in config.items()})
    kind = config.get(opts.RESTART_STRATEGY_TYPE)
    if kind is None:
        kind = "exponential-delay" if checkpointing_enabled else "none"
    kind = _TYPES[kind.lower()]
    if kind == "fixed-delay":
        return FixedDelayRestartStrategy(
            _required(config, opts.RESTART_FIXED_DELAY_ATTEMPTS),
            _required(config, opts.RESTART_FIXED_DELAY_DELAY), clock)
    if kind == "failure-rate":
        return FailureRateRestartStrategy(
            _required(config, opts.RESTART_FAILURE_RATE_MAX_FAILURES),
            _required(config, opts.RESTART_FAILURE_RATE_INTERVAL),
            _required(config, opts.RESTART_FAILURE_RATE_DELAY), clock)
    if kind == "exponential-delay":
        try:
            return ExponentialDelayRestartStrategy(
                _required(config, opts.RESTART_EXPONENTIAL_INITIAL_BACKOFF),
                _required(config, opts.RESTART_EXPONENTIAL_MAX_BACKOFF),
                _required(config, opts.RESTART_EXPONENTIAL_BACKOFF_MULTIPLIER),
                _required(config, opts.RESTART_EXPONENTIAL_RESET_BACKOFF_THRESHOLD),
                _required(config, opts.RESTART_EXPONENTIAL_JITTER_FACTOR),
                _required(config, opts.RESTART_EXPONENTIAL_ATTEMPTS), clock)
        except ValueError as e:
            raise opts.ConfigError(
                f"Invalid restart-strategy.exponential-delay.* settings: {e} Fix the "
                "restart-strategy.exponential-delay keys.") from None
    return NoRestartStrategy()


def _required(config: Configuration, option: opts.ConfigOption[Any]) -> Any:
    value = config.get(option)
    assert value is not None, f"{option.key} has a default"
    return value
