"""Runs a source's SplitEnumerator in the JobMaster and talks to the source readers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from strom.runtime.operators.source import (
    AddSplitsEvent,
    NoMoreSplitsEvent,
    ReaderRegistrationEvent,
    RequestSplitEvent,
    SourceEventWrapper,
)

__all__ = ["SourceCoordinator"]


class _EnumeratorContext:
    def __init__(self, coordinator: SourceCoordinator) -> None:
        self._c = coordinator

    def current_parallelism(self) -> int:
        return self._c.parallelism

    def registered_readers(self) -> list[int]:
        return sorted(self._c.readers)

    def assign_split(self, split: Any, subtask_id: int) -> None:
        self._c.assigned.setdefault(subtask_id, []).append(split)
        self._c.send(subtask_id, AddSplitsEvent([split]))

    def signal_no_more_splits(self, subtask_id: int) -> None:
        self._c.send(subtask_id, NoMoreSplitsEvent())

    def send_event_to_source_reader(self, subtask_id: int, event: Any) -> None:
        self._c.send(subtask_id, SourceEventWrapper(event))

    def call_async(
        self,
        callable: Callable[[], Any],
        handler: Callable[[Any, BaseException | None], None],
        initial_delay_ms: int = 0,
        period_ms: int = 0,
    ) -> None:
        """Flink's ``callAsync``: run ``callable`` off the JobMaster's loop (it may block on
        I/O), then ``handler(result, error)`` on the loop; every ``period_ms`` when > 0."""
        coordinator = self._c

        def noted_handler(result: Any, error: BaseException | None) -> None:
            with coordinator.attributed():
                handler(result, error)

        coordinator.schedule_async(callable, noted_handler, initial_delay_ms, period_ms)


class SourceCoordinator:
    """The OperatorCoordinator of one source vertex.

    What the source's enumerator raises (also ``create_enumerator`` and ``call_async``
    handlers) carries a note naming the source and the job, like a reader's failure does.
    """

    def __init__(
        self,
        source: Any,
        parallelism: int,
        send: Callable[[int, Any], None],
        schedule_async: Callable[..., None],
        source_name: str = "Source",
        job_name: str = "",
    ) -> None:
        self.source = source
        self.parallelism = parallelism
        self.send = send
        self.schedule_async = schedule_async
        self.source_name = source_name
        self.job_name = job_name
        self.readers: set[int] = set()
        self.assigned: dict[int, list[Any]] = {}
        with self.attributed():
            self.enumerator = source.create_enumerator(_EnumeratorContext(self))

    @contextmanager
    def attributed(self) -> Iterator[None]:
        """Add a note naming the source and the job to what the enumerator raises."""
        try:
            yield
        except BaseException as e:
            note = (f"strom: raised in the split enumerator of '{self.source_name}' "
                    f"of job '{self.job_name}' (in the JobManager)")
            if note not in getattr(e, "__notes__", []):
                e.add_note(note)
            raise

    def start(self) -> None:
        with self.attributed():
            self.enumerator.start()

    def handle_event(self, subtask: int, event: Any) -> None:
        with self.attributed():
            if isinstance(event, ReaderRegistrationEvent):
                self.readers.add(event.subtask)
                self.enumerator.add_reader(event.subtask)
            elif isinstance(event, RequestSplitEvent):
                self.enumerator.handle_split_request(event.subtask)
            elif isinstance(event, SourceEventWrapper):
                self.enumerator.handle_source_event(subtask, event.event)
            else:
                raise TypeError(f"source coordinator got an unknown event {event!r}")

    def subtask_reset(self, subtask: int) -> None:
        """A reader restarts without a checkpoint: the splits it was given go back to the
        enumerator (Flink's ``addSplitsBack``), which hands them out again when the new reader
        asks."""
        splits = self.assigned.pop(subtask, [])
        self.readers.discard(subtask)
        if splits:
            with self.attributed():
                self.enumerator.add_splits_back(splits, subtask)

    def close(self) -> None:
        with self.attributed():
            self.enumerator.close()
