"""Shared checkpoint state: files referenced by several checkpoints, deleted when none needs
them any more (Flink's ``SharedStateRegistry``).

Incremental RocksDB checkpoints upload each SST file once, to the job's ``shared/``
directory, and later checkpoints reference it by name. The checkpoint coordinator keeps one
:class:`SharedStateRegistry` per job:

* when a checkpoint completes: ``registry.register_checkpoint(cid, shared_state_of(metadata))``
  (before older checkpoints are subsumed, so files they share with it stay);
* when a completed checkpoint is subsumed or discarded:
  ``discard_shared_state(registry.release_checkpoint(cid))``;
* on a restore from a retained checkpoint, its files are registered again in the same way.

The registry itself does no I/O: it only counts references.
"""

from __future__ import annotations

import logging
import pickle
from collections.abc import Callable, Iterable
from typing import Any

from strom.state.checkpoint_metadata import (
    ByteStreamStateHandle,
    CheckpointMetadata,
    FileStateHandle,
    StateHandle,
)

__all__ = ["SharedStateRegistry", "discard_shared_state", "shared_state_of"]

log = logging.getLogger(__name__)


class SharedStateRegistry:
    """Reference counts of shared state files (by URL) over the registered checkpoints.

    >>> r = SharedStateRegistry()
    >>> r.register_checkpoint(1, ["a", "b"])
    >>> r.register_checkpoint(2, ["b", "c"])
    >>> r.release_checkpoint(1)
    ['a']
    >>> r.release_checkpoint(2)
    ['b', 'c']
    """

    def __init__(self) -> None:
        self._references: dict[str, int] = {}
        self._checkpoints: dict[int, frozenset[str]] = {}

    def register_checkpoint(self, checkpoint_id: int, urls: Iterable[str]) -> None:
        """Count ``checkpoint_id``'s references to the shared files ``urls`` (registering
        the same checkpoint twice counts it once)."""
        if checkpoint_id in self._checkpoints:
            return
        files = frozenset(urls)
        self._checkpoints[checkpoint_id] = files
        for url in files:
            self._references[url] = self._references.get(url, 0) + 1

    def release_checkpoint(self, checkpoint_id: int) -> list[str]:
        """Drop ``checkpoint_id``'s references; returns the files no checkpoint refers to
        any more (sorted): the caller deletes them. An unknown checkpoint releases
        nothing."""
        files = self._checkpoints.pop(checkpoint_id, frozenset())
        unreferenced = []
        for url in files:
            count = self._references[url] - 1
            if count:
                self._references[url] = count
            else:
                del self._references[url]
                unreferenced.append(url)
        return sorted(unreferenced)

    def reference_count(self, url: str) -> int:
        return self._references.get(url, 0)

    def checkpoints(self) -> list[int]:
        """The registered checkpoints, in id order."""
        return sorted(self._checkpoints)

    def files(self) -> frozenset[str]:
        """Every shared file some registered checkpoint refers to."""
        return frozenset(self._references)

    def __repr__(self) -> str:
        return (f"SharedStateRegistry(checkpoints={self.checkpoints()}, "
                f"files={len(self._references)})")


def _default_read(handle: StateHandle) -> bytes:
    from strom.state.checkpoint_storage import read_state

    return read_state(handle)


def shared_state_of(
    metadata: CheckpointMetadata, read: Callable[[StateHandle], bytes] = _default_read
) -> frozenset[str]:
    """The shared files a checkpoint refers to: those of its incremental keyed snapshots.

    Reads only keyed handles that may hold one: inline handles, and files written by
    :func:`~strom.state.rocksdb_incremental.write_incremental_handle` (canonical keyed
    state in files is not read)."""
    from strom.state.rocksdb_incremental import INCREMENTAL_STATE_NAME

    urls: set[str] = set()
    for operator in metadata.operators:
        for subtask in operator.subtasks.values():
            handle = subtask.keyed
            if handle is None:
                continue
            if isinstance(handle, FileStateHandle) and INCREMENTAL_STATE_NAME not in handle.url:
                continue
            if not isinstance(handle, ByteStreamStateHandle | FileStateHandle):
                continue
            keyed: Any = _unpickled(read(handle))
            shared_urls = getattr(keyed, "shared_urls", None)
            if callable(shared_urls):
                urls.update(shared_urls())
    return frozenset(urls)


def _unpickled(data: bytes) -> Any:
    try:
        return pickle.loads(data)
    except Exception:  # not pickled state of this kind: it shares nothing
        return None


def discard_shared_state(urls: Iterable[str]) -> None:
    """Delete shared files (logs and skips the ones that cannot be deleted)."""
    from fsspec.core import url_to_fs

    for url in urls:
        try:
            fs, path = url_to_fs(url)
            if fs.exists(path):
                fs.rm(path)
        except Exception as exc:  # a leftover file is not worth failing a checkpoint for
            log.warning("could not delete shared checkpoint file %s: %s", url, exc)
