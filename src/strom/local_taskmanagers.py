"""TaskManagers of the embedded local cluster as processes, so a job with parallelism > 1
uses every core (Python runs one thread at a time per process).

:class:`LocalTaskManagerProcesses` starts ``num`` TaskManager processes (one slot each by
default) that register with the ResourceManager of this process over ``tcp://`` on
127.0.0.1, and ends them by pid. Each runs :func:`main` (``python -m
strom.local_taskmanagers -D key=value ...``): the ``strom taskmanager`` entry point, with its
ready line and log on stderr (a log file) and stdout shared with this process, so a job's
``print()`` sink writes to the user's terminal. The children get this process's ``sys.path``
as their ``PYTHONPATH`` (the job script's directory included), so user functions and the
modules they import unpickle; they run in their own session, so a Ctrl-C in the terminal
reaches only this process, which cancels the job and ends them; and they die with the
thread that started them.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

from strom.heartbeat import HeartbeatSettings
from strom.processes import ClusterProcess, spawn_process

__all__ = ["LocalTaskManagerProcesses", "main"]

#: how long TaskManager processes may take to start and register (imports on a loaded machine)
START_TIMEOUT_S = 60.0
_READY = r"TaskManager (\w+) ready at (tcp://\S+)"


class LocalTaskManagerProcesses:
    """``num`` TaskManager processes with ``slots`` slots each, registering at the
    ResourceManager ``rm_address`` (``tcp://127.0.0.1:port/...``)."""

    def __init__(self, num: int, slots: int, rm_address: str, ask_timeout_s: float,
                 heartbeat: HeartbeatSettings,
                 extra_config: dict[str, str] | None = None) -> None:
        self.num = num
        self.slots = slots
        self.rm_address = rm_address
        self.ask_timeout_s = ask_timeout_s
        self.heartbeat = heartbeat
        #: more keys for every process (the cluster's metrics.* keys)
        self.extra_config = dict(extra_config or {})
        self.processes: list[ClusterProcess] = []
        self.log_dir: Path | None = None

    def _config(self) -> dict[str, str]:
        host_port = self.rm_address.removeprefix("tcp://").partition("/")[0]
        host, _, port = host_port.rpartition(":")
        return {
            **self.extra_config,
            "jobmanager.rpc.address": host, "jobmanager.rpc.port": port,
            "taskmanager.bind-host": "127.0.0.1", "taskmanager.host": "127.0.0.1",
            "taskmanager.numberOfTaskSlots": str(self.slots),
            "pekko.ask.timeout": f"{int(self.ask_timeout_s * 1000)} ms",
            "heartbeat.interval": f"{self.heartbeat.interval_ms} ms",
            "heartbeat.timeout": f"{self.heartbeat.timeout_ms} ms",
        }

    @staticmethod
    def _environment() -> dict[str, str]:
        path = [os.path.abspath(p) if p else os.getcwd() for p in sys.path]
        return dict(os.environ, PYTHONPATH=os.pathsep.join(dict.fromkeys(path)))

    def start(self) -> list[ClusterProcess]:
        """Start them all, then wait for each one's ready line (its RPC address)."""
        self.log_dir = Path(tempfile.mkdtemp(prefix="strom-local-taskmanagers-"))
        config, env = self._config(), self._environment()
        try:
            for index in range(self.num):
                self.processes.append(spawn_process(
                    f"taskmanager-{index}", [], config, self.log_dir / f"taskmanager-{index}.log",
                    env=env, new_session=True, module="strom.local_taskmanagers",
                    stdout_to_log=False))
            for process in self.processes:
                match = process.wait_for_log(_READY, START_TIMEOUT_S)
                process.extra["resource_id"] = match.group(1)
                process.address = match.group(2)
        except BaseException:
            self.stop()
            raise
        return self.processes

    def failed(self) -> str | None:
        """Which process ended on its own, with its log, or None while all run."""
        for process in self.processes:
            if not process.running():
                return (f"The local TaskManager process {process.name} (pid {process.pid}) "
                        f"exited with code {process.popen.poll()}; its log:\n"
                        f"{process.log()[-4000:]}")
        return None

    def stop(self, timeout_s: float = 10.0) -> None:
        """End every process by its pid (SIGTERM, then SIGKILL); keep the logs of one that
        failed, else remove them."""
        clean = True
        for process in self.processes:
            if process.running():
                process.popen.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        for process in self.processes:
            code = process.stop(max(0.1, deadline - time.monotonic()))
            clean = clean and code in (0, -signal.SIGTERM, -signal.SIGKILL)
        if self.log_dir is not None and clean:
            shutil.rmtree(self.log_dir, ignore_errors=True)
        elif self.log_dir is not None:
            print(f"strom: a local TaskManager process failed; its logs are in {self.log_dir}",
                  file=sys.stderr)

    def logs(self) -> str:
        return "\n".join(f"----- {p.name} (pid {p.pid}, exit {p.popen.poll()})\n{p.log()}"
                         for p in self.processes)


def main(argv: list[str] | None = None) -> int:
    """A TaskManager process of the local cluster: ``-D key=value`` arguments, ready line and
    log on stderr, stdout left to the job's print sinks."""
    from strom.cli.main import _configuration
    from strom.entrypoint import configure_process_logging
    from strom.taskmanager.entrypoint import run_taskmanager

    args = sys.argv[1:] if argv is None else argv
    dynamic = tuple(value for flag, value in zip(args[::2], args[1::2], strict=True)
                    if flag == "-D")
    configure_process_logging()
    return run_taskmanager(_configuration(None, dynamic, None), out=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
