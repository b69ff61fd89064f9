"""PyFlink's own example programs run on strom with only ``pyflink`` → ``strom`` in their
imports, and print what PyFlink prints.

The programs come from the apache-flink wheel on PyPI (unpacked by ``make test``; PyFlink is
never installed). Where an example runs at the default parallelism (the number of cores, as
in Flink's local environment), the print sink prefixes lines with the subtask (``2> ...``)
and which subtask a key lands on depends on the key hash, so those outputs are compared
without prefixes and in sorted order.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = Path(
    os.environ.get("STROM_PYFLINK_EXAMPLES", ROOT / ".venv/pyflink-2.3.0/wheel/pyflink/examples")
)
PREFIX = re.compile(r"^\d+> ")


def _source(relative: str) -> str:
    path = EXAMPLES / "datastream" / relative
    if not path.exists():
        pytest.fail(f"PyFlink's examples are missing at {EXAMPLES}; run `make test`, which "
                    "downloads the apache-flink wheel and unpacks its examples.")
    return path.read_text()


def _ported(relative: str) -> str:
    """The example with its imports renamed, checking nothing else mentions pyflink."""
    source = _source(relative)
    for line in source.splitlines():
        if "pyflink" in line:
            assert line.lstrip().startswith(("from pyflink", "import pyflink")), line
    return re.sub(r"\bpyflink\b", "strom", source)


def run_example(relative: str, tmp_path: Path, *args: str) -> list[str]:
    script = tmp_path / Path(relative).name
    script.write_text(_ported(relative))
    done = subprocess.run(
        [sys.executable, str(script), *args], cwd=tmp_path, capture_output=True, text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def _literal(relative: str, name: str) -> object:
    """A literal assigned to ``name`` in the example (its input data)."""
    for node in ast.walk(ast.parse(_source(relative))):
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == name for t in node.targets
        ):
            return ast.literal_eval(node.value)
    raise AssertionError(f"{name} not found in {relative}")


def _collection(relative: str) -> list[tuple]:
    """The list passed to ``from_collection`` in the example."""
    for node in ast.walk(ast.parse(_source(relative))):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "from_collection":
            arg = node.args[0] if node.args else next(
                k.value for k in node.keywords if k.arg == "collection")
            return ast.literal_eval(arg)  # type: ignore[no-any-return]
    raise AssertionError(f"no from_collection in {relative}")


def _unprefixed(lines: list[str]) -> list[str]:
    return sorted(PREFIX.sub("", line) for line in lines)


def _word_counts() -> Counter[str]:
    words = Counter()
    for line in _literal("word_count.py", "word_count_data"):  # type: ignore[union-attr]
        words.update(line.split())
    return words


def test_word_count_prints_final_counts(tmp_path: Path) -> None:
    lines = run_example("word_count.py", tmp_path)
    assert lines[:3] == [
        "Executing word_count example with default input data set.",
        "Use --input to specify file input.",
        "Printing result to stdout. Use --output to specify output path.",
    ]
    expected = sorted(f"({w},{c})" for w, c in _word_counts().items())
    assert sorted(lines[3:]) == expected  # BATCH: one final line per word


def test_word_count_reads_and_writes_files(tmp_path: Path) -> None:
    text = "\n".join(_literal("word_count.py", "word_count_data"))  # type: ignore[arg-type]
    (tmp_path / "in.txt").write_text(text + "\n")
    out = tmp_path / "out"
    run_example("word_count.py", tmp_path, "--input", str(tmp_path / "in.txt"),
                "--output", str(out))
    parts = [p for p in out.rglob("*") if p.is_file()]
    assert parts and all(p.name.startswith("prefix-") and p.name.endswith(".ext")
                         for p in parts), parts
    written = [line for p in parts for line in p.read_text().splitlines()]
    assert sorted(written) == sorted(f"({w},{c})" for w, c in _word_counts().items())


def test_basic_operations_prints_the_outputs_in_its_comments(tmp_path: Path) -> None:
    expected = [
        line.strip()[2:] for line in _source("basic_operations.py").splitlines()
        if line.strip().startswith("# (")
    ]
    assert len(expected) == 9
    assert run_example("basic_operations.py", tmp_path) == expected


def test_process_json_data(tmp_path: Path) -> None:
    lines = run_example("process_json_data.py", tmp_path)
    assert _unprefixed(lines) == [
        "(2, {'name': 'hello', 'tel': 136, 'addr': {'country': 'China', 'city': 'Shanghai'}})",
        "(4, {'name': 'PyFlink', 'tel': 33, 'addr': {'country': 'China', 'city': 'Hangzhou'}})",
    ]


def test_state_access_running_sums(tmp_path: Path) -> None:
    lines = run_example("state_access.py", tmp_path)
    sums: dict[str, float] = {}
    expected = []
    for name, amount in _collection("state_access.py"):
        sums[name] = sums.get(name, 0) + amount
        expected.append(str((name, sums[name])))
    assert _unprefixed(lines) == sorted(expected)


def test_event_time_timer_emits_sums_when_timers_fire(tmp_path: Path) -> None:
    lines = run_example("event_time_timer.py", tmp_path)
    totals: dict[str, float] = {}
    timers: set[tuple[str, int]] = set()
    for ts, name, amount in _collection("event_time_timer.py"):
        totals[name] = totals.get(name, 0) + amount
        timers.add((name, ts + 2000))
    # the bounded input ends with the max watermark: every timer fires after all elements
    expected = sorted(str((name, totals[name])) for name, _ in timers)
    assert _unprefixed(lines) == expected


WINDOW_HEADER = "Printing result to stdout. Use --output to specify output path."


@pytest.mark.parametrize(("example", "expected"), [
    ("windowing/tumbling_time_window.py", ["(hi,0,5,4)", "(hi,5,10,3)", "(hi,15,20,1)"]),
    ("windowing/sliding_time_window.py", [
        "(hi,-2,3,2)", "(hi,0,5,4)", "(hi,2,7,4)", "(hi,4,9,3)", "(hi,6,11,2)", "(hi,8,13,2)",
        "(hi,12,17,1)", "(hi,14,19,1)"]),
    ("windowing/session_with_gap_window.py", ["(hi,1,14,6)", "(hi,15,20,1)"]),
    ("windowing/session_with_dynamic_gap_window.py", ["(hi,1,30,7)"]),
    ("windowing/tumbling_count_window.py", ["(hi,4)", "(hello,6)", "(hello,12)"]),
])
def test_windowing_examples(example: str, expected: list[str], tmp_path: Path) -> None:
    lines = run_example(example, tmp_path)
    assert lines[0] == WINDOW_HEADER
    assert lines[1:] == expected
