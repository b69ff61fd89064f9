"""pytest fixtures for strom pipelines. Enable with ``pytest_plugins =
["strom.testing.pytest_plugin"]``.

* ``strom_env`` — a StreamExecutionEnvironment on a shared MiniCluster, once with
  parallelism 1 and once with 2 (every test using it runs twice);
* ``strom_parallelism`` — that parallelism;
* ``manual_clock`` + ``strom_env_manual_clock`` — the same on a cluster whose processing time
  only moves with ``manual_clock.advance(ms)``.

``--strom-rpc=local|codec|tcp`` picks the RPC transport of every MiniCluster the tests start
(also the embedded ones ``execute()`` starts); the default is the ``STROM_RPC`` environment
variable, else ``local``. ``codec`` sends every call through the TCP codec in one process,
so a gateway argument that could not cross a process boundary fails the test.
``--strom-network=local|tcp`` picks the data plane (default: ``STROM_NETWORK``, else
``local``): with ``tcp`` every TaskExecutor has its own data port, fixtures with
parallelism > 1 run on two TaskExecutors, and their channels cross loopback TCP. Every fixture
cluster is validated when its test ends (see :class:`~strom.testing.MiniClusterFixture`), and
after every test no thread of a strom cluster it started may be left. The embedded clusters
``execute()`` starts run their TaskManagers in-thread (``STROM_LOCAL_TASKMANAGERS=thread``)
unless a test sets ``execution.local.taskmanagers: process``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from strom.datastream.stream_execution_environment import (
    LOCAL_TASKMANAGERS_ENV,
    StreamExecutionEnvironment,
)
from strom.minicluster import NETWORK_MODE_ENV
from strom.rpc.service import RPC_MODE_ENV
from strom.testing.clock import ManualClock
from strom.testing.cluster import MiniClusterFixture, strom_threads_left

#: how long a test's clusters may take to stop after it ends
LEFTOVER_THREAD_TIMEOUT_S = 10.0


def pytest_addoption(parser: Any) -> None:
    parser.addoption(
        "--strom-rpc", choices=["local", "codec", "tcp"], default=None,
        help=f"RPC transport of strom's MiniClusters (default: ${RPC_MODE_ENV} or local)",
    )
    parser.addoption(
        "--strom-network", choices=["local", "tcp"], default=None,
        help=f"data plane of strom's MiniClusters (default: ${NETWORK_MODE_ENV} or local)",
    )


def pytest_configure(config: Any) -> None:
    mode = config.getoption("--strom-rpc", default=None)
    if mode:
        os.environ[RPC_MODE_ENV] = mode
    network = config.getoption("--strom-network", default=None)
    if network:
        os.environ[NETWORK_MODE_ENV] = network
    # tests run the embedded cluster in-thread unless they ask for processes
    os.environ.setdefault(LOCAL_TASKMANAGERS_ENV, "thread")


def pytest_report_header(config: Any) -> str:
    return (f"strom RPC transport: {os.environ.get(RPC_MODE_ENV) or 'local'}, data plane: "
            f"{os.environ.get(NETWORK_MODE_ENV) or 'local'}")


@pytest.fixture(autouse=True)
def _strom_clusters_stopped() -> Iterator[None]:
    """Every test: each strom cluster it started (an embedded one of ``execute()`` too) has
    stopped when the test ends, i.e. no RPC or slot thread it started is left."""
    before = set(threading.enumerate())
    yield
    left = strom_threads_left(before, LEFTOVER_THREAD_TIMEOUT_S)
    if left:
        pytest.fail(
            f"strom threads still run {LEFTOVER_THREAD_TIMEOUT_S} s after the test: {left}. "
            "Stop every MiniCluster the test starts (use it as a context manager) and wait "
            "for or close every JobClient.", pytrace=False,
        )


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
