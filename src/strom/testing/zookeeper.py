"""A real single-node ZooKeeper for tests, as a child process of the test (Debian's
``zookeeper`` package: ``/usr/share/java/zookeeper.jar``, run with ``java``).

::

    with ZooKeeperServer(tmp_path / "zk") as zk:
        config.set_string("high-availability.zookeeper.quorum", zk.connect_string)
        ...
        zk.stop()      # the quorum is gone: leaders are revoked
        zk.restart()   # same port, same data: sessions that did not expire go on

The server listens on 127.0.0.1 only, on ``port`` or a free port picked when it first
starts, and keeps its data in ``data_dir``. Start and restart wait (with a deadline) until
the server answers ``ruok``; ``stop()`` ends the process by its pid (SIGTERM, then SIGKILL).
``log()`` is the server's output, which the pytest fixture prints when a test fails.
``STROM_ZOOKEEPER_JAR`` names another jar than Debian's.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

__all__ = [
    "DEFAULT_ZOOKEEPER_JAR",
    "REQUIRE_ZOOKEEPER_ENV",
    "ZOOKEEPER_JAR_ENV",
    "ZooKeeperServer",
    "free_port",
    "zookeeper_available",
    "zookeeper_jar",
]

#: where Debian's ``zookeeper`` package puts the server
DEFAULT_ZOOKEEPER_JAR = "/usr/share/java/zookeeper.jar"
#: names another jar than :data:`DEFAULT_ZOOKEEPER_JAR`
ZOOKEEPER_JAR_ENV = "STROM_ZOOKEEPER_JAR"
#: set (``make test`` does): tests that need ZooKeeper fail instead of skipping without it
REQUIRE_ZOOKEEPER_ENV = "STROM_REQUIRE_ZOOKEEPER"
#: how long the JVM may take to start and answer (slow on a loaded machine)
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0


def zookeeper_jar() -> str:
    """The jar the server runs from (``STROM_ZOOKEEPER_JAR`` or Debian's)."""
    return os.environ.get(ZOOKEEPER_JAR_ENV) or DEFAULT_ZOOKEEPER_JAR


def zookeeper_available() -> bool:
    """Whether the server's jar and ``java`` are on this machine."""
    return Path(zookeeper_jar()).is_file() and shutil.which("java") is not None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class ZooKeeperServer:
    """See the module docstring. ``tick_time_ms`` 500 and ``min_session_timeout_ms`` 1000 let
    tests use session timeouts of a few seconds."""

    def __init__(self, data_dir: str | Path, port: int = 0, tick_time_ms: int = 500,
                 min_session_timeout_ms: int = 1000) -> None:
        self.data_dir = Path(data_dir)
        self.port = port
        self.tick_time_ms = tick_time_ms
        self.min_session_timeout_ms = min_session_timeout_ms
        self._process: subprocess.Popen[bytes] | None = None
        self._log_path = self.data_dir / "zookeeper.log"

    @property
    def connect_string(self) -> str:
        """``127.0.0.1:<port>``, the value of ``high-availability.zookeeper.quorum``."""
        if not self.port:
            raise RuntimeError("ZooKeeperServer has no port yet: call start() first.")
        return f"127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> ZooKeeperServer:
        """Start the server and wait until it answers; raises RuntimeError with its log when
        it does not within :data:`START_TIMEOUT_S`."""
        if self.is_running():
            raise RuntimeError(f"ZooKeeper already runs (pid {self.pid}); stop() it first.")
        jar = zookeeper_jar()
        if not Path(jar).is_file():
            raise FileNotFoundError(
                f"ZooKeeper's jar {jar} does not exist: install Debian's zookeeper package "
                f"(make test does) or set {ZOOKEEPER_JAR_ENV} to a zookeeper.jar.")
        if not self.port:
            self.port = free_port()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        config = self._write_config()
        command = ["java", "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Dzookeeper.admin.enableServer=false",
                   f"-Dzookeeper.log.dir={self.data_dir}",
                   "-cp", _classpath(jar), "org.apache.zookeeper.server.ZooKeeperServerMain",
                   str(config)]
        with open(self._log_path, "ab") as log:
            log.write(f"--- starting ZooKeeper on port {self.port}\n".encode())
            log.flush()
            self._process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                             stdin=subprocess.DEVNULL,
                                             start_new_session=True)
        self._wait_until_serving(time.monotonic() + START_TIMEOUT_S)
        return self

    def stop(self) -> None:
        """End the server process by its pid (SIGTERM, then SIGKILL); no-op when stopped."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(STOP_TIMEOUT_S)

    def kill(self) -> None:
        """``kill -9`` the server (no clean shutdown)."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait(STOP_TIMEOUT_S)

    def restart(self) -> ZooKeeperServer:
        """Stop (if running) and start again on the same port with the same data."""
        self.stop()
        return self.start()

    def log(self) -> str:
        """Everything the server printed (all starts)."""
        try:
            return self._log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def __enter__(self) -> ZooKeeperServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # ------------------------------------------------------------------ internals
    def _write_config(self) -> Path:
        path = self.data_dir / "zoo.cfg"
        path.write_text(
            f"tickTime={self.tick_time_ms}\n"
            f"minSessionTimeout={self.min_session_timeout_ms}\n"
            f"dataDir={self.data_dir / 'data'}\n"
            f"clientPort={self.port}\n"
            "clientPortAddress=127.0.0.1\n"
            "admin.enableServer=false\n"
            "4lw.commands.whitelist=ruok,srvr\n"
            "maxClientCnxns=0\n"
        )
        return path

    def _wait_until_serving(self, deadline: float) -> None:
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                code = self._process.returncode
                self._process = None
                raise RuntimeError(
                    f"ZooKeeper exited with code {code} before it served on port "
                    f"{self.port}; its log:\n{self.log()[-4000:]}")
            if _serving(self.port):
                return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(
            f"ZooKeeper did not answer 'ruok' on 127.0.0.1:{self.port} within "
            f"{START_TIMEOUT_S:.0f} s; its log:\n{self.log()[-4000:]}")


def _classpath(jar: str) -> str:
    """The server's jar (its manifest names its libraries) and, when there, slf4j's simple
    logger next to it, so the server's log says something."""
    simple_logger = Path(jar).parent / "slf4j-simple.jar"
    return f"{jar}{os.pathsep}{simple_logger}" if simple_logger.is_file() else jar


def _serving(port: int) -> bool:
    """Whether the server answers ``ruok`` *and* serves (``ruok`` alone is answered as soon
    as the port listens, before the server can take sessions)."""
    return _four_letters(port, b"ruok") == b"imok" and _four_letters(
        port, b"srvr").startswith(b"Zookeeper version")


def _four_letters(port: int, command: bytes) -> bytes:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0) as conn:
            conn.sendall(command)
            chunks = []
            while chunk := conn.recv(4096):
                chunks.append(chunk)
            return b"".join(chunks)
    except OSError:
        return b""
