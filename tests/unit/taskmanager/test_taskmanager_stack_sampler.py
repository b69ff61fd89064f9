"""The stack sampler on real threads: a computing thread's samples are ON_CPU and name its
function and file, a sleeping one's OFF_CPU, a slot asleep in its wait counts OFF_CPU for
each asked task, the depth is bounded, and sampling ends with the tasks."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from strom.graph.ids import ExecutionAttemptID
from strom.rpc.messages import ThreadInfoSample
from strom.runtime.task import StepResult
from strom.taskmanager.slot_thread import SlotThread
from strom.taskmanager.stack_sampler import (
    SamplingTarget,
    StackSampler,
    ThreadInfoSampling,
    check_sampling_request,
    is_on_cpu,
    short_path,
)
from strom.testing.sync import wait_until

FILE = "test_taskmanager_stack_sampler.py"


class FakeSlot:
    """A thread running ``body(stop)`` with a settable ``current_task``."""

    def __init__(self, body: Callable[[threading.Event], None], current: Any) -> None:
        self.current_task = current
        self.stop = threading.Event()
        self.thread = threading.Thread(target=body, args=(self.stop,), daemon=True)
        self.thread.start()

    @property
    def ident(self) -> int | None:
        return self.thread.ident

    @property
    def native_id(self) -> int | None:
        return self.thread.native_id

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)


def burn_cpu_for_the_sampler(stop: threading.Event) -> None:
    total = 0
    while not stop.is_set():
        for i in range(10_000):
            total += i * i


def wait_in_sleep_for_the_sampler(stop: threading.Event) -> None:
    while not stop.is_set():
        time.sleep(0.2)  # rarely awake: a wake-up waits for a CPU, which counts


def recurse_deeply_for_the_sampler(stop: threading.Event, depth: int = 30) -> None:
    if depth:
        recurse_deeply_for_the_sampler(stop, depth - 1)
    else:
        wait_in_sleep_for_the_sampler(stop)


def run_recursion_for_the_sampler(stop: threading.Event) -> None:
    recurse_deeply_for_the_sampler(stop)


@pytest.fixture
def slots() -> Iterator[list[FakeSlot]]:
    started: list[FakeSlot] = []
    yield started
    for slot in started:
        slot.close()


def _sample(slot: FakeSlot, tasks: dict[Any, ExecutionAttemptID], n: int = 10,
            max_depth: int = 100, **kwargs: Any) -> list[ThreadInfoSample]:
    sampler = StackSampler(path_entries=[], **kwargs)
    return sampler.sample([SamplingTarget(slot, tasks)], n, 10, max_depth)


def _count(samples: list[ThreadInfoSample], on_cpu: bool) -> int:
    return sum(s.count for s in samples if s.on_cpu is on_cpu)


def test_a_computing_thread_is_on_cpu_in_its_function(slots: list[FakeSlot]) -> None:
    task, eid = object(), ExecutionAttemptID()
    slots.append(slot := FakeSlot(burn_cpu_for_the_sampler, task))
    samples = _sample(slot, {task: eid})
    assert sum(s.count for s in samples) == 10
    assert {s.execution_id for s in samples} == {eid}
    assert all(s.frames[-1].startswith(f"burn_cpu_for_the_sampler ({FILE}:") for s in samples)
    # a computing thread runs (or waits for a CPU) nearly all the time: at most a stray
    # sample is taken for waiting
    assert _count(samples, True) >= 8


def test_a_thread_blocked_in_a_call_that_released_the_gil_is_off_cpu(
        slots: list[FakeSlot]) -> None:
    task, eid = object(), ExecutionAttemptID()
    slots.append(slot := FakeSlot(wait_in_sleep_for_the_sampler, task))
    samples = _sample(slot, {task: eid})
    assert _count(samples, False) == 10
    assert all(s.frames[-1].startswith(f"wait_in_sleep_for_the_sampler ({FILE}:")
               for s in samples)


def test_a_slot_asleep_waits_for_every_asked_task_and_other_tasks_are_left_out(
        slots: list[FakeSlot]) -> None:
    a, b, other = object(), object(), object()
    ids = {a: ExecutionAttemptID(), b: ExecutionAttemptID()}
    slots.append(slot := FakeSlot(burn_cpu_for_the_sampler, None))
    samples = _sample(slot, ids, n=4)
    assert {s.execution_id: s.count for s in samples} == {ids[a]: 4, ids[b]: 4}
    assert _count(samples, True) == 0  # asleep, whatever the thread's clock says
    slot.current_task = other  # it steps a task nobody asked about
    assert _sample(slot, ids, n=3) == []


def test_is_on_cpu_needs_a_stepping_thread_with_a_tenth_of_the_time() -> None:
    assert not is_on_cpu(False, 50.0, 50.0)
    assert not is_on_cpu(True, 4.9, 50.0)
    assert is_on_cpu(True, 5.0, 50.0)
    assert is_on_cpu(True, None, 50.0)  # no clock: the stepping rule only
    assert is_on_cpu(True, 0.0, 0.5)  # no time between samples to tell


def test_depth_keeps_the_innermost_frames_and_stacks_start_at_the_root_code(
        slots: list[FakeSlot]) -> None:
    task, eid = object(), ExecutionAttemptID()
    slots.append(slot := FakeSlot(run_recursion_for_the_sampler, task))
    deep = _sample(slot, {task: eid}, n=2, max_depth=5)
    assert all(len(s.frames) == 5 for s in deep)
    assert all(s.frames[-1].startswith("wait_in_sleep_for_the_sampler") for s in deep)
    whole = _sample(slot, {task: eid}, n=2,
                    root_code=run_recursion_for_the_sampler.__code__)
    # from the thread's target up (threading's frames below it are cut): the target, 31
    # recursions and the sleep
    assert whole and all(len(s.frames) == 1 + 31 + 1 for s in whole)
    assert all(s.frames[0].startswith(f"run_recursion_for_the_sampler ({FILE}:")
               for s in whole)


def test_sampling_ends_when_no_asked_task_runs(slots: list[FakeSlot]) -> None:
    task, eid = object(), ExecutionAttemptID()
    slots.append(slot := FakeSlot(wait_in_sleep_for_the_sampler, task))
    samples = _sample(slot, {task: eid}, n=1_000, is_running=lambda t: False)
    assert sum(s.count for s in samples) == 1


def test_frame_files_are_relative_to_their_sys_path_entry() -> None:
    assert short_path("/venv/site/strom/runtime/task.py", ["/venv", "/venv/site"]) == \
        "strom/runtime/task.py"
    assert short_path("/home/me/job.py", ["/usr/lib/python3.11"]) == "job.py"
    assert short_path("<string>", ["/"]) == "<string>"


def test_bad_requests_say_what_was_given() -> None:
    with pytest.raises(ValueError, match="got 0, 50 and 100"):
        check_sampling_request(0, 50, 100)
    with pytest.raises(ValueError, match=r"rest\.flamegraph\.stack-depth"):
        check_sampling_request(1, 50, 0)


class _NoTasks(ThreadInfoSampling):
    def __init__(self) -> None:
        self.name, self.tasks, self.allocations, self.slot_threads = "te", {}, {}, []


def test_tasks_not_deployed_here_get_no_samples_and_no_sampling_thread() -> None:
    before = set(threading.enumerate())
    answer = asyncio.run(_NoTasks().request_thread_info_samples([ExecutionAttemptID()], 3, 10,
                                                                10))
    assert answer == []
    assert [t.name for t in set(threading.enumerate()) - before
            if t.name.startswith("strom-stack-sampler")] == []


class _StepRecorder:
    """A task that records whether its slot marks it while it steps."""

    def __init__(self, slot: SlotThread, steps: int) -> None:
        self.slot, self.steps, self.marked = slot, steps, []
        self.waker: Any = None

    def step(self) -> StepResult:
        self.marked.append(self.slot.current_task is self)
        self.steps -= 1
        return StepResult.PROGRESS if self.steps else StepResult.DONE

    def next_wakeup(self) -> int | None:
        return None


def test_the_slot_thread_marks_the_task_it_steps_and_none_while_it_sleeps() -> None:
    slot = SlotThread("strom-slot-marker-test", clock=lambda: 0)
    slot.start()
    try:
        task = _StepRecorder(slot, 3)
        slot.add_task(task)  # type: ignore[arg-type]
        wait_until(lambda: task.steps == 0, what="the task to finish")
        assert task.marked == [True, True, True]
        wait_until(lambda: slot.current_task is None, what="the slot to sleep")
        assert slot.ident is not None and slot.native_id is not None
    finally:
        slot.stop()
