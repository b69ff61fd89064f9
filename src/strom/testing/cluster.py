"""A MiniCluster that ``StreamExecutionEnvironment.get_execution_environment()`` uses while
it is installed — one cluster for many jobs in a test session."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

from strom.datastream import stream_execution_environment as see
from strom.minicluster import MiniCluster

__all__ = ["MiniClusterFixture", "processing_time_deadlines", "settle_processing_time"]


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


def _target(cluster: MiniCluster | None, what: str) -> MiniCluster:
    target = cluster if cluster is not None else see._context.cluster
    if target is None:
        raise RuntimeError(
            f"{what}() needs a running MiniCluster: pass one, or call it inside a "
            "MiniClusterFixture (the strom_env fixtures install one)."
        )
    return target


def processing_time_deadlines(cluster: MiniCluster | None = None) -> list[int]:
    """When each running task of ``cluster`` (default: the fixture's) next has
    processing-time work (a timer, a periodic watermark), ascending. A test on a
    :class:`~strom.testing.ManualClock` waits for a deadline to appear to know that an operator
    has registered a timer, i.e. has processed the record that registered it::

        wait_until(lambda: 999 in processing_time_deadlines())  # the window [0, 1000) exists
        manual_clock.advance(999)
    """
    from strom.rpc.messages import ExecutionState

    target = _target(cluster, "processing_time_deadlines")
    return sorted(
        task.deadline for te in target.task_executors for task in list(te.tasks.values())
        if task.state is ExecutionState.RUNNING and task.deadline is not None
    )


def settle_processing_time(cluster: MiniCluster | None = None, timeout_s: float = 10.0) -> None:
    """Wait until every running task of ``cluster`` (default: the one a
    :class:`MiniClusterFixture` installed) has done the processing-time work due at its clock's
    current time: periodic watermarks and processing-time timers. With a
    :class:`~strom.testing.ManualClock` this makes ``clock.advance(ms)`` deterministic::

        manual_clock.advance(200)
        settle_processing_time()  # every periodic watermark due at the new time was emitted

    What those timers emit may still be travelling between tasks; wait for it at the sink.
    """
    from strom.rpc.messages import ExecutionState

    target = _target(cluster, "settle_processing_time")
    deadline = time.monotonic() + timeout_s
    while True:
        now = target.clock()
        behind = [
            task.name for te in target.task_executors for task in list(te.tasks.values())
            if task.state is ExecutionState.RUNNING and task.deadline is not None
            and task.deadline <= now
        ]
        if not behind:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"after {timeout_s} s these tasks still had processing-time work due at {now} "
                f"ms: {behind}. Is a task blocked (backpressure, a user function that waits)?"
            )
        time.sleep(0.001)
