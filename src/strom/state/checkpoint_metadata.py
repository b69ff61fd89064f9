"""The ``_metadata`` file of a checkpoint or savepoint: what state exists and where it is.

A completed checkpoint is a directory ``<dir>/<job-id>/chk-<n>/`` (a savepoint:
``<dir>/savepoint-<6 hex of the job id>-<12 hex>/``) holding ``_metadata`` and the state
files it points at. ``_metadata`` is written last, so a directory without it is an
unfinished checkpoint. Its format, version 1, is documented in ``docs/checkpoint-format.md``:
the 8 bytes ``STROMCKP``, the version as a 4-byte big-endian integer, then one msgpack map
(:class:`CheckpointMetadata`, encoded by msgspec).

State handles point at state: small state is inlined in the metadata
(:class:`ByteStreamStateHandle`), the rest lives in files (:class:`FileStateHandle`, an
fsspec URL). A keyed handle's bytes are a pickled
:class:`~strom.state.snapshots.KeyedStateSnapshot` (or a backend's native snapshot, for
incremental checkpoints); an operator handle's bytes are a pickled
:class:`~strom.state.snapshots.OperatorStateSnapshot`.
"""

from __future__ import annotations

import msgspec

__all__ = [
    "METADATA_MAGIC",
    "METADATA_VERSION",
    "ByteStreamStateHandle",
    "CheckpointMetadata",
    "FileStateHandle",
    "MetadataFormatError",
    "OperatorStateEntry",
    "StateHandle",
    "SubtaskStateEntry",
    "decode_metadata",
    "encode_metadata",
]

METADATA_MAGIC = b"STROMCKP"
METADATA_VERSION = 1
"""The version this build writes; it reads this version only."""


class ByteStreamStateHandle(msgspec.Struct, frozen=True, tag="bytes"):
    """State small enough to live in the metadata itself."""

    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)


class FileStateHandle(msgspec.Struct, frozen=True, tag="file"):
    """State in a file: its fsspec URL and size in bytes."""

    url: str
    size: int


StateHandle = ByteStreamStateHandle | FileStateHandle


class SubtaskStateEntry(msgspec.Struct, frozen=True):
    """The state of one operator in one subtask.

    ``key_group_start``..``key_group_end`` (inclusive) is the subtask's key-group range, so
    a restore at another parallelism reads only the handles that overlap its own range;
    ``end < start`` when the operator is not keyed. ``channel_state`` holds in-flight data of
    an unaligned checkpoint.
    """

    keyed: StateHandle | None = None
    operator: StateHandle | None = None
    key_group_start: int = 0
    key_group_end: int = -1
    channel_state: StateHandle | None = None

    def size_bytes(self) -> int:
        return sum(h.size for h in (self.keyed, self.operator, self.channel_state) if h)


class OperatorStateEntry(msgspec.Struct, frozen=True):
    """One operator's state across its subtasks, under its ``state_id`` (uid or generated)."""

    state_id: str
    name: str
    parallelism: int
    max_parallelism: int
    subtasks: dict[int, SubtaskStateEntry] = {}
    #: the operator coordinator's state (a source's split enumerator), if any
    coordinator_state: StateHandle | None = None

    def size_bytes(self) -> int:
        own = self.coordinator_state.size if self.coordinator_state else 0
        return own + sum(s.size_bytes() for s in self.subtasks.values())


class CheckpointMetadata(msgspec.Struct, frozen=True):
    """Everything a restore needs to find a checkpoint's or savepoint's state."""

    checkpoint_id: int
    job_id: str
    timestamp_ms: int
    #: "checkpoint" or "savepoint"
    kind: str = "checkpoint"
    #: "canonical" (backend-independent) or "native" (a backend's own, e.g. incremental)
    format: str = "canonical"
    operators: list[OperatorStateEntry] = []
    properties: dict[str, str] = {}
    version: int = METADATA_VERSION

    def operator(self, state_id: str) -> OperatorStateEntry | None:
        for entry in self.operators:
            if entry.state_id == state_id:
                return entry
        return None

    def size_bytes(self) -> int:
        return sum(op.size_bytes() for op in self.operators)


class MetadataFormatError(ValueError):
    """The file is not a strom ``_metadata`` file, or one of a version this build cannot read."""


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(CheckpointMetadata)


def encode_metadata(metadata: CheckpointMetadata) -> bytes:
    """The bytes of a ``_metadata`` file.

    >>> m = CheckpointMetadata(checkpoint_id=3, job_id="ab" * 16, timestamp_ms=1)
    >>> decode_metadata(encode_metadata(m)) == m
    True
    """
    return METADATA_MAGIC + METADATA_VERSION.to_bytes(4, "big") + _encoder.encode(metadata)


def decode_metadata(data: bytes, where: str = "_metadata") -> CheckpointMetadata:
    """Parse ``_metadata`` bytes read from ``where`` (named in errors)."""
    if not data.startswith(METADATA_MAGIC):
        raise MetadataFormatError(
            f"{where} is not a strom checkpoint or savepoint metadata file (it does not "
            f"start with {METADATA_MAGIC!r}). Pass the directory of a checkpoint (chk-<n>) or "
            "savepoint (savepoint-...), or its _metadata file."
        )
    version = int.from_bytes(data[8:12], "big")
    if version != METADATA_VERSION:
        raise MetadataFormatError(
            f"{where} has metadata version {version}; this strom reads version "
            f"{METADATA_VERSION}. Restore it with the strom release that wrote it, take a "
            "savepoint there, and upgrade the savepoint's job instead."
        )
    try:
        return _decoder.decode(data[12:])
    except msgspec.DecodeError as e:
        raise MetadataFormatError(f"{where} is damaged: {e}") from e
