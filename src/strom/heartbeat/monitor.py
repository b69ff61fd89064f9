"""Which heartbeat targets are alive: decisions on an injected clock, without I/O.

A target is lost when its last heartbeat is older than ``heartbeat.timeout``, or sooner when
``heartbeat.rpc-failure-threshold`` heartbeat RPCs to it failed in a row (a peer whose
process died refuses connections at once; waiting for the timeout would only delay the
failover). A target counts as heard from when it starts being monitored.

>>> from strom.testing import ManualClock
>>> clock = ManualClock(0)
>>> monitor = HeartbeatMonitor(HeartbeatSettings(interval_ms=100, timeout_ms=500), clock)
>>> monitor.monitor("tm-1")
>>> clock.advance(400); monitor.expired()
[]
>>> clock.advance(101); [lost.target for lost in monitor.expired()]
['tm-1']
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, TypeVar

from strom.common.config_options import (
    HEARTBEAT_INTERVAL,
    HEARTBEAT_RPC_FAILURE_THRESHOLD,
    HEARTBEAT_TIMEOUT,
    ConfigError,
)

if TYPE_CHECKING:
    from strom.common.configuration import Configuration

__all__ = ["HeartbeatMonitor", "HeartbeatSettings", "TargetLost"]

K = TypeVar("K")


@dataclass(frozen=True)
class HeartbeatSettings:
    """``heartbeat.interval``, ``heartbeat.timeout`` (ms) and
    ``heartbeat.rpc-failure-threshold`` (-1: failed RPCs never declare a target lost)."""

    interval_ms: int = 10_000
    timeout_ms: int = 50_000
    rpc_failure_threshold: int = 2

    def __post_init__(self) -> None:
        if self.interval_ms <= 0 or self.timeout_ms <= 0:
            raise ConfigError(
                f"heartbeat.interval and heartbeat.timeout must be > 0 ms, got "
                f"{self.interval_ms} ms and {self.timeout_ms} ms."
            )
        if self.timeout_ms < self.interval_ms:
            raise ConfigError(
                f"heartbeat.timeout ({self.timeout_ms} ms) must be at least heartbeat.interval "
                f"({self.interval_ms} ms): a target would time out between two heartbeats. "
                "Raise heartbeat.timeout or lower heartbeat.interval."
            )

    @classmethod
    def from_configuration(cls, configuration: Configuration) -> HeartbeatSettings:
        defaults = cls()
        return cls(
            interval_ms=configuration.get(HEARTBEAT_INTERVAL) or defaults.interval_ms,
            timeout_ms=configuration.get(HEARTBEAT_TIMEOUT) or defaults.timeout_ms,
            rpc_failure_threshold=(configuration.get(HEARTBEAT_RPC_FAILURE_THRESHOLD)
                                   or defaults.rpc_failure_threshold),
        )


@dataclass(frozen=True)
class TargetLost(Generic[K]):
    """``target`` is considered dead; ``reason`` says why, for the error that names it."""

    target: K
    reason: str


class _Target:
    __slots__ = ("failed_rpcs", "last_heartbeat_ms")

    def __init__(self, now_ms: int) -> None:
        self.last_heartbeat_ms = now_ms
        self.failed_rpcs = 0


class HeartbeatMonitor(Generic[K]):
    """The liveness of a set of targets (see the module docstring). Not thread-safe: use it
    from the loop of the endpoint that owns it."""

    def __init__(self, settings: HeartbeatSettings, clock: Callable[[], int]) -> None:
        self.settings = settings
        self.clock = clock
        self._targets: dict[K, _Target] = {}

    def monitor(self, target: K) -> None:
        """Start watching ``target`` (as if it had just sent a heartbeat); no-op if watched."""
        if target not in self._targets:
            self._targets[target] = _Target(self.clock())

    def unmonitor(self, target: K) -> None:
        self._targets.pop(target, None)

    def targets(self) -> list[K]:
        return list(self._targets)

    def __contains__(self, target: object) -> bool:
        return target in self._targets

    def last_heartbeat_ms(self, target: K) -> int | None:
        watched = self._targets.get(target)
        return None if watched is None else watched.last_heartbeat_ms

    def heartbeat_received(self, target: K) -> None:
        """``target`` answered or sent a heartbeat: it is alive now."""
        watched = self._targets.get(target)
        if watched is not None:
            watched.last_heartbeat_ms = self.clock()
            watched.failed_rpcs = 0

    def rpc_failed(self, target: K, error: str) -> TargetLost[K] | None:
        """A heartbeat RPC to ``target`` failed with ``error``. Returns the loss (and stops
        watching the target) when this makes ``rpc_failure_threshold`` failures in a row."""
        watched = self._targets.get(target)
        threshold = self.settings.rpc_failure_threshold
        if watched is None:
            return None
        watched.failed_rpcs += 1
        if threshold < 1 or watched.failed_rpcs < threshold:
            return None
        del self._targets[target]
        return TargetLost(target, f"{watched.failed_rpcs} heartbeat RPCs in a row failed "
                                  f"(heartbeat.rpc-failure-threshold), the last with: {error}")

    def expired(self) -> list[TargetLost[K]]:
        """The targets not heard from for longer than ``timeout_ms``; they stop being watched."""
        now = self.clock()
        timeout = self.settings.timeout_ms
        lost = [TargetLost(target, f"no heartbeat for {now - watched.last_heartbeat_ms} ms "
                                   f"(heartbeat.timeout is {timeout} ms)")
                for target, watched in self._targets.items()
                if now - watched.last_heartbeat_ms > timeout]
        for loss in lost:
            del self._targets[loss.target]
        return lost
