"""``strom jobmanager``, ``strom taskmanager`` and ``strom cluster start | stop | status``.

The first two run one cluster process in the foreground. ``strom cluster start`` starts a
standalone session cluster on this host in the background: one JobManager per line of
``conf/masters`` (Flink's ``host:webui-port`` lines; one JobManager with the configured
``rest.port`` when there is no such file), then one TaskManager per line of
``conf/workers`` (one when there is no such file), each with its log file and pid file
under ``log/``; the configuration comes from ``--config`` or ``conf/config.yaml``. Several
JobManagers need ``high-availability.type: zookeeper``: one leads, the others stand by.
``strom cluster stop`` ends exactly the processes of those pid files.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import click

from strom.cli.connection import Connection, cluster_command, json_option
from strom.common.configuration import Configuration
from strom.common.process_files import LOG_FILE_ENV

if TYPE_CHECKING:
    from strom.rpc.messages import TaskManagerInfo

__all__ = ["cluster", "jobmanager", "taskmanager"]

#: how long ``cluster start`` waits for a process's "ready at" line
READY_TIMEOUT_S = 60.0
_READY = re.compile(r"(JobManager|TaskManager \S+) ready at (tcp://\S+)(?:.*REST (http\S+?)\))?")
_LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}


def _load(dynamic: tuple[str, ...], config_file: str | None) -> Configuration:
    from strom.cli.main import _configuration

    return _configuration(None, dynamic, config_file)


_config_options = [
    click.option("-D", "dynamic", multiple=True, metavar="key=value",
                 help="A configuration key, e.g. -D taskmanager.numberOfTaskSlots=4."),
    click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False),
                 help="A config.yaml with Flink-style keys."),
]


def _with_config(f):  # type: ignore[no-untyped-def]
    for decorator in reversed(_config_options):
        f = decorator(f)
    return f


@click.command()
@_with_config
def jobmanager(dynamic: tuple[str, ...], config_file: str | None) -> None:
    """Run a JobManager in the foreground (Dispatcher, ResourceManager, JobMasters) with
    its RPC on jobmanager.bind-host:jobmanager.rpc.port. SIGTERM or Ctrl-C stops it."""
    from strom.entrypoint import configure_process_logging
    from strom.jobmanager.entrypoint import run_jobmanager

    configuration = _load(dynamic, config_file)
    configure_process_logging()
    sys.exit(run_jobmanager(configuration))


@click.command()
@_with_config
def taskmanager(dynamic: tuple[str, ...], config_file: str | None) -> None:
    """Run a TaskManager in the foreground: it offers taskmanager.numberOfTaskSlots slots to
    the JobManager at jobmanager.rpc.address:jobmanager.rpc.port, and registers again
    whenever it loses it. SIGTERM or Ctrl-C stops it."""
    from strom.entrypoint import configure_process_logging
    from strom.taskmanager.entrypoint import run_taskmanager

    configuration = _load(dynamic, config_file)
    configure_process_logging()
    sys.exit(run_taskmanager(configuration))


# ---------------------------------------------------------------------- cluster
@dataclass
class _Member:
    """One process of the cluster, as its pid file records it."""

    name: str
    pid_file: Path
    pid: int
    address: str
    #: the JobManager's REST API (``http://host:port``)
    rest_url: str | None = None

    @classmethod
    def read(cls, pid_file: Path) -> _Member | None:
        try:
            lines = pid_file.read_text().split("\n")
            rest_url = lines[2].strip() if len(lines) > 2 and lines[2].strip() else None
            return cls(pid_file.stem, pid_file, int(lines[0]), lines[1].strip(), rest_url)
        except (OSError, ValueError, IndexError):
            return None

    def alive(self) -> bool:
        return _alive(self.pid)


def _alive(pid: int) -> bool:
    """Whether ``pid`` is a running strom process (not a zombie, not a reused pid)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    state = stat.rpartition(")")[2].split()[0]
    return state not in ("Z", "X") and b"strom" in cmdline


def _members(log_dir: Path) -> list[_Member]:
    """The cluster's processes: TaskManagers first, the JobManager last."""
    found = [m for f in sorted(log_dir.glob("*.pid")) if (m := _Member.read(f)) is not None]
    return sorted(found, key=lambda m: (_is_jobmanager(m), m.name))


def _is_jobmanager(member: _Member) -> bool:
    return member.name == "jobmanager" or member.name.startswith("jobmanager-")


def read_masters(conf_dir: Path) -> list[tuple[str, int]] | None:
    """The JobManagers of ``conf_dir/masters``: ``(host, web UI port)`` per line (Flink's
    ``host:webui-port``; ``#`` starts a comment); None when there is no such file. Every
    host must be this one."""
    path = conf_dir / "masters"
    if not path.is_file():
        return None
    masters: list[tuple[str, int]] = []
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        line = raw.split("#")[0].strip()
        if not line:
            continue
        host, colon, port_text = line.rpartition(":")
        try:
            port = int(port_text) if colon else -1
        except ValueError:
            port = -1
        if not host or not 0 <= port <= 65535:
            raise click.ClickException(
                f"{path}, line {number}: {raw.strip()!r} is not host:webui-port (e.g. "
                "localhost:8081); each line names one JobManager and the port of its REST "
                "API and web UI.")
        masters.append((host, port))
    if not masters:
        raise click.ClickException(
            f"{path} lists no JobManager; add a line host:webui-port, e.g. localhost:8081.")
    remote = sorted({h for h, _ in masters if h not in _LOCAL_HOSTS | {socket.gethostname()}})
    if remote:
        raise click.ClickException(
            f"{path} names other hosts ({', '.join(remote)}); strom cluster start starts "
            "JobManagers on this host only. Run `strom jobmanager` on those hosts instead.")
    ports = [port for _, port in masters if port != 0]
    if len(set(ports)) != len(ports):
        raise click.ClickException(
            f"{path} gives several JobManagers the same port ({', '.join(map(str, ports))}); "
            "each JobManager on this host needs its own web UI port (or 0 for any).")
    return masters


def _workers(conf_dir: Path) -> list[str]:
    path = conf_dir / "workers"
    if not path.is_file():
        return ["localhost"]
    hosts = [line.split("#")[0].strip() for line in path.read_text().splitlines()]
    hosts = [h for h in hosts if h]
    local = _LOCAL_HOSTS | {socket.gethostname()}
    remote = sorted({h for h in hosts if h not in local})
    if remote:
        raise click.ClickException(
            f"{path} names other hosts ({', '.join(remote)}); strom cluster start starts "
            "TaskManagers on this host only. Run `strom taskmanager -D "
            "jobmanager.rpc.address=<this host>` on those hosts instead.")
    return hosts


def _config_args(conf_dir: Path, dynamic: tuple[str, ...],
                 config_file: str | None) -> tuple[list[str], str | None]:
    config = config_file or (str(conf_dir / "config.yaml")
                             if (conf_dir / "config.yaml").is_file() else None)
    args = ["--config", str(Path(config).resolve())] if config else []
    for item in dynamic:
        args += ["-D", item]
    return args, config


def _spawn(name: str, command: list[str], log_dir: Path) -> tuple[subprocess.Popen[bytes], Path]:
    log_file = log_dir / f"{name}.log"
    with open(log_file, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "strom.cli.main", *command], stdin=subprocess.DEVNULL,
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            # the process serves its log over REST (/jobmanager/log, /taskmanagers/:id/log)
            env={**os.environ, LOG_FILE_ENV: str(log_file.resolve())})
    return process, log_file


def _wait_ready(name: str, process: subprocess.Popen[bytes], log_file: Path,
                offset: int) -> tuple[str, str | None]:
    """The address in the ``ready at`` line ``process`` writes to ``log_file``, and the
    REST API's URL that a JobManager's line names."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while True:
        with open(log_file, "rb") as log:
            log.seek(offset)
            match = _READY.search(log.read().decode(errors="replace"))
        if match:
            return match.group(2), match.group(3)
        code = process.poll()
        if code is not None or time.monotonic() > deadline:
            if code is None:
                process.kill()
            tail = log_file.read_bytes()[offset:].decode(errors="replace")[-3000:]
            why = (f"exit code {code}" if code is not None
                   else f"not ready after {READY_TIMEOUT_S:.0f} s")
            raise click.ClickException(
                f"The {name} did not start ({why}). Its log {log_file} ends with:\n{tail}")
        time.sleep(0.05)


def _port_of(address: str) -> tuple[str, str]:
    host_port = address.removeprefix("tcp://").partition("/")[0]
    host, _, port = host_port.rpartition(":")
    return host, port


@click.group()
def cluster() -> None:
    """Start, stop or inspect a standalone session cluster on this host."""


_dir_options = [
    click.option("--conf-dir", type=click.Path(file_okay=False), default="conf",
                 show_default=True, help="Holds config.yaml and workers."),
    click.option("--log-dir", type=click.Path(file_okay=False), default="log",
                 show_default=True, help="Where the processes' log and pid files go."),
]


def _with_dirs(f):  # type: ignore[no-untyped-def]
    for decorator in reversed(_dir_options):
        f = decorator(f)
    return f


@cluster.command()
@_with_config
@_with_dirs
def start(dynamic: tuple[str, ...], config_file: str | None, conf_dir: str,
          log_dir: str) -> None:
    """Start the JobManagers of conf/masters (one without it) and the TaskManagers of
    conf/workers in the background."""
    conf, logs = Path(conf_dir), Path(log_dir)
    running = [m for m in _members(logs) if m.alive()]
    if running:
        click.echo(_describe("A strom cluster is already running", running)
                   + "\nStop it first with `strom cluster stop` to start a new one.")
        return
    for stale in _members(logs):
        stale.pid_file.unlink(missing_ok=True)
    args, config = _config_args(conf, dynamic, config_file)
    configuration = _load(dynamic, config)  # a mistake fails here, before any process starts
    masters = read_masters(conf)
    ha = _ha_enabled(configuration)
    if masters is not None and len(masters) > 1 and not ha:
        raise click.ClickException(
            f"{conf / 'masters'} lists {len(masters)} JobManagers "
            f"({', '.join(f'{h}:{p}' for h, p in masters)}), but several JobManagers need "
            "high-availability.type: zookeeper (with high-availability.zookeeper.quorum and "
            "high-availability.storageDir) so that one leads and the others stand by. Set "
            "it in the configuration, or list one JobManager.")
    workers = _workers(conf)
    logs.mkdir(parents=True, exist_ok=True)
    started: list[_Member] = []
    try:
        for name, master_args in _jobmanagers(masters):
            # the masters' port goes first: -D on the command line still wins
            started.append(_start_member(name, ["jobmanager", *_with_before_dynamic(
                args, master_args)], logs))
        jm_args: list[str] = []
        if not ha:  # with high availability TaskManagers find the leader in ZooKeeper
            host, port = _port_of(started[0].address)
            jm_args = ["-D", f"jobmanager.rpc.address={host}",
                       "-D", f"jobmanager.rpc.port={port}"]
        for index in range(len(workers)):
            started.append(_start_member(f"taskmanager-{index}",
                                         ["taskmanager", *args, *jm_args], logs))
        if ha:
            _wait_registered_rest([m.rest_url for m in started if _is_jobmanager(m)
                                   and m.rest_url], len(workers), configuration)
        else:
            _wait_registered(started[0].address, len(workers), configuration)
    except BaseException:
        _stop_members(started, timeout_s=10.0)
        raise
    click.echo(_describe("Started a strom cluster", started, configuration if ha else None)
               + f"\nLogs and pid files are in {logs}/; stop it with `strom cluster stop`.")


def _ha_enabled(configuration: Configuration) -> bool:
    from strom.ha.services import ha_enabled

    try:
        return ha_enabled(configuration)
    except ValueError as e:
        raise click.ClickException(str(e)) from None


def _jobmanagers(masters: list[tuple[str, int]] | None) -> list[tuple[str, list[str]]]:
    """Each JobManager's name and the keys its ``conf/masters`` line sets."""
    if masters is None:
        return [("jobmanager", [])]
    names = ["jobmanager"] if len(masters) == 1 else [
        f"jobmanager-{index}" for index in range(len(masters))]
    return [(name, ["-D", f"rest.port={port}"]) for name, (_, port) in zip(names, masters,
                                                                             strict=True)]


def _with_before_dynamic(args: list[str], extra: list[str]) -> list[str]:
    """``args`` (``--config file`` then ``-D`` items) with ``extra`` before the ``-D``
    items, so that the command line's keys win over it."""
    split = 2 if args[:1] == ["--config"] else 0
    return [*args[:split], *extra, *args[split:]]


def _start_member(name: str, command: list[str], logs: Path) -> _Member:
    log_file = logs / f"{name}.log"
    offset = log_file.stat().st_size if log_file.exists() else 0
    process, log_file = _spawn(name, command, logs)
    pid_file = logs / f"{name}.pid"
    pid_file.write_text(f"{process.pid}\n")
    try:
        address, rest_url = _wait_ready(name, process, log_file, offset)
    except BaseException:
        if process.poll() is None:
            process.kill()
        pid_file.unlink(missing_ok=True)
        raise
    pid_file.write_text(f"{process.pid}\n{address}\n{rest_url or ''}\n")
    return _Member(name, pid_file, process.pid, address, rest_url)


def _describe(title: str, members: list[_Member],
              ha_configuration: Configuration | None = None) -> str:
    """One line per member; with ``ha_configuration`` (high availability) each
    JobManager's line says whether it leads, as its REST API answers."""
    lines = [f"{title}:"]
    for m in sorted(members, key=lambda m: (not _is_jobmanager(m), m.name)):
        state = "" if m.alive() else " (not running)"
        if not state and ha_configuration is not None and _is_jobmanager(m) and m.rest_url:
            from strom.client.rest import RestClient

            role = RestClient(m.rest_url, ha_configuration, timeout_s=5.0).leadership()
            state = f" {role}, REST {m.rest_url}"
        lines.append(f"  {m.name:<16} pid {m.pid:<8} {m.address}{state}")
    return "\n".join(lines)


@cluster.command()
@_with_dirs
@click.option("--timeout", "timeout_s", type=float, default=30.0, show_default=True,
              help="Seconds to wait for a graceful stop before killing a process.")
def stop(conf_dir: str, log_dir: str, timeout_s: float) -> None:
    """Stop the processes `strom cluster start` started (from their pid files)."""
    members = _members(Path(log_dir))
    if not members:
        click.echo(f"No strom cluster is running here (no pid files in {log_dir}/).")
        return
    for line in _stop_members(members, timeout_s):
        click.echo(line)


def _stop_members(members: list[_Member], timeout_s: float) -> list[str]:
    """SIGTERM every live member (TaskManagers first), SIGKILL those still alive after
    ``timeout_s``; remove the pid files. One line per member."""
    report: list[str] = []
    for group in ([m for m in members if not _is_jobmanager(m)],
                  [m for m in members if _is_jobmanager(m)]):
        live = [m for m in group if m.alive()]
        for m in live:
            _signal(m.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while any(m.alive() for m in live) and time.monotonic() < deadline:
            time.sleep(0.05)
        for m in group:
            if m not in live:
                report.append(f"{m.name} (pid {m.pid}) was not running")
            elif m.alive():
                _signal(m.pid, signal.SIGKILL)
                report.append(f"Killed {m.name} (pid {m.pid}): it did not stop within "
                              f"{timeout_s:.0f} s")
            else:
                report.append(f"Stopped {m.name} (pid {m.pid})")
            m.pid_file.unlink(missing_ok=True)
    return report


def _signal(pid: int, sig: signal.Signals) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


@cluster.command()
@_with_dirs
@cluster_command
@json_option
def status(connection: Connection, conf_dir: str, log_dir: str, as_json: bool) -> None:
    """Show the cluster: its processes started here (from their pid files), and through
    the REST API its TaskManagers (slots, heartbeats) and running jobs.

    The REST API is at -m, else where `strom cluster start` found it, else at
    rest.address:rest.port. With --json: the answers of GET /overview, /taskmanagers and
    /jobs/overview."""
    from strom.cli.cluster_status import print_status

    members = _members(Path(log_dir))
    live = [m for m in members if m.alive()]
    jm = next((m for m in live if _is_jobmanager(m)), None)
    if connection.jobmanager is None:
        if jm is None and (members or connection.address.endswith(":0")):
            click.echo(f"No strom cluster is running here (no live JobManager pid file in "
                       f"{log_dir}/); -m host:port asks another one.")
            sys.exit(1)
        if jm is not None and jm.rest_url:
            connection.address = jm.rest_url
    if live and not as_json:
        ha = _ha_enabled(connection.configuration)
        click.echo(_describe("strom cluster", members,
                             connection.configuration if ha else None))
    print_status(connection.rest(), as_json)


def _list_task_managers(jm_address: str, configuration: Configuration | None = None
                        ) -> list[TaskManagerInfo]:
    """Asks the ResourceManager over RPC (with the cluster's internal TLS, if on)."""
    from strom.common.security import internal_tls
    from strom.rpc.gateways import ResourceManagerGateway
    from strom.rpc.service import RpcService

    rpc = RpcService("strom-cli-rpc", mode="tcp", ask_timeout_s=5.0,
                     tls=internal_tls(configuration))
    try:
        rm = rpc.connect(f"{jm_address}/resourcemanager", ResourceManagerGateway)
        return rpc.run_sync(rm.list_task_managers(), timeout=10)
    finally:
        rpc.stop()


def _wait_registered_rest(rest_urls: list[str], count: int,
                          configuration: Configuration) -> None:
    """High availability: until ``count`` TaskManagers registered with the leader, asked
    through the REST API of the JobManagers (a standby redirects; 503 while electing)."""
    from strom.client.rest import RestClient, RestClientError

    deadline = time.monotonic() + READY_TIMEOUT_S
    registered = 0
    last_error = ""
    while time.monotonic() < deadline:
        for url in rest_urls:
            try:
                registered = len(RestClient(url, configuration, timeout_s=5.0).taskmanagers())
            except RestClientError as e:
                last_error = f" (last answer: {e})"
                continue
            if registered >= count:
                return
            break
        time.sleep(0.1)
    raise click.ClickException(
        f"Only {registered} of {count} TaskManagers registered with the leading JobManager "
        f"within {READY_TIMEOUT_S:.0f} s{last_error}; see their logs.")


def _wait_registered(jm_address: str, count: int,
                     configuration: Configuration | None = None) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    registered = 0
    while time.monotonic() < deadline:
        registered = len(_list_task_managers(jm_address, configuration))
        if registered >= count:
            return
        time.sleep(0.1)
    raise click.ClickException(
        f"Only {registered} of {count} TaskManagers registered with the JobManager at "
        f"{jm_address} within {READY_TIMEOUT_S:.0f} s; see their logs.")
