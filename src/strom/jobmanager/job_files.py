"""The files shipped with jobs, stored per job on the JobManager (Flink's BlobServer role).

A client submitting to a remote cluster sends the program file and the job's
``python.files`` (``--pyFiles``, ``env.add_python_file``); the Dispatcher writes them under
``<root>/job-<jobid>/`` and the job's tasks get that directory's entries on ``sys.path``.
The directory is removed when the job ends.

>>> import tempfile
>>> store = JobFileStore(tempfile.mkdtemp())
>>> job = JobID("0" * 32)
>>> entries = store.install(job, JobSubmission([JobFile("program/job.py", b"x = 1")],
...                                            ["program"]))
>>> [e.endswith("program") for e in entries]
[True]
>>> store.remove(job)
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path, PurePosixPath

from strom.common.job import JobID
from strom.jobmanager.cluster_info import JobFile, JobSubmission

__all__ = ["InvalidJobFileError", "JobFileStore", "check_relative_path"]


class InvalidJobFileError(ValueError):
    """A shipped file's path would land outside the job's directory."""


def check_relative_path(path: str, what: str = "job file") -> PurePosixPath:
    """``path`` as a relative path inside the job's directory, or InvalidJobFileError."""
    pure = PurePosixPath(path)
    if not path or pure.is_absolute() or ".." in pure.parts or "\\" in path:
        raise InvalidJobFileError(
            f"The {what} path {path!r} must be relative to the job's directory, with '/' "
            "separators and no '..'. Submit with `strom run -m`, which lays the files out."
        )
    return pure


class JobFileStore:
    """Per-job directories under ``root`` (a new temporary directory on first use)."""

    def __init__(self, root: str | None = None) -> None:
        self._root = Path(root) if root is not None else None
        self._owns_root = root is None
        self._jobs: dict[JobID, Path] = {}

    def _job_dir(self, job_id: JobID) -> Path:
        if self._root is None:
            self._root = Path(tempfile.mkdtemp(prefix="strom-job-files-"))
        return self._root / f"job-{job_id}"

    def install(self, job_id: JobID, submission: JobSubmission) -> list[str]:
        """Write the job's files; the absolute ``sys.path`` entries for its tasks."""
        files: list[tuple[PurePosixPath, JobFile]] = [
            (check_relative_path(f.path), f) for f in submission.files]
        entries = [check_relative_path(e, "python path entry") for e in submission.python_path]
        if not files and not entries:
            return []
        job_dir = self._job_dir(job_id)
        job_dir.mkdir(parents=True, exist_ok=True)
        self._jobs[job_id] = job_dir
        for relative, file in files:
            target = job_dir.joinpath(*relative.parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(file.data)
        absolute = []
        for entry in entries:
            path = job_dir.joinpath(*entry.parts)
            if not path.exists():  # a directory entry with no files in it yet
                path.mkdir(parents=True)
            absolute.append(os.fspath(path))
        return absolute

    def remove(self, job_id: JobID) -> None:
        job_dir = self._jobs.pop(job_id, None)
        if job_dir is not None:
            shutil.rmtree(job_dir, ignore_errors=True)

    def close(self) -> None:
        for job_id in list(self._jobs):
            self.remove(job_id)
        if self._owns_root and self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)
            self._root = None

    def leftovers(self) -> list[str]:
        return [f"files of job {job_id} are still stored in {path}"
                for job_id, path in self._jobs.items()]
