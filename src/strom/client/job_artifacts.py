"""Which files a job submitted to a remote cluster takes along, and where they go.

The program file goes to ``program/`` and each ``python.files`` entry (``--pyFiles``,
``env.add_python_file``) to ``files/<n>/``, with the ``sys.path`` entries that make them
importable as they are on the client: the program's directory, a listed directory itself, a
zip/wheel/egg itself, the directory of a listed file. The JobManager stores them per job and
its tasks import from there (:mod:`strom.jobmanager.job_files`).

>>> import os, tempfile
>>> d = tempfile.mkdtemp(); p = os.path.join(d, "job.py"); _ = open(p, "w").write("x = 1")
>>> s = job_submission(p, PythonDependencies())
>>> [f.path for f in s.files], s.python_path
(['program/job.py'], ['program'])
"""

from __future__ import annotations

import os
from pathlib import Path

from strom.graph.python_dependencies import PythonDependencies
from strom.jobmanager.cluster_info import JobFile, JobSubmission

__all__ = ["job_submission"]

_IMPORTABLE_ARCHIVES = (".zip", ".whl", ".egg")
_SKIPPED_DIRECTORIES = frozenset({"__pycache__", ".git", ".venv", ".mypy_cache"})


def _directory_files(root: Path, target: str) -> list[JobFile]:
    files = []
    for directory, subdirectories, names in os.walk(root):
        subdirectories[:] = sorted(d for d in subdirectories if d not in _SKIPPED_DIRECTORIES)
        for name in sorted(names):
            path = Path(directory, name)
            relative = path.relative_to(root).as_posix()
            files.append(JobFile(f"{target}/{relative}", path.read_bytes()))
    return files


def job_submission(program: str | None, dependencies: PythonDependencies) -> JobSubmission:
    """The files and ``sys.path`` entries to ship for a job run from ``program``."""
    files: list[JobFile] = []
    python_path: list[str] = []
    if program is not None:
        path = Path(program)
        files.append(JobFile(f"program/{path.name}", path.read_bytes()))
        python_path.append("program")
    for n, entry in enumerate(dependencies.files):
        path = Path(entry)
        target = f"files/{n}/{path.name}"
        if path.is_dir():
            files += _directory_files(path, target)
            python_path.append(target)
        else:
            files.append(JobFile(target, path.read_bytes()))
            importable = path.name.lower().endswith(_IMPORTABLE_ARCHIVES)
            python_path.append(target if importable else f"files/{n}")
    return JobSubmission(files, python_path)
