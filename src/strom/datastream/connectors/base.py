"""The public source and sink interfaces that every connector is built on.

Sources follow Flink's split-based design (FLIP-27): a :class:`Source` creates one
:class:`SplitEnumerator` (runs in the JobMaster, hands out :class:`SourceSplit` s) and one
:class:`SourceReader` per parallel subtask (runs in the task, reads the splits it was given
a batch at a time). Enumerator and reader both have ``snapshot_state`` hooks that
checkpoints use, and a source can be rebuilt from those snapshots.

Sinks follow Flink's Sink V2: a :class:`Sink` creates one :class:`SinkWriter` per subtask,
and optionally a :class:`Committer`. The writer pre-commits (``prepare_commit``) when a
checkpoint or the end of input comes; the committables are committed after the checkpoint
completes (or at the end of a bounded job). Commits must be idempotent.
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any, Generic, Protocol, TypeVar

__all__ = [
    "Boundedness",
    "Committer",
    "DeliveryGuarantee",
    "InputStatus",
    "ReaderOutput",
    "Sink",
    "SinkWriter",
    "SinkWriterContext",
    "Source",
    "SourceReader",
    "SourceReaderContext",
    "SourceSplit",
    "SplitEnumerator",
    "SplitEnumeratorContext",
]

SplitT = TypeVar("SplitT", bound="SourceSplit")
SplitT_contra = TypeVar("SplitT_contra", bound="SourceSplit", contravariant=True)
CommT = TypeVar("CommT")


class Boundedness(enum.Enum):
    """Whether a source ends (``BOUNDED``) or runs until cancelled."""

    BOUNDED = 0
    CONTINUOUS_UNBOUNDED = 1


class DeliveryGuarantee(enum.Enum):
    """What a sink promises after failures (Flink's ``DeliveryGuarantee``)."""

    EXACTLY_ONCE = 0
    AT_LEAST_ONCE = 1
    NONE = 2


class InputStatus(enum.Enum):
    """What :meth:`SourceReader.poll_next` tells the task about the reader."""

    MORE_AVAILABLE = 0
    """Call again soon: there is more to read right now."""
    NOTHING_AVAILABLE = 1
    """Nothing right now; the task waits a little (or for new splits) before polling again."""
    END_OF_INPUT = 2
    """This reader is finished: no splits left and no more will come."""


class SourceSplit(ABC):
    """A piece of a source's input (a file, a range of numbers, a partition)."""

    @abstractmethod
    def split_id(self) -> str:
        """A stable, unique id of this split within its source."""


class ReaderOutput(Protocol):
    """Where a :class:`SourceReader` puts what it reads."""

    def collect(
        self,
        values: list[Any],
        timestamps: list[int] | None = None,
        split_id: str | None = None,
    ) -> None:
        """Emit a batch of records, with optional epoch-ms timestamps, read from one split.

        ``split_id`` lets the source operator run one watermark generator per split.
        """
        ...

    def release_output_for_split(self, split_id: str) -> None:
        """The split is read to its end: it no longer holds the watermark back."""
        ...


class SourceReaderContext(Protocol):
    """What the runtime gives a reader."""

    def index_of_subtask(self) -> int: ...

    def number_of_parallel_subtasks(self) -> int: ...

    def send_split_request(self) -> None:
        """Ask the enumerator for a split; it answers through ``add_splits`` or
        ``notify_no_more_splits``."""
        ...

    def send_source_event(self, event: Any) -> None:
        """Send a custom event to the enumerator's ``handle_source_event``."""
        ...


class SplitEnumeratorContext(Protocol, Generic[SplitT_contra]):
    """What the runtime gives an enumerator."""

    def current_parallelism(self) -> int: ...

    def registered_readers(self) -> list[int]: ...

    def assign_split(self, split: SplitT_contra, subtask_id: int) -> None: ...

    def signal_no_more_splits(self, subtask_id: int) -> None: ...

    def send_event_to_source_reader(self, subtask_id: int, event: Any) -> None: ...

    def call_async(
        self,
        callable: Callable[[], Any],
        handler: Callable[[Any, BaseException | None], None],
        initial_delay_ms: int = 0,
        period_ms: int = 0,
    ) -> None:
        """Run ``callable`` off the enumerator's thread (it may block on I/O), then
        ``handler(result, error)`` on it; repeat every ``period_ms`` when > 0."""
        ...


class SplitEnumerator(ABC, Generic[SplitT]):
    """Discovers splits and assigns them to readers. Runs in the JobMaster."""

    def start(self) -> None:
        """Called once before any other method."""

    @abstractmethod
    def handle_split_request(self, subtask_id: int) -> None:
        """A reader asked for a split."""

    @abstractmethod
    def add_splits_back(self, splits: list[SplitT], subtask_id: int) -> None:
        """Splits given to a failed reader come back to be assigned again."""

    def add_reader(self, subtask_id: int) -> None:
        """A reader registered (after its task started)."""

    def handle_source_event(self, subtask_id: int, event: Any) -> None:
        """A custom event from a reader."""

    @abstractmethod
    def snapshot_state(self, checkpoint_id: int) -> Any:
        """The enumerator's state (e.g. the splits not yet assigned), picklable."""

    def close(self) -> None:
        """Release resources."""


class SourceReader(ABC, Generic[SplitT]):
    """Reads the splits assigned to one parallel subtask. Runs in the task, a batch at a time."""

    def start(self) -> None:
        """Called once before polling. Readers without splits usually request one here."""

    @abstractmethod
    def poll_next(self, output: ReaderOutput) -> InputStatus:
        """Emit at most one batch (a few hundred to a few thousand records) and say what next."""

    @abstractmethod
    def add_splits(self, splits: list[SplitT]) -> None:
        """New splits to read (from the enumerator or, on restore, from a snapshot)."""

    @abstractmethod
    def notify_no_more_splits(self) -> None:
        """No more splits will come; finish after the current ones."""

    @abstractmethod
    def snapshot_state(self, checkpoint_id: int) -> list[SplitT]:
        """The unfinished splits with their current positions (splits given but not yet
        started included), as objects that later reading does not change: the checkpoint
        keeps them as they are, and a restored reader gets them through ``add_splits``."""

    def handle_source_event(self, event: Any) -> None:
        """A custom event from the enumerator."""

    def notify_checkpoint_complete(self, checkpoint_id: int) -> None:
        """Checkpoint ``checkpoint_id`` completed."""

    def close(self) -> None:
        """Release resources."""


class Source(ABC, Generic[SplitT]):
    """A split-based source. Subclass it (or use a built-in one) and pass it to
    :meth:`StreamExecutionEnvironment.from_source`."""

    @abstractmethod
    def get_boundedness(self) -> Boundedness: ...

    @abstractmethod
    def create_enumerator(self, context: SplitEnumeratorContext[SplitT]) -> SplitEnumerator[SplitT]:
        ...

    @abstractmethod
    def restore_enumerator(
        self, context: SplitEnumeratorContext[SplitT], checkpoint: Any
    ) -> SplitEnumerator[SplitT]:
        ...

    @abstractmethod
    def create_reader(self, context: SourceReaderContext) -> SourceReader[SplitT]: ...

    def max_parallelism(self) -> int | None:
        """An upper bound on useful parallelism (e.g. 1 for a non-parallel source), or None."""
        return None


class SinkWriterContext(Protocol):
    """What the runtime gives a sink writer."""

    def index_of_subtask(self) -> int: ...

    def number_of_parallel_subtasks(self) -> int: ...

    def attempt_number(self) -> int: ...

    def current_processing_time(self) -> int: ...


class SinkWriter(ABC, Generic[CommT]):
    """Writes the records of one parallel subtask."""

    @abstractmethod
    def write(self, values: Sequence[Any], timestamps: Sequence[int] | None) -> None:
        """Write a batch of records (timestamps parallel to values, or None)."""

    def flush(self, end_of_input: bool) -> None:
        """Make everything written so far durable (before a checkpoint, or at the end)."""

    def prepare_commit(self) -> list[CommT]:
        """Pre-commit: return committables for :class:`Committer.commit` (two-phase sinks)."""
        return []

    def snapshot_state(self, checkpoint_id: int) -> list[Any]:
        """The writer's own state (e.g. in-progress files), picklable."""
        return []

    def on_processing_time(self, now_ms: int) -> None:
        """Called periodically so time-based policies (rolling) can act."""

    def close(self) -> None:
        """Release resources. Called on success and on failure."""


class Committer(ABC, Generic[CommT]):
    """Commits what writers pre-committed. ``commit`` must be idempotent."""

    @abstractmethod
    def commit(self, committables: list[CommT]) -> None: ...

    def close(self) -> None:
        """Release resources."""


class Sink(ABC, Generic[CommT]):
    """A sink. Subclass it (or use :class:`FileSink`) and pass it to ``DataStream.sink_to``."""

    @abstractmethod
    def create_writer(self, context: SinkWriterContext) -> SinkWriter[CommT]: ...

    def restore_writer(self, context: SinkWriterContext, state: list[Any]) -> SinkWriter[CommT]:
        """A writer resuming from ``snapshot_state`` output; by default a fresh writer."""
        return self.create_writer(context)

    def create_committer(self) -> Committer[CommT] | None:
        """The committer for two-phase sinks, or None when writes need no commit."""
        return None

    def delivery_guarantee(self) -> DeliveryGuarantee:
        return DeliveryGuarantee.AT_LEAST_ONCE
