"""A custom source that breaks its contract fails the job with a message that says what was
wrong, and a failing enumerator is attributed to its source and job like a failing reader."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from strom.common import WatermarkStrategy
from strom.datastream import StreamExecutionEnvironment
from strom.datastream.connectors.base import (
    Boundedness,
    InputStatus,
    ReaderOutput,
    Source,
    SourceReader,
    SourceReaderContext,
    SourceSplit,
    SplitEnumerator,
    SplitEnumeratorContext,
)
from strom.testing import CollectSink


class Boom(Exception):
    """The user's own exception type."""


@dataclass
class _Split(SourceSplit):
    def split_id(self) -> str:
        return "only"


class _Enumerator(SplitEnumerator[_Split]):
    def __init__(self, context: SplitEnumeratorContext[_Split], fail_in: str) -> None:
        self.context = context
        self.fail_in = fail_in

    def _maybe_fail(self, where: str) -> None:
        if self.fail_in == where:
            raise Boom(f"enumerator broke in {where}")

    def start(self) -> None:
        self._maybe_fail("start")

    def add_reader(self, subtask_id: int) -> None:
        self._maybe_fail("add_reader")
        self.context.assign_split(_Split(), subtask_id)
        self.context.signal_no_more_splits(subtask_id)

    def handle_split_request(self, subtask_id: int) -> None:
        pass

    def add_splits_back(self, splits: list[_Split], subtask_id: int) -> None:
        pass

    def snapshot_state(self, checkpoint_id: int) -> Any:
        return None


class _Reader(SourceReader[_Split]):
    """Emits ``batch`` (with ``timestamps``) once, returning ``first_status``, then returns
    ``status``."""

    def __init__(self, batch: list[Any], timestamps: list[int] | None, status: Any,
                 first_status: InputStatus) -> None:
        self.batch, self.timestamps, self.status = batch, timestamps, status
        self.first_status = first_status
        self.splits: list[_Split] = []
        self.done = False

    def poll_next(self, output: ReaderOutput) -> InputStatus:
        if not self.splits:
            return InputStatus.NOTHING_AVAILABLE
        if not self.done:
            self.done = True
            output.collect(self.batch, self.timestamps, "only")
            return self.first_status
        return self.status  # type: ignore[no-any-return]

    def add_splits(self, splits: list[_Split]) -> None:
        self.splits.extend(splits)

    def notify_no_more_splits(self) -> None:
        pass

    def snapshot_state(self, checkpoint_id: int) -> list[_Split]:
        return []


class BrokenSource(Source[_Split]):
    def __init__(self, fail_in: str = "", batch: list[Any] | None = None,
                 timestamps: list[int] | None = None,
                 status: Any = InputStatus.END_OF_INPUT,
                 first_status: InputStatus = InputStatus.MORE_AVAILABLE) -> None:
        self.fail_in = fail_in
        self.batch = [1, 2, 3] if batch is None else batch
        self.timestamps = timestamps
        self.status = status
        self.first_status = first_status

    def get_boundedness(self) -> Boundedness:
        return Boundedness.BOUNDED

    def create_enumerator(self, context: SplitEnumeratorContext[_Split]) -> _Enumerator:
        if self.fail_in == "create_enumerator":
            raise Boom("enumerator broke in create_enumerator")
        return _Enumerator(context, self.fail_in)

    def restore_enumerator(self, context: SplitEnumeratorContext[_Split],
                           checkpoint: Any) -> _Enumerator:
        return self.create_enumerator(context)

    def create_reader(self, context: SourceReaderContext) -> _Reader:
        return _Reader(self.batch, self.timestamps, self.status, self.first_status)


def run(env: StreamExecutionEnvironment, source: BrokenSource,
        strategy: WatermarkStrategy | None = None) -> list[Any]:
    sink = CollectSink()
    env.from_source(source, strategy or WatermarkStrategy.no_watermarks(), "broken source") \
        .sink_to(sink)
    env.execute("broken job")
    return sink.results


def test_the_fake_source_works_when_nothing_is_broken(
    strom_env: StreamExecutionEnvironment,
) -> None:
    strom_env.set_parallelism(1)
    assert run(strom_env, BrokenSource()) == [1, 2, 3]


@pytest.mark.timeout(30)  # without the check the task polls forever
@pytest.mark.parametrize("status", [None, "END_OF_INPUT", 2])
def test_poll_next_returning_no_input_status_fails_instead_of_spinning(
    strom_env: StreamExecutionEnvironment, status: Any
) -> None:
    strom_env.set_parallelism(1)
    with pytest.raises(TypeError, match=r"_Reader.poll_next\(\) of 'Source: broken source' "
                                        r"returned .*; it must return an InputStatus") as info:
        run(strom_env, BrokenSource(status=status))
    assert "Did you forget a return?" in str(info.value)
    assert any("of job 'broken job'" in note for note in info.value.__notes__)


@pytest.mark.parametrize("where", ["create_enumerator", "start", "add_reader"])
def test_enumerator_failures_name_the_source_and_the_job(
    strom_env: StreamExecutionEnvironment, where: str
) -> None:
    with pytest.raises(Boom, match=f"enumerator broke in {where}") as info:
        run(strom_env, BrokenSource(fail_in=where))
    assert ("strom: raised in the split enumerator of 'Source: broken source' of job "
            "'broken job' (in the JobManager)") in info.value.__notes__


def test_a_failing_call_async_handler_names_the_source_and_the_job() -> None:
    from strom.jobmanager.source_coordinator import SourceCoordinator

    class PeriodicEnumerator(_Enumerator):
        def start(self) -> None:
            self.context.call_async(lambda: 42, self.discovered)

        def discovered(self, result: Any, error: BaseException | None) -> None:
            raise Boom(f"cannot use {result}")

    class PeriodicSource(BrokenSource):
        def create_enumerator(self, context: SplitEnumeratorContext[_Split]) -> _Enumerator:
            return PeriodicEnumerator(context, "")

    def run_now(callable: Any, handler: Any, initial_delay_ms: int, period_ms: int) -> None:
        handler(callable(), None)  # what the JobMaster does, later, on its loop

    coordinator = SourceCoordinator(PeriodicSource(), 1, lambda subtask, event: None, run_now,
                                    source_name="Source: periodic", job_name="job")
    with pytest.raises(Boom, match="cannot use 42") as info:
        coordinator.start()
    assert info.value.__notes__ == [
        "strom: raised in the split enumerator of 'Source: periodic' of job 'job' "
        "(in the JobManager)"
    ]
