"""Tracebacks for people who ran a program with ``strom run``: the user's frames, not
strom's.

A failing job's traceback runs through the command line (click, runpy), the client, the
task's mailbox loop and the operator before it reaches the user's function: some thirty
frames of which the user wrote two. :func:`user_traceback` keeps the user's frames, the
exception and its notes (the note names the failed operator), and says how many frames it
hid; ``strom run -v`` prints the full traceback instead.
"""

from __future__ import annotations

import os
import sysconfig
import traceback
from collections.abc import Iterator

import click

import strom

__all__ = ["user_traceback"]

_STROM_DIR = os.path.dirname(os.path.abspath(strom.__file__)) + os.sep
_CLICK_DIR = os.path.dirname(os.path.abspath(click.__file__)) + os.sep
_LIBRARY_DIRS = tuple(
    {os.path.abspath(sysconfig.get_paths()[name]) + os.sep for name in ("stdlib", "purelib",
                                                                       "platlib")}
)


def _is_internal(filename: str) -> bool:
    """strom's own frames and those of what starts the program (click, runpy)."""
    path = os.path.abspath(filename) if not filename.startswith("<") else filename
    return (
        path.startswith((_STROM_DIR, _CLICK_DIR))
        or filename == "<frozen runpy>"
        or os.path.basename(filename) == "runpy.py"
    )


def _is_library(filename: str) -> bool:
    return filename.startswith("<frozen ") or os.path.abspath(filename).startswith(_LIBRARY_DIRS)


def _hidden(frames: list[traceback.FrameSummary], program: str) -> list[bool]:
    """Which frames to hide: strom's, click's and runpy's, and library frames (the standard
    library, installed packages) called by them that lead back into them, such as
    ``concurrent.futures`` between the client and the task. Library frames the user's code
    calls, or that end the traceback, stay; so do the frames of the ``program`` file."""
    hidden = [_is_internal(f.filename) for f in frames]
    library = [
        not hide and f.filename != program and _is_library(f.filename)
        for f, hide in zip(frames, hidden)
    ]
    start = 0
    while start < len(frames):
        if not library[start]:
            start += 1
            continue
        end = start
        while end < len(frames) and library[end]:
            end += 1
        if start > 0 and hidden[start - 1] and end < len(frames) and hidden[end]:
            hidden[start:end] = [True] * (end - start)
        start = end
    return hidden


def _exceptions(root: traceback.TracebackException) -> Iterator[traceback.TracebackException]:
    """``root`` and every exception chained to it (cause, context, group members)."""
    seen: set[int] = set()
    pending = [root]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        pending.extend(e for e in (current.__cause__, current.__context__) if e is not None)
        pending.extend(getattr(current, "exceptions", None) or ())


def user_traceback(error: BaseException, program: str = "") -> tuple[str, int]:
    """The traceback of ``error`` without strom's and the launcher's frames, and how many
    frames were hidden; ``program`` is the path of the program's file as its frames name
    it. An exception with no frame of the user's keeps all its frames (the failure is then
    strom's, and its frames are the ones that explain it)."""
    report = traceback.TracebackException.from_exception(error)
    hidden_count = 0
    for exception in _exceptions(report):
        frames = list(exception.stack)
        hidden = _hidden(frames, program)
        if all(hidden):
            continue
        hidden_count += sum(hidden)
        exception.stack = traceback.StackSummary.from_list(
            [frame for frame, hide in zip(frames, hidden) if not hide]
        )
    return "".join(report.format()), hidden_count
