"""Jobs with a parallelism far above the cores: they run, and strom says they are too wide."""

from __future__ import annotations

import os
import threading
import warnings

import pytest

from strom.datastream import StreamExecutionEnvironment
from strom.testing import CollectSink


def _job(parallelism: int, sink: CollectSink) -> StreamExecutionEnvironment:
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(parallelism)
    env.from_collection(list(range(500))).map(lambda x: (x % 7, 1)) \
        .key_by(lambda t: t[0]).reduce(lambda a, b: (a[0], a[1] + b[1])).sink_to(sink)
    return env


def test_a_parallelism_far_above_the_cores_warns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    sink = CollectSink()
    with pytest.warns(UserWarning, match=r"needs 9 task slots but this machine has 2 CPU") as w:
        _job(9, sink).execute("too wide")
    assert w[0].filename == __file__
    assert len(sink.results) == 500


def test_a_parallelism_near_the_cores_does_not_warn(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    sink = CollectSink()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _job(8, sink).execute("wide enough")
    assert len(sink.results) == 500


@pytest.mark.slow
def test_a_wide_all_to_all_job_runs_and_leaves_no_threads_behind() -> None:
    before = threading.active_count()
    sink = CollectSink()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _job(96, sink).execute("wide")
    finals = {}
    for key, count in sink.results:
        finals[key] = max(finals.get(key, 0), count)
    assert finals == {k: sum(1 for x in range(500) if x % 7 == k) for k in range(7)}
    assert threading.active_count() <= before + 1


def _channel_polls(parallelism: int, monkeypatch: pytest.MonkeyPatch) -> int:
    from strom.network.local_channel import LocalChannel

    polls = 0
    poll = LocalChannel.poll

    def counting_poll(self: LocalChannel) -> object:
        nonlocal polls
        polls += 1
        return poll(self)

    monkeypatch.setattr(LocalChannel, "poll", counting_poll)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _job(parallelism, CollectSink()).execute(f"p{parallelism}")
    monkeypatch.setattr(LocalChannel, "poll", poll)
    return polls


def test_reading_grows_with_the_channels_not_faster(monkeypatch: pytest.MonkeyPatch) -> None:
    """An all-to-all edge has p² channels, each carrying a few elements; a task that scanned
    all its p channels whenever it woke made the reading side grow with p³."""
    small, large = _channel_polls(8, monkeypatch), _channel_polls(40, monkeypatch)
    assert large / small < 35, (small, large)  # 25 for p² channels; with the scan, 60+


def test_the_job_master_submits_all_tasks_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """One round trip after the other made deployment crawl when hundreds of task threads
    competed with the RPC loop for the GIL: the submissions are in flight together."""
    import asyncio

    from strom.taskmanager.task_executor import TaskExecutor

    in_flight = most = 0
    submit = TaskExecutor.submit_task

    async def counting_submit(self: TaskExecutor, tdd: object) -> None:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        await asyncio.sleep(0)  # a remote TaskExecutor answers later
        try:
            await submit(self, tdd)  # type: ignore[arg-type]
        finally:
            in_flight -= 1

    monkeypatch.setattr(TaskExecutor, "submit_task", counting_submit)
    sink = CollectSink()
    _job(6, sink).execute("deployed at once")
    assert len(sink.results) == 500
    assert most == 1 + 6 + 6  # the source, the maps and the reducers


def test_a_cancel_that_overtakes_the_submissions_still_cancels_every_task(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import asyncio
    import time

    from test_integration_execution import UnboundedSource, wait_for_status

    from strom.common import JobStatus
    from strom.taskmanager.task_executor import TaskExecutor
    from strom.testing import MiniClusterFixture

    submitting = threading.Event()
    submit = TaskExecutor.submit_task

    async def slow_submit(self: TaskExecutor, tdd: object) -> None:
        submitting.set()
        await asyncio.sleep(0.2)  # the cancel reaches the TaskExecutor first
        await submit(self, tdd)  # type: ignore[arg-type]

    monkeypatch.setattr(TaskExecutor, "submit_task", slow_submit)
    with MiniClusterFixture(parallelism=2):
        env = StreamExecutionEnvironment.get_execution_environment()
        UnboundedSource.stream(env).map(lambda x: x).sink_to(CollectSink())
        client = env.execute_async("cancelled while deploying")
        deadline = time.monotonic() + 30
        while not submitting.is_set():
            assert time.monotonic() < deadline, "the job was never deployed"
            time.sleep(0.001)
        client.cancel().result(timeout=10)
        wait_for_status(client, JobStatus.CANCELED, timeout_s=30)
