"""The thread of one task slot: runs the slot's tasks cooperatively, a step at a time.

One slot is one thread (and, with one TaskManager process per slot, one core). Tasks of a
pipeline that share the slot hand batches to each other without thread switches. When no
task can make progress the thread sleeps until a channel, a mail or a timer wakes it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable

from strom.runtime.task import StepResult, Task

__all__ = ["SlotThread", "stop_all"]

#: the longest a slot sleeps without being woken (a safety net, not a poll interval)
MAX_SLEEP_S = 0.5


class SlotThread:
    def __init__(self, name: str, clock: Callable[[], int]) -> None:
        self.name = name
        self.clock = clock
        self._tasks: list[Task] = []
        self._incoming: list[Task] = []
        self._lock = threading.Lock()
        #: the wake-up signal: held while the thread runs, released by a wake to let its
        #: next sleep return at once. A plain lock: ``Event.set`` takes a Condition's lock,
        #: and hundreds of producers waking their consumers contended for it.
        self._permit = threading.Lock()
        self._permit.acquire()
        self._stopped = False
        self._thread: threading.Thread | None = None
        #: the task the thread steps now; None while it sleeps (the stack sampler's marker:
        #: one attribute store per step, read only while someone samples)
        self.current_task: Task | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def add_task(self, task: Task) -> None:
        task.waker = self.wake
        with self._lock:
            self._incoming.append(task)
        self.wake()

    def wake(self) -> None:
        """Make the thread step its tasks again (thread-safe, never blocks).

        The thread takes the permit back before it steps its tasks, so whatever was handed
        over before a wake is seen by that pass or the next."""
        permit = self._permit
        if permit.locked():
            try:
                permit.release()
            except RuntimeError:  # another waker released it first
                pass

    def request_stop(self) -> None:
        """Ask the thread to stop after its current step (returns at once)."""
        self._stopped = True
        self.wake()

    def join(self, timeout_s: float) -> None:
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=max(0.0, timeout_s))

    def is_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def ident(self) -> int | None:
        """The thread's identifier (the key of ``sys._current_frames()``); None before
        ``start()``."""
        return None if self._thread is None else self._thread.ident

    @property
    def native_id(self) -> int | None:
        """The operating system's id of the thread (Linux: its tid); None before
        ``start()``."""
        return None if self._thread is None else self._thread.native_id

    def stop(self, timeout_s: float = 5.0) -> None:
        self.request_stop()
        self.join(timeout_s)

    def task_count(self) -> int:
        with self._lock:
            return len(self._tasks) + len(self._incoming)

    def _run(self) -> None:
        tasks = self._tasks
        while not self._stopped:
            self._permit.acquire(blocking=False)
            if self._incoming:
                with self._lock:
                    tasks.extend(self._incoming)
                    self._incoming.clear()
            progressed = False
            for task in list(tasks):
                self.current_task = task
                result = task.step()
                if result is StepResult.PROGRESS:
                    progressed = True
                elif result is StepResult.DONE:
                    tasks.remove(task)
            if progressed:
                continue
            timeout = self._sleep_seconds(tasks)
            self.current_task = None
            self._permit.acquire(timeout=timeout)
        self.current_task = None

    def _sleep_seconds(self, tasks: list[Task]) -> float:
        earliest = None
        for task in tasks:
            due = task.next_wakeup()
            if due is not None and (earliest is None or due < earliest):
                earliest = due
        if earliest is None:
            return MAX_SLEEP_S
        delay = (earliest - self.clock()) / 1000.0
        return min(max(delay, 0.0), MAX_SLEEP_S)



def stop_all(slots: Iterable[SlotThread], grace_s: float) -> None:
    """Stop the slots' threads, waiting at most ``grace_s`` in all for them to finish.

    A thread inside a user function that blocks (sleeps, waits on I/O) cannot be interrupted;
    it is a daemon thread, so it is left behind rather than holding up shutdown or the exit
    of the process.
    """
    slots = list(slots)
    for slot in slots:
        slot.request_stop()
    deadline = time.monotonic() + grace_s
    for slot in slots:
        slot.join(deadline - time.monotonic())
