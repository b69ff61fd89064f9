"""A failure crosses the RPC boundary as a SerializedError and is raised again as the user's
own exception type, with its message, notes and frames; as its text when the type is lost."""

from __future__ import annotations

import threading
import traceback

import msgspec
import pytest

from strom.rpc.errors import RemoteException, SerializedError


class Refused(Exception):
    """A user exception type."""


def user_function() -> None:
    raise Refused("no thanks")


def captured(error_factory: object) -> BaseException:
    try:
        error_factory()  # type: ignore[operator]
    except BaseException as e:
        return e
    raise AssertionError("did not raise")


def over_the_wire(error: SerializedError) -> SerializedError:
    data = msgspec.msgpack.encode(error)
    return msgspec.msgpack.decode(data, type=SerializedError)


def test_the_users_type_message_notes_and_frames_survive() -> None:
    original = captured(user_function)
    original.add_note("strom: raised in operator 'mapper'")
    rebuilt = over_the_wire(SerializedError.from_exception(original)).rebuild()
    assert type(rebuilt) is Refused
    assert str(rebuilt) == "no thanks"
    assert rebuilt.__notes__ == ["strom: raised in operator 'mapper'"]
    frames = [f.name for f in traceback.extract_tb(rebuilt.__traceback__)]
    assert "user_function" in frames, frames
    with pytest.raises(Refused, match="no thanks"):
        raise rebuilt


class Unpicklable(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.lock = threading.Lock()  # cannot be pickled


def test_an_exception_that_does_not_pickle_arrives_as_its_text() -> None:
    def fail() -> None:
        raise Unpicklable("holding a lock")

    serialized = SerializedError.from_exception(captured(fail))
    assert serialized.pickled is None
    rebuilt = over_the_wire(serialized).rebuild()
    assert isinstance(rebuilt, RemoteException)
    assert rebuilt.type_name.endswith("Unpicklable")
    assert "Unpicklable: holding a lock" in str(rebuilt)
    assert any("remote traceback" in note and "fail" in note for note in rebuilt.__notes__)
    assert "fail" in [f.name for f in traceback.extract_tb(rebuilt.__traceback__)]


def test_a_type_that_cannot_be_imported_here_arrives_as_its_text() -> None:
    serialized = SerializedError.from_exception(captured(user_function))
    broken = msgspec.structs.replace(serialized, pickled=b"not a pickle")
    rebuilt = broken.rebuild()
    assert isinstance(rebuilt, RemoteException)
    assert str(rebuilt).endswith("Refused: no thanks")


def test_the_text_keeps_the_cause() -> None:
    def wrapped() -> None:
        try:
            user_function()
        except Refused as e:
            raise RuntimeError("while mapping") from e

    serialized = SerializedError.from_exception(captured(wrapped))
    assert "Refused: no thanks" in serialized.traceback
    assert "RuntimeError: while mapping" in serialized.traceback
    assert str(serialized) == "builtins.RuntimeError: while mapping"
