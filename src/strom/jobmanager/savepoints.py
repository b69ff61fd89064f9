"""Savepoint operations as the Dispatcher runs them: the target directory, the paths users
see, and the asynchronous operations REST clients poll by trigger id.

Flink answers ``POST /jobs/:jobid/savepoints`` (and ``/stop``, ``/checkpoints``,
``/savepoint-disposal``) at once with a trigger id and runs the operation in the
background; the client polls ``.../:triggerid`` until it is COMPLETED with a location or a
failure cause. :class:`OperationCache` keeps those operations (Flink's
``CompletedOperationCache``): running ones, and finished ones for
``rest.async.store-duration`` (5 minutes) after they ended.

Paths are shown as Flink shows them: ``file:/tmp/sp/savepoint-1a2b3c-0123456789ab`` for a
local directory (what ``strom run -s`` takes back, as do plain paths and other URLs).

>>> display_path("file:///tmp/sp/savepoint-1a2b3c-0123456789ab")
'file:/tmp/sp/savepoint-1a2b3c-0123456789ab'
>>> storage_path("file:/tmp/sp/savepoint-1a2b3c-0123456789ab")
'file:///tmp/sp/savepoint-1a2b3c-0123456789ab'
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import msgspec

from strom.rpc.errors import SerializedError

__all__ = [
    "SAVEPOINT_FORMATS",
    "NoSavepointDirectoryError",
    "OperationCache",
    "OperationResult",
    "UnknownOperationError",
    "check_format",
    "display_path",
    "new_trigger_id",
    "resolve_target_directory",
    "storage_path",
]

#: ``SavepointFormatType``: CANONICAL (any state backend restores it) or NATIVE
SAVEPOINT_FORMATS = ("canonical", "native")

#: how long a finished operation's result stays (Flink's rest.async.store-duration)
STORE_DURATION_S = 300.0

SAVEPOINT_DIR_KEY = "execution.checkpointing.savepoint-dir"


class NoSavepointDirectoryError(ValueError):
    """A savepoint was asked for without a directory, and none is configured."""


class UnknownOperationError(KeyError):
    """No operation with that trigger id is known (never triggered, or its result expired)."""

    def __str__(self) -> str:
        return str(self.args[0])


def resolve_target_directory(target: str | None, *defaults: str | None) -> str:
    """``target``, else the first configured default, else Flink's error."""
    for candidate in (target, *defaults):
        if candidate:
            return candidate
    raise NoSavepointDirectoryError(
        "No savepoint directory configured. You can either specify a directory when "
        "triggering the savepoint (strom savepoint <jobid> <targetDirectory>, strom stop "
        "--savepointPath <targetDirectory>, the REST body's target-directory) or configure a "
        f"cluster-wide default via key '{SAVEPOINT_DIR_KEY}' (1.x: 'state.savepoints.dir')."
    )


def check_format(format_type: str) -> str:
    """The savepoint format, lower case; a ValueError names the accepted ones."""
    normalized = str(format_type).strip().lower()
    if normalized not in SAVEPOINT_FORMATS:
        raise ValueError(
            f"Unknown savepoint format {format_type!r}; use CANONICAL (the default: any state "
            "backend restores it) or NATIVE.")
    return normalized


def display_path(url: str) -> str:
    """A savepoint's location as Flink prints it: ``file:/dir`` for a local directory."""
    if url.startswith("file://"):
        return "file:" + url[len("file://"):]
    return url


def storage_path(path: str) -> str:
    """A path a user gave back (``file:/dir``, ``file:///dir``, ``/dir``, ``dir``, a URL),
    as the checkpoint storage reads it."""
    if path.startswith("file:") and not path.startswith("file://"):
        return "file://" + path[len("file:"):]
    if "://" not in path:
        return "file://" + os.path.abspath(path)
    return path


def new_trigger_id() -> str:
    """A TriggerId: 32 hex digits, as Flink's."""
    return os.urandom(16).hex()


_CANCELLED = SerializedError(
    "builtins.RuntimeError", "The operation was cancelled: the JobManager is shutting down.")


class OperationResult(msgspec.Struct, frozen=True):
    """An asynchronous operation as the REST status endpoints report it."""

    #: IN_PROGRESS or COMPLETED
    status: str
    #: a savepoint's path (savepoints, stop-with-savepoint)
    location: str | None = None
    #: a manual checkpoint's id
    checkpoint_id: int | None = None
    #: why it failed (COMPLETED with a failure)
    failure: SerializedError | None = None


@dataclass
class _Operation:
    ended_at: float | None = None
    result: OperationResult | None = None


@dataclass
class OperationCache:
    """Operations by key (kind, job and trigger id), run by ``spawn`` (the Dispatcher's
    owned background tasks), their results kept :data:`STORE_DURATION_S` after they end."""

    spawn: Callable[[Coroutine[Any, Any, Any]], asyncio.Task[Any]]
    clock: Callable[[], float] = time.monotonic
    _operations: dict[str, _Operation] = field(default_factory=dict)

    def start(self, key: str, work: Coroutine[Any, Any, Any],
              describe: Callable[[Any], OperationResult]) -> None:
        """Run ``work``; ``describe`` turns its value into the COMPLETED result, and its
        exception becomes the failure cause. A key already running or kept is not started
        again (a client retrying its trigger)."""
        self._expire()
        if key in self._operations:
            work.close()
            return
        operation = self._operations[key] = _Operation()

        async def run() -> None:
            try:
                value = await work
            except asyncio.CancelledError:
                operation.result = OperationResult("COMPLETED", failure=_CANCELLED)
                raise
            except Exception as e:
                operation.result = OperationResult(
                    "COMPLETED", failure=SerializedError.from_exception(e))
            else:
                operation.result = describe(value)
            finally:
                operation.ended_at = self.clock()

        self.spawn(run())

    def get(self, key: str, what: str) -> OperationResult:
        """The operation's state; ``what`` describes it in the error for an unknown key."""
        self._expire()
        operation = self._operations.get(key)
        if operation is None:
            raise UnknownOperationError(
                f"There is no {what}. Trigger ids are valid for {int(STORE_DURATION_S)} s "
                "after the operation ended; trigger it again.")
        return operation.result or OperationResult("IN_PROGRESS")

    def _expire(self) -> None:
        now = self.clock()
        expired = [key for key, op in self._operations.items()
                   if op.ended_at is not None and now - op.ended_at > STORE_DURATION_S]
        for key in expired:
            del self._operations[key]
