"""A MiniCluster that ``StreamExecutionEnvironment.get_execution_environment()`` uses while
it is installed — one cluster for many jobs in a test session."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import Any

from strom.datastream import stream_execution_environment as see
from strom.minicluster import MiniCluster, network_mode_from_env

__all__ = ["ClusterLeakError", "MiniClusterFixture", "processing_time_deadlines", "settle_processing_time"]


class ClusterLeakError(AssertionError):
    """A test left something running on its MiniCluster (see :class:`MiniClusterFixture`)."""


class MiniClusterFixture:
    """Starts a MiniCluster and makes new environments run their jobs on it, with
    ``parallelism`` as their default parallelism::

        with MiniClusterFixture(parallelism=2) as cluster:
            env = StreamExecutionEnvironment.get_execution_environment()
            ...
            env.execute()

    When the block ends without an exception, the fixture validates every endpoint before and
    after stopping the cluster, waiting up to ``leak_timeout_s`` for work that is still
    winding down: no slot allocated, no task deployed, no channel open, no background task,
    no unanswered call and no thread the cluster started may be left. Otherwise it raises
    :class:`ClusterLeakError` listing what was left.

    ``rpc`` picks the RPC transport (``local``, ``codec``, ``tcp``; default: ``STROM_RPC``),
    ``network`` the data plane (``local``, ``tcp``; default: ``STROM_NETWORK``); over
    ``tcp`` a fixture with parallelism > 1 has two TaskManagers unless told otherwise.
    """

    def __init__(self, parallelism: int = 1, num_task_managers: int | None = None,
                 slots: int | None = None, clock: Callable[[], int] | None = None,
                 rpc: str | None = None, leak_timeout_s: float = 10.0,
                 network: str | None = None) -> None:
        self.parallelism = parallelism
        slots_total = slots or max(4, 2 * parallelism)
        network = network or network_mode_from_env()
        if num_task_managers is None:
            # over the TCP data plane, parallel jobs spread over two TaskManagers so that
            # their channels cross TCP
            num_task_managers = 2 if network == "tcp" and parallelism > 1 else 1
        self.cluster = MiniCluster(num_task_managers,
                                   math.ceil(slots_total / num_task_managers), clock, rpc,
                                   network=network)
        self.leak_timeout_s = leak_timeout_s
        self._threads_before: set[threading.Thread] = set()

    def __enter__(self) -> MiniCluster:
        self._threads_before = set(threading.enumerate())
        self.cluster.start()
        see._context.cluster = self.cluster
        see._context.parallelism = self.parallelism
        return self.cluster

    def __exit__(self, exc_type: Any, *exc: Any) -> None:
        see._context.cluster = None
        see._context.parallelism = None
        if exc_type is not None:
            self.cluster.stop()
            return
        deadline = time.monotonic() + self.leak_timeout_s
        try:
            left = _wait_for_nothing(self.cluster.leftovers, deadline)
        finally:
            self.cluster.stop()
        left += _wait_for_nothing(self._new_threads, deadline)
        if left:
            raise ClusterLeakError(
                f"The MiniCluster was not idle {self.leak_timeout_s} s after the test "
                "ended:\n  - " + "\n  - ".join(left) + "\nWait for every job you start "
                "(get_job_execution_result().result()) or cancel it, and stop what you spawn."
            )

    def _new_threads(self) -> list[str]:
        return [f"thread {t.name!r} still runs" for t in threading.enumerate()
                if t not in self._threads_before and t.is_alive()]


def strom_threads_left(before: set[threading.Thread], timeout_s: float) -> list[str]:
    """The names of strom's threads (RPC loops, slots) started since ``before`` that are still
    alive after waiting up to ``timeout_s`` for them to end; empty when all ended."""

    def alive() -> list[str]:
        return sorted(t.name for t in threading.enumerate()
                      if t not in before and t.name.startswith("strom-") and t.is_alive())

    return _wait_for_nothing(alive, time.monotonic() + timeout_s)


def _wait_for_nothing(find: Callable[[], list[str]], deadline: float) -> list[str]:
    """Poll ``find`` until it finds nothing or ``deadline`` passes; what it found last."""
    while True:
        found = find()
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.005)


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
        task.next_processing_time for task in target.task_statuses()
        if task.state is ExecutionState.RUNNING and task.next_processing_time is not None
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
            task.name for task in target.task_statuses()
            if task.state is ExecutionState.RUNNING and task.next_processing_time is not None
            and task.next_processing_time <= now
        ]
        if not behind:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"after {timeout_s} s these tasks still had processing-time work due at {now} "
                f"ms: {behind}. Is a task blocked (backpressure, a user function that waits)?"
            )
        time.sleep(0.001)
