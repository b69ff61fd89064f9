"""pytest fixtures for strom pipelines. Enable with ``pytest_plugins =
["strom.testing.pytest_plugin"]``.

* ``strom_env`` — a StreamExecutionEnvironment on a shared MiniCluster, once with
  parallelism 1 and once with 2 (every test using it runs twice);
* ``strom_parallelism`` — that parallelism;
* ``manual_clock`` + ``strom_env_manual_clock`` — the same on a cluster whose processing time
  only moves with ``manual_clock.advance(ms)``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from strom.datastream.stream_execution_environment import StreamExecutionEnvironment
from strom.testing.clock import ManualClock
from strom.testing.cluster import MiniClusterFixture


@pytest.fixture(params=[1, 2], ids=["p1", "p2"])
def strom_parallelism(request: Any) -> int:
    return int(request.param)


@pytest.fixture
def strom_env(strom_parallelism: int) -> Iterator[StreamExecutionEnvironment]:
    with MiniClusterFixture(parallelism=strom_parallelism):
        yield StreamExecutionEnvironment.get_execution_environment()


@pytest.fixture
def manual_clock() -> ManualClock:
    return ManualClock(0)


@pytest.fixture
def strom_env_manual_clock(
    strom_parallelism: int, manual_clock: ManualClock
) -> Iterator[StreamExecutionEnvironment]:
    with MiniClusterFixture(parallelism=strom_parallelism, clock=manual_clock):
        yield StreamExecutionEnvironment.get_execution_environment()
