"""execute_and_collect: iterating costs no Python call per record, and an iterator dropped
without close() cancels its job and releases its threads."""

from __future__ import annotations

import gc
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from types import FrameType
from typing import Any

import pytest

from strom.common import JobStatus, WatermarkStrategy
from strom.datastream import StreamExecutionEnvironment
from strom.datastream.connectors.number_seq import NumberSequenceSource
from strom.testing import ClusterLeakError, MiniClusterFixture, wait_until


@pytest.fixture
def job_clients(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """The JobClient of every job submitted while the test runs."""
    clients: list[Any] = []
    submit = StreamExecutionEnvironment.execute_async

    def recording(self: StreamExecutionEnvironment, job_name: str | None = None) -> Any:
        client = submit(self, job_name)
        clients.append(client)
        return client

    monkeypatch.setattr(StreamExecutionEnvironment, "execute_async", recording)
    yield clients


def _endless(env: StreamExecutionEnvironment) -> Any:
    """Far more numbers than the collect buffer holds: the job runs until cancelled."""
    return env.from_source(NumberSequenceSource(0, 10**12), WatermarkStrategy.no_watermarks(),
                           "numbers")


def _status(client: Any) -> JobStatus:
    return client.get_job_status().result(timeout=5)  # type: ignore[no-any-return]


def test_a_dropped_iterator_cancels_its_job_and_its_threads_end(job_clients: list[Any]) -> None:
    threads_before = set(threading.enumerate())
    env = StreamExecutionEnvironment.get_execution_environment()  # the embedded cluster
    env.set_parallelism(1)
    it = _endless(env).execute_and_collect()
    assert next(it) == 0 and it.next() == 1
    (client,) = job_clients
    assert _status(client) is JobStatus.RUNNING

    del it
    gc.collect()

    wait_until(lambda: _status(client) is JobStatus.CANCELED, what="the job to be cancelled")
    wait_until(lambda: set(threading.enumerate()) <= threads_before,
               what="the embedded cluster's threads to end")


def test_a_dropped_iterator_cancels_its_job_on_a_shared_cluster(job_clients: list[Any]) -> None:
    with MiniClusterFixture(parallelism=1):
        env = StreamExecutionEnvironment.get_execution_environment()
        it = _endless(env).map(lambda x: x + 1).execute_and_collect()
        assert next(it) == 1
        (client,) = job_clients

        del it
        gc.collect()

        wait_until(lambda: _status(client) is JobStatus.CANCELED, what="the job to be cancelled")


def test_looping_without_keeping_the_iterator_reads_everything(job_clients: list[Any]) -> None:
    # ``for`` keeps only what iter() returned; the job must live as long as that does.
    with MiniClusterFixture(parallelism=1):
        env = StreamExecutionEnvironment.get_execution_environment()
        seen = []
        for x in env.from_collection(list(range(5000))).map(lambda x: x).execute_and_collect():
            if x % 1000 == 0:
                gc.collect()
            seen.append(x)
        assert seen == list(range(5000))
        assert _status(job_clients[0]) is JobStatus.FINISHED


def test_iterating_costs_python_calls_per_batch_not_per_record() -> None:
    records = 20_000
    with MiniClusterFixture(parallelism=1):
        env = StreamExecutionEnvironment.get_execution_environment()
        it = env.from_collection(list(range(records))).execute_and_collect()
        calls = 0

        def count(frame: FrameType, event: str, arg: Any) -> None:
            nonlocal calls
            if event == "call":
                calls += 1

        sys.setprofile(count)  # this thread only: the consumer's side
        try:
            result = list(it)
        finally:
            sys.setprofile(None)
    assert result == list(range(records))
    # about one generator step per batch of up to 1024 records, plus waiting and closing
    assert calls < records // 20, f"{calls} Python calls to iterate {records} records"


def _wait_for_a_full_buffer(client: Any) -> None:
    """Until the collect sink waits for room (the client reads nothing meanwhile)."""
    from strom.runtime.collect import _registry

    (buffer,) = _registry.values()
    wait_until(lambda: buffer._producers_waiting > 0, what="the collect sink to wait for room")
    assert _status(client) is JobStatus.RUNNING


@pytest.mark.parametrize("network", ["local", "tcp"])
def test_a_job_cancelled_while_its_collect_sink_waits_for_room_ends_promptly(
    job_clients: list[Any], network: str
) -> None:
    """The cancel wakes the sink blocked on the full buffer (and the producers waiting for
    credit, on this or another TaskManager); the iterator stays open and unread."""
    with MiniClusterFixture(parallelism=2, network=network):
        env = StreamExecutionEnvironment.get_execution_environment()
        it = _endless(env).rebalance().map(lambda x: x).set_parallelism(1) \
            .execute_and_collect()
        next(it)
        (client,) = job_clients
        _wait_for_a_full_buffer(client)
        client.cancel().result(timeout=5)
        wait_until(lambda: _status(client) is JobStatus.CANCELED, timeout_s=3.0,
                   what="the job to be cancelled while its collect sink waits for room")
        it.close()


def test_an_iterator_dropped_after_its_cluster_stopped_releases_quietly(
    job_clients: list[Any],
) -> None:
    from strom.taskmanager.task_executor import STOP_GRACE_S

    threads_before = set(threading.enumerate())
    with pytest.raises(ClusterLeakError, match="still runs"):  # the test kit notices the job
        with MiniClusterFixture(parallelism=1, leak_timeout_s=0.1):
            env = StreamExecutionEnvironment.get_execution_environment()
            it = _endless(env).execute_and_collect()
            assert next(it) == 0
            _wait_for_a_full_buffer(job_clients[0])
            stopping = time.monotonic()
    # stopping the cluster cancelled the task blocked on the full buffer: it did not wait
    # out the grace period for the slot threads
    assert time.monotonic() - stopping < STOP_GRACE_S
    escaped: list[Any] = []
    thread_hook, unraisable_hook = threading.excepthook, sys.unraisablehook
    threading.excepthook = escaped.append
    sys.unraisablehook = escaped.append
    try:
        with warnings.catch_warnings(record=True) as warned:
            warnings.simplefilter("always")
            del it
            gc.collect()
            wait_until(lambda: set(threading.enumerate()) <= threads_before,
                       what="the release thread and the blocked task thread to end")
            gc.collect()
    finally:
        threading.excepthook, sys.unraisablehook = thread_hook, unraisable_hook
    assert escaped == []  # no exception left the release thread
    assert [str(w.message) for w in warned] == []  # no coroutine was left un-awaited
