"""A job's Python dependencies: the files, archives, requirements and interpreter it needs.

PyFlink's ``add_python_file``, ``add_python_archive``, ``set_python_requirements`` and
``set_python_executable`` record them in the configuration under Flink's keys
(``python.files``, ``python.archives``, ``python.requirements``, ``python.executable``);
a configuration file or ``-D`` can set the same keys. :meth:`PythonDependencies.from_configuration`
reads and checks them when the job is built, and the JobGraph carries the result, so that a
TaskManager in another process can receive the files. In the embedded local cluster the
TaskManagers share the client's file system and the job's Python files go on ``sys.path``
while its tasks run (:mod:`strom.runtime.python_path`).
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass
from typing import Any

__all__ = [
    "FILE_DELIMITER", "PARAM_DELIMITER", "PIPELINE_CLASSPATHS", "PIPELINE_JARS",
    "PYTHON_ARCHIVES", "PYTHON_EXECUTABLE", "PYTHON_FILES", "PYTHON_REQUIREMENTS",
    "PythonDependencies", "check_archive", "check_path",
]

PYTHON_FILES = "python.files"
PYTHON_ARCHIVES = "python.archives"
PYTHON_REQUIREMENTS = "python.requirements"
PYTHON_EXECUTABLE = "python.executable"
PIPELINE_JARS = "pipeline.jars"
PIPELINE_CLASSPATHS = "pipeline.classpaths"

#: separates entries of ``python.files`` and ``python.archives`` (Flink's PythonDependencyUtils)
FILE_DELIMITER = ","
#: separates an entry from its parameter: ``archive.zip#target_dir``, ``requirements.txt#cache``
PARAM_DELIMITER = "#"

#: files Python imports from directly when they are on ``sys.path`` (zipimport)
_IMPORTABLE_ARCHIVES = (".zip", ".whl", ".egg")


def check_path(path: Any, what: str, *, directory: bool | None = None,
               origin: str = "") -> str:
    """``path`` as given, after checking it is a str naming an existing file or directory."""
    if not isinstance(path, str | os.PathLike) or not os.fspath(path):
        raise TypeError(f"The {what} must be a path (a str), got {path!r}.")
    text = os.fspath(path)
    if not isinstance(text, str):
        raise TypeError(f"The {what} must be a path (a str), got {path!r}.")
    where = f" (from {origin})" if origin else ""
    if not os.path.exists(text):
        raise FileNotFoundError(
            f"The {what} '{text}'{where} does not exist (resolved against the working "
            f"directory {os.getcwd()!r}). Check the path, or give an absolute one."
        )
    if directory is True and not os.path.isdir(text):
        raise NotADirectoryError(f"The {what} '{text}'{where} is not a directory.")
    if directory is False and not os.path.isfile(text):
        raise IsADirectoryError(f"The {what} '{text}'{where} is not a file.")
    return text


def check_archive(path: Any, origin: str = "") -> str:
    text = check_path(path, "python archive", directory=False, origin=origin)
    if not zipfile.is_zipfile(text):
        where = f" (from {origin})" if origin else ""
        raise ValueError(
            f"The python archive '{text}'{where} is not a zip file. Only zip-format archives "
            "are supported (zip, whl, egg, jar); repack it with e.g. 'zip -r env.zip env'."
        )
    return text


def _split(value: str | None) -> list[str]:
    if not value:
        return []
    return [entry.strip() for entry in value.split(FILE_DELIMITER) if entry.strip()]


def _with_param(entry: str) -> tuple[str, str | None]:
    path, _, param = entry.partition(PARAM_DELIMITER)
    return path, param or None


@dataclass(frozen=True)
class PythonDependencies:
    """What a job needs besides its pickled functions; paths are absolute."""

    #: ``python.files``: Python files, packages or directories for the job's PYTHONPATH
    files: tuple[str, ...] = ()
    #: ``python.archives``: zip archives and the directory name to extract each to
    archives: tuple[tuple[str, str | None], ...] = ()
    #: ``python.requirements``: a requirements file and an optional package cache directory
    requirements: tuple[str, str | None] | None = None
    #: ``python.executable``: the interpreter of the Python workers (may lie in an archive)
    executable: str | None = None

    @staticmethod
    def from_configuration(configuration: Any) -> PythonDependencies:
        """Read and check the ``python.*`` keys of a Configuration: every file must exist."""
        files = tuple(
            os.path.abspath(check_path(p, "python file", origin=PYTHON_FILES))
            for p in _split(configuration.get_string(PYTHON_FILES, ""))
        )
        archives = []
        for entry in _split(configuration.get_string(PYTHON_ARCHIVES, "")):
            path, target_dir = _with_param(entry)
            archives.append((os.path.abspath(check_archive(path, PYTHON_ARCHIVES)), target_dir))
        requirements = None
        raw = configuration.get_string(PYTHON_REQUIREMENTS, "")
        if raw:
            path, cache_dir = _with_param(raw)
            path = os.path.abspath(check_path(path, "requirements file", directory=False,
                                              origin=PYTHON_REQUIREMENTS))
            if cache_dir is not None:
                cache_dir = os.path.abspath(check_path(
                    cache_dir, "requirements cache directory", directory=True,
                    origin=PYTHON_REQUIREMENTS))
            requirements = (path, cache_dir)
        executable = configuration.get_string(PYTHON_EXECUTABLE, "") or None
        return PythonDependencies(tuple(files), tuple(archives), requirements, executable)

    def python_path(self) -> list[str]:
        """The ``sys.path`` entries that make :attr:`files` importable, as PyFlink's workers
        do: a directory itself, a zip/wheel/egg archive itself (zipimport), and the directory
        of any other file (``dep.py`` → ``import dep``)."""
        entries: list[str] = []
        for path in self.files:
            if os.path.isdir(path) or path.lower().endswith(_IMPORTABLE_ARCHIVES):
                entry = path
            else:
                entry = os.path.dirname(path)
            if entry not in entries:
                entries.append(entry)
        return entries
