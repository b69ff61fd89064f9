"""The thread of one task slot: runs the slot's tasks cooperatively, a step at a time.

One slot is one thread (and, with one TaskManager process per slot, one core). Tasks of a
pipeline that share the slot hand batches to each other without thread switches. When no
task can make progress the thread sleeps until a channel, a mail or a timer wakes it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from strom.runtime.task import StepResult, Task

__all__ = ["SlotThread"]

#: the longest a slot sleeps without being woken (a safety net, not a poll interval)
MAX_SLEEP_S = 0.5


class SlotThread:
    def __init__(self, name: str, clock: Callable[[], int]) -> None:
        self.name = name
        self.clock = clock
        self._tasks: list[Task] = []
        self._incoming: list[Task] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopped = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def add_task(self, task: Task) -> None:
        task.waker = self._wake.set
        with self._lock:
            self._incoming.append(task)
        self._wake.set()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stopped = True
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    def task_count(self) -> int:
        with self._lock:
            return len(self._tasks) + len(self._incoming)

    def _run(self) -> None:
        tasks = self._tasks
        while not self._stopped:
            self._wake.clear()
            if self._incoming:
                with self._lock:
                    tasks.extend(self._incoming)
                    self._incoming.clear()
            progressed = False
            for task in list(tasks):
                result = task.step()
                if result is StepResult.PROGRESS:
                    progressed = True
                elif result is StepResult.DONE:
                    tasks.remove(task)
            if progressed:
                continue
            self._wake.wait(self._sleep_seconds(tasks))

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

