"""The runtime side of ``FileSink``: the writer that fills part files and the committer.

A part file goes through three states, as in Flink:

* **in-progress**: being written, hidden as ``.<name>.inprogress.<uuid>`` in its bucket
  directory (``<name>`` = ``<prefix>-<bucket uuid>-<counter><suffix>``);
* **pending**: closed by the rolling policy (size, rollover interval, inactivity, or a
  checkpoint); the writer hands it out from ``prepare_commit`` as a
  :class:`FileSinkCommittable`;
* **finished**: renamed to ``<name>`` by :class:`FileCommitter` once the checkpoint
  completes (or at the end of a bounded input).

A checkpoint also records each bucket's uuid and part counter and its in-progress file's
path and length (``snapshot_state``); a writer restored from it truncates the file back to
that length and keeps appending, removes the in-progress files the failed attempt started
after the checkpoint, and continues the part counter, so the finished files of a restored
job are those of an uninterrupted run, names included.

The end of a bounded input finishes every file at once (no checkpoint follows it). A writer
that took part in checkpoints first leaves ``.strom-filesink-<writer id>.ended`` in the
base path, holding what it finished then: a writer restored from an earlier checkpoint of
that writer finds it, finishes those files again if needed and drops the replayed records,
which were all written and finished before.
"""

from __future__ import annotations

import logging
import os
import pickle
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO, Protocol

from strom.connectors.file_sink_config import BucketAssigner, OutputFileConfig, RollingPolicy
from strom.datastream.connectors.base import Committer, SinkWriter, SinkWriterContext

__all__ = [
    "DEFAULT_BUCKET_CHECK_INTERVAL_MS",
    "FileCommitter",
    "FileSinkCommittable",
    "FileWriter",
    "FileWriterBucketState",
    "FileWriterIdentity",
    "InProgressFileState",
    "RowEncoder",
]

log = logging.getLogger(__name__)

DEFAULT_BUCKET_CHECK_INTERVAL_MS = 60_000
"""How often time-based rolling is checked unless configured (Flink's default, 1 min)."""


class RowEncoder(Protocol):
    """What ``FileSink.for_row_format`` needs: the bytes of one record, delimiter included.

    ``strom.common.Encoder.simple_string_encoder()`` is one (``str(value)`` and ``\\n``).
    """

    def encode(self, value: Any, type_info: Any) -> bytes: ...


@dataclass(frozen=True)
class FileSinkCommittable:
    """A pending part file: rename ``pending_path`` to ``final_path`` to finish it."""

    bucket_id: str
    pending_path: str
    final_path: str
    size: int


@dataclass(frozen=True)
class InProgressFileState:
    """An in-progress part file as of a checkpoint: its valid length and creation time."""

    pending_path: str
    final_path: str
    size: int
    creation_time: int


@dataclass(frozen=True)
class FileWriterBucketState:
    """A bucket's part of a writer snapshot: where it is, its in-progress file, and the
    uuid and counter its part files are named with (``""``: a new uuid on restore)."""

    bucket_id: str
    bucket_path: str
    in_progress: InProgressFileState | None
    unique_id: str = ""
    part_counter: int = 0


@dataclass(frozen=True)
class FileWriterIdentity:
    """The first entry of a writer snapshot: which writer it comes from (see the module
    docstring on the end of input)."""

    writer_id: str


def _end_marker(base_path: str, writer_id: str) -> str:
    return os.path.join(base_path, f".strom-filesink-{writer_id}.ended")


def _write_end_marker(base_path: str, writer_id: str,
                      committables: list[FileSinkCommittable]) -> None:
    os.makedirs(base_path, exist_ok=True)
    path = _end_marker(base_path, writer_id)
    temporary = f"{path}.{uuid.uuid4()}.tmp"
    with open(temporary, "wb") as file:
        pickle.dump(committables, file, protocol=5)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)


def _read_end_marker(base_path: str, writer_id: str) -> list[FileSinkCommittable] | None:
    try:
        with open(_end_marker(base_path, writer_id), "rb") as file:
            committables: list[FileSinkCommittable] = pickle.load(file)
    except FileNotFoundError:
        return None
    return committables


class _InProgressFile:
    """An open part file. ``size`` counts every byte handed to ``write``."""

    __slots__ = ("creation_time", "file", "final_path", "last_update_time", "path", "size")

    def __init__(
        self, path: str, final_path: str, file: BinaryIO, size: int, creation_time: int
    ) -> None:
        self.path = path
        self.final_path = final_path
        self.file = file
        self.size = size
        self.creation_time = creation_time
        self.last_update_time = creation_time

    @staticmethod
    def create(final_path: str, now: int) -> _InProgressFile:
        directory, name = os.path.split(final_path)
        path = os.path.join(directory, f".{name}.inprogress.{uuid.uuid4()}")
        return _InProgressFile(path, final_path, open(path, "xb"), 0, now)

    @staticmethod
    def resume(state: InProgressFileState, now: int) -> _InProgressFile:
        path = state.pending_path
        if not os.path.exists(path):
            raise FileNotFoundError(
                f"cannot restore the FileSink: the in-progress file {path!r} recorded in the "
                "checkpoint is gone. It was probably committed (as "
                f"{state.final_path!r}) by a later checkpoint, or deleted; restore from the "
                "latest checkpoint instead"
            )
        actual = os.path.getsize(path)
        if actual < state.size:
            raise OSError(
                f"cannot restore the FileSink: the in-progress file {path!r} has {actual} "
                f"bytes but the checkpoint recorded {state.size}; the file was truncated "
                "outside the sink"
            )
        file = open(path, "r+b")
        file.truncate(state.size)  # drop what was written after the checkpoint
        file.seek(state.size)
        part = _InProgressFile(path, state.final_path, file, state.size, state.creation_time)
        part.last_update_time = now
        return part

    def write(self, data: bytes, now: int) -> None:
        self.file.write(data)
        self.size += len(data)
        self.last_update_time = now

    def persist(self) -> InProgressFileState:
        self.file.flush()
        os.fsync(self.file.fileno())
        return InProgressFileState(self.path, self.final_path, self.size, self.creation_time)

    def close_for_commit(self, bucket_id: str) -> FileSinkCommittable:
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()
        return FileSinkCommittable(bucket_id, self.path, self.final_path, self.size)


class _Bucket:
    """One bucket directory's part files, as written by one writer."""

    __slots__ = ("bucket_id", "in_progress", "part_counter", "path", "pending", "unique_id")

    def __init__(self, bucket_id: str, path: str, unique_id: str = "",
                 part_counter: int = 0) -> None:
        self.bucket_id = bucket_id
        self.path = path
        # Fresh per new bucket, kept by a restored one (whose counter continues): names
        # never collide across subtasks or restarts.
        self.unique_id = unique_id or str(uuid.uuid4())
        self.part_counter = part_counter
        self.in_progress: _InProgressFile | None = None
        self.pending: list[FileSinkCommittable] = []

    def part_name(self, config: OutputFileConfig, counter: int) -> str:
        return f"{config.get_part_prefix()}-{self.unique_id}-{counter}{config.get_part_suffix()}"

    def roll(self, config: OutputFileConfig, now: int) -> _InProgressFile:
        self.close_part()
        os.makedirs(self.path, exist_ok=True)
        final_path = os.path.join(self.path, self.part_name(config, self.part_counter))
        self.part_counter += 1
        # Only a restore from an older checkpoint than the latest committed one can find
        # the name taken: never overwrite a finished file.
        while os.path.exists(final_path):
            final_path = os.path.join(self.path, self.part_name(config, self.part_counter))
            self.part_counter += 1
        part = self.in_progress = _InProgressFile.create(final_path, now)
        return part

    def discard_later_parts(self, config: OutputFileConfig) -> None:
        """Remove the in-progress files of this bucket's uuid numbered from the part
        counter on: a failed attempt started them after the checkpoint being restored, and
        nothing will commit them."""
        if not os.path.isdir(self.path):
            return
        pattern = re.compile(
            re.escape(f".{config.get_part_prefix()}-{self.unique_id}-") + r"(\d+)"
            + re.escape(f"{config.get_part_suffix()}.inprogress.") + r".+")
        for name in os.listdir(self.path):
            match = pattern.fullmatch(name)
            if match is not None and int(match.group(1)) >= self.part_counter:
                try:
                    os.remove(os.path.join(self.path, name))
                except FileNotFoundError:
                    pass

    def close_part(self) -> None:
        if self.in_progress is not None:
            self.pending.append(self.in_progress.close_for_commit(self.bucket_id))
            self.in_progress = None

    def snapshot(self) -> FileWriterBucketState:
        state = self.in_progress.persist() if self.in_progress is not None else None
        return FileWriterBucketState(self.bucket_id, self.path, state, self.unique_id,
                                     self.part_counter)


class FileWriter(SinkWriter[FileSinkCommittable]):
    """Writes one subtask's records into part files under ``base_path``.

    The bucket is chosen once per batch from the processing time; records are encoded
    with ``encoder`` and appended. Before each record the writer rolls to a new part file
    when the current one is already larger than the policy's part size.
    """

    def __init__(
        self,
        context: SinkWriterContext,
        base_path: str,
        encoder: RowEncoder,
        type_info: Any,
        bucket_assigner: BucketAssigner,
        rolling_policy: RollingPolicy,
        output_file_config: OutputFileConfig,
        bucket_check_interval_ms: int = DEFAULT_BUCKET_CHECK_INTERVAL_MS,
    ) -> None:
        self._context = context
        self._base_path = base_path
        self._encoder = encoder
        self._type_info = type_info
        self._assigner = bucket_assigner
        self._policy = rolling_policy
        self._config = output_file_config
        self._check_interval = bucket_check_interval_ms
        self._next_check = context.current_processing_time() + bucket_check_interval_ms
        self._buckets: dict[str, _Bucket] = {}
        self._end_of_input = False
        self._writer_id = uuid.uuid4().hex
        # whether a checkpoint may refer to this writer (then its end of input is marked)
        self._checkpointed = False
        # restored from a writer that had reached its end of input: records are dropped,
        # and what it finished then is handed out (again) by the next prepare_commit
        self._input_done = False
        self._finished_before: list[FileSinkCommittable] = []

    # -- restore --------------------------------------------------------------------

    def restore(self, states: Sequence[FileWriterBucketState]) -> None:
        """Take over the buckets and in-progress files of ``states`` (from
        ``snapshot_state``).

        Each file is truncated to its checkpointed length and written on; the bucket keeps
        its uuid and part counter, and in-progress files it started after the checkpoint
        are removed. When two states name the same bucket (state of several subtasks after
        rescaling), the first keeps the bucket and the others' in-progress files are closed
        and become pending.
        """
        now = self._context.current_processing_time()
        self._checkpointed = True
        identities = [state for state in states if isinstance(state, FileWriterIdentity)]
        ended = []
        for identity in identities:
            finished = _read_end_marker(self._base_path, identity.writer_id)
            if finished is not None:
                ended.append(identity.writer_id)
                self._finished_before.extend(finished)
        if identities:
            self._writer_id = identities[0].writer_id
        if ended and len(ended) == len(identities):
            self._input_done = True
            return
        if ended:
            log.warning(
                "FileSink at %s: restoring the state of several writers of which %d had "
                "reached the end of their input; records replayed to this writer are "
                "written again", self._base_path, len(ended))
        for state in states:
            if isinstance(state, FileWriterIdentity):
                continue
            if not isinstance(state, FileWriterBucketState):
                raise TypeError(
                    "FileSink writer state must be a list of FileWriterBucketState, got an "
                    f"element {state!r}; was the checkpoint written by another sink?"
                )
            progress = state.in_progress
            if (ended and progress is not None and not os.path.exists(progress.pending_path)
                    and os.path.exists(progress.final_path)):
                progress = None  # finished by an ended writer
            if state.unique_id:
                _Bucket(state.bucket_id, state.bucket_path, state.unique_id,
                        state.part_counter).discard_later_parts(self._config)
            bucket = self._buckets.get(state.bucket_id)
            if bucket is None:
                bucket = self._buckets[state.bucket_id] = _Bucket(
                    state.bucket_id, state.bucket_path, state.unique_id, state.part_counter
                )
            if progress is None:
                continue
            part = _InProgressFile.resume(progress, now)
            if bucket.in_progress is None:
                bucket.in_progress = part
            else:
                bucket.pending.append(part.close_for_commit(bucket.bucket_id))

    # -- SinkWriter -------------------------------------------------------------------

    def write(self, values: Sequence[Any], timestamps: Sequence[int] | None) -> None:
        if not values or self._input_done:
            return
        now = self._context.current_processing_time()
        bucket_id = self._assigner.get_bucket_id(now)
        bucket = self._buckets.get(bucket_id)
        if bucket is None:
            path = os.path.join(self._base_path, bucket_id) if bucket_id else self._base_path
            bucket = self._buckets[bucket_id] = _Bucket(bucket_id, path)
        part = bucket.in_progress or bucket.roll(self._config, now)
        encode = self._encoder.encode
        type_info = self._type_info
        limit = self._policy.max_part_size()
        if limit is None:
            part.write(self._join([encode(value, type_info) for value in values]), now)
            return
        chunks: list[bytes] = []
        size = part.size
        for value in values:
            if size > limit:
                part.write(self._join(chunks), now)
                chunks = []
                part = bucket.roll(self._config, now)
                size = 0
            data = encode(value, type_info)
            chunks.append(data)
            size += len(data)
        part.write(self._join(chunks), now)

    def _join(self, chunks: list[bytes]) -> bytes:
        try:
            return b"".join(chunks)
        except TypeError:
            wrong = next(c for c in chunks if not isinstance(c, (bytes, bytearray, memoryview)))
            raise TypeError(
                f"the FileSink encoder {self._encoder!r} returned {type(wrong).__name__} "
                f"({wrong!r}); an encoder must return bytes"
            ) from None

    def flush(self, end_of_input: bool) -> None:
        if end_of_input:
            self._end_of_input = True
        for bucket in self._buckets.values():
            if bucket.in_progress is not None:
                bucket.in_progress.file.flush()

    def prepare_commit(self) -> list[FileSinkCommittable]:
        """Close the in-progress files the policy rolls on checkpoints (all of them at the
        end of input) and hand out every pending file.

        As in Flink, buckets that had neither an open nor a pending file since the last
        call are forgotten first (a later record there starts a bucket with a new uuid);
        checking before rolling keeps an on-checkpoint-rolled bucket and its part counter.

        At the end of input, a writer a checkpoint may refer to first records what it
        finishes in its end marker (see the module docstring).
        """
        if self._input_done:
            finished, self._finished_before = self._finished_before, []
            return finished
        committables: list[FileSinkCommittable] = []
        for bucket_id, bucket in list(self._buckets.items()):
            part = bucket.in_progress
            if part is None and not bucket.pending:
                del self._buckets[bucket_id]
                continue
            if part is not None and (
                self._end_of_input or self._policy.should_roll_on_checkpoint(part.size)
            ):
                bucket.close_part()
            committables.extend(bucket.pending)
            bucket.pending.clear()
        if self._end_of_input and self._checkpointed:
            _write_end_marker(self._base_path, self._writer_id, committables)
        return committables

    def snapshot_state(self, checkpoint_id: int) -> list[Any]:
        """The writer's identity, then every bucket with its uuid, part counter and
        in-progress file (path, length), made durable; pass to ``restore``."""
        self._checkpointed = True
        return [FileWriterIdentity(self._writer_id),
                *(bucket.snapshot() for bucket in self._buckets.values())]

    def on_processing_time(self, now_ms: int) -> None:
        """Roll files the policy rolls by time; checks at most once per bucket check interval."""
        if now_ms < self._next_check:
            return
        self._next_check = now_ms + self._check_interval
        for bucket in self._buckets.values():
            part = bucket.in_progress
            if part is not None and self._policy.should_roll_on_processing_time(
                part.creation_time, part.last_update_time, now_ms
            ):
                bucket.close_part()

    def close(self) -> None:
        """Close open files without finishing them (a restore truncates and resumes them)."""
        for bucket in self._buckets.values():
            if bucket.in_progress is not None:
                bucket.in_progress.file.close()
                bucket.in_progress = None
        self._buckets.clear()


class FileCommitter(Committer[FileSinkCommittable]):
    """Finishes pending part files by renaming them to their final names.

    Idempotent: a committable whose final file exists and whose pending file is gone was
    committed before and is skipped. A committable with neither file is an error.
    """

    def commit(self, committables: list[FileSinkCommittable]) -> None:
        for committable in committables:
            _commit_one(committable)


def _commit_one(committable: FileSinkCommittable) -> None:
    pending, final = committable.pending_path, committable.final_path
    if not os.path.exists(pending):
        if os.path.exists(final):
            return  # committed before (a retried commit after a restore)
        raise FileNotFoundError(
            f"cannot commit the FileSink part file {final!r}: neither it nor its pending "
            f"file {pending!r} exists; the output directory was changed outside the sink"
        )
    if os.path.exists(final):
        raise FileExistsError(
            f"cannot commit {pending!r}: the final part file {final!r} already exists and "
            "the FileSink never overwrites committed data"
        )
    actual = os.path.getsize(pending)
    if actual < committable.size:
        raise OSError(
            f"cannot commit {pending!r}: it has {actual} bytes but {committable.size} were "
            "written; the file was truncated outside the sink"
        )
    if actual > committable.size:
        os.truncate(pending, committable.size)
    os.replace(pending, final)
