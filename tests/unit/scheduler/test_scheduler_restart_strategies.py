"""Restart strategies against Flink's documented behaviour, with an injected clock."""

from __future__ import annotations

import random

import pytest

from strom.common.config_options import ConfigError
from strom.common.configuration import Configuration
from strom.jobmanager.scheduler.restart_strategies import (
    ExponentialDelayRestartStrategy,
    FailureRateRestartStrategy,
    FixedDelayRestartStrategy,
    NoRestartStrategy,
    restart_strategy_from_config,
)


class Clock:
    def __init__(self, now: int = 0) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


def test_no_restart_never_restarts() -> None:
    strategy = NoRestartStrategy()
    strategy.notify_failure()
    assert not strategy.can_restart()
    assert str(strategy) == "NoRestartBackoffTimeStrategy"


def test_fixed_delay_allows_its_attempts_then_stops() -> None:
    strategy = FixedDelayRestartStrategy(attempts=3, delay_ms=250)
    for _ in range(3):
        strategy.notify_failure()
        assert strategy.can_restart()
        assert strategy.backoff_time_ms() == 250
    strategy.notify_failure()
    assert not strategy.can_restart()
    assert str(strategy) == (
        "FixedDelayRestartBackoffTimeStrategy(maxNumberRestartAttempts=3, backoffTimeMS=250)")


def test_fixed_delay_with_zero_attempts_never_restarts() -> None:
    strategy = FixedDelayRestartStrategy(attempts=0, delay_ms=0)
    strategy.notify_failure()
    assert not strategy.can_restart()


def test_failure_rate_many_failures_spread_out_restart() -> None:
    clock = Clock()
    strategy = FailureRateRestartStrategy(max_failures=1, interval_ms=1, delay_ms=0,
                                          clock=clock)
    for _ in range(3):
        strategy.notify_failure()
        assert strategy.can_restart()
        clock.now += 2
    assert strategy.can_restart()


def test_failure_rate_exceeded_within_the_interval_fails() -> None:
    clock = Clock()
    strategy = FailureRateRestartStrategy(max_failures=3, interval_ms=10_000, delay_ms=7,
                                          clock=clock)
    for _ in range(3):
        strategy.notify_failure()
        assert strategy.can_restart()
        clock.now += 100
    strategy.notify_failure()
    assert not strategy.can_restart()
    assert strategy.backoff_time_ms() == 7
    # the oldest failure leaves the interval: restarting is allowed again
    clock.now = 10_001
    assert strategy.can_restart()
    assert "maxFailuresPerInterval=3" in str(strategy)


def test_exponential_delay_grows_by_the_multiplier_up_to_the_max() -> None:
    clock = Clock(1_000_000)
    strategy = ExponentialDelayRestartStrategy(
        initial_backoff_ms=100, max_backoff_ms=1_000, multiplier=2.0,
        reset_threshold_ms=1_000_000, jitter_factor=0.0, clock=clock)
    delays = []
    for _ in range(6):
        assert strategy.notify_failure()
        assert strategy.can_restart()
        delays.append(strategy.backoff_time_ms())
        clock.now += strategy.backoff_time_ms() + 1  # the restart happened, then it failed
    assert delays == [100, 200, 400, 800, 1_000, 1_000]


def test_exponential_delay_merges_failures_while_a_restart_is_pending() -> None:
    clock = Clock(0)
    strategy = ExponentialDelayRestartStrategy(
        initial_backoff_ms=100, max_backoff_ms=10_000, jitter_factor=0.0, clock=clock)
    assert strategy.notify_failure()
    clock.now = 50
    assert not strategy.notify_failure()  # joins the restart at t=100
    assert strategy.backoff_time_ms() == 50
    assert strategy.current_attempt == 1


def test_exponential_delay_resets_after_the_threshold() -> None:
    clock = Clock(0)
    strategy = ExponentialDelayRestartStrategy(
        initial_backoff_ms=100, max_backoff_ms=10_000, reset_threshold_ms=5_000,
        jitter_factor=0.0, clock=clock)
    strategy.notify_failure()
    clock.now = 101
    strategy.notify_failure()
    assert strategy.backoff_time_ms() == 200
    clock.now = 301 + 5_000  # ran smoothly for the threshold after the last restart
    strategy.notify_failure()
    assert strategy.backoff_time_ms() == 100
    assert strategy.current_attempt == 1


def test_exponential_delay_attempts_before_reset_bound_the_restarts() -> None:
    clock = Clock(0)
    strategy = ExponentialDelayRestartStrategy(
        initial_backoff_ms=1, max_backoff_ms=10, jitter_factor=0.0, attempts_before_reset=2,
        clock=clock)
    for _ in range(2):
        strategy.notify_failure()
        assert strategy.can_restart()
        clock.now += 100
    strategy.notify_failure()
    assert not strategy.can_restart()


def test_exponential_delay_jitter_stays_within_its_factor() -> None:
    clock = Clock(0)
    strategy = ExponentialDelayRestartStrategy(
        initial_backoff_ms=1_000, max_backoff_ms=100_000, jitter_factor=0.25, clock=clock,
        rng=random.Random(7))
    seen = set()
    for _ in range(50):
        strategy.current_attempt = 2  # a 4 s backoff: 3 s to 5 s with the jitter
        strategy.next_restart_ms = None
        strategy.notify_failure()
        delay = strategy.backoff_time_ms()
        assert 3_000 <= delay <= 5_000
        seen.add(delay)
    assert len(seen) > 1


def test_config_picks_the_strategy_and_reads_flinks_keys() -> None:
    config = Configuration.from_dict({
        "restart-strategy.type": "fixed-delay",
        "restart-strategy.fixed-delay.attempts": "4",
        "restart-strategy.fixed-delay.delay": "2 s",
    })
    strategy = restart_strategy_from_config(config)
    assert isinstance(strategy, FixedDelayRestartStrategy)
    assert (strategy.attempts, strategy.delay_ms) == (4, 2_000)

    strategy = restart_strategy_from_config({"restart-strategy": "failurerate"})
    assert isinstance(strategy, FailureRateRestartStrategy)
    assert (strategy.max_failures, strategy.interval_ms, strategy.delay_ms) == (1, 60_000, 1_000)


def test_config_defaults_follow_checkpointing() -> None:
    assert isinstance(restart_strategy_from_config({}), NoRestartStrategy)
    strategy = restart_strategy_from_config({}, checkpointing_enabled=True)
    assert isinstance(strategy, ExponentialDelayRestartStrategy)
    assert (strategy.initial_backoff_ms, strategy.max_backoff_ms, strategy.multiplier,
            strategy.reset_threshold_ms, strategy.jitter_factor,
            strategy.attempts_before_reset) == (1_000, 300_000, 2.0, 3_600_000, 0.1, 2**31 - 1)
    # an explicit none wins over checkpointing
    assert isinstance(restart_strategy_from_config({"restart-strategy.type": "off"}, True),
                      NoRestartStrategy)


def test_config_rejects_an_initial_backoff_above_the_max() -> None:
    with pytest.raises(ConfigError, match="max-backoff >= initial-backoff"):
        restart_strategy_from_config({
            "restart-strategy.type": "exponential-delay",
            "restart-strategy.exponential-delay.initial-backoff": "10 min",
        })
