"""The recovery stores of a ZooKeeper cluster: small pointers in ZooKeeper, payloads as files
under ``high-availability.storageDir`` (any fsspec URL or path), as Flink keeps them.

* :class:`ZooKeeperJobGraphStore` — ``{cluster}/jobgraphs/{job-id}`` holds the URL of
  ``{storageDir}{cluster-id}/submittedJobGraph-<hex>`` (the msgpack
  :class:`~strom.ha.stores.StoredJobGraph`);
* :class:`ZooKeeperCheckpointIDCounter` — ``{cluster}/jobs/{job-id}/checkpoint_id_counter``,
  an integer incremented by versioned compare-and-set, so two clients never get one id twice;
* :class:`ZooKeeperCompletedCheckpointStore` — ``{cluster}/jobs/{job-id}/checkpoints/{id:019d}``
  holds the URL of ``{storageDir}{cluster-id}/completedCheckpoint-<hex>``; ``add`` is a
  ZooKeeper transaction that also checks that this JobManager's latch node still exists, so
  a deposed leader's ``add`` fails with :class:`~strom.ha.stores.LeadershipLostError`;
* :class:`FileSystemJobResultStore` — ``{job-id}_DIRTY.json``, then ``{job-id}.json`` (or
  nothing with ``job-result-store.delete-on-commit``), files only.

Files are written to a temporary name and renamed, so a reader never sees half a file.
Every method blocks: call them off the RPC loop.
"""

from __future__ import annotations

import logging
import posixpath
import uuid
from collections.abc import Callable
from typing import Any

import fsspec
import msgspec
from fsspec.core import url_to_fs
from kazoo.exceptions import (
    BadVersionError,
    NodeExistsError,
    NoNodeError,
    NotEmptyError,
    SessionExpiredError,
)

from strom.common.config_options_ha import HA_STORAGE_DIR, JOB_RESULT_STORE_STORAGE_PATH
from strom.common.job import JobID, JobStatus
from strom.ha.stores import JobResultEntry, LeadershipLostError, StoredJobGraph
from strom.ha.zookeeper.client import ZooKeeperClient

__all__ = [
    "FileSystemJobResultStore",
    "HaStorage",
    "INITIAL_CHECKPOINT_ID",
    "ZooKeeperCheckpointIDCounter",
    "ZooKeeperCheckpointRecoveryFactory",
    "ZooKeeperCompletedCheckpointStore",
    "ZooKeeperJobGraphStore",
]

log = logging.getLogger(__name__)

#: the first checkpoint id of a job (Flink's CheckpointIDCounter.INITIAL_CHECKPOINT_ID)
INITIAL_CHECKPOINT_ID = 1

#: what the leader's latch node is while it leads, None otherwise
LatchProvider = Callable[[], "str | None"]


# ---------------------------------------------------------------------- files
def _write_atomically(fs: Any, path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same directory."""
    directory = posixpath.dirname(path)
    fs.makedirs(directory, exist_ok=True)
    temporary = f"{directory}/.{posixpath.basename(path)}.{uuid.uuid4().hex}.tmp"
    with fs.open(temporary, "wb") as out:
        out.write(data)
    fs.mv(temporary, path)


class HaStorage:
    """The payload files of one cluster: ``{storageDir}{cluster-id}/<prefix>-<hex>``.
    Errors of the file system name ``high-availability.storageDir``."""

    def __init__(self, storage_dir: str, cluster_path: str) -> None:
        self.base = storage_dir.rstrip("/") + cluster_path
        self._fs, self._path = url_to_fs(self.base)

    def write(self, prefix: str, data: bytes) -> str:
        """Store ``data`` in a new file; returns its URL (what ZooKeeper keeps)."""
        name = f"{prefix}-{uuid.uuid4().hex}"
        try:
            _write_atomically(self._fs, f"{self._path}/{name}", data)
        except OSError as error:
            raise OSError(
                f"Could not write {name} under {self.base} ({HA_STORAGE_DIR.key}): {error}. "
                "Check that the directory exists or can be created and is writable by every "
                "JobManager.") from error
        return f"{self.base}/{name}"

    @staticmethod
    def read(url: str) -> bytes:
        with fsspec.open(url, "rb") as f:
            return bytes(f.read())

    @staticmethod
    def delete(url: str) -> None:
        fs, path = url_to_fs(url)
        try:
            fs.rm(path)
        except FileNotFoundError:
            pass


# ---------------------------------------------------------------------- job graphs
class ZooKeeperJobGraphStore:
    """See the module docstring."""

    def __init__(self, client: ZooKeeperClient, storage: HaStorage) -> None:
        self._client = client
        self._storage = storage

    def put(self, job: StoredJobGraph) -> None:
        """Store ``job`` (replacing an earlier graph of the same id)."""
        kazoo = self._client.kazoo
        path = self._client.paths.job_graph(JobID.from_hex_string(job.job_id))
        url = self._storage.write("submittedJobGraph", msgspec.msgpack.encode(job)).encode()
        while True:
            try:
                data, stat = kazoo.get(path)
            except NoNodeError:
                try:
                    kazoo.create(path, url, makepath=True)
                    return
                except NodeExistsError:
                    continue
            try:
                kazoo.set(path, url, version=stat.version)
            except (BadVersionError, NoNodeError):
                continue
            HaStorage.delete(data.decode())
            return

    def job_ids(self) -> list[JobID]:
        try:
            children = self._client.kazoo.get_children(self._client.paths.job_graphs)
        except NoNodeError:
            return []
        return sorted(JobID.from_hex_string(child) for child in children)

    def recover(self, job_id: JobID) -> StoredJobGraph | None:
        """The stored graph of ``job_id``, None when there is none."""
        try:
            data, _stat = self._client.kazoo.get(self._client.paths.job_graph(job_id))
        except NoNodeError:
            return None
        url = data.decode()
        try:
            payload = HaStorage.read(url)
        except FileNotFoundError as error:
            raise FileNotFoundError(
                f"The job graph of job {job_id} is registered in ZooKeeper but its file "
                f"{url} is missing ({HA_STORAGE_DIR.key}); was the storage directory "
                "cleaned up or is it not shared by all JobManagers?") from error
        return msgspec.msgpack.decode(payload, type=StoredJobGraph)

    def remove(self, job_id: JobID) -> None:
        path = self._client.paths.job_graph(job_id)
        try:
            data, stat = self._client.kazoo.get(path)
            self._client.kazoo.delete(path, version=stat.version)
        except NoNodeError:
            return
        HaStorage.delete(data.decode())


# ---------------------------------------------------------------------- checkpoints
class ZooKeeperCheckpointIDCounter:
    """See the module docstring; the counter starts at :data:`INITIAL_CHECKPOINT_ID`."""

    def __init__(self, client: ZooKeeperClient, job_id: JobID) -> None:
        self._client = client
        self._job_id = job_id
        self._path = client.paths.checkpoint_id_counter(job_id)

    def _read(self) -> tuple[int, int | None]:
        """(value, version), version None when the node does not exist yet."""
        try:
            data, stat = self._client.kazoo.get(self._path)
        except NoNodeError:
            return INITIAL_CHECKPOINT_ID, None
        return int(data.decode()), stat.version

    def _compare_and_set(self, version: int | None, value: int) -> bool:
        kazoo = self._client.kazoo
        try:
            if version is None:
                kazoo.create(self._path, str(value).encode(), makepath=True)
            else:
                kazoo.set(self._path, str(value).encode(), version=version)
        except (BadVersionError, NodeExistsError, NoNodeError):
            return False
        return True

    def get_and_increment(self) -> int:
        while True:
            value, version = self._read()
            if self._compare_and_set(version, value + 1):
                return value

    def get(self) -> int:
        return self._read()[0]

    def set_count(self, count: int) -> None:
        while True:
            _value, version = self._read()
            if self._compare_and_set(version, count):
                return

    def shutdown(self, status: JobStatus) -> None:
        if not status.is_globally_terminal_state():
            return
        try:
            self._client.kazoo.delete(self._path)
        except NoNodeError:
            pass
        _delete_if_empty(self._client, self._client.paths.job(self._job_id))


class ZooKeeperCompletedCheckpointStore:
    """See the module docstring. ``leader_latch()`` is the latch node this JobManager leads
    with (None while it does not lead)."""

    def __init__(self, client: ZooKeeperClient, storage: HaStorage, job_id: JobID,
                 leader_latch: LatchProvider) -> None:
        self._client = client
        self._storage = storage
        self._job_id = job_id
        self._leader_latch = leader_latch

    def add(self, checkpoint_id: int, payload: bytes) -> None:
        latch = self._leader_latch()
        if latch is None:
            raise LeadershipLostError(
                f"Checkpoint {checkpoint_id} of job {self._job_id} was not added to the "
                "completed checkpoint store: this JobManager does not lead (any more).")
        kazoo = self._client.kazoo
        try:
            kazoo.ensure_path(self._client.paths.checkpoints(self._job_id))
        except SessionExpiredError:
            raise self._session_expired(checkpoint_id) from None
        url = self._storage.write("completedCheckpoint", payload)
        transaction = kazoo.transaction()
        transaction.check(latch, -1)
        transaction.create(self._client.paths.checkpoint(self._job_id, checkpoint_id),
                           url.encode())
        try:
            results = transaction.commit()
        except SessionExpiredError:
            HaStorage.delete(url)
            raise self._session_expired(checkpoint_id) from None
        except Exception:
            HaStorage.delete(url)
            raise
        if any(isinstance(result, Exception) for result in results):
            HaStorage.delete(url)
            if isinstance(results[0], NoNodeError):
                raise LeadershipLostError(
                    f"Checkpoint {checkpoint_id} of job {self._job_id} was not added to the "
                    f"completed checkpoint store: this JobManager's leader latch {latch} is "
                    "gone from ZooKeeper, so another JobManager may lead now.")
            failure = next(r for r in results[1:] if isinstance(r, Exception))
            if isinstance(failure, NodeExistsError):
                raise ValueError(
                    f"Checkpoint {checkpoint_id} of job {self._job_id} is already in the "
                    "completed checkpoint store; checkpoint ids must be unique (they come "
                    "from the job's checkpoint id counter).")
            raise failure

    def _session_expired(self, checkpoint_id: int) -> LeadershipLostError:
        return LeadershipLostError(
            f"Checkpoint {checkpoint_id} of job {self._job_id} was not added to the completed "
            "checkpoint store: this JobManager's ZooKeeper session expired, and its "
            "leadership with it.")

    def remove(self, checkpoint_id: int) -> None:
        path = self._client.paths.checkpoint(self._job_id, checkpoint_id)
        try:
            data, stat = self._client.kazoo.get(path)
            self._client.kazoo.delete(path, version=stat.version)
        except NoNodeError:
            return
        HaStorage.delete(data.decode())

    def recover(self) -> list[tuple[int, bytes]]:
        """The retained checkpoints, oldest first."""
        kazoo = self._client.kazoo
        directory = self._client.paths.checkpoints(self._job_id)
        try:
            children = kazoo.get_children(directory)
        except NoNodeError:
            return []
        recovered = []
        for child in sorted(children, key=int):
            try:
                data, _stat = kazoo.get(f"{directory}/{child}")
            except NoNodeError:
                continue  # removed meanwhile
            url = data.decode()
            try:
                recovered.append((int(child), HaStorage.read(url)))
            except FileNotFoundError as error:
                raise FileNotFoundError(
                    f"Checkpoint {int(child)} of job {self._job_id} is registered in "
                    f"ZooKeeper but its file {url} is missing ({HA_STORAGE_DIR.key}); was the "
                    "storage directory cleaned up or is it not shared by all "
                    "JobManagers?") from error
        return recovered

    def shutdown(self, status: JobStatus) -> None:
        if not status.is_globally_terminal_state():
            return
        directory = self._client.paths.checkpoints(self._job_id)
        try:
            children = self._client.kazoo.get_children(directory)
        except NoNodeError:
            children = []
        for child in children:
            self.remove(int(child))
        _delete_if_empty(self._client, directory)
        _delete_if_empty(self._client, self._client.paths.job(self._job_id))


def _delete_if_empty(client: ZooKeeperClient, path: str) -> None:
    try:
        client.kazoo.delete(path)
    except (NoNodeError, NotEmptyError):
        pass


class ZooKeeperCheckpointRecoveryFactory:
    """The per-job counters and checkpoint stores of one cluster."""

    def __init__(self, client: Callable[[], ZooKeeperClient], storage: HaStorage,
                 leader_latch: LatchProvider) -> None:
        self._client = client
        self._storage = storage
        self._leader_latch = leader_latch

    def create_checkpoint_id_counter(self, job_id: JobID) -> ZooKeeperCheckpointIDCounter:
        return ZooKeeperCheckpointIDCounter(self._client(), job_id)

    def create_completed_checkpoint_store(
            self, job_id: JobID) -> ZooKeeperCompletedCheckpointStore:
        return ZooKeeperCompletedCheckpointStore(self._client(), self._storage, job_id,
                                                 self._leader_latch)


# ---------------------------------------------------------------------- job results
class _JobResultFile(msgspec.Struct):
    version: int
    result: JobResultEntry


class FileSystemJobResultStore:
    """See the module docstring. ``storage_path`` is a directory path or fsspec URL."""

    VERSION = 1

    def __init__(self, storage_path: str, delete_on_commit: bool = True) -> None:
        self.storage_path = storage_path.rstrip("/")
        self.delete_on_commit = delete_on_commit
        self._fs, self._path = url_to_fs(self.storage_path)

    def _dirty(self, job_id: JobID | str) -> str:
        return f"{self._path}/{_hex(job_id)}_DIRTY.json"

    def _clean(self, job_id: JobID | str) -> str:
        return f"{self._path}/{_hex(job_id)}.json"

    def create_dirty(self, entry: JobResultEntry) -> None:
        if self.has_entry(entry.job_id):
            raise ValueError(
                f"Job {entry.job_id} already has an entry in the job result store at "
                f"{self.storage_path}; a job's result is written once.")
        data = msgspec.json.encode(_JobResultFile(self.VERSION, entry))
        try:
            _write_atomically(self._fs, self._dirty(entry.job_id), data)
        except OSError as error:
            raise OSError(
                f"Could not write the result of job {entry.job_id} to the job result store "
                f"at {self.storage_path} ({JOB_RESULT_STORE_STORAGE_PATH.key}, default under "
                f"{HA_STORAGE_DIR.key}): {error}") from error

    def mark_clean(self, job_id: JobID) -> None:
        if self.has_clean(job_id):
            return
        dirty = self._dirty(job_id)
        if not self._fs.exists(dirty):
            raise ValueError(
                f"Job {job_id} has no dirty entry in the job result store at "
                f"{self.storage_path}; create_dirty() comes before mark_clean().")
        if self.delete_on_commit:
            self._fs.rm(dirty)
        else:
            self._fs.mv(dirty, self._clean(job_id))

    def has_entry(self, job_id: JobID | str) -> bool:
        return self.has_dirty(job_id) or self.has_clean(job_id)

    def has_dirty(self, job_id: JobID | str) -> bool:
        return bool(self._fs.exists(self._dirty(job_id)))

    def has_clean(self, job_id: JobID | str) -> bool:
        return bool(self._fs.exists(self._clean(job_id)))

    def dirty_entries(self) -> list[JobResultEntry]:
        try:
            names = self._fs.ls(self._path, detail=False)
        except FileNotFoundError:
            return []
        entries = []
        for name in sorted(names):
            if not str(name).endswith("_DIRTY.json"):
                continue
            with self._fs.open(name, "rb") as f:
                entries.append(msgspec.json.decode(f.read(), type=_JobResultFile).result)
        return entries


def _hex(job_id: JobID | str) -> str:
    return job_id if isinstance(job_id, str) else job_id.to_hex_string()
