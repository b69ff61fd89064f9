"""A completed checkpoint as the job's :class:`~strom.ha.stores.CompletedCheckpointStore`
keeps it: everything a new leader needs to restore the job from it.

The payload holds the checkpoint's ``_metadata`` (as the file's bytes), so it is complete
for both checkpoint storages: with ``execution.checkpointing.dir`` the metadata points at
the state files; with the JobManager's in-memory storage all state is inline in it.

>>> from strom.network.elements import CheckpointType
>>> from strom.state.checkpoint_metadata import CheckpointMetadata
>>> metadata = CheckpointMetadata(checkpoint_id=7, job_id="ab" * 16, timestamp_ms=5)
>>> c = CompletedCheckpoint(7, 5, CheckpointType.CHECKPOINT, "<jobmanager>/chk-7", metadata,
...                         0, 12)
>>> decode_checkpoint(encode_checkpoint(c)).metadata == metadata
True
"""

from __future__ import annotations

import msgspec

from strom.jobmanager.checkpoint.coordinator import CompletedCheckpoint
from strom.network.elements import CheckpointType
from strom.state.checkpoint_metadata import decode_metadata, encode_metadata
from strom.state.checkpoint_storage import (
    CheckpointLocation,
    InMemoryCheckpointLocation,
)

__all__ = ["StoredCheckpoint", "decode_checkpoint", "encode_checkpoint"]

_IN_MEMORY_PREFIX = "<jobmanager>/"


class StoredCheckpoint(msgspec.Struct, frozen=True):
    checkpoint_id: int
    timestamp_ms: int
    #: the CheckpointType's value
    kind: str
    #: the checkpoint's directory URL (``<jobmanager>/chk-<n>`` for in-memory storage)
    external_pointer: str
    #: the bytes of its ``_metadata`` file
    metadata: bytes
    duration_ms: int


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(StoredCheckpoint)


def encode_checkpoint(checkpoint: CompletedCheckpoint) -> bytes:
    return _encoder.encode(StoredCheckpoint(
        checkpoint.checkpoint_id, checkpoint.timestamp_ms, checkpoint.kind.value,
        checkpoint.external_pointer, encode_metadata(checkpoint.metadata),
        checkpoint.duration_ms))


def decode_checkpoint(payload: bytes, where: str = "the completed checkpoint store"
                      ) -> CompletedCheckpoint:
    """The checkpoint ``payload`` describes; its location can discard its files again."""
    try:
        stored = _decoder.decode(payload)
    except msgspec.DecodeError as e:
        raise ValueError(f"A checkpoint in {where} is damaged ({e}); it was not written by "
                         "this strom version, or its file was changed.") from e
    metadata = decode_metadata(stored.metadata, f"checkpoint {stored.checkpoint_id} in {where}")
    pointer = stored.external_pointer
    location: CheckpointLocation
    if pointer.startswith(_IN_MEMORY_PREFIX):
        location = InMemoryCheckpointLocation(pointer[len(_IN_MEMORY_PREFIX):])
    else:
        location = CheckpointLocation(pointer)
    return CompletedCheckpoint(
        stored.checkpoint_id, stored.timestamp_ms, CheckpointType(stored.kind), pointer,
        metadata, metadata.size_bytes(), stored.duration_ms, location)
