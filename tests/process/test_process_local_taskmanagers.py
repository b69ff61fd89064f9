"""``execute()`` on the embedded cluster with TaskManager processes
(``execution.local.taskmanagers: process``): the same results as in-thread TaskManagers, the
tasks really run in other processes, a user's exception reaches ``execute()`` with its type,
message and the user's file and line, and Ctrl-C leaves no process behind."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

import pytest

from strom.common import Configuration, Duration, Encoder, Time, Types, WatermarkStrategy
from strom.common.config_options import ConfigError
from strom.common.watermark_strategy import TimestampAssigner
from strom.datastream import RuntimeExecutionMode, StreamExecutionEnvironment
from strom.datastream.connectors.file_system import FileSink
from strom.datastream.connectors.number_seq import NumberSequenceSource
from strom.datastream.stream_execution_environment import _local_taskmanager_mode
from strom.datastream.window import TumblingEventTimeWindows
from strom.minicluster import MiniCluster

pytestmark = pytest.mark.slow

LINES = ["to be or not to be", "that is the question", "to sleep perchance to dream"] * 50


def _env(mode: str) -> StreamExecutionEnvironment:
    config = Configuration()
    config.set_string("execution.local.taskmanagers", mode)
    env = StreamExecutionEnvironment.get_execution_environment(config)
    env.set_parallelism(2)
    return env


def _run(mode: str, out: Path, build: Callable[[StreamExecutionEnvironment], object]
         ) -> list[str]:
    env = _env(mode)
    stream = build(env)
    stream.map(lambda v: str(v), output_type=Types.STRING()).sink_to(  # type: ignore[attr-defined]
        FileSink.for_row_format(str(out), Encoder.simple_string_encoder()).build())
    env.execute(f"{mode} job")
    return sorted(line for p in out.rglob("*") if p.is_file() for line in
                  p.read_text().splitlines())


def _word_count(env: StreamExecutionEnvironment) -> object:
    env.set_runtime_mode(RuntimeExecutionMode.BATCH)
    return (env.from_collection(LINES).flat_map(str.split)
            .map(lambda w: (w, 1), output_type=Types.TUPLE([Types.STRING(), Types.INT()]))
            .key_by(lambda t: t[0]).reduce(lambda a, b: (a[0], a[1] + b[1])))


class _Second(TimestampAssigner):
    def extract_timestamp(self, value: tuple[str, int], record_timestamp: int) -> int:
        return value[1] * 1000


def _windows(env: StreamExecutionEnvironment) -> object:
    events = [(f"k{i % 5}", i % 37) for i in range(400)]
    return (env.from_collection(events)
            .assign_timestamps_and_watermarks(
                WatermarkStrategy.for_bounded_out_of_orderness(Duration.of_seconds(40))
                .with_timestamp_assigner(_Second()))
            .key_by(lambda e: e[0])
            .window(TumblingEventTimeWindows.of(Time.seconds(10)))
            .reduce(lambda a, b: (a[0], a[1] + b[1])))


@pytest.mark.parametrize("job", [_word_count, _windows], ids=["word_count", "windows"])
def test_process_taskmanagers_give_the_results_of_thread_taskmanagers(
        job: Callable[[StreamExecutionEnvironment], object], tmp_path: Path) -> None:
    threads = _run("thread", tmp_path / "thread", job)
    processes = _run("process", tmp_path / "process", job)
    assert threads and processes == threads


def test_tasks_run_in_one_process_per_slot(tmp_path: Path) -> None:
    pids = _run("process", tmp_path / "pids", lambda env: env.from_collection(
        list(range(2000))).rebalance().map(lambda _: os.getpid()))
    assert len(set(pids)) == 2 and str(os.getpid()) not in pids


def test_execute_and_collect_keeps_in_thread_taskmanagers() -> None:
    # results come back through this process until collect works through the JobMaster
    env = _env("process")
    stream = env.from_collection(list(range(500))).rebalance().map(lambda v: (v, os.getpid()))
    with stream.execute_and_collect() as results:
        rows = list(results)
    assert sorted(v for v, _ in rows) == list(range(500))
    assert {pid for _, pid in rows} == {os.getpid()}


def _fail_on_seven(value: int) -> int:
    if value == 7:
        raise KeyError(f"no entry for {value}")
    return value


def test_a_user_exception_in_a_taskmanager_process_reaches_execute(tmp_path: Path) -> None:
    env = _env("process")
    env.from_collection(list(range(20))).rebalance().map(_fail_on_seven).print()
    with pytest.raises(KeyError, match="no entry for 7") as info:
        env.execute("failing job")
    last = traceback.extract_tb(info.value.__traceback__)[-1]
    assert (last.filename, last.name) == (__file__, "_fail_on_seven")
    assert last.line == 'raise KeyError(f"no entry for {value}")'


EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "word_count.py"


def test_python_job_py_at_p2_runs_taskmanager_processes_by_default() -> None:
    env = {k: v for k, v in os.environ.items() if k != "STROM_LOCAL_TASKMANAGERS"}

    def run(*args: str) -> list[str]:
        done = subprocess.run([sys.executable, str(EXAMPLE), *args], capture_output=True,
                              text=True, env=env, timeout=120, check=False)
        assert done.returncode == 0, done.stderr
        return sorted(re.sub(r"^\d+> ", "", line) for line in done.stdout.splitlines())

    assert run("-p", "2") == run()


@pytest.mark.parametrize(("key", "env", "slots", "collect", "mode"), [
    ("auto", "", 1, False, "thread"),
    ("auto", "", 2, False, "process"),
    ("auto", "thread", 2, False, "thread"),
    ("auto", "process", 1, False, "process"),
    ("thread", "process", 2, False, "thread"),
    ("process", "", 1, False, "process"),
    ("process", "", 2, True, "thread"),
])
def test_how_the_local_cluster_runs_its_taskmanagers(
        key: str, env: str, slots: int, collect: bool, mode: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STROM_LOCAL_TASKMANAGERS", env)
    config = Configuration()
    config.set_string("execution.local.taskmanagers", key)
    assert _local_taskmanager_mode(config, slots, collect) == mode


def test_the_mode_key_is_validated() -> None:
    config = Configuration()
    with pytest.raises(ConfigError, match=re.escape(
            "'execution.local.taskmanagers': got 'processes'; expected one of auto, thread, "
            "process")):
        config.set_string("execution.local.taskmanagers", "processes")
    with pytest.raises(ValueError, match=re.escape(
            "taskmanagers must be one of thread, process, got 'fork'")):
        MiniCluster(taskmanagers="fork")


def test_a_bad_environment_override_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STROM_LOCAL_TASKMANAGERS", "fork")
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(2)
    env.from_collection([1, 2]).print()
    with pytest.raises(ValueError, match="STROM_LOCAL_TASKMANAGERS='fork'"):
        env.execute()


ENDLESS = """
from strom.common import Configuration, WatermarkStrategy
from strom.datastream import StreamExecutionEnvironment
from strom.datastream.connectors.number_seq import NumberSequenceSource

config = Configuration()
config.set_string("execution.local.taskmanagers", "process")
env = StreamExecutionEnvironment.get_execution_environment(config)
env.set_parallelism(2)

def mark(x):
    if x < 4:
        print("started", flush=True)
    return x

env.from_source(NumberSequenceSource(0, 10**12), WatermarkStrategy.no_watermarks(), "numbers") \\
    .map(mark).filter(lambda x: x < 0).print()
env.execute("endless job")
"""


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rpartition(")")[2].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_ctrl_c_cancels_the_job_and_ends_every_taskmanager_process(tmp_path: Path) -> None:
    script = tmp_path / "endless.py"
    script.write_text(ENDLESS)
    env = {k: v for k, v in os.environ.items() if k != "STROM_LOCAL_TASKMANAGERS"}
    program = subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env=env, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    children: list[int] = []
    try:
        assert program.stdout is not None
        for line in program.stdout:  # the job runs in the TaskManager processes
            if "started" in line:
                break
        children = _children(program.pid)
        assert len(children) == 2, children
        program.send_signal(signal.SIGINT)
        code = program.wait(timeout=60)
        err = program.stderr.read() if program.stderr else ""
        assert code == -signal.SIGINT, err
        assert "Cancelling job 'endless job' (" in err and "is CANCELED." in err, err
        deadline = time.monotonic() + 10
        while any(_alive(c) for c in children) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not [c for c in children if _alive(c)], "TaskManager processes left behind"
    finally:
        if program.poll() is None:
            program.kill()
            program.wait(10)
        for child in children:
            if _alive(child):
                os.kill(child, signal.SIGKILL)


@pytest.mark.parametrize("victim", [0, 1])
def test_a_killed_taskmanager_process_fails_the_job(victim: int) -> None:
    # whichever comes first, the peer's broken channel or the lost heartbeats, the job ends
    env = _env("process")
    (env.from_source(NumberSequenceSource(0, 10**12), WatermarkStrategy.no_watermarks(), "n")
        .rebalance().filter(lambda x: x < 0).print())
    job_graph = env._job_graph("killed job")
    cluster = MiniCluster(2, 1, taskmanagers="process").start()
    try:
        client = cluster.submit(job_graph)
        deadline = time.monotonic() + 60
        while len([s for s in cluster.task_statuses() if s.state.value == "RUNNING"]) < 3:
            assert time.monotonic() < deadline, cluster.task_statuses()
            time.sleep(0.02)
        assert cluster.processes is not None
        cluster.processes.processes[victim].kill()
        result = client.get_job_result().result(timeout=30)
        assert result.status.name == "FAILED"
    finally:
        cluster.stop()
