"""Incremental checkpoints of the ``rocksdb`` backend (``execution.checkpointing.incremental``).

A checkpoint is a native RocksDB checkpoint: hard links of the DB's immutable SST files plus
its small metadata files (MANIFEST, CURRENT, OPTIONS). SST files never change, so a file
uploaded by an earlier checkpoint need not be uploaded again: the new checkpoint references
it by name. Three steps, as in Flink:

1. :func:`snapshot_incremental` (task thread, synchronous part): flush, create the local
   checkpoint, copy the timers, and split its SST files into new ones and ones the last
   *confirmed* checkpoint already uploaded (:attr:`confirmed_shared`).
2. :func:`upload_incremental_snapshot` (upload thread): new SST files go to the job's
   ``shared/`` directory as ``<backend id>-<file name>``; the metadata files go into the
   checkpoint's own directory (``CheckpointLocation.write_state``). The result, an
   :class:`IncrementalKeyedSnapshot`, is what the keyed state handle stores (pickled; write
   it with :func:`write_incremental_handle`).
3. When the checkpoint completes, ``backend.notify_checkpoint_complete`` makes its files
   the base of the next one. Shared files are deleted when no retained checkpoint refers to
   them: :class:`~strom.state.shared_state.SharedStateRegistry` counts the references.

A restore at the same key-group range downloads the files and opens the DB as is; at
another parallelism it opens each snapshot's DB and copies the rows of its own key groups
(contiguous, as rows are key-group-prefixed). The first checkpoint after a restore uploads
all its files (Flink's ``NO_CLAIM`` restore mode): the restored files may belong to another
job's checkpoints.
"""

from __future__ import annotations

import itertools
import os
import pickle
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from strom.state.checkpoint_metadata import FileStateHandle, StateHandle
from strom.state.key_groups import KeyGroupRange
from strom.state.rocksdb_keys import key_group_prefix
from strom.state.snapshots import (
    KeyedStateSnapshot,
    StateMeta,
    decode_key_group,
    encode_key_group,
)

if TYPE_CHECKING:
    from strom.state.checkpoint_storage import CheckpointLocation
    from strom.state.rocksdb_backend import RocksDBKeyedStateBackend

__all__ = [
    "INCREMENTAL_STATE_NAME",
    "IncrementalKeyedSnapshot",
    "LocalIncrementalSnapshot",
    "canonical_keyed_state",
    "canonical_snapshot",
    "restore_incremental",
    "shared_dir_of",
    "snapshot_incremental",
    "upload_incremental_snapshot",
    "upload_keyed_state",
    "write_incremental_handle",
]

INCREMENTAL_STATE_NAME = "rocksdb-incremental"
"""The name (URL part) of keyed handles that hold an :class:`IncrementalKeyedSnapshot`."""

_restore_numbers = itertools.count()


@dataclass(frozen=True)
class IncrementalKeyedSnapshot:
    """One backend's incremental checkpoint, as stored: handles of its files.

    ``shared`` maps every SST file of the checkpoint to its file in the job's ``shared/``
    directory (``uploaded`` names the ones this checkpoint uploaded, the others were
    uploaded by earlier ones); ``private`` holds the DB's other files. Timers are canonical
    key-group payloads (without states)."""

    checkpoint_id: int
    backend_id: str
    max_parallelism: int
    key_group_range: KeyGroupRange
    states: dict[str, StateMeta]
    timer_services: tuple[str, ...]
    timers: dict[int, bytes]
    shared: dict[str, FileStateHandle]
    private: dict[str, StateHandle]
    uploaded: tuple[str, ...] = ()
    backend_type: str = "rocksdb"

    def shared_urls(self) -> frozenset[str]:
        """The URLs of the shared files this checkpoint needs."""
        return frozenset(handle.url for handle in self.shared.values())

    def size_bytes(self) -> int:
        """The full size of the state (all SST files)."""
        return sum(h.size for h in self.shared.values())

    def incremental_size_bytes(self) -> int:
        """What this checkpoint uploaded (its new SST files)."""
        return sum(self.shared[name].size for name in self.uploaded)

    def is_empty(self) -> bool:
        return False


@dataclass
class LocalIncrementalSnapshot:
    """The synchronous part's result: a local RocksDB checkpoint waiting to be uploaded."""

    checkpoint_id: int
    backend_id: str
    max_parallelism: int
    key_group_range: KeyGroupRange
    directory: str
    sst_files: dict[str, int]
    reused: dict[str, FileStateHandle]
    private_files: tuple[str, ...]
    states: dict[str, StateMeta]
    timer_services: tuple[str, ...]
    timers: dict[int, bytes]
    on_uploaded: Callable[[int, dict[str, FileStateHandle]], None] = field(repr=False)


def snapshot_incremental(backend: RocksDBKeyedStateBackend, checkpoint_id: int
                         ) -> LocalIncrementalSnapshot:
    """Flush, create a local RocksDB checkpoint (hard links) and copy the timers: the cheap
    synchronous part, run on the task's thread."""
    path = backend.create_local_checkpoint(f"chk-{checkpoint_id}")
    sst_files: dict[str, int] = {}
    private: list[str] = []
    for name in sorted(os.listdir(path)):
        if name.endswith(".sst"):
            sst_files[name] = os.path.getsize(os.path.join(path, name))
        else:
            private.append(name)
    with backend._lock:
        base = dict(backend.confirmed_shared)
    timers = {kg: encode_key_group(p) for kg, p in sorted(backend._timer_payloads().items())}

    def on_uploaded(cid: int, shared: dict[str, FileStateHandle]) -> None:
        with backend._lock:
            backend.pending_shared[cid] = shared

    return LocalIncrementalSnapshot(
        checkpoint_id=checkpoint_id,
        backend_id=backend.backend_id,
        max_parallelism=backend.max_parallelism,
        key_group_range=backend.key_group_range,
        directory=path,
        sst_files=sst_files,
        reused={name: base[name] for name in sst_files if name in base},
        private_files=tuple(private),
        states={name: meta for name, (_, meta) in backend._metas.items()},
        timer_services=tuple(backend._timer_services),
        timers=timers,
        on_uploaded=on_uploaded,
    )


def _copy_to(local_path: str, url: str) -> None:
    from fsspec.core import url_to_fs

    fs, path = url_to_fs(url)
    fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
    fs.put_file(local_path, path)


def upload_incremental_snapshot(
    local: LocalIncrementalSnapshot, location: CheckpointLocation, shared_dir: str | None
) -> IncrementalKeyedSnapshot:
    """Upload what ``local`` adds (run on the upload thread) and remove the local copy.

    New SST files go to ``shared_dir`` (``CheckpointStorage.shared_dir``); without one
    (JobManager checkpoint storage) every file is the checkpoint's own state, so nothing is
    shared and nothing is incremental."""
    try:
        shared: dict[str, FileStateHandle] = {}
        private: dict[str, StateHandle] = {}
        uploaded: list[str] = []
        for name, size in local.sst_files.items():
            path = os.path.join(local.directory, name)
            reused = local.reused.get(name)
            if reused is not None:
                shared[name] = reused
            elif shared_dir is not None:
                url = f"{shared_dir.rstrip('/')}/{local.backend_id}-{name}"
                _copy_to(path, url)
                shared[name] = FileStateHandle(url, size)
                uploaded.append(name)
            else:
                with open(path, "rb") as f:
                    private[name] = location.write_state(f"rocksdb-{name}", f.read())
        for name in local.private_files:
            with open(os.path.join(local.directory, name), "rb") as f:
                private[name] = location.write_state(f"rocksdb-{name}", f.read())
    finally:
        shutil.rmtree(local.directory, ignore_errors=True)
    local.on_uploaded(local.checkpoint_id, shared)
    return IncrementalKeyedSnapshot(
        checkpoint_id=local.checkpoint_id,
        backend_id=local.backend_id,
        max_parallelism=local.max_parallelism,
        key_group_range=local.key_group_range,
        states=local.states,
        timer_services=local.timer_services,
        timers=local.timers,
        shared=shared,
        private=private,
        uploaded=tuple(uploaded),
    )


def write_incremental_handle(
    location: CheckpointLocation, snapshot: IncrementalKeyedSnapshot
) -> StateHandle:
    """The keyed state handle of an incremental snapshot: pickled, named so that
    :func:`strom.state.shared_state.shared_state_of` finds it without reading other state."""
    return location.write_state(INCREMENTAL_STATE_NAME, pickle.dumps(snapshot, protocol=5))


def shared_dir_of(location_url: str) -> str | None:
    """The job's ``shared/`` directory beside a checkpoint directory
    ``<base>/<job-id>/chk-<n>``; None for other locations (savepoints, JobManager storage).

    >>> shared_dir_of("file:///c/job/chk-7"), shared_dir_of("file:///s/savepoint-ab-cd")
    ('file:///c/job/shared', None)
    """
    parent, _, name = location_url.rstrip("/").rpartition("/")
    if not parent or not name.startswith("chk-"):
        return None
    return f"{parent}/shared"


def upload_keyed_state(
    keyed: Any, location: CheckpointLocation, shared_dir: str | None, name: str
) -> StateHandle:
    """The keyed state handle of a materialized snapshot, for the upload thread: an
    incremental one is uploaded first (:func:`upload_incremental_snapshot`), anything else
    (a canonical :class:`KeyedStateSnapshot`) is pickled into ``location`` as ``name``.
    Without a shared directory (JobManager checkpoint storage) an incremental snapshot is
    stored in canonical form."""
    from strom.common import _pickling

    if isinstance(keyed, LocalIncrementalSnapshot):
        snapshot = upload_incremental_snapshot(keyed, location, shared_dir)
        if shared_dir is not None:
            return write_incremental_handle(location, snapshot)
        # JobManager storage keeps state in memory: nothing to share, so store it canonical
        keyed = canonical_snapshot(snapshot)

    return location.write_state(name, _pickling.dumps(keyed))


def _download(snapshot: IncrementalKeyedSnapshot, directory: str) -> None:
    from strom.state.checkpoint_storage import read_state

    os.makedirs(directory)
    for name, handle in {**snapshot.shared, **snapshot.private}.items():
        with open(os.path.join(directory, name), "wb") as f:
            f.write(read_state(handle))


def restore_incremental(
    backend: RocksDBKeyedStateBackend, snapshots: list[IncrementalKeyedSnapshot]
) -> None:
    """Restore incremental snapshots into a fresh ``backend`` (see the module docstring)."""
    from strom.state.rocksdb_backend import _close_and_remove, _open, read_metas, scan_rows

    key_range = backend.key_group_range
    if (len(snapshots) == 1 and snapshots[0].key_group_range == key_range
            and not backend.state_names()):
        snap = snapshots[0]
        path = os.path.join(backend.directory, f"restore-{next(_restore_numbers)}")
        _download(snap, path)
        backend.replace_db(path)
        _restore_timers(backend, snap)
        # The restored files are not a base for the next checkpoint, which uploads all its
        # files: the snapshot may belong to another job, whose shared files that job deletes
        # (Flink's default restore mode, NO_CLAIM).
        return
    import rocksdict

    for snap in snapshots:
        r = snap.key_group_range
        start, end = max(r.start, key_range.start), min(r.end, key_range.end)
        if start > end:
            continue
        path = os.path.join(backend.directory, f"restore-{next(_restore_numbers)}")
        _download(snap, path)
        db = _open(path, backend.options, read_only=True)
        try:
            ids = {sid: backend.prepare_restored_state(name, meta)
                   for name, (sid, meta) in read_metas(db).items()}
            batch = rocksdict.WriteBatch(raw_mode=True)
            for row, value in scan_rows(db, key_groups=KeyGroupRange(start, end)):
                kg = int.from_bytes(row[:2], "big")
                sid = ids[int.from_bytes(row[2:4], "big")]
                batch.put(key_group_prefix(kg, sid) + row[4:], value)
                if len(batch) >= 4096:
                    backend._db.write(batch)
                    batch = rocksdict.WriteBatch(raw_mode=True)
            backend._db.write(batch)
        finally:
            _close_and_remove(db, path)
        _restore_timers(backend, snap)


def canonical_snapshot(snapshot: IncrementalKeyedSnapshot) -> KeyedStateSnapshot:
    """The canonical form of an incremental snapshot (downloads and reads its files): what
    the ``hashmap`` backend restores and a savepoint reader lists."""
    from strom.state.rocksdb_backend import RocksDBKeyedStateBackend

    backend = RocksDBKeyedStateBackend(snapshot.max_parallelism, snapshot.key_group_range)
    try:
        backend.restore([snapshot])
        return backend.snapshot()
    finally:
        backend.dispose()


def canonical_keyed_state(keyed: Any) -> Any:
    """``keyed`` in canonical form if it is an incremental snapshot, else as it is: what
    a backend other than rocksdb restores (a job that switched backends)."""
    return canonical_snapshot(keyed) if isinstance(keyed, IncrementalKeyedSnapshot) else keyed


def _restore_timers(backend: Any, snap: IncrementalKeyedSnapshot) -> None:
    for name in snap.timer_services:
        backend.get_timer_service(name)
    for kg, blob in snap.timers.items():
        if kg in backend.key_group_range:
            for name, (event_time, processing_time) in decode_key_group(blob)[1].items():
                backend.get_timer_service(name).restore_timers(event_time, processing_time)
