"""Every program in examples/ runs and prints what it promises."""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run(name: str, *args: str, cwd: Path | None = None) -> list[str]:
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / name), *args], capture_output=True, text=True,
        timeout=120, cwd=cwd or ROOT,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def expected_word_counts(lines: list[str]) -> list[str]:
    sys.path.insert(0, str(ROOT / "examples"))
    try:
        import word_count  # type: ignore[import-not-found]
    finally:
        sys.path.pop(0)
    counts = Counter(w for line in lines for w in word_count.tokenize(line))
    return sorted(f"({w},{c})" for w, c in counts.items())


def test_word_count_built_in_text() -> None:
    sys.path.insert(0, str(ROOT / "examples"))
    try:
        import word_count  # type: ignore[import-not-found]
    finally:
        sys.path.pop(0)
    # at the default parallelism (the cores) a parallel print sink prefixes "N> "
    printed = [re.sub(r"^\d+> ", "", line) for line in run("word_count.py")]
    assert sorted(printed) == expected_word_counts(word_count.TEXT)
    assert sorted(run("word_count.py", "-p", "1")) == expected_word_counts(word_count.TEXT)


def test_word_count_files_in_and_out(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.txt").write_text("to be or not\nto be\n")
    (tmp_path / "in" / "b.txt").write_text("that is the question\n")
    (tmp_path / "in" / ".hidden").write_text("ignored words here\n")
    run("word_count.py", "--input", str(tmp_path / "in"), "--output", str(tmp_path / "out"))
    parts = [p for p in (tmp_path / "out").rglob("counts-*.txt")]
    assert parts
    written = sorted(line for p in parts for line in p.read_text().splitlines())
    assert written == expected_word_counts(["to be or not", "to be", "that is the question"])


def test_event_time_timers() -> None:
    assert run("event_time_timers.py") == [
        "boiler silent since 11000 (checked at 16000)",
        "pump silent since 12000 (checked at 17000)",
    ]


def test_state_ttl_forgets_idle_users() -> None:
    assert run("state_ttl.py") == [
        "ana: click 1 of this session",
        "ben: click 1 of this session",
        "ana: click 2 of this session",
        "ana: click 3 of this session",
        "ben: click 2 of this session",
        "ana: click 1 of this session",
        "ben: click 1 of this session",
        "ben: click 2 of this session",
    ]


def test_window_kinds() -> None:
    lines = sorted(run("windows.py"))
    assert lines == sorted([
        "tumbling home  [0, 1000) views=2", "tumbling docs  [0, 1000) views=1",
        "tumbling home  [1000, 2000) views=1", "tumbling docs  [1000, 2000) views=1",
        "tumbling home  [4000, 5000) views=2", "tumbling docs  [4000, 5000) views=1",
        "sliding  home  [-1000, 1000) views=2", "sliding  docs  [-1000, 1000) views=1",
        "sliding  home  [0, 2000) views=3", "sliding  docs  [0, 2000) views=2",
        "sliding  home  [1000, 3000) views=1", "sliding  docs  [1000, 3000) views=1",
        "sliding  home  [3000, 5000) views=2", "sliding  docs  [3000, 5000) views=1",
        "sliding  home  [4000, 6000) views=2", "sliding  docs  [4000, 6000) views=1",
        "session  home  [100, 2200) views=3", "session  docs  [250, 1250) views=1",
        "session  docs  [1300, 2300) views=1", "session  home  [4000, 5500) views=2",
        "session  docs  [4100, 5100) views=1",
        "count    home  views=2", "count    home  views=2", "count    docs  views=2",
        "global   home  latest of 3 views at 1200", "global   docs  latest of 3 views at 4100",
    ])


def _exactly_once_windows() -> Any:
    sys.path.insert(0, str(ROOT / "examples"))
    try:
        import exactly_once_windows  # type: ignore[import-not-found]
    finally:
        sys.path.pop(0)
    return exactly_once_windows


def test_exactly_once_windows_prints_its_expected_lines() -> None:
    example = _exactly_once_windows()
    expected = example.expected_lines(3_000)
    assert run("exactly_once_windows.py", "--print-expected", "--records", "3000") == expected
    assert "sensor-000,0,4,0" in expected  # readings 0, 300, 600 and 900, each of value 0
    assert sum(int(line.split(",")[2]) for line in expected) == 3_000


@pytest.mark.parametrize("fail_after", [0, 10_000], ids=["no-failure", "first-attempt-fails"])
def test_exactly_once_windows_finishes_exactly_the_expected_lines(
        tmp_path: Path, fail_after: int) -> None:
    records = 30_000
    run("exactly_once_windows.py", "--output", str(tmp_path / "out"), "--records", str(records),
        "--checkpoint-dir", str(tmp_path / "checkpoints"), "--checkpoint-interval", "100",
        "--rate", "40000", "--fail-after", str(fail_after), "--parallelism", "2")
    written = sorted(line for part in (tmp_path / "out").glob("part-*")
                     for line in part.read_text().splitlines())
    assert written == _exactly_once_windows().expected_lines(records)
