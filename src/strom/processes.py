"""Starting strom's own processes (``python -m strom.cli.main <command>``) and ending them by
pid: used by the test kit's :class:`~strom.testing.ProcessCluster` and by the embedded local
cluster's TaskManager processes.

A started process writes its output to a log file, dies with the thread that started it
(Linux), and is ended by :meth:`ClusterProcess.stop` (SIGTERM, then SIGKILL).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from strom.common.process_files import LOG_FILE_ENV

__all__ = ["ClusterProcess", "spawn_process"]


def _die_with_parent() -> None:
    """In the child before exec: on Linux, SIGKILL it when the thread that started it ends,
    so a parent that is killed leaves no process behind (its own cleanup cannot run then)."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None).prctl(pr_set_pdeathsig, signal.SIGKILL)


@dataclass
class ClusterProcess:
    """One strom process: its Popen and its log."""

    name: str
    popen: subprocess.Popen[bytes]
    log_file: Path
    #: ``tcp://host:port`` of its RPC, once ready
    address: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def log(self) -> str:
        try:
            return self.log_file.read_text(errors="replace")
        except OSError:
            return ""

    def running(self) -> bool:
        return self.popen.poll() is None

    def wait_for_log(self, pattern: str, timeout_s: float, start: int = 0) -> re.Match[str]:
        """The first match of ``pattern`` in the log (from character ``start``); fails early
        when the process exits without writing it."""
        deadline = time.monotonic() + timeout_s
        regex = re.compile(pattern)
        while True:
            match = regex.search(self.log(), start)
            if match:
                return match
            exited = not self.running()
            if exited or time.monotonic() > deadline:
                why = (f"exited with code {self.popen.poll()}" if exited
                       else f"logged no {pattern!r} within {timeout_s} s")
                raise TimeoutError(
                    f"{self.name} (pid {self.pid}) {why}; its log:\n{self.log()[-4000:]}")
            time.sleep(0.02)

    def stop(self, timeout_s: float = 10.0) -> int | None:
        """SIGTERM, wait, SIGKILL if needed; the exit code."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                return self.popen.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.popen.kill()
        return self.popen.wait(timeout_s)

    def kill(self) -> None:
        """``kill -9``: the process dies without a word to anyone."""
        if self.popen.poll() is None:
            self.popen.kill()
        self.popen.wait(10)


def spawn_process(name: str, command: list[str], config: Mapping[str, str], log_file: Path,
                  env: Mapping[str, str] | None = None,
                  new_session: bool = False, module: str = "strom.cli.main",
                  stdout_to_log: bool = True) -> ClusterProcess:
    """Start ``strom <command> -D key=value...`` (``python -m module``) with this
    interpreter, its output in ``log_file``. ``env`` replaces the environment (default: this
    process's); ``new_session`` keeps the terminal's Ctrl-C away from it (its parent ends
    it); without ``stdout_to_log`` its stdout is this process's (only stderr goes to the
    log)."""
    args = [sys.executable, "-m", module, *command]
    for key, value in config.items():
        args += ["-D", f"{key}={value}"]
    environment = dict(os.environ if env is None else env, PYTHONUNBUFFERED="1")
    if stdout_to_log:
        # the process serves its log over REST (/jobmanager/log, /taskmanagers/:id/log)
        environment[LOG_FILE_ENV] = str(log_file.resolve())
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "wb") as log:
        popen = subprocess.Popen(args, stdin=subprocess.DEVNULL,
                                 stdout=log if stdout_to_log else None,
                                 stderr=subprocess.STDOUT if stdout_to_log else log, env=environment,
                                 preexec_fn=_die_with_parent, start_new_session=new_session)
    return ClusterProcess(name, popen, log_file)
