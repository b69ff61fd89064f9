"""Fixtures of the event-time integration tests: jobs started in the background that the test
drives with latches and the manual clock."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from strom.datastream import StreamExecutionEnvironment
from strom.testing import ManualClock
from strom.testing.cluster import settle_processing_time

#: how long a test waits for a job or for output before it fails (seconds)
TIMEOUT_S = 10.0


class JobRunner:
    """Starts jobs with ``execute_async`` and cancels what is still running at teardown, so a
    failing assertion never leaves a job waiting on a latch."""

    def __init__(self) -> None:
        self.clients: list[Any] = []

    def start(self, env: StreamExecutionEnvironment) -> Any:
        client = env.execute_async()
        self.clients.append(client)
        return client

    @staticmethod
    def finish(client: Any) -> None:
        """Wait for the job's end; re-raises its failure."""
        client.get_job_execution_result().result(timeout=TIMEOUT_S)

    def close(self) -> None:
        for client in self.clients:
            try:
                client.cancel().result(timeout=TIMEOUT_S)
            except Exception:
                pass


@pytest.fixture
def jobs() -> Iterator[JobRunner]:
    runner = JobRunner()
    yield runner
    runner.close()



@pytest.fixture
def advance(manual_clock: ManualClock) -> Callable[[int], None]:
    """``advance(ms)``: move the manual clock and wait until every task did the processing-time
    work due at the new time (periodic watermarks, processing-time timers)."""

    def advance_and_settle(millis: int) -> None:
        manual_clock.advance(millis)
        settle_processing_time(timeout_s=TIMEOUT_S)

    return advance_and_settle
