"""User code pickled by ``strom.common._pickling`` keeps its file name and brings its source
lines, so a traceback shows them even where the file does not exist (a remote
TaskManager)."""

from __future__ import annotations

import linecache
import subprocess
import sys
import traceback
from pathlib import Path
from typing import Any

import pytest

from strom.common import _pickling

MODULE = '''\
def outer(offset):
    def inner(value):
        return value // offset
    return inner


scale = lambda value: (
    value
    // 0
)
'''


def _functions(path: Path) -> dict[str, Any]:
    path.write_text(MODULE, encoding="utf-8")
    namespace: dict[str, Any] = {"__name__": "__main__"}
    exec(compile(MODULE, str(path), "exec"), namespace)
    return namespace


def _last_frame(function: Any, argument: Any) -> traceback.FrameSummary:
    with pytest.raises(ZeroDivisionError) as info:
        function(argument)
    return traceback.extract_tb(info.value.__traceback__)[-1]


def test_code_keeps_its_file_name(tmp_path: Path) -> None:
    path = tmp_path / "user_job.py"
    namespace = _functions(path)
    inner = _pickling.loads(_pickling.dumps(namespace["outer"](0)))
    frame = _last_frame(inner, 5)
    assert (frame.filename, frame.lineno, frame.name) == (str(path), 3, "inner")
    assert frame.line == "return value // offset"
    # nested code keeps it too
    outer = _pickling.loads(_pickling.dumps(namespace["outer"]))
    assert _last_frame(outer(0), 1).filename == str(path)


def test_source_lines_travel_where_the_file_does_not_exist(tmp_path: Path) -> None:
    path = tmp_path / "gone.py"
    namespace = _functions(path)
    data = _pickling.dumps([namespace["outer"](0), namespace["scale"]])
    path.unlink()
    linecache.clearcache()
    try:
        inner, scale = _pickling.loads(data)
        assert _last_frame(inner, 1).line == "return value // offset"
        frame = _last_frame(scale, 1)
        assert (frame.filename, frame.lineno, frame.name) == (str(path), 8, "<lambda>")
        assert frame.line == "value"
        # lines of both functions were merged; lines no function brought are empty
        assert linecache.getline(str(path), 3).strip() == "return value // offset"
        assert linecache.getline(str(path), 9).strip() == "// 0"
        assert linecache.getline(str(path), 5) == "\n"
    finally:
        linecache.cache.pop(str(path), None)


def test_an_existing_file_is_read_as_is(tmp_path: Path) -> None:
    path = tmp_path / "here.py"
    namespace = _functions(path)
    _pickling.loads(_pickling.dumps(namespace["scale"]))
    entry = linecache.cache.get(str(path))
    assert entry is None or entry[1] is not None  # never replaced by shipped lines
    assert linecache.getline(str(path), 1) == "def outer(offset):\n"


def test_in_another_process(tmp_path: Path) -> None:
    path = tmp_path / "elsewhere.py"
    blob = tmp_path / "function.pickle"
    blob.write_bytes(_pickling.dumps(_functions(path)["outer"](0)))
    path.unlink()
    program = (
        "import sys, traceback\n"
        "from strom.common import _pickling\n"
        "function = _pickling.loads(open(sys.argv[1], 'rb').read())\n"
        "try:\n"
        "    function(1)\n"
        "except ZeroDivisionError:\n"
        "    traceback.print_exc()\n"
    )
    done = subprocess.run([sys.executable, "-c", program, str(blob)], capture_output=True,
                          text=True, timeout=60)
    assert f'File "{path}", line 3, in inner\n    return value // offset\n' in done.stderr, (
        done.stderr
    )
