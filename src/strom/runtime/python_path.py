"""A job's Python files on ``sys.path`` while its tasks run in this process.

``env.add_python_file(...)`` makes modules importable by the job's functions, as PyFlink
puts them on its Python workers' PYTHONPATH. Tasks of several jobs may share a process (the
embedded local cluster), so entries are reference-counted: a path goes on ``sys.path`` (at
the front, as PYTHONPATH entries do) when the first task needing it starts, and is removed
when the last one ends, unless it was on ``sys.path`` before.
"""

from __future__ import annotations

import importlib
import sys
import threading
from collections.abc import Sequence

__all__ = ["acquire_python_path", "release_python_path"]

_lock = threading.Lock()
#: entries strom put on sys.path, with the number of running tasks that need each
_users: dict[str, int] = {}


def acquire_python_path(entries: Sequence[str]) -> tuple[str, ...]:
    """Put ``entries`` on ``sys.path`` for a task; give the result to release_python_path."""
    acquired = tuple(dict.fromkeys(entries))
    if not acquired:
        return acquired
    with _lock:
        added = False
        for entry in reversed(acquired):
            if entry in _users:
                _users[entry] += 1
            elif entry in sys.path:
                continue  # the user's own entry: never ours to remove
            else:
                _users[entry] = 1
                sys.path.insert(0, entry)
                added = True
        if added:
            importlib.invalidate_caches()
    return acquired


def release_python_path(entries: Sequence[str]) -> None:
    """The task that acquired ``entries`` ended."""
    with _lock:
        for entry in entries:
            count = _users.get(entry)
            if count is None:
                continue
            if count > 1:
                _users[entry] = count - 1
            else:
                del _users[entry]
                try:
                    sys.path.remove(entry)
                except ValueError:
                    pass  # the program removed it itself
