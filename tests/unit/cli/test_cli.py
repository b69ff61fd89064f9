"""The ``strom`` command: run and info, with configuration from flags and files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

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
    plan_text = done.stdout[done.stdout.index("{"):]
    nodes = json.loads(plan_text)["nodes"]
    assert [n["pact"] for n in nodes] == ["Data Source", "Operator", "Data Sink"]
    assert nodes[1]["predecessors"][0]["ship_strategy"] == "REBALANCE"


def test_bad_configuration_is_reported_clearly(tmp_path: Path) -> None:
    (tmp_path / "job.py").write_text(PROGRAM)
    done = strom("run", "-D", "parallelism.defualt=3", "job.py", "1", cwd=tmp_path)
    assert done.returncode != 0
    assert "did you mean 'parallelism.default'" in done.stderr
    done = strom("run", "-D", "pipeline.auto-watermark-interval=soon", "job.py", "1",
                 cwd=tmp_path)
    assert done.returncode != 0
    assert "pipeline.auto-watermark-interval" in done.stderr and "soon" in done.stderr


def test_missing_program(tmp_path: Path) -> None:
    done = strom("run", "nope.py", cwd=tmp_path)
    assert done.returncode != 0 and "No such program: nope.py" in done.stderr
