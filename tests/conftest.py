"""Project-wide pytest configuration: strom's own test kit (``strom_env`` and friends) and
a real ZooKeeper for the high-availability tests (``zookeeper``)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from strom.testing.zookeeper import (
    REQUIRE_ZOOKEEPER_ENV,
    ZooKeeperServer,
    zookeeper_available,
    zookeeper_jar,
)

pytest_plugins = ["strom.testing.pytest_plugin"]

_PHASE_REPORTS = pytest.StashKey[dict[str, Any]]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: Any) -> Any:
    report = yield
    item.stash.setdefault(_PHASE_REPORTS, {})[report.when] = report
    return report


@pytest.fixture
def zookeeper(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ZooKeeperServer]:
    """A running single-node ZooKeeper on a free loopback port with its data in the test's
    temporary directory; stopped (by pid) when the test ends, its log printed when the test
    failed. Skips when ZooKeeper is not installed, unless ``STROM_REQUIRE_ZOOKEEPER`` is
    set (``make test`` sets it and installs Debian's package)."""
    if not zookeeper_available():
        message = (f"ZooKeeper is not installed ({zookeeper_jar()} or java is missing): "
                   "install Debian's zookeeper package (make test does)")
        if os.environ.get(REQUIRE_ZOOKEEPER_ENV):
            pytest.fail(f"{message}; {REQUIRE_ZOOKEEPER_ENV} is set, so this test needs it.")
        pytest.skip(message)
    server = ZooKeeperServer(tmp_path / "zookeeper")
    try:
        server.start()
        yield server
    finally:
        server.stop()
        reports = request.node.stash.get(_PHASE_REPORTS, {})
        if any(report.failed for report in reports.values()):
            print(f"--- ZooKeeper's log (port {server.port}):\n{server.log()[-8000:]}")
