"""A user function that raises shows the user's own file, line and source text in the
traceback, at parallelism 1 and 2, although user functions travel pickled (cloudpickle
would name their file ``<dynamic-code>``)."""

from __future__ import annotations

import runpy
import traceback
from pathlib import Path

import pytest

JOB = '''\
from strom.datastream import StreamExecutionEnvironment


def explode(value):
    raise ValueError(f"named function cannot take {{value}}")


env = StreamExecutionEnvironment.get_execution_environment()
env.set_parallelism({parallelism})
failing = {failing}
env.from_collection([1, 2, 3]).map(lambda v: v + 1).map(failing).print()
env.execute("traceback job")
'''

FAILING = {
    # the lambda's line in the script, its source line, and the function name in the frame
    "lambda": ("lambda v: 1 // (v - v)", 10, "<lambda>"),
    "named": ("explode", 5, "explode"),
}


@pytest.mark.parametrize("parallelism", [1, 2])
@pytest.mark.parametrize("kind", list(FAILING))
def test_traceback_shows_the_users_file_line_and_source(
    kind: str, parallelism: int, tmp_path: Path
) -> None:
    failing, line_number, function = FAILING[kind]
    script = tmp_path / "failing_job.py"
    script.write_text(JOB.format(parallelism=parallelism, failing=failing), encoding="utf-8")
    source_line = script.read_text(encoding="utf-8").splitlines()[line_number - 1].strip()

    with pytest.raises((ValueError, ZeroDivisionError)) as info:
        runpy.run_path(str(script), run_name="__main__")

    text = "".join(traceback.format_exception(info.value))
    assert "<dynamic-code>" not in text
    assert f'File "{script}", line {line_number}, in {function}\n    {source_line}\n' in text, text
    # the frame of the user's function is the last one: where the error was raised
    last = traceback.extract_tb(info.value.__traceback__)[-1]
    assert (last.filename, last.lineno, last.name, last.line) == (
        str(script), line_number, function, source_line
    )
