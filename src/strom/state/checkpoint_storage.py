"""Checkpoint storage: where checkpoints and savepoints are written, through fsspec.

The layout is Flink's::

    <execution.checkpointing.dir>/<job-id>/chk-<n>/_metadata     one completed checkpoint
    <execution.checkpointing.dir>/<job-id>/chk-<n>/<state files>  its exclusive state
    <execution.checkpointing.dir>/<job-id>/shared/                 state shared by checkpoints
                                                                    (incremental RocksDB files)
    <execution.checkpointing.dir>/<job-id>/taskowned/              state owned by the tasks
    <savepoint dir>/savepoint-<6 hex of job id>-<12 hex>/_metadata a savepoint (self-contained)

A directory is any fsspec URL: a plain path or ``file://`` (the default), ``memory://``
(tests), ``s3://`` with ``s3fs`` installed, and so on. Without a directory, checkpoints are
kept by the JobManager in memory (Flink's ``jobmanager`` checkpoint storage): state is
inlined into the metadata, nothing is written, and nothing survives the JobManager.
"""

from __future__ import annotations

import os
import secrets
from typing import Any

import fsspec
from fsspec.core import url_to_fs

from strom.state.checkpoint_metadata import (
    ByteStreamStateHandle,
    CheckpointMetadata,
    FileStateHandle,
    StateHandle,
    decode_metadata,
    encode_metadata,
)

__all__ = [
    "DEFAULT_MEMORY_THRESHOLD",
    "METADATA_FILE",
    "CheckpointLocation",
    "CheckpointStorage",
    "InMemoryCheckpointLocation",
    "dispose_savepoint",
    "read_metadata",
    "read_state",
    "resolve_pointer",
]

METADATA_FILE = "_metadata"
DEFAULT_MEMORY_THRESHOLD = 20 * 1024
"""State smaller than this is inlined into the metadata (Flink's
``state.storage.fs.memory-threshold``, 20 KiB)."""


def _normalize(url: str) -> str:
    """A URL with a protocol; plain paths become absolute local paths."""
    if "://" in url:
        return url.rstrip("/")
    if url.startswith("file:"):  # Flink's "file:/tmp/x" form
        return "file://" + os.path.abspath(url[len("file:"):])
    return "file://" + os.path.abspath(os.path.expanduser(url))


def _fs(url: str) -> tuple[Any, str]:
    fs, path = url_to_fs(url)
    return fs, path


class CheckpointLocation:
    """The directory of one checkpoint or savepoint being written."""

    def __init__(self, url: str, memory_threshold: int = DEFAULT_MEMORY_THRESHOLD) -> None:
        self.url = _normalize(url)
        self.memory_threshold = memory_threshold
        self._created = False

    def _ensure_dir(self) -> tuple[Any, str]:
        fs, path = _fs(self.url)
        if not self._created:
            fs.makedirs(path, exist_ok=True)
            self._created = True
        return fs, path

    def write_state(self, name: str, data: bytes) -> StateHandle:
        """Store one piece of state: inline when small, else as the file ``name`` here
        (a random suffix keeps names unique across attempts)."""
        if len(data) < self.memory_threshold:
            return ByteStreamStateHandle(data)
        fs, path = self._ensure_dir()
        file_path = f"{path}/{name}-{secrets.token_hex(8)}"
        with fs.open(file_path, "wb") as f:
            f.write(data)
        return FileStateHandle(fs.unstrip_protocol(file_path), len(data))

    def write_metadata(self, metadata: CheckpointMetadata) -> str:
        """Write ``_metadata`` (atomically: a temporary name, then a rename) and return the
        location's URL, the checkpoint's external pointer."""
        fs, path = self._ensure_dir()
        temporary = f"{path}/.{METADATA_FILE}.inprogress-{secrets.token_hex(4)}"
        with fs.open(temporary, "wb") as f:
            f.write(encode_metadata(metadata))
        fs.mv(temporary, f"{path}/{METADATA_FILE}")
        return self.url

    def discard(self) -> None:
        """Remove the directory and everything in it (a failed or subsumed checkpoint)."""
        fs, path = _fs(self.url)
        if fs.exists(path):
            fs.rm(path, recursive=True)


class InMemoryCheckpointLocation(CheckpointLocation):
    """JobManager checkpoint storage: everything is inlined, nothing is written."""

    def __init__(self, name: str) -> None:
        self.url = f"<jobmanager>/{name}"
        self.memory_threshold = 2**63
        self._created = True
        self.metadata: CheckpointMetadata | None = None

    def write_state(self, name: str, data: bytes) -> StateHandle:
        return ByteStreamStateHandle(data)

    def write_metadata(self, metadata: CheckpointMetadata) -> str:
        self.metadata = metadata
        return self.url

    def discard(self) -> None:
        self.metadata = None


class CheckpointStorage:
    """Where one job's checkpoints go (``base_dir`` None: in the JobManager's memory)."""

    def __init__(
        self, base_dir: str | None, job_id: str,
        memory_threshold: int = DEFAULT_MEMORY_THRESHOLD,
    ) -> None:
        self.base_dir = None if base_dir is None else _normalize(base_dir)
        self.job_id = job_id
        self.memory_threshold = memory_threshold

    @property
    def job_dir(self) -> str | None:
        return None if self.base_dir is None else f"{self.base_dir}/{self.job_id}"

    @property
    def shared_dir(self) -> str | None:
        return None if self.job_dir is None else f"{self.job_dir}/shared"

    @property
    def taskowned_dir(self) -> str | None:
        return None if self.job_dir is None else f"{self.job_dir}/taskowned"

    def checkpoint_location(self, checkpoint_id: int) -> CheckpointLocation:
        if self.job_dir is None:
            return InMemoryCheckpointLocation(f"chk-{checkpoint_id}")
        return CheckpointLocation(f"{self.job_dir}/chk-{checkpoint_id}", self.memory_threshold)

    def savepoint_location(self, target_dir: str) -> CheckpointLocation:
        """A new savepoint directory ``savepoint-<6 hex of job id>-<12 hex>`` in
        ``target_dir``: savepoints are self-contained and owned by the user."""
        name = f"savepoint-{self.job_id[:6]}-{secrets.token_hex(6)}"
        return CheckpointLocation(f"{_normalize(target_dir)}/{name}", self.memory_threshold)

    def initialize(self) -> None:
        """Create the job's directories (``shared``, ``taskowned``)."""
        for url in (self.shared_dir, self.taskowned_dir):
            if url is not None:
                fs, path = _fs(url)
                fs.makedirs(path, exist_ok=True)

    def discard_job_dir(self) -> None:
        """Remove the job's checkpoint directory when no checkpoint is retained."""
        if self.job_dir is not None:
            fs, path = _fs(self.job_dir)
            if fs.exists(path):
                fs.rm(path, recursive=True)


def read_state(handle: StateHandle) -> bytes:
    """The bytes a handle points at."""
    if isinstance(handle, ByteStreamStateHandle):
        return handle.data
    with fsspec.open(handle.url, "rb") as f:
        data: bytes = f.read()
    return data


def resolve_pointer(path: str) -> tuple[str, str]:
    """``(directory URL, _metadata URL)`` of a checkpoint or savepoint given as either."""
    url = _normalize(path)
    if url.rsplit("/", 1)[-1] == METADATA_FILE:
        return url.rsplit("/", 1)[0], url
    return url, f"{url}/{METADATA_FILE}"


def read_metadata(path: str) -> CheckpointMetadata:
    """The metadata of the checkpoint or savepoint at ``path`` (its directory or its
    ``_metadata`` file; any fsspec URL)."""
    directory, metadata_url = resolve_pointer(path)
    fs, fs_path = _fs(metadata_url)
    if not fs.exists(fs_path):
        dir_fs, dir_path = _fs(directory)
        if not dir_fs.exists(dir_path):
            raise FileNotFoundError(f"no checkpoint or savepoint at {path!r}: it does not exist")
        raise FileNotFoundError(
            f"{path!r} has no {METADATA_FILE} file: it is not a completed checkpoint or "
            "savepoint (an unfinished one, or another directory)")
    with fs.open(fs_path, "rb") as f:
        data = f.read()
    return decode_metadata(data, metadata_url)


def dispose_savepoint(path: str) -> None:
    """Delete a savepoint: its metadata is checked first, so a wrong path deletes nothing."""
    read_metadata(path)
    directory, _ = resolve_pointer(path)
    fs, fs_path = _fs(directory)
    fs.rm(fs_path, recursive=True)
