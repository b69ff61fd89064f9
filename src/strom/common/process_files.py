"""What a strom process tells REST about itself: its log files, its threads' stacks and its
hardware (Flink's log list, ``ThreadDumpInfo`` and ``HardwareDescription``).

A cluster process (``strom cluster start``, or any process started with its output in a
file) learns its log file from the environment variable :data:`LOG_FILE_ENV`; the log list
is the files beside it (the processes of one ``strom cluster start`` share a log directory,
as Flink's ``log/`` holds every process's files). A process without one (a MiniCluster
inside a program) has no logs to serve.
"""

from __future__ import annotations

import os
import platform
import sys
import threading
import traceback
from pathlib import Path

import msgspec

__all__ = ["DEFAULT_MAX_LOG_BYTES", "HardwareDescription", "LOG_FILE_ENV", "LogFileInfo",
           "LogFileError", "NoLogFileError", "ThreadInfo", "hardware_description",
           "list_log_files", "process_log_file", "python_environment", "read_log_file",
           "thread_dump"]

#: the environment variable naming the process's log file (its stdout and stderr)
LOG_FILE_ENV = "STROM_LOG_FILE"
#: how much of a log one request returns at most: its last 8 MiB
DEFAULT_MAX_LOG_BYTES = 8 * 1024 * 1024
#: files of the log directory that are no logs
_NOT_LOGS = (".pid",)


class LogFileError(ValueError):
    """A log file that is not there or may not be read (a bad request)."""


class NoLogFileError(LookupError):
    """The process writes no log file (a MiniCluster inside a program)."""


class LogFileInfo(msgspec.Struct, frozen=True):
    """One file of the log directory (Flink's ``LogInfo``)."""

    name: str
    size: int
    #: last modification, epoch ms
    mtime: int


class ThreadInfo(msgspec.Struct, frozen=True):
    """One thread's name and stack, as text (Flink's ``ThreadDumpInfo.ThreadInfo``)."""

    thread_name: str
    stringified_thread_info: str


class HardwareDescription(msgspec.Struct, frozen=True):
    """Flink's ``HardwareDescription``: the machine's cores and memory (bytes)."""

    cpu_cores: int
    physical_memory: int
    free_memory: int
    managed_memory: int


def process_log_file() -> Path | None:
    """This process's log file, or None when it writes none."""
    value = os.environ.get(LOG_FILE_ENV, "")
    return Path(value) if value else None


def _log_file_or_fail(log_file: Path | None, process: str) -> Path:
    if log_file is None:
        raise NoLogFileError(
            f"The {process} writes no log file: it runs inside a program (a MiniCluster), "
            "whose output goes where the program's goes. Processes started with `strom "
            "cluster start` have log files.")
    return log_file


def list_log_files(log_file: Path | None, process: str = "process") -> list[LogFileInfo]:
    """The files of the log directory, by name."""
    directory = _log_file_or_fail(log_file, process).parent
    files = []
    for path in sorted(directory.iterdir()) if directory.is_dir() else []:
        if path.is_file() and not path.name.endswith(_NOT_LOGS):
            stat = path.stat()
            files.append(LogFileInfo(path.name, stat.st_size, int(stat.st_mtime * 1000)))
    return files


def read_log_file(log_file: Path | None, name: str | None = None,
                  max_bytes: int = DEFAULT_MAX_LOG_BYTES, process: str = "process") -> str:
    """The text of the process's log (``name`` None) or of the log directory's file
    ``name``: its last ``max_bytes`` when it is longer."""
    own = _log_file_or_fail(log_file, process)
    if name is None:
        path = own
    else:
        known = {f.name for f in list_log_files(own, process)}
        if name not in known:
            raise LogFileError(
                f"There is no log file {name!r} in the {process}'s log directory; its files: "
                f"{', '.join(sorted(known)) or 'none'} (see the logs list).")
        path = own.parent / name
    try:
        with open(path, "rb") as f:
            size = f.seek(0, os.SEEK_END)
            f.seek(max(0, size - max_bytes))
            data = f.read(max_bytes)
    except FileNotFoundError:
        raise LogFileError(f"The log file {path.name!r} is gone.") from None
    return data.decode(errors="replace")


def thread_dump() -> list[ThreadInfo]:
    """Every Python thread of this process with its current stack, innermost frame last."""
    frames = sys._current_frames()
    infos = []
    for thread in sorted(threading.enumerate(), key=lambda t: t.name):
        frame = frames.get(thread.ident) if thread.ident is not None else None
        state = "daemon " if thread.daemon else ""
        header = f'"{thread.name}" {state}Id={thread.ident} {"RUNNABLE" if frame else "NEW"}'
        stack = "".join(traceback.format_stack(frame)) if frame is not None else ""
        infos.append(ThreadInfo(thread.name, f"{header}\n{stack}"))
    return infos


def hardware_description(managed_memory: int = 0) -> HardwareDescription:
    """This machine's CPU cores and memory (psutil)."""
    import psutil

    memory = psutil.virtual_memory()
    return HardwareDescription(os.cpu_count() or 1, int(memory.total), int(memory.available),
                               managed_memory)


def python_environment() -> tuple[str, str, list[str]]:
    """The interpreter's version, the machine's architecture and the command line (what
    Flink's ``EnvironmentInfo`` tells of its JVM)."""
    return (f"{platform.python_implementation()} {platform.python_version()}",
            platform.machine(), list(sys.argv))
