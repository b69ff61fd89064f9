"""Runs a source's SplitEnumerator in the JobMaster and talks to the source readers.

Checkpoints (Flink's ``SourceCoordinator`` and ``SplitAssignmentTracker``): the
coordinator's state is the enumerator's snapshot plus the split assignments the readers
had not yet confirmed when it was taken. Assignments to a reader are numbered; a reader
confirms each number it applies (``SplitsReceivedEvent``) and checkpoints the last one. A
restored reader reports the numbers it had received, and assignments after them go back to
the enumerator (``add_splits_back``): a split in flight at the checkpoint is neither lost
nor read twice, whatever order events and barriers travel in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from strom.common import _pickling
from strom.runtime.operators.source import (
    AddSplitsEvent,
    NoMoreSplitsEvent,
    ReaderRegistrationEvent,
    RequestSplitEvent,
    SourceEventWrapper,
    SplitsReceivedEvent,
)

__all__ = ["SourceCoordinator", "SourceCoordinatorCheckpoint"]

CHECKPOINT_VERSION = 1


@dataclass(frozen=True)
class SourceCoordinatorCheckpoint:
    """What :meth:`SourceCoordinator.checkpoint` pickles.

    ``in_flight`` maps a subtask to the ``(number, split)`` assignments it had not
    confirmed when the checkpoint was taken.
    """

    version: int
    enumerator: Any
    in_flight: dict[int, list[tuple[int, Any]]] = field(default_factory=dict)


@dataclass
class _Assignment:
    sequence: int
    split: Any
    received: bool = False
    #: the first checkpoint taken after the reader confirmed it: its reader state has it
    covered_by: int | None = None


class _EnumeratorContext:
    def __init__(self, coordinator: SourceCoordinator) -> None:
        self._c = coordinator
        #: set when the coordinator replaced this context's enumerator (reset): calls of
        #: the old enumerator, e.g. from its periodic discovery, then do nothing
        self.closed = False

    def current_parallelism(self) -> int:
        return self._c.parallelism

    def registered_readers(self) -> list[int]:
        return sorted(self._c.readers)

    def assign_split(self, split: Any, subtask_id: int) -> None:
        if not self.closed:
            self._c.assign(split, subtask_id)

    def signal_no_more_splits(self, subtask_id: int) -> None:
        if not self.closed:
            self._c.send(subtask_id, NoMoreSplitsEvent(self._c.checkpoint_id))

    def send_event_to_source_reader(self, subtask_id: int, event: Any) -> None:
        if not self.closed:
            self._c.send(subtask_id, SourceEventWrapper(event, -1, self._c.checkpoint_id))

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

        def unless_closed() -> Any:
            return None if self.closed else callable()

        def noted_handler(result: Any, error: BaseException | None) -> None:
            if self.closed:
                return
            with coordinator.attributed():
                handler(result, error)

        coordinator.schedule_async(unless_closed, noted_handler, initial_delay_ms, period_ms)


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
        self.started = False
        #: the latest checkpoint taken since the start or the last reset; the events sent to
        #: readers carry it, and readers apply them only after their part of it
        self.checkpoint_id = 0
        self._next_sequence: dict[int, int] = {}
        self._tracked: dict[int, list[_Assignment]] = {}
        # after reset_to_checkpoint: the restored in-flight assignments, settled when the
        # first reader registers and reports what the checkpointed readers had received
        self._restored_in_flight: dict[int, list[tuple[int, Any]]] | None = None
        # after subtask_reset: subtasks whose unconfirmed assignments are settled when
        # their new reader registers
        self._reset_subtasks: set[int] = set()
        # assignments to readers not registered yet, and each reader's registration token
        self._held: dict[int, list[Any]] = {}
        self._reader_ids: dict[int, str] = {}
        self._context = _EnumeratorContext(self)
        with self.attributed():
            self.enumerator = source.create_enumerator(self._context)

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
            self.started = True
            self.enumerator.start()

    def assign(self, split: Any, subtask: int) -> None:
        """Send ``split`` to the reader of ``subtask`` as its next numbered assignment; to
        a reader that has not registered yet (since a reset) once it registers."""
        if subtask not in self.readers:
            self._held.setdefault(subtask, []).append(split)
            return
        sequence = self._next_sequence.get(subtask, 1)
        self._next_sequence[subtask] = sequence + 1
        self._tracked.setdefault(subtask, []).append(_Assignment(sequence, split))
        self.send(subtask, AddSplitsEvent([split], sequence, self.checkpoint_id))

    def assigned_splits(self, subtask: int) -> list[Any]:
        """The splits assigned to ``subtask`` that no completed checkpoint holds yet."""
        return [a.split for a in self._tracked.get(subtask, ())]

    # -- checkpoints ----------------------------------------------------------------------

    def checkpoint(self, checkpoint_id: int) -> bytes:
        """The coordinator's state for checkpoint ``checkpoint_id``; call it on the
        coordinator's thread (the JobMaster's loop) before the sources are triggered.

        It holds the enumerator's snapshot and the assignments not yet confirmed by their
        readers (those may reach the readers after the barrier). What is sent to readers
        from now on is applied by each reader after its part of this checkpoint."""
        self.checkpoint_id = max(self.checkpoint_id, checkpoint_id)
        in_flight: dict[int, list[tuple[int, Any]]] = {}
        for subtask, assignments in self._tracked.items():
            for assignment in assignments:
                if not assignment.received:
                    in_flight.setdefault(subtask, []).append(
                        (assignment.sequence, assignment.split))
                elif assignment.covered_by is None:
                    assignment.covered_by = checkpoint_id
        with self.attributed():
            state = self.enumerator.snapshot_state(checkpoint_id)
            return _pickling.dumps(
                SourceCoordinatorCheckpoint(CHECKPOINT_VERSION, state, in_flight), protocol=5)

    def notify_checkpoint_complete(self, checkpoint_id: int) -> None:
        """Checkpoint ``checkpoint_id`` completed: assignments its readers' state holds are
        no longer tracked."""
        for subtask, assignments in self._tracked.items():
            self._tracked[subtask] = [
                a for a in assignments if a.covered_by is None or a.covered_by > checkpoint_id]
        notify = getattr(self.enumerator, "notify_checkpoint_complete", None)
        if notify is not None:
            with self.attributed():
                notify(checkpoint_id)

    def reset_to_checkpoint(self, checkpoint_id: int, data: bytes | None) -> None:
        """Replace the enumerator by one restored from ``data`` (what :meth:`checkpoint`
        returned), or by a fresh one when ``data`` is None (no state for this source).

        Every reader registers again afterwards. Call it before the restored tasks are
        deployed; a started coordinator starts the new enumerator at once.
        """
        checkpoint: SourceCoordinatorCheckpoint | None = None
        if data is not None:
            checkpoint = _pickling.loads(data)
            if not isinstance(checkpoint, SourceCoordinatorCheckpoint):
                raise TypeError(
                    f"cannot restore the source '{self.source_name}' of job "
                    f"'{self.job_name}' from checkpoint {checkpoint_id}: its coordinator "
                    f"state is a {type(checkpoint).__name__}, not a source coordinator's "
                    "checkpoint; was the state written for another operator? Restore with "
                    "allowNonRestoredState or assign the source another uid")
            if checkpoint.version != CHECKPOINT_VERSION:
                raise ValueError(
                    f"cannot restore the source '{self.source_name}' from checkpoint "
                    f"{checkpoint_id}: its coordinator state has version "
                    f"{checkpoint.version}, this strom reads version {CHECKPOINT_VERSION}")
        self._context.closed = True
        with self.attributed():
            self.enumerator.close()
        self._context = _EnumeratorContext(self)
        self.readers.clear()
        self._next_sequence.clear()
        self._tracked.clear()
        self._reset_subtasks.clear()
        self._held.clear()
        self._reader_ids.clear()
        self.checkpoint_id = 0
        with self.attributed():
            if checkpoint is None:
                self._restored_in_flight = None
                self.enumerator = self.source.create_enumerator(self._context)
            else:
                self._restored_in_flight = dict(checkpoint.in_flight)
                self.enumerator = self.source.restore_enumerator(
                    self._context, checkpoint.enumerator)
            if self.started:
                self.enumerator.start()

    def subtask_reset(self, subtask: int, checkpoint_id: int | None = None) -> None:
        """The reader of ``subtask`` alone restarts (region failover), from checkpoint
        ``checkpoint_id`` or from scratch: when its new reader registers, what was assigned
        to it and is not in the state it restored goes back to the enumerator (all of it
        without a checkpoint)."""
        self.readers.discard(subtask)
        self._reader_ids.pop(subtask, None)
        self._reset_subtasks.add(subtask)

    def _settle(self, event: ReaderRegistrationEvent) -> None:
        """Give the enumerator back the assignments a registering reader's checkpoint does
        not hold."""
        received = event.received or {}
        if self._restored_in_flight is not None:
            in_flight, self._restored_in_flight = self._restored_in_flight, None
            for subtask, assignments in sorted(in_flight.items()):
                lost = [split for sequence, split in assignments
                        if sequence > received.get(subtask, 0)]
                if lost:
                    self.enumerator.add_splits_back(lost, subtask)
        subtask = event.subtask
        # a reader replacing a registered one restarted without subtask_reset: the same
        if subtask in self._reset_subtasks or subtask in self._reader_ids:
            self._reset_subtasks.discard(subtask)
            lost = [a.split for a in self._tracked.pop(subtask, ())
                    if a.sequence > received.get(subtask, 0)]
            if lost:
                self.enumerator.add_splits_back(lost, subtask)
        # the new reader expects the assignment after the last one its state holds
        self._next_sequence[subtask] = received.get(subtask, 0) + 1

    def handle_event(self, subtask: int, event: Any) -> None:
        with self.attributed():
            if isinstance(event, ReaderRegistrationEvent):
                self._settle(event)
                self.readers.add(event.subtask)
                self._reader_ids[event.subtask] = event.reader_id
                for split in self._held.pop(event.subtask, ()):
                    self.assign(split, event.subtask)
                self.enumerator.add_reader(event.subtask)
            elif isinstance(event, SplitsReceivedEvent):
                if self._reader_ids.get(event.subtask) != event.reader_id:
                    return  # from a reader that was replaced since
                for assignment in self._tracked.get(event.subtask, ()):
                    if assignment.sequence <= event.sequence:
                        assignment.received = True
            elif isinstance(event, RequestSplitEvent):
                self.enumerator.handle_split_request(event.subtask)
            elif isinstance(event, SourceEventWrapper):
                self.enumerator.handle_source_event(subtask, event.event)
            else:
                raise TypeError(f"source coordinator got an unknown event {event!r}")

    def close(self) -> None:
        """Close the enumerator; what its periodic work still calls afterwards does nothing
        (a restart may already run a new coordinator for the same readers)."""
        self._context.closed = True
        with self.attributed():
            self.enumerator.close()
