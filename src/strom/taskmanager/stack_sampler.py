"""Samples the Python stacks of the slot threads running given tasks: the TaskManager's half
of flame graphs (Flink's thread info sampling, ``TaskExecutorThreadInfoGateway``).

Nothing is sampled unless the JobManager asks. A request names tasks of this TaskExecutor;
a short-lived thread then takes at most ``num_samples`` samples ``delay_ms`` apart (ending
early once the tasks have ended) and answers the identical stacks counted, while the event
loop goes on serving RPCs. A sample of a slot thread counts for a task when the thread
steps that task (the :attr:`SlotThread.current_task` marker says which), or for every asked
task of the slot when the thread sleeps: then all of them wait.

**ON_CPU and OFF_CPU.** Python has no thread states like Java's RUNNABLE and WAITING; strom
defines them as follows. A sample is OFF_CPU when the slot thread

* sleeps in its wait for work (no task has input, credit, a due timer or mail: the frame is
  ``SlotThread._run``), or
* steps the task but ran on a CPU, or waited in the kernel's run queue for one, less than
  :data:`ON_CPU_SHARE` (10 %) of the time since the previous sample (``delay_ms``): it is
  blocked in a call that released the GIL (``time.sleep``, a socket or file read, a lock, a
  subprocess). Linux tells both times (``/proc/self/task/<tid>/schedstat``); elsewhere the
  thread's CPU clock (``pthread_getcpuclockid``) tells the first only, so an oversubscribed
  machine may show computing threads OFF_CPU there.

Every other sample is ON_CPU. Where the platform has neither clock, only the first rule
applies. A thread that computes in a C extension without the GIL counts as ON_CPU, and
so does one that waits for the GIL while other threads of the process compute (it still gets
its share of it), as Java counts such threads RUNNABLE. The CPU time covers the interval
before the sample, not its instant: a function that computes and sleeps by turns within one
interval counts as ON_CPU throughout.

Frames are named ``function (file:line)``: the function's qualified name and its file,
relative to the ``sys.path`` entry it was imported from (``strom/runtime/task.py``), or its
base name. Stacks start at the slot thread's loop (the threading module's bootstrap frames
below it are left out) and keep the innermost ``max_depth`` frames.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import os
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from types import CodeType, FrameType
from typing import Any, Protocol

from strom.common.job import JobID
from strom.graph.ids import AllocationID, ExecutionAttemptID
from strom.rpc.messages import ThreadInfoSample
from strom.runtime.task import Task
from strom.taskmanager.slot_thread import SlotThread

__all__ = ["ON_CPU_SHARE", "SamplingTarget", "StackSampler",
           "ThreadInfoSampling", "check_sampling_request", "is_on_cpu", "short_path"]

#: the share of the time since the previous sample a stepping thread must have run on a CPU
#: (or waited for one) to count as ON_CPU. A thread blocked in a call that released the GIL
#: has next to none; a computing one all of it, or its share of the GIL when several threads
#: of the process compute (about 1/n for n of them).
ON_CPU_SHARE = 0.1
#: below this time since the previous sample (``delay_ms`` of 0) the CPU clock says nothing
_MIN_WINDOW_MS = 1.0
#: names remembered per code object, at most (a sampler lives for one request)
_MAX_NAMES = 10_000


def is_on_cpu(stepping: bool, runnable_ms: float | None, wall_ms: float) -> bool:
    """Whether a sample of a slot thread is ON_CPU (see the module's definition).

    ``stepping``: the thread steps a task (else it sleeps in its wait for work);
    ``runnable_ms``: how long, of the last ``wall_ms``, it ran on a CPU or waited for one
    (None: no clock tells).

    >>> is_on_cpu(False, 50.0, 50.0), is_on_cpu(True, 0.5, 50.0), is_on_cpu(True, 10.0, 50.0)
    (False, False, True)
    """
    if not stepping:
        return False
    if runnable_ms is None or wall_ms < _MIN_WINDOW_MS:
        return True
    return runnable_ms >= ON_CPU_SHARE * wall_ms


def check_sampling_request(num_samples: int, delay_ms: int, max_depth: int) -> None:
    """Refuse a request that cannot sample (with what was given)."""
    if num_samples < 1 or delay_ms < 0 or max_depth < 1:
        raise ValueError(
            f"A thread info sample needs num_samples >= 1, delay_ms >= 0 and max_depth >= 1, "
            f"got {num_samples}, {delay_ms} and {max_depth}; see rest.flamegraph.num-samples, "
            "rest.flamegraph.delay-between-samples and rest.flamegraph.stack-depth.")


def short_path(filename: str, path_entries: Iterable[str]) -> str:
    """``filename`` relative to the longest of ``path_entries`` (absolute ``sys.path``
    entries) that holds it, else its base name; pseudo-files (``<string>``) stay.

    >>> short_path("/venv/lib/strom/runtime/task.py", ["/venv", "/venv/lib"])
    'strom/runtime/task.py'
    >>> short_path("/home/me/jobs/etl.py", ["/usr/lib/python3.11"])
    'etl.py'
    """
    if filename.startswith("<"):
        return filename
    best = ""
    for entry in path_entries:
        if len(entry) > len(best) and filename.startswith(entry.rstrip(os.sep) + os.sep):
            best = entry.rstrip(os.sep)
    return filename[len(best) + 1:] if best else os.path.basename(filename)


class SampledSlot(Protocol):
    """What the sampler reads of a slot thread (from another thread)."""

    @property
    def ident(self) -> int | None: ...

    @property
    def current_task(self) -> Any: ...

    @property
    def native_id(self) -> int | None: ...


@dataclass
class SamplingTarget:
    """One slot thread and the asked tasks it runs (task object → its execution id)."""

    slot: SampledSlot
    tasks: dict[Any, ExecutionAttemptID] = field(default_factory=dict)


def _schedstat_ns(path: str) -> int | None:
    try:
        with open(path, "rb") as f:
            fields = f.read().split()
        return int(fields[0]) + int(fields[1])
    except (OSError, ValueError, IndexError):  # the thread ended
        return None


def _cpu_clock_ns(clock_id: int) -> int | None:
    try:
        return time.clock_gettime_ns(clock_id)
    except OSError:  # the thread ended
        return None


def runnable_clock(slot: SampledSlot) -> Callable[[], int | None] | None:
    """A clock of the nanoseconds the slot's thread has run on a CPU or waited in the run
    queue for one (Linux: ``/proc/self/task/<tid>/schedstat``), else of its CPU time
    (``pthread_getcpuclockid``), else None. Waiting for the GIL counts in neither: the thread
    sleeps then."""
    native_id = getattr(slot, "native_id", None)
    if native_id is not None:
        path = f"/proc/self/task/{native_id}/schedstat"
        if _schedstat_ns(path) is not None:
            return functools.partial(_schedstat_ns, path)
    getter = getattr(time, "pthread_getcpuclockid", None)
    if slot.ident is None or getter is None:
        return None
    try:
        clock_id: int = getter(slot.ident)
    except (OSError, ValueError, OverflowError):
        return None
    if _cpu_clock_ns(clock_id) is None:
        return None
    return functools.partial(_cpu_clock_ns, clock_id)


def _read(clock: Callable[[], int | None] | None) -> int | None:
    return None if clock is None else clock()


class StackSampler:
    """Takes the samples of one request (on a thread of its own: it sleeps between them).

    ``root_code``: the outermost frame to keep (the slot thread's loop); ``is_running``
    tells whether a task still runs (sampling ends when none of the asked ones does).
    """

    def __init__(self, root_code: CodeType | None = None,
                 is_running: Callable[[Any], bool] = lambda task: True,
                 path_entries: Iterable[str] | None = None) -> None:
        self.root_code = root_code
        self.is_running = is_running
        entries = sys.path if path_entries is None else path_entries
        self._path_entries = [os.path.abspath(e) for e in entries if e]
        self._prefixes: dict[CodeType, str] = {}

    def frame_name(self, code: CodeType, lineno: int | None) -> str:
        """``function (file:line)``."""
        prefix = self._prefixes.get(code)
        if prefix is None:
            if len(self._prefixes) >= _MAX_NAMES:
                self._prefixes.clear()
            prefix = self._prefixes[code] = (
                f"{code.co_qualname} ({short_path(code.co_filename, self._path_entries)}")
        return f"{prefix}:{'?' if lineno is None else lineno})"

    def stack_of(self, frame: FrameType | None, max_depth: int) -> tuple[str, ...]:
        """The innermost ``max_depth`` frames from ``frame`` down to the root code,
        outermost first."""
        names: list[str] = []
        while frame is not None and len(names) < max_depth:
            code = frame.f_code
            names.append(self.frame_name(code, frame.f_lineno))
            if code is self.root_code:
                break
            frame = frame.f_back
        names.reverse()
        return tuple(names)

    def sample(self, targets: Sequence[SamplingTarget], num_samples: int, delay_ms: float,
               max_depth: int, stop: threading.Event | None = None) -> list[ThreadInfoSample]:
        """Sample the targets' slot threads ``num_samples`` times, each after ``delay_ms``;
        identical samples counted. ``stop`` ends it early (set: no more samples)."""
        stop = stop or threading.Event()
        clocks = [runnable_clock(t.slot) for t in targets]
        counts: Counter[tuple[ExecutionAttemptID, tuple[str, ...], bool]] = Counter()
        runnable_before = [_read(clock) for clock in clocks]
        started = time.perf_counter()
        for _ in range(num_samples):
            if stop.wait(delay_ms / 1000.0):
                break
            runnable_now = [_read(clock) for clock in clocks]
            now = time.perf_counter()
            wall_ms = (now - started) * 1000.0
            frames = sys._current_frames()
            try:
                for target, before, after in zip(targets, runnable_before, runnable_now):
                    runnable_ms = None if before is None or after is None \
                        else (after - before) / 1e6
                    self._take(target, frames, runnable_ms, wall_ms, max_depth, counts)
            finally:
                del frames  # frames reference their threads' locals
            runnable_before, started = runnable_now, now
            if not any(self.is_running(task) for t in targets for task in t.tasks):
                break
        return [ThreadInfoSample(execution_id, list(stack), on_cpu, count)
                for (execution_id, stack, on_cpu), count in counts.items()]

    def _take(self, target: SamplingTarget, frames: dict[int, FrameType],
              runnable_ms: float | None, wall_ms: float, max_depth: int,
              counts: Counter[tuple[ExecutionAttemptID, tuple[str, ...], bool]]) -> None:
        ident = target.slot.ident
        frame = None if ident is None else frames.get(ident)
        if frame is None:
            return
        current = target.slot.current_task
        if current is None:  # asleep: every asked task of the slot waits
            owners = [eid for task, eid in target.tasks.items() if self.is_running(task)]
            on_cpu = False
        else:
            execution_id = target.tasks.get(current)
            if execution_id is None:  # it steps a task nobody asked about
                return
            owners = [execution_id]
            on_cpu = is_on_cpu(True, runnable_ms, wall_ms)
        if not owners:
            return
        stack = self.stack_of(frame, max_depth)
        for execution_id in owners:
            counts[(execution_id, stack, on_cpu)] += 1


class ThreadInfoSampling:
    """The TaskExecutor's RPC for flame graphs (a mixin of
    :class:`~strom.taskmanager.task_executor.TaskExecutor`)."""

    # the TaskExecutor's, read on its loop
    name: str
    tasks: dict[ExecutionAttemptID, Task]
    allocations: dict[AllocationID, tuple[int, JobID, str]]
    slot_threads: list[SlotThread]

    async def request_thread_info_samples(
        self, execution_ids: list[ExecutionAttemptID], num_samples: int, delay_ms: int,
        max_depth: int,
    ) -> list[ThreadInfoSample]:
        """Samples of the slot threads running these tasks (those deployed here; others are
        left out): at most ``num_samples``, ``delay_ms`` apart, ``max_depth`` frames each.
        Answers when the samples are taken."""
        check_sampling_request(num_samples, delay_ms, max_depth)
        targets = self._sampling_targets(execution_ids)
        if not targets:
            return []
        sampler = StackSampler(SlotThread._run.__code__,
                               is_running=lambda task: not task.state.is_terminal)
        done: concurrent.futures.Future[list[ThreadInfoSample]] = concurrent.futures.Future()
        stop = threading.Event()

        def run() -> None:
            try:
                done.set_result(sampler.sample(targets, num_samples, delay_ms, max_depth, stop))
            except BaseException as e:
                done.set_exception(e)

        threading.Thread(target=run, name=f"strom-stack-sampler-{self.name}",
                         daemon=True).start()
        try:
            return await asyncio.wrap_future(done)
        finally:
            stop.set()  # cancelled (the TaskExecutor stops): the thread ends at once

    def _sampling_targets(self, execution_ids: Iterable[ExecutionAttemptID]
                          ) -> list[SamplingTarget]:
        by_slot: dict[int, SamplingTarget] = {}
        for execution_id in execution_ids:
            task = self.tasks.get(execution_id)
            allocation = None if task is None else self.allocations.get(task.tdd.allocation_id)
            if task is None or allocation is None:
                continue
            index = allocation[0]
            target = by_slot.get(index)
            if target is None:
                target = by_slot[index] = SamplingTarget(self.slot_threads[index])
            target.tasks[task] = execution_id
        return list(by_slot.values())
