"""The ``strom`` command: run and info, with configuration from flags and files."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]

PROGRAM = """
from strom.datastream import StreamExecutionEnvironment
import sys
env = StreamExecutionEnvironment.get_execution_environment()
env.from_collection([1, 2, 3]).map(lambda x: x * int(sys.argv[1])).print()
print("parallelism", env.get_parallelism())
env.execute()
"""


def strom(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "strom.cli.main", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def test_run_passes_arguments_and_parallelism(tmp_path: Path) -> None:
    (tmp_path / "job.py").write_text(PROGRAM)
    done = strom("run", "-p", "2", "job.py", "10", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "parallelism 2"
    assert sorted(line.split("> ")[1] for line in lines[1:]) == ["10", "20", "30"]
    # progress on stderr (not a terminal: lines), ending with the job's last status, which
    # the local cluster's REST API, stopped with the job, no longer tells
    progress = [line for line in done.stderr.splitlines() if line.startswith("Job ")]
    assert progress, done.stderr
    assert re.fullmatch(r"Job [0-9a-f]{32} \(Flink Streaming Job\) is FINISHED"
                        r"( \(records received .*\))?\.", progress[-1]), progress
    quiet = strom("run", "-q", "-p", "2", "job.py", "10", cwd=tmp_path)
    assert quiet.returncode == 0 and quiet.stderr == "", quiet.stderr


def test_run_reads_a_config_file(tmp_path: Path) -> None:
    (tmp_path / "job.py").write_text(PROGRAM)
    (tmp_path / "config.yaml").write_text("parallelism:\n  default: 3\n")
    done = strom("run", "--config", "config.yaml", "job.py", "1", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "parallelism 3"


def test_info_prints_the_plan_without_running(tmp_path: Path) -> None:
    (tmp_path / "job.py").write_text(PROGRAM)
    done = strom("info", "-p", "2", "job.py", "1", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    # Flink's frame around the plan; the program's own print comes before it
    lines = done.stdout.splitlines()
    assert lines[:2] == ["parallelism 2",
                         "----------------------- Execution Plan -----------------------"]
    assert lines[-1] == "-" * 62
    nodes = json.loads("\n".join(lines[2:-1]))["nodes"]
    assert [n["pact"] for n in nodes] == ["Data Source", "Operator", "Data Sink"]
    assert nodes[1]["predecessors"][0]["ship_strategy"] == "REBALANCE"
    # --json: stdout is the plan alone, the program's prints go to stderr
    done = strom("info", "--json", "-p", "2", "job.py", "1", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["nodes"] == nodes
    assert done.stderr.startswith("parallelism 2\n")


def test_bad_configuration_is_reported_clearly(tmp_path: Path) -> None:
    (tmp_path / "job.py").write_text(PROGRAM)
    done = strom("run", "-D", "parallelism.defualt=3", "job.py", "1", cwd=tmp_path)
    assert done.returncode == 2
    assert "did you mean 'parallelism.default'" in done.stderr
    done = strom("run", "-D", "pipeline.auto-watermark-interval=soon", "job.py", "1",
                 cwd=tmp_path)
    assert done.returncode == 2
    assert "pipeline.auto-watermark-interval" in done.stderr and "soon" in done.stderr


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("parallelism.default=0", "Error: Invalid value for 'parallelism.default': got '0'; "
         "expected an integer >= 1, or -1"),
        ("pipeline.max-parallelism=-4", "got '-4'; expected an integer from 1 to 32768, or -1"),
        ("taskmanager.network.memory.buffers-per-channel=-1", "expected an integer >= 0."),
        ("minicluster.number-of-taskmanagers=0", "expected an integer >= 1."),
        ("execution.runtime-mode=realtime", "expected one of STREAMING, BATCH, AUTOMATIC."),
        ("state.backend.type=leveldb", "Invalid value for 'state.backend.type': got "
         "'leveldb'; expected one of hashmap, rocksdb."),
    ],
)
def test_bad_values_fail_before_the_program_runs(setting: str, message: str,
                                                 tmp_path: Path) -> None:
    (tmp_path / "job.py").write_text(PROGRAM)
    done = strom("run", "-D", setting, "job.py", "1", cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("Error: ") and done.stderr.count("\n") == 1, done.stderr
    assert message in done.stderr
    assert done.stdout == ""  # the program never ran


def test_parallelism_minus_one_is_the_number_of_cores(tmp_path: Path) -> None:
    (tmp_path / "job.py").write_text(PROGRAM)
    done = strom("run", "-D", "parallelism.default=-1", "job.py", "1", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == f"parallelism {os.cpu_count() or 1}"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("parallelism.default: [1, 2\n",
         "Error: Invalid YAML in configuration file 'config.yaml' at line 2, column 1: "),
        ("- a\n- b\n", "Error: Configuration file 'config.yaml' must hold a mapping"),
        ("parallelism:\n  default: 0\n",
         "Error: In configuration file 'config.yaml': Invalid value for "
         "'parallelism.default': got '0'; expected an integer >= 1"),
        ("state.backend.type: leveldb\n",
         "Error: In configuration file 'config.yaml': Invalid value for 'state.backend.type'"),
    ],
)
def test_a_bad_config_file_is_one_error_line(text: str, message: str, tmp_path: Path) -> None:
    (tmp_path / "job.py").write_text(PROGRAM)
    (tmp_path / "config.yaml").write_text(text)
    done = strom("run", "--config", "config.yaml", "job.py", "1", cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith(message) and done.stderr.count("\n") == 1, done.stderr


def test_arguments_after_the_program_are_the_programs(tmp_path: Path) -> None:
    (tmp_path / "args.py").write_text("import sys\nprint(sys.argv[1:])\n")
    done = strom("run", "-p", "2", "args.py", "--help", "-p", "3", "-v", "--", "x",
                 cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "['--help', '-p', '3', '-v', '--', 'x']\n"
    done = strom("info", "args.py", "-h", cwd=tmp_path)
    assert done.stdout.startswith("['-h']\n")
    assert "never called execute()" in done.stderr
    done = strom("run", "--help", cwd=tmp_path)
    assert done.returncode == 0 and done.stdout.startswith("Usage: strom run [OPTIONS] SCRIPT")


FAILING_PROGRAM = """\
from strom.datastream import StreamExecutionEnvironment


def explode(value):
    return 10 // (value - 2)


env = StreamExecutionEnvironment.get_execution_environment()
env.from_collection([1, 2, 3]).map(explode).print()
env.execute("failing job")
"""


def test_a_failed_program_shows_its_own_frames_first(tmp_path: Path) -> None:
    (tmp_path / "job.py").write_text(FAILING_PROGRAM)
    script = tmp_path.resolve() / "job.py"
    done = strom("run", "-q", "-p", "2", "job.py", cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.startswith(
        "Traceback (most recent call last):\n"
        f'  File "{script}", line 10, in <module>\n'
        '    env.execute("failing job")\n'
        f'  File "{script}", line 5, in explode\n'
        "    return 10 // (value - 2)\n"
    ), done.stderr
    lines = done.stderr.splitlines()
    exception = lines.index("ZeroDivisionError: integer division or modulo by zero")
    assert "operator 'Map'" in lines[exception + 1]  # the note
    assert lines[-1].endswith("frames of strom and its launcher hidden; strom run -v shows "
                              "the full traceback)")
    for internal in ("runpy", "click", "strom/runtime", "concurrent/futures"):
        assert internal not in done.stderr, internal

    verbose = strom("run", "-v", "-p", "2", "job.py", cwd=tmp_path)
    assert verbose.returncode == 1
    assert "runpy" in verbose.stderr and "strom/runtime/task.py" in verbose.stderr
    assert f'File "{script}", line 5, in explode' in verbose.stderr
    assert "hidden" not in verbose.stderr


def test_api_misuse_in_the_program_points_at_the_programs_line(tmp_path: Path) -> None:
    (tmp_path / "job.py").write_text(
        "from strom.datastream import StreamExecutionEnvironment\n"
        "env = StreamExecutionEnvironment.get_execution_environment()\n"
        "env.from_collection('abc')\n"
    )
    done = strom("run", "job.py", cwd=tmp_path)
    assert done.returncode == 1
    assert "line 3, in <module>\n    env.from_collection('abc')\n" in done.stderr
    assert "TypeError: from_collection() takes a list of elements" in done.stderr
    assert "stream_execution_environment.py" not in done.stderr


def test_missing_program(tmp_path: Path) -> None:
    done = strom("run", "nope.py", cwd=tmp_path)
    assert done.returncode != 0 and "No such program: nope.py" in done.stderr
