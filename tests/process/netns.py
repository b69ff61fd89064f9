"""Network namespaces for multi-host tests: every host a namespace with its own address.

``NamespaceNetwork(["jobmanager", "tm1"], log_dir)`` creates one network namespace per
host and one more that holds a bridge (the "switch"); each host is wired to the bridge
by a veth pair and gets an on-link address from a /24 that no real network routes
(198.18.0.0/15 or TEST-NET-1) and the machine itself does not use. Nothing is created in the root
namespace: every link is made directly inside the namespaces, and a fresh namespace has
no default route, so a process that dials a wrong address fails at once with "Network is
unreachable" instead of leaving the machine. The harness itself never connects to a
namespace address; it learns that a server listens by reading the kernel's socket table
of the server's own namespace (``/proc/<pid>/net/tcp``).

Processes run inside a host with ``host.spawn(argv)`` (``ip netns exec``); their stdout
and stderr go to a log file per process. ``close()`` (also on leaving the ``with`` block,
whatever happened inside it) stops every process the network started, by PID, then any
process still left inside its namespaces, then deletes the namespaces, which removes
their links with them. A test run killed outright cannot tear down: its processes still
die with it (``PR_SET_PDEATHSIG``), but its namespaces stay until ``ip netns del``. Names carry the test process's PID and a random token, so
parallel runs never clash.

    with NamespaceNetwork(["server", "client"], tmp_path) as network:
        server = network["server"].spawn([sys.executable, "server.py"])
        server.wait_listening(9000)
        client = network["client"].spawn([sys.executable, "client.py", network["server"].address])
        assert client.wait() == 0, client.output()

``unavailable_reason()`` says why this machine cannot create namespaces (not Linux, not
root, no iproute2, or ``ip netns`` refused), or ``None`` when it can; tests skip with it.
"""

from __future__ import annotations

import contextlib
import functools
import ipaddress
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType

import pytest

# ranges that no real network routes: 198.18.0.0/15 (RFC 2544, benchmarking) and TEST-NET-1
# (RFC 5737); the first /24 that the machine itself does not use is taken, since a sandbox
# may well put its own interface in one of them
CANDIDATE_SUBNETS = (
    *ipaddress.IPv4Network("198.18.0.0/15").subnets(new_prefix=24),
    ipaddress.IPv4Network("192.0.2.0/24"),
)
UNROUTED_ADDRESS = "198.51.100.1"  # TEST-NET-2: no namespace of a network has a route to it
MAX_HOSTS = 250
NAMESPACE_PREFIX = "strom-"
_HOST_NAME = re.compile(r"^[a-z][a-z0-9-]{0,30}$")
_TCP_LISTEN = "0A"  # the kernel's TCP_LISTEN state in /proc/net/tcp


class NetnsCommandError(RuntimeError):
    """An ``ip`` command of the harness failed; the message has the command and its stderr."""


def _ip(*args: str, timeout_s: float = 30) -> str:
    command = ["ip", *args]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired as exc:
        raise NetnsCommandError(f"`{' '.join(command)}` did not finish in {timeout_s} s") from exc
    if done.returncode != 0:
        raise NetnsCommandError(
            f"`{' '.join(command)}` failed with exit code {done.returncode}: "
            f"{done.stderr.strip() or done.stdout.strip()}"
        )
    return done.stdout


@functools.cache
def unavailable_reason() -> str | None:
    """Why this machine cannot run namespace tests, or ``None`` when it can.

    Probes for real: creates a namespace, runs ``true`` inside it and deletes it, because
    containers often allow the first and forbid the second (it needs a mount namespace).
    """
    if not sys.platform.startswith("linux"):
        return f"network namespaces need Linux; this is {sys.platform}"
    if shutil.which("ip") is None:
        return "iproute2's `ip` command is not installed (Debian: apt-get install iproute2)"
    if os.geteuid() != 0:
        return f"creating network namespaces needs root; the tests run as uid {os.geteuid()}"
    probe = f"{NAMESPACE_PREFIX}probe-{os.getpid()}-{secrets.token_hex(3)}"
    try:
        _ip("netns", "add", probe)
    except NetnsCommandError as exc:
        return f"this machine forbids network namespaces: {exc}"
    try:
        _ip("netns", "exec", probe, "true")
    except NetnsCommandError as exc:
        return f"this machine forbids running processes in a network namespace: {exc}"
    finally:
        with contextlib.suppress(NetnsCommandError):
            _ip("netns", "del", probe)
    return None


def skip_unless_available() -> None:
    """Skip the calling test, printing the reason, where the machine forbids namespaces."""
    reason = unavailable_reason()
    if reason is not None:
        pytest.skip(reason)


def namespaces_on_machine() -> set[str]:
    """The names of every named network namespace (``ip netns list``)."""
    return {line.split()[0] for line in _ip("netns", "list").splitlines() if line.strip()}


def links_in_root_namespace() -> set[str]:
    """The names of the network interfaces of the root namespace (the test's own)."""
    names = set()
    for line in _ip("-o", "link", "show").splitlines():
        # "4: eth0@if5: <BROADCAST,...": the name ends at "@" (a peer) or ":"
        names.add(line.split(":", 2)[1].strip().split("@")[0])
    return names


def unused_subnet() -> ipaddress.IPv4Network:
    """The first candidate /24 that no address or route of the root namespace overlaps."""
    used = []
    for line in _ip("-4", "-o", "addr", "show").splitlines():
        used.append(ipaddress.IPv4Network(line.split()[3], strict=False))
    for line in _ip("-4", "route", "show", "table", "all").splitlines():
        destination = line.split()[0]
        if destination[0].isdigit():  # not "default", "broadcast", "local", ...
            used.append(ipaddress.IPv4Network(destination, strict=False))
    for candidate in CANDIDATE_SUBNETS:
        if not any(candidate.overlaps(network) for network in used):
            return candidate
    raise NetnsCommandError(f"every candidate subnet is in use on this machine: {used}")


def _listening_ports(pid: int, namespace: str) -> set[int]:
    """The TCP ports with a listening socket in ``namespace``, read through process ``pid``
    (none while ``pid`` has not entered the namespace yet, or has ended)."""
    try:
        if (os.stat(f"/proc/{pid}/ns/net").st_ino
                != os.stat(f"/run/netns/{namespace}").st_ino):
            return set()  # still in the namespace it was started from
    except OSError:
        return set()
    ports = set()
    for table in ("tcp", "tcp6"):
        try:
            lines = Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == _TCP_LISTEN:
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def _die_with_the_test() -> None:
    """In the child before exec: SIGKILL it when the test process ends, so even a test run
    killed outright (when no teardown can run) leaves no process behind."""
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None).prctl(pr_set_pdeathsig, signal.SIGKILL)


def _alive(pid: int) -> bool:
    """Whether ``pid`` is a process that has not ended (a zombie has ended)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


class NamespaceProcess:
    """A process the harness started inside one host's namespace, its output in a log file."""

    def __init__(self, host: Host, label: str, popen: subprocess.Popen[bytes],
                 log_path: Path) -> None:
        self.host = host
        self.label = label
        self.popen = popen
        self.log_path = log_path

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def returncode(self) -> int | None:
        return self.popen.poll()

    def output(self) -> str:
        """Everything the process wrote to stdout and stderr so far."""
        return self.log_path.read_text(errors="replace")

    def describe(self) -> str:
        return f"{self.label} (pid {self.pid}) on {self.host.name} ({self.host.address})"

    def _fail(self, what: str) -> None:
        state = "still running" if self.returncode is None else f"exit code {self.returncode}"
        pytest.fail(f"{what}: {self.describe()}, {state}; its output:\n{self.output()}")

    def wait_for_output(self, text: str, timeout_s: float = 60) -> None:
        """Wait until ``text`` appears in the output; fail with the log if it never does."""
        deadline = time.monotonic() + timeout_s
        while text not in self.output():
            if self.returncode is not None:
                # it may have written the text just before exiting
                if text in self.output():
                    return
                self._fail(f"exited before writing {text!r}")
            if time.monotonic() > deadline:
                self._fail(f"did not write {text!r} within {timeout_s} s")
            time.sleep(0.05)

    def wait_listening(self, port: int, timeout_s: float = 60) -> None:
        """Wait until something in this process's namespace listens on TCP ``port``.

        Reads the namespace's socket table instead of connecting, so the root namespace
        never dials a namespace address.
        """
        deadline = time.monotonic() + timeout_s
        while port not in self.listening_ports():
            if self.returncode is not None:
                self._fail(f"exited before listening on port {port}")
            if time.monotonic() > deadline:
                self._fail(f"did not listen on port {port} within {timeout_s} s")
            time.sleep(0.05)

    def listening_ports(self) -> set[int]:
        """The TCP ports something listens on in this process's host."""
        return _listening_ports(self.pid, self.host.namespace)

    def wait(self, timeout_s: float = 60) -> int:
        """Wait for the process to exit and return its exit code; fail with the log if not."""
        try:
            return self.popen.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self._fail(f"did not exit within {timeout_s} s")
            raise  # unreachable: pytest.fail raises

    def stop(self, timeout_s: float = 10) -> int:
        """End the process: SIGTERM, then SIGKILL if it has not exited after ``timeout_s``."""
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                return self.popen.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.popen.kill()  # Popen signals only a process it has not reaped yet
        return self.popen.wait(timeout=30)


class Host:
    """One host of a network: a namespace, its address, and the processes run in it."""

    def __init__(self, network: NamespaceNetwork, name: str, namespace: str) -> None:
        self.network = network
        self.name = name
        self.namespace = namespace
        self.address = ""  # given by NamespaceNetwork.start()

    def __repr__(self) -> str:
        return f"Host({self.name!r}, namespace={self.namespace!r}, address={self.address!r})"

    def spawn(self, argv: Sequence[str], *, label: str | None = None,
              env: Mapping[str, str] | None = None, cwd: Path | str | None = None,
              ) -> NamespaceProcess:
        """Start ``argv`` inside this host's namespace, stdout and stderr to a log file.

        ``env`` defaults to this process's environment with unbuffered Python output, so
        logs are complete when a test reads them. ``close()`` ends the process.
        """
        return self.network._spawn(self, list(argv), label or Path(argv[0]).name, env, cwd)

    def run(self, argv: Sequence[str], timeout_s: float = 60) -> subprocess.CompletedProcess[str]:
        """Run a short command in this host's namespace and return its captured output."""
        return subprocess.run(["ip", "netns", "exec", self.namespace, *argv],
                              capture_output=True, text=True, timeout=timeout_s)


class NamespaceNetwork:
    """Hosts in network namespaces on one bridge, torn down completely by ``close()``.

    Not created by the constructor: ``start()`` (or entering the ``with`` block) creates
    the namespaces and links; a failure half-way removes what was created and re-raises.
    """

    def __init__(self, host_names: Sequence[str], log_dir: Path) -> None:
        names = list(host_names)
        if not names:
            raise ValueError("a NamespaceNetwork needs at least one host name; got none")
        for name in names:
            if not _HOST_NAME.match(name):
                raise ValueError(
                    f"host name {name!r} is not usable in a namespace name: use lowercase "
                    "letters, digits and '-', starting with a letter, at most 31 characters"
                )
        if len(set(names)) != len(names):
            raise ValueError(f"host names must be distinct; got {names}")
        if len(names) > MAX_HOSTS:
            raise ValueError(f"a NamespaceNetwork has room for {MAX_HOSTS} hosts; "
                             f"got {len(names)}")
        self.token = f"{os.getpid()}-{secrets.token_hex(3)}"
        self.log_dir = log_dir
        # the bridge's namespace; each host's namespace is this name plus "-<host>"
        self.switch_namespace = f"{NAMESPACE_PREFIX}{self.token}"
        self.hosts: dict[str, Host] = {
            name: Host(self, name, f"{self.switch_namespace}-{name}") for name in names
        }
        self.subnet: ipaddress.IPv4Network | None = None  # chosen by start()
        self.processes: list[NamespaceProcess] = []
        self._created: list[str] = []  # namespaces created so far, in order
        self._closed = False

    def __getitem__(self, name: str) -> Host:
        try:
            return self.hosts[name]
        except KeyError:
            raise KeyError(f"no host {name!r} in this network; hosts: {list(self.hosts)}"
                           ) from None

    @property
    def namespaces(self) -> list[str]:
        """Every namespace of the network: the switch's and one per host."""
        return [self.switch_namespace, *(host.namespace for host in self.hosts.values())]

    def port_names(self) -> list[str]:
        """The names of the bridge ports (the switch's ends of the veth pairs)."""
        # unique per network, at most 15 characters (IFNAMSIZ - 1), so a link that ever
        # appeared outside the network's namespaces could be told apart
        return [f"st{self.token[-6:]}p{index}" for index in range(len(self.hosts))]

    def start(self) -> NamespaceNetwork:
        if self._created or self._closed:
            raise RuntimeError("a NamespaceNetwork starts once; create a new one instead")
        self.log_dir.mkdir(parents=True, exist_ok=True)
        try:
            self._create()
        except BaseException:
            self.close()
            raise
        return self

    def _create(self) -> None:
        switch = self.switch_namespace
        for namespace in self.namespaces:
            _ip("netns", "add", namespace)
            self._created.append(namespace)
            _ip("-n", namespace, "link", "set", "lo", "up")
        _ip("-n", switch, "link", "add", "br0", "type", "bridge")
        _ip("-n", switch, "link", "set", "br0", "up")
        self.subnet = unused_subnet()
        addresses = self.subnet.hosts()
        for host in self.hosts.values():
            host.address = str(next(addresses))
        prefix = self.subnet.prefixlen
        for port, host in zip(self.port_names(), self.hosts.values()):
            # both ends are created inside their namespaces: nothing touches the root one
            _ip("-n", switch, "link", "add", "name", port, "type", "veth",
                "peer", "name", "eth0", "netns", host.namespace)
            _ip("-n", switch, "link", "set", port, "master", "br0", "up")
            _ip("-n", host.namespace, "addr", "add", f"{host.address}/{prefix}", "dev", "eth0")
            _ip("-n", host.namespace, "link", "set", "eth0", "up")

    def _spawn(self, host: Host, argv: list[str], label: str,
               env: Mapping[str, str] | None, cwd: Path | str | None) -> NamespaceProcess:
        if self._closed or host.namespace not in self._created:
            raise RuntimeError(f"cannot start {argv[0]!r} on {host.name}: the network is "
                               "not running; start it (or enter its `with` block) first")
        environment = dict(os.environ if env is None else env)
        environment.setdefault("PYTHONUNBUFFERED", "1")
        log_path = self.log_dir / f"{host.name}-{label}-{len(self.processes)}.log"
        with log_path.open("wb") as log:
            popen = subprocess.Popen(
                ["ip", "netns", "exec", host.namespace, *argv],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                env=environment, cwd=cwd, start_new_session=True,
                preexec_fn=_die_with_the_test,
            )
        process = NamespaceProcess(host, label, popen, log_path)
        self.processes.append(process)
        return process

    def pids_inside(self) -> set[int]:
        """Every process now running inside the network's namespaces."""
        pids: set[int] = set()
        for namespace in self._created:
            with contextlib.suppress(NetnsCommandError):
                pids.update(int(pid) for pid in _ip("netns", "pids", namespace).split())
        return {pid for pid in pids if _alive(pid)}

    def logs(self) -> str:
        """The output of every process, each under a header naming it."""
        return "\n".join(f"----- {process.describe()}, exit code {process.returncode} -----\n"
                         f"{process.output()}" for process in self.processes)

    def close(self) -> None:
        """Stop every process started here, then delete every namespace (and so every link).

        Safe to call more than once, and after a failed ``start()``. Raises after doing
        all it can when something could not be removed.
        """
        if self._closed:
            return
        self._closed = True
        problems: list[str] = []
        for process in reversed(self.processes):  # clients before the servers they use
            try:
                process.stop()
            except Exception as exc:
                problems.append(f"stopping {process.describe()}: {exc!r}")
        # processes that left their parent's group but still live inside a namespace of
        # ours: only the processes above can have started them
        deadline = time.monotonic() + 10
        while (left := self.pids_inside()) and time.monotonic() < deadline:
            for pid in left:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.05)
        if left:
            problems.append(f"processes {sorted(left)} still run inside the namespaces")
        for namespace in reversed(self._created):
            try:
                _ip("netns", "del", namespace)
            except NetnsCommandError as exc:
                problems.append(str(exc))
        if self.processes:
            print(self.logs())  # pytest shows it when the test failed
        if problems:
            raise NetnsCommandError("tearing down the namespace network left things behind:\n"
                                    + "\n".join(problems))

    def __enter__(self) -> NamespaceNetwork:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()


@contextlib.contextmanager
def namespace_network(host_names: Sequence[str], log_dir: Path) -> Iterator[NamespaceNetwork]:
    """A started ``NamespaceNetwork``, or a skip with the reason where namespaces are forbidden."""
    skip_unless_available()
    with NamespaceNetwork(host_names, log_dir) as network:
        yield network
