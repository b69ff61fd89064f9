"""A TaskExecutor's registration with the ResourceManager, retried until it is accepted
(Flink's ``RetryingRegistration``).

Each attempt may take up to its timeout, which starts at
``cluster.registration.initial-timeout`` and doubles up to ``cluster.registration.max-timeout``.
After a failed attempt (the JobManager is not up yet, or went away) the TaskExecutor waits
before the next one, from ``initial-timeout`` doubling up to ``cluster.registration.error-delay``,
so a TaskManager started before its JobManager, or one whose JobManager restarted, joins
soon after the JobManager listens.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from strom.common.config_options import (
    REGISTRATION_ERROR_DELAY,
    REGISTRATION_INITIAL_TIMEOUT,
    REGISTRATION_MAX_TIMEOUT,
)

if TYPE_CHECKING:
    from strom.common.configuration import Configuration

__all__ = ["RegistrationSettings", "backoff_delays", "register_until_accepted"]

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class RegistrationSettings:
    """The ``cluster.registration.*`` durations, in milliseconds."""

    initial_timeout_ms: int = 100
    max_timeout_ms: int = 30_000
    error_delay_ms: int = 10_000

    @classmethod
    def from_configuration(cls, configuration: Configuration) -> RegistrationSettings:
        defaults = cls()
        return cls(
            configuration.get(REGISTRATION_INITIAL_TIMEOUT) or defaults.initial_timeout_ms,
            configuration.get(REGISTRATION_MAX_TIMEOUT) or defaults.max_timeout_ms,
            configuration.get(REGISTRATION_ERROR_DELAY) or defaults.error_delay_ms,
        )


def backoff_delays(first_ms: int, cap_ms: int, attempts: int) -> list[int]:
    """The first ``attempts`` values of ``first, 2·first, 4·first, ...`` capped at ``cap``.

    >>> backoff_delays(100, 1000, 6)
    [100, 200, 400, 800, 1000, 1000]
    """
    delays, delay = [], first_ms
    for _ in range(attempts):
        delays.append(min(delay, cap_ms))
        delay = min(delay * 2, cap_ms)
    return delays


async def register_until_accepted(attempt: Callable[[], Awaitable[T]],
                                  settings: RegistrationSettings, what: str) -> T:
    """Call ``attempt`` until it returns; each call is bounded by the attempt timeout, and
    a failure waits out the error delay (see the module docstring). Cancel to give up."""
    timeout = settings.initial_timeout_ms
    delay = settings.initial_timeout_ms
    failures = 0
    while True:
        try:
            return await asyncio.wait_for(attempt(), timeout / 1000.0)
        except TimeoutError:
            log.debug("registration of %s: no answer within %d ms, trying again", what, timeout)
            timeout = min(timeout * 2, settings.max_timeout_ms)
            continue
        except Exception as e:
            failures += 1
            # the first failures are expected while the JobManager starts: keep them quiet
            level = logging.DEBUG if failures <= 3 else logging.WARNING
            log.log(level, "registration of %s failed (%s); next attempt in %d ms",
                    what, e, delay)
        await asyncio.sleep(delay / 1000.0)
        delay = min(delay * 2, settings.error_delay_ms)
