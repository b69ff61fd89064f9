"""In-process fakes for driving enumerators, readers and writers without a runtime."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from strom.datastream.connectors.base import (
    InputStatus,
    Source,
    SourceReader,
    SplitEnumerator,
)


class FakeEnumeratorContext:
    """Routes assignments straight to registered readers and records them."""

    def __init__(self, parallelism: int) -> None:
        self.parallelism = parallelism
        self.readers: dict[int, SourceReader[Any]] = {}
        self.assignments: list[tuple[str, int]] = []
        self.no_more_splits: list[int] = []
        self.async_calls: list[tuple[Callable[[], Any], Callable[[Any, Any], None], int, int]] = []

    def current_parallelism(self) -> int:
        return self.parallelism

    def registered_readers(self) -> list[int]:
        return sorted(self.readers)

    def assign_split(self, split: Any, subtask_id: int) -> None:
        self.assignments.append((split.split_id(), subtask_id))
        self.readers[subtask_id].add_splits([split])

    def signal_no_more_splits(self, subtask_id: int) -> None:
        self.no_more_splits.append(subtask_id)
        self.readers[subtask_id].notify_no_more_splits()

    def send_event_to_source_reader(self, subtask_id: int, event: Any) -> None:
        self.readers[subtask_id].handle_source_event(event)


class FakeEnumeratorContextWithCallAsync(FakeEnumeratorContext):
    """Also records periodic ``call_async`` registrations, to be fired by hand."""

    def call_async(
        self,
        callable: Callable[[], Any],
        handler: Callable[[Any, Any], None],
        initial_delay_ms: int,
        period_ms: int,
    ) -> None:
        self.async_calls.append((callable, handler, initial_delay_ms, period_ms))

    def fire_async_calls(self) -> None:
        for callable, handler, _, _ in self.async_calls:
            try:
                result = callable()
            except Exception as error:
                handler(None, error)
            else:
                handler(result, None)


class FakeReaderContext:
    def __init__(self, subtask: int, parallelism: int) -> None:
        self.subtask = subtask
        self.parallelism = parallelism
        self.enumerator: SplitEnumerator[Any] | None = None
        self.requests = 0

    def index_of_subtask(self) -> int:
        return self.subtask

    def number_of_parallel_subtasks(self) -> int:
        return self.parallelism

    def send_split_request(self) -> None:
        self.requests += 1
        assert self.enumerator is not None
        self.enumerator.handle_split_request(self.subtask)

    def send_source_event(self, event: Any) -> None:
        assert self.enumerator is not None
        self.enumerator.handle_source_event(self.subtask, event)


class CollectingOutput:
    def __init__(self) -> None:
        self.batches: list[tuple[list[Any], Any, str | None]] = []

    def collect(
        self, values: list[Any], timestamps: list[int] | None = None, split_id: str | None = None
    ) -> None:
        self.batches.append((list(values), timestamps, split_id))

    @property
    def values(self) -> list[Any]:
        return [value for batch, _, _ in self.batches for value in batch]


class Wiring:
    """An enumerator and its readers connected through the fake contexts."""

    def __init__(
        self,
        source: Source[Any],
        parallelism: int,
        enumerator_state: Any = None,
        reader_states: Sequence[list[Any]] | None = None,
        context: FakeEnumeratorContext | None = None,
        start: bool = True,
    ) -> None:
        self.context = context or FakeEnumeratorContext(parallelism)
        if enumerator_state is None:
            self.enumerator = source.create_enumerator(self.context)
        else:
            self.enumerator = source.restore_enumerator(self.context, enumerator_state)
        self.enumerator.start()
        self.readers: list[SourceReader[Any]] = []
        self.outputs: list[CollectingOutput] = []
        for subtask in range(parallelism):
            reader_context = FakeReaderContext(subtask, parallelism)
            reader_context.enumerator = self.enumerator
            reader = source.create_reader(reader_context)
            if reader_states is not None and reader_states[subtask]:
                reader.add_splits(list(reader_states[subtask]))
            self.context.readers[subtask] = reader
            self.enumerator.add_reader(subtask)
            self.readers.append(reader)
            self.outputs.append(CollectingOutput())
        if start:
            for reader in self.readers:
                reader.start()

    def poll_round(self) -> list[InputStatus]:
        """One ``poll_next`` on every reader, in subtask order."""
        return [reader.poll_next(out) for reader, out in zip(self.readers, self.outputs)]

    def run_to_end(self, max_rounds: int = 10_000) -> list[list[Any]]:
        finished = [False] * len(self.readers)
        for _ in range(max_rounds):
            for index, status in enumerate(self.poll_round()):
                if status is InputStatus.END_OF_INPUT:
                    finished[index] = True
                assert status is not InputStatus.NOTHING_AVAILABLE or not finished[index]
            if all(finished):
                return [out.values for out in self.outputs]
        raise AssertionError(f"readers did not finish in {max_rounds} rounds")

    def poll_until_idle(self, max_rounds: int = 10_000) -> None:
        """Poll until no reader has anything available (continuous sources)."""
        for _ in range(max_rounds):
            statuses = self.poll_round()
            if all(status is not InputStatus.MORE_AVAILABLE for status in statuses):
                return
        raise AssertionError(f"readers still busy after {max_rounds} rounds")

    def snapshot(self, checkpoint_id: int = 1) -> tuple[Any, list[list[Any]]]:
        return (
            self.enumerator.snapshot_state(checkpoint_id),
            [reader.snapshot_state(checkpoint_id) for reader in self.readers],
        )


class FakeWriterContext:
    """A sink writer context with a hand-driven processing-time clock."""

    def __init__(self, now: int = 0, subtask: int = 0, parallelism: int = 1) -> None:
        self.now = now
        self.subtask = subtask
        self.parallelism = parallelism

    def index_of_subtask(self) -> int:
        return self.subtask

    def number_of_parallel_subtasks(self) -> int:
        return self.parallelism

    def attempt_number(self) -> int:
        return 0

    def current_processing_time(self) -> int:
        return self.now
