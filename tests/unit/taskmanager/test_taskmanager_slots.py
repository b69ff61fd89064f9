"""Slot threads and the TaskExecutor's hand-over from task threads to its loop."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from strom.network.environment import NetworkEnvironment
from strom.rpc.service import RpcService
from strom.runtime.task import StepResult
from strom.taskmanager import slot_thread
from strom.taskmanager.slot_thread import SlotThread
from strom.taskmanager.task_executor import TaskExecutor
from strom.testing import wait_until


class StepCounter:
    """Stands in for a Task: counts its steps and never has work of its own."""

    def __init__(self) -> None:
        self.steps = 0
        self.waker: Callable[[], None] = lambda: None

    def step(self) -> StepResult:
        self.steps += 1
        return StepResult.IDLE

    def next_wakeup(self) -> int | None:
        return None


def test_a_wake_makes_a_sleeping_slot_step_its_tasks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(slot_thread, "MAX_SLEEP_S", 300.0)  # only a wake can end the sleep
    slot = SlotThread("test-slot", lambda: 0)
    task = StepCounter()
    slot.start()
    try:
        slot.add_task(task)  # type: ignore[arg-type]
        wait_until(lambda: task.steps >= 1, timeout_s=10)
        for round_ in range(3):
            steps = task.steps
            task.waker()  # what a channel calls when data arrives
            wait_until(lambda steps=steps: task.steps > steps,  # type: ignore[misc]
                       timeout_s=10, what=f"wake {round_} to make the slot step")
    finally:
        slot.stop()


def test_many_threads_can_wake_a_slot_at_once_without_blocking() -> None:
    slot = SlotThread("test-slot", lambda: 0)
    task = StepCounter()
    slot.start()
    errors: list[BaseException] = []

    def hammer() -> None:
        try:
            for _ in range(20_000):
                slot.wake()
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    try:
        slot.add_task(task)  # type: ignore[arg-type]
        threads = [threading.Thread(target=hammer) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert not errors
        steps = task.steps
        slot.wake()
        wait_until(lambda: task.steps > steps, timeout_s=10)
    finally:
        slot.stop()


def test_calls_from_task_threads_reach_the_loop_in_order_sharing_wake_ups() -> None:
    rpc = RpcService()
    try:
        te = TaskExecutor(rpc, "local://resourcemanager", 1, NetworkEnvironment(), lambda: 0)
        wake_ups = 0
        call_soon = rpc.call_soon

        def counting_call_soon(fn: Callable[..., Any], *args: Any) -> None:
            nonlocal wake_ups
            wake_ups += 1
            call_soon(fn, *args)

        rpc.call_soon = counting_call_soon  # type: ignore[method-assign]
        received: list[tuple[int, int]] = []
        on_loop: list[bool] = []

        def record(thread: int, n: int) -> None:
            on_loop.append(threading.current_thread() is rpc._thread)
            received.append((thread, n))

        def report(thread: int) -> None:
            for n in range(500):
                te._from_task_thread(record, thread, n)

        threads = [threading.Thread(target=report, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        wait_until(lambda: len(received) == 2000, timeout_s=30)
        for thread in range(4):
            assert [n for t, n in received if t == thread] == list(range(500))
        assert all(on_loop)
        assert wake_ups < 2000, "every call woke the loop on its own"
    finally:
        rpc.stop()


def test_stopping_slots_waits_for_them_together_not_one_after_another() -> None:
    release = threading.Event()
    entered: list[int] = []

    class Stuck(StepCounter):
        def step(self) -> StepResult:  # a user function that does not return for a while
            entered.append(1)
            release.wait(30)
            return StepResult.DONE

    slots = [SlotThread(f"stuck-{i}", lambda: 0) for i in range(8)]
    for slot in slots:
        slot.start()
        slot.add_task(Stuck())  # type: ignore[arg-type]
    try:
        wait_until(lambda: len(entered) == len(slots), timeout_s=30)
        started = time.monotonic()
        slot_thread.stop_all(slots, grace_s=1.0)
        # one grace period for all of them; in turn it would be 8 of them
        assert time.monotonic() - started < 6.0, "each stuck slot was waited for in turn"
        assert all(slot.is_alive() for slot in slots), "the stuck steps cannot be interrupted"
    finally:
        release.set()
        for slot in slots:
            slot.stop()
    assert not any(slot.is_alive() for slot in slots)
