"""Failures as data: how an exception crosses an RPC boundary and is raised again on the other
side.

A :class:`SerializedError` keeps what a caller needs to understand a failure that happened
elsewhere: the exception's type name, message, ``__notes__`` and traceback (as text and as
frames), plus the exception itself, cloudpickled, when it survives a round trip.
:meth:`SerializedError.rebuild` gives back the user's own exception type where it can be
unpickled, and a :class:`RemoteException` carrying its text otherwise; either way the
traceback holds the remote frames, so ``traceback.extract_tb`` shows the user's function::

    try:
        user_function()
    except Exception as e:
        error = SerializedError.from_exception(e)   # a msgspec Struct: send it anywhere
    raise error.rebuild()                             # same type, message, notes, frames
"""

from __future__ import annotations

import traceback as traceback_module
from typing import Any

import msgspec
from tblib import Traceback

from strom.common import _pickling

__all__ = ["FencingTokenError", "RemoteException", "RpcError", "SerializedError",
           "fencing_token_mismatch"]


class RpcError(RuntimeError):
    """An RPC could not be delivered or answered: unknown address, a stopped endpoint, an
    unknown method, a lost connection or a timeout. The message names the peer."""


class FencingTokenError(RpcError):
    """A call was refused because its fencing token is not the receiver's current leader
    session id (Flink's ``FencingTokenException``): it came from a deposed leader, or the
    receiver does not lead. The caller is not (or no longer) the leader it believes it is,
    or must look up the current leader again."""


def fencing_token_mismatch(method: str, received: str | None, expected: str | None,
                           advice: str) -> FencingTokenError:
    """The refusal of a call of ``method`` carrying ``received`` by a receiver that expects
    ``expected`` (None: it follows no leader session), in Flink's words and then ``advice``."""
    if expected is None:
        return FencingTokenError(
            f"Fencing token mismatch: Ignoring message {method} because the fencing token is "
            f"null. {advice}")
    return FencingTokenError(
        f"Fencing token mismatch: Ignoring message {method} because the fencing token "
        f"{received} did not match the expected fencing token {expected}. {advice}")


class RemoteException(Exception):
    """A remote failure whose exception type could not be rebuilt here (its class cannot be
    imported or unpickled in this process). ``type_name`` names the original type."""

    def __init__(self, type_name: str, message: str) -> None:
        super().__init__(f"{type_name}: {message}" if message else type_name)
        self.type_name = type_name


class SerializedError(msgspec.Struct, frozen=True):
    """An exception as data (see the module docstring)."""

    #: ``module.QualifiedName`` of the exception's class
    type_name: str
    message: str
    notes: list[str] = []
    #: the formatted traceback, causes included
    traceback: str = ""
    #: the traceback's frames (tblib's dict form), to rebuild a traceback object
    frames: dict[str, Any] | None = None
    #: the exception, cloudpickled, when it unpickles again
    pickled: bytes | None = None

    @classmethod
    def from_exception(cls, error: BaseException) -> SerializedError:
        kind = type(error)
        notes = [str(n) for n in getattr(error, "__notes__", ())]
        frames = None
        if error.__traceback__ is not None:
            try:
                frames = Traceback(error.__traceback__).to_dict()
            except Exception:  # an exotic frame: the text below still has it
                frames = None
        return cls(
            type_name=f"{kind.__module__}.{kind.__qualname__}",
            message=str(error),
            notes=notes,
            traceback="".join(traceback_module.format_exception(error)),
            frames=_plain(frames),
            pickled=_pickle_if_round_trips(error),
        )

    def rebuild(self) -> BaseException:
        """The exception to raise here: the original type when it unpickles, else a
        :class:`RemoteException` with its text; with the notes and the remote frames."""
        error: BaseException | None = None
        if self.pickled is not None:
            try:
                error = _pickling.loads(self.pickled)
            except Exception:
                error = None
        if not isinstance(error, BaseException):
            error = RemoteException(self.type_name, self.message)
            if self.traceback:
                error.add_note(f"remote traceback:\n{self.traceback.rstrip()}")
        if self.notes:
            error.__notes__ = list(self.notes)  # type: ignore[attr-defined]
        if self.frames is not None:
            try:
                error = error.with_traceback(Traceback.from_dict(self.frames).as_traceback())
            except Exception:
                pass
        return error

    def __str__(self) -> str:
        return f"{self.type_name}: {self.message}"


def _pickle_if_round_trips(error: BaseException) -> bytes | None:
    try:
        data = _pickling.dumps(error)
        _pickling.loads(data)
    except Exception:
        return None
    return data


def _plain(frames: Any) -> Any:
    """tblib's dict with only msgpack-able leaves (a frame's globals can hold anything)."""
    if isinstance(frames, dict):
        return {str(k): _plain(v) for k, v in frames.items()}
    if isinstance(frames, list | tuple):
        return [_plain(v) for v in frames]
    if frames is None or isinstance(frames, str | int | float | bool):
        return frames
    return repr(frames)
