"""A MiniCluster that ``StreamExecutionEnvironment.get_execution_environment()`` uses while
it is installed — one cluster for many jobs in a test session."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from strom.datastream import stream_execution_environment as see
from strom.minicluster import MiniCluster

__all__ = ["MiniClusterFixture"]


class MiniClusterFixture:
    """Starts a MiniCluster and makes new environments run their jobs on it, with
    ``parallelism`` as their default parallelism::

        with MiniClusterFixture(parallelism=2) as cluster:
            env = StreamExecutionEnvironment.get_execution_environment()
            ...
            env.execute()
    """

    def __init__(self, parallelism: int = 1, num_task_managers: int = 1,
                 slots: int | None = None, clock: Callable[[], int] | None = None) -> None:
        self.parallelism = parallelism
        slots_total = slots or max(4, 2 * parallelism)
        self.cluster = MiniCluster(num_task_managers,
                                   math.ceil(slots_total / num_task_managers), clock)

    def __enter__(self) -> MiniCluster:
        self.cluster.start()
        see._context.cluster = self.cluster
        see._context.parallelism = self.parallelism
        return self.cluster

    def __exit__(self, *exc: Any) -> None:
        see._context.cluster = None
        see._context.parallelism = None
        self.cluster.stop()
