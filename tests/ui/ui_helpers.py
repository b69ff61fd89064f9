"""Helpers of the web UI tests: Chromium's path and flags, screenshots, waits, and a
streaming job that keeps running (and counting) until cancelled.

Screenshots go to ``tests/ui/artifacts/`` (git-ignored); each test prints their paths.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from strom.common import WatermarkStrategy
from strom.connectors import NumberSequenceSource
from strom.datastream import StreamExecutionEnvironment

CHROMIUM = os.environ.get("STROM_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).parent / "artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]


def screenshot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")
    return path


def running_job_graph(name: str = "web ui job", parallelism: int = 2) -> Any:
    """A streaming job (source → map → key_by → filter → sink) that runs for hours. Its
    functions are local, so that they travel by value to TaskManager processes too."""

    def slow(x: int) -> int:
        # a few hundred records a second: a running job's counts move between refreshes
        time.sleep(0.002)
        return x

    def keep(x: int) -> bool:
        return x % 1000 == 0

    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(parallelism)
    env.enable_checkpointing(60_000)
    numbers = env.from_source(NumberSequenceSource(0, 10**9), WatermarkStrategy.no_watermarks(),
                              "numbers")
    (numbers.map(slow).name("slow map")
     .key_by(lambda x: x % 16).filter(keep).name("filter")
     .print().name("print sink").set_parallelism(1))
    return env._job_graph(name)


def wait_for(condition: Callable[[], Any], what: str, timeout_s: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.05)
