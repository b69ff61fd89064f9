"""Ctrl-C on a running job, in a real process: the job is cancelled, strom says so, and the
process exits promptly even while a user function blocks; a second Ctrl-C skips the wait."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

SLEEPY = """
import time
from strom.datastream import StreamExecutionEnvironment

def slow(x):
    print("started", flush=True)
    time.sleep(120)  # a user function that blocks: its thread cannot be interrupted
    return x

env = StreamExecutionEnvironment.get_execution_environment()
env.set_parallelism(2)
env.from_collection([1, 2, 3]).map(slow).print()
env.execute("sleepy job")
"""

BUSY = """
from strom.common import WatermarkStrategy
from strom.datastream import StreamExecutionEnvironment
from strom.datastream.connectors.number_seq import NumberSequenceSource

seen = []

def mark(x):
    if not seen:
        seen.append(x)
        print("started", flush=True)
    return x

env = StreamExecutionEnvironment.get_execution_environment()
env.set_parallelism(2)
env.from_source(NumberSequenceSource(0, 10**12), WatermarkStrategy.no_watermarks(), "numbers") \\
    .map(mark).filter(lambda x: x < 0).print()
env.execute("busy job")
"""


class Program:
    """A job in a child process whose output is read as it comes."""

    def __init__(self, command: list[str]) -> None:
        # SIGINT back to its default, so the child installs Python's Ctrl-C handler even
        # when the test runner itself was started with SIGINT ignored (in the background)
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self._readers = [
            threading.Thread(target=self._read, args=(self.process.stdout, self.stdout),
                             daemon=True),
            threading.Thread(target=self._read, args=(self.process.stderr, self.stderr),
                             daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _read(stream: object, into: list[str]) -> None:
        for line in stream:  # type: ignore[attr-defined]
            into.append(line)

    def wait_for(self, text: str, lines: list[str], timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while not any(text in line for line in lines):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.kill()
                pytest.fail(f"never saw {text!r}; stdout={self.stdout} stderr={self.stderr}")
            time.sleep(0.01)

    def interrupt(self) -> None:
        self.process.send_signal(signal.SIGINT)

    def finish(self, timeout_s: float = 60) -> tuple[int, float]:
        started = time.monotonic()
        try:
            code = self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"did not exit {timeout_s} s after Ctrl-C; stderr={self.stderr}")
        for reader in self._readers:
            reader.join(timeout=10)
        return code, time.monotonic() - started

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)

    @property
    def err(self) -> str:
        return "".join(self.stderr)


def _script(tmp_path: Path, source: str) -> str:
    path = tmp_path / "job.py"
    path.write_text(source)
    return str(path)


def _no_noise(err: str) -> None:
    assert "Task was destroyed" not in err
    assert "asyncio" not in err
    assert "Exception in thread" not in err


def test_ctrl_c_cancels_a_job_blocked_in_a_user_function_and_exits(tmp_path: Path) -> None:
    program = Program([sys.executable, _script(tmp_path, SLEEPY)])
    program.wait_for("started", program.stdout)
    program.interrupt()
    code, took = program.finish()
    err = program.err
    assert code == -signal.SIGINT  # Python's exit on an unhandled KeyboardInterrupt
    cancelling = err.index("Cancelling job 'sleepy job' (")
    gave_up = err.index("did not end within")
    assert cancelling < gave_up < err.index("KeyboardInterrupt")
    _no_noise(err)
    assert took < 60, "the process waited for the blocked user function"


def test_ctrl_c_cancels_a_running_job_and_reports_it_cancelled(tmp_path: Path) -> None:
    program = Program([sys.executable, _script(tmp_path, BUSY)])
    program.wait_for("started", program.stdout)
    program.interrupt()
    code, _ = program.finish()
    err = program.err
    assert code == -signal.SIGINT
    assert err.index("Cancelling job 'busy job' (") < err.index("Job 'busy job' (")
    assert "is CANCELED." in err
    _no_noise(err)


def test_a_second_ctrl_c_exits_without_waiting(tmp_path: Path) -> None:
    program = Program([sys.executable, _script(tmp_path, SLEEPY)])
    program.wait_for("started", program.stdout)
    program.interrupt()
    program.wait_for("Cancelling job", program.stderr)
    program.interrupt()
    code, _ = program.finish()
    err = program.err
    assert code == -signal.SIGINT
    assert "Exiting without waiting for job 'sleepy job'" in err
    assert "did not end within" not in err
    _no_noise(err)


def test_strom_run_exits_130_after_ctrl_c_without_a_traceback(tmp_path: Path) -> None:
    strom = str(Path(sys.executable).with_name("strom"))
    program = Program([strom, "run", _script(tmp_path, SLEEPY)])
    program.wait_for("started", program.stdout)
    program.interrupt()
    code, took = program.finish()
    err = program.err
    assert code == 130
    assert "Cancelling job 'sleepy job' (" in err
    assert "Traceback" not in err
    _no_noise(err)
    assert took < 60
