"""Pickling user code (cloudpickle) so that its tracebacks still point at the user's file.

cloudpickle pickles functions of the job script (``__main__``), lambdas and closures by
value, and since 3.1 replaces every code object's file name with ``"<dynamic-code>"``: a
function that raises on a TaskManager then shows ``File "<dynamic-code>", line 5`` with no
file and no source line. :func:`dumps` pickles code objects itself instead: the code
travels as ``marshal`` data, which keeps ``co_filename`` (nested code included), together
with the source lines it spans. Loading registers those lines with :mod:`linecache` when the
file does not exist where the code is loaded (a TaskManager on another host), so a
traceback shows the user's file, line and source text everywhere.

>>> import traceback
>>> def divide(x):
...     return 1 // x
>>> try:
...     loads(dumps(divide))(0)
... except ZeroDivisionError as e:
...     frame = traceback.extract_tb(e.__traceback__)[-1]
>>> frame.filename == divide.__code__.co_filename, frame.name, frame.line
(True, 'divide', 'return 1 // x')
"""

from __future__ import annotations

import io
import linecache
import marshal
import os
import pickle
import types
from collections import ChainMap
from typing import Any

import cloudpickle

__all__ = ["dumps", "loads"]


def _line_span(code: types.CodeType) -> tuple[int, int]:
    """The first and last source line of ``code`` and of the code nested in it."""
    first = last = code.co_firstlineno
    for start, end, _col, _end_col in code.co_positions():
        if start is not None:
            first = min(first, start)
            last = max(last, end if end is not None else start)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            nested_first, nested_last = _line_span(const)
            first, last = min(first, nested_first), max(last, nested_last)
    return first, last


def _source_of(code: types.CodeType) -> tuple[int, tuple[str, ...]]:
    """The source lines ``code`` was compiled from, as ``(first line number, lines)``;
    no lines when the source cannot be read (code from a string, a deleted file)."""
    first, last = _line_span(code)
    lines = linecache.getlines(code.co_filename)
    return first, tuple(lines[first - 1 : last])


def _register_source(filename: str, first: int, lines: tuple[str, ...]) -> None:
    """Make ``linecache`` return ``lines`` as lines ``first``... of ``filename`` when the
    file is not there to read. Lines of several functions of one file are merged; lines no
    function brought read as empty."""
    if not lines or os.path.exists(filename):
        return
    entry = linecache.cache.get(filename)
    known = list(entry[2]) if entry is not None and len(entry) == 4 and entry[1] is None else []
    end = first - 1 + len(lines)
    if len(known) < end:
        known.extend("\n" for _ in range(end - len(known)))
    known[first - 1 : end] = lines
    # mtime None: linecache.checkcache keeps the entry instead of looking for the file
    linecache.cache[filename] = (sum(len(line) for line in known), None, known, filename)


def _load_code(
    marshalled: bytes, filename: str, first: int, lines: tuple[str, ...]
) -> types.CodeType:
    """Unpickle a code object (see :func:`_reduce_code`)."""
    code: types.CodeType = marshal.loads(marshalled)
    _register_source(filename, first, lines)
    return code


def _reduce_code(code: types.CodeType) -> tuple[Any, tuple[Any, ...]]:
    first, lines = _source_of(code)
    return _load_code, (marshal.dumps(code), code.co_filename, first, lines)


class _UserCodePickler(cloudpickle.Pickler):
    """cloudpickle's pickler, except that code objects keep their file name and carry their
    source lines."""

    dispatch_table = ChainMap({types.CodeType: _reduce_code}, cloudpickle.Pickler.dispatch_table)


def dumps(obj: Any, protocol: int | None = None) -> bytes:
    """Pickle ``obj`` as ``cloudpickle.dumps`` does, keeping the file names and source lines
    of the code it contains (see the module docstring)."""
    buffer = io.BytesIO()
    _UserCodePickler(buffer, protocol=protocol).dump(obj)
    return buffer.getvalue()


def loads(data: bytes) -> Any:
    """Unpickle what :func:`dumps` (or cloudpickle) pickled."""
    return pickle.loads(data)
