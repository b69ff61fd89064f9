"""The trimmed traceback of ``strom run``: the user's frames, and the library frames the
user's code called, without strom's own."""

from __future__ import annotations

import json

import pytest

from strom.cli._tracebacks import user_traceback
from strom.datastream import StreamExecutionEnvironment


def _parse(text: str) -> object:
    return json.loads(text)


def test_library_frames_called_by_the_user_stay_and_strom_frames_go() -> None:
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(1)
    env.from_collection(["{"]).map(_parse).print()
    with pytest.raises(json.JSONDecodeError) as info:
        env.execute()
    text, hidden = user_traceback(info.value, __file__)
    assert hidden > 5
    assert f'File "{__file__}"' in text and "in _parse\n    return json.loads(text)\n" in text
    assert "json/decoder.py" in text  # the user called json; its frames explain the error
    assert "concurrent/futures" not in text  # between strom's client and its task: hidden
    assert "strom/" not in text.replace(__file__, "")
    assert text.rstrip().splitlines()[-1].startswith("strom: raised in operator 'Map'")


def test_a_failure_without_user_frames_keeps_them_all() -> None:
    with pytest.raises(ValueError) as info:
        StreamExecutionEnvironment.get_execution_environment().set_parallelism(0)
    error = info.value
    error.__traceback__ = error.__traceback__.tb_next  # drop this test's frame
    text, hidden = user_traceback(error, __file__)
    assert hidden == 0
    assert "stream_execution_environment.py" in text
