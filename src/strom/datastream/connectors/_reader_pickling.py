"""Telling a Source that it is being pickled for its reader tasks.

A Source object travels twice: whole with the job graph (the JobMaster creates the split
enumerator from it), and inside each source task's operators to the readers. The JobMaster
pickles the tasks' copy inside :func:`pickling_for_readers`. A source whose readers do not
need some of its data — a collection's elements reach the readers inside their splits — may
leave that data out of its pickle while :func:`is_pickling_for_readers` is true.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["is_pickling_for_readers", "pickling_for_readers"]

_for_readers: ContextVar[bool] = ContextVar("strom_pickling_for_readers", default=False)


@contextmanager
def pickling_for_readers() -> Iterator[None]:
    """While inside, sources may pickle only what their readers need."""
    token = _for_readers.set(True)
    try:
        yield
    finally:
        _for_readers.reset(token)


def is_pickling_for_readers() -> bool:
    """Whether the object being pickled now goes to reader tasks only."""
    return _for_readers.get()
