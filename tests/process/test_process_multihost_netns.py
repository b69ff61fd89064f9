"""The namespace harness itself: real TCP between namespaces, no route out, full teardown."""

from __future__ import annotations

import errno
import ipaddress
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import netns
import pytest
from netns import NamespaceNetwork, namespace_network

from strom.testing import wait_until

pytestmark = pytest.mark.slow

ECHO_SERVER = """
import socket, sys
server = socket.create_server((sys.argv[1], int(sys.argv[2])))
connection, (peer, _) = server.accept()
data = connection.recv(1024)
connection.sendall(data + b" from " + peer.encode())
connection.close()
print("served", peer, flush=True)
"""

ECHO_CLIENT = """
import socket, sys
with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=30) as connection:
    connection.sendall(b"ping")
    print(connection.recv(1024).decode(), flush=True)
"""

DIAL = """
import json, socket, sys
results = {}
for address in sys.argv[1:]:
    with socket.socket() as s:
        s.settimeout(10)
        try:
            s.connect((address, 9))
            results[address] = "connected"
        except OSError as exc:
            results[address] = exc.errno if exc.errno is not None else repr(exc)
print(json.dumps(results), flush=True)
"""

SLEEPER_WITH_ESCAPED_CHILD = """
import subprocess, sys, time
# a child in a session of its own: not in its parent's process group, so only the
# sweep of the namespace can find it
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"],
                         start_new_session=True)
print("child", child.pid, flush=True)
time.sleep(600)
"""


def _root_global_ipv4() -> list[str]:
    """The root namespace's own global IPv4 addresses: real, and outside every link."""
    shown = subprocess.run(["ip", "-4", "-o", "addr", "show", "scope", "global"],
                           capture_output=True, text=True, check=True).stdout
    return [line.split()[3].split("/")[0] for line in shown.splitlines()]


def test_two_namespaces_talk_over_tcp_with_their_own_addresses(tmp_path: Path) -> None:
    port = 9000
    with namespace_network(["server", "client"], tmp_path) as network:
        server_host, client_host = network["server"], network["client"]
        assert server_host.address != client_host.address
        subnet = network.subnet
        assert subnet is not None and subnet in netns.CANDIDATE_SUBNETS
        assert {ipaddress.ip_address(server_host.address),
                ipaddress.ip_address(client_host.address)} <= set(subnet.hosts())
        # the machine's own addresses are outside it, so they cannot be confused with a host's
        assert not any(ipaddress.ip_address(a) in subnet for a in _root_global_ipv4())
        server = server_host.spawn([sys.executable, "-c", ECHO_SERVER, server_host.address,
                                    str(port)], label="echo-server")
        server.wait_listening(port)
        assert port in server.listening_ports()
        client = client_host.spawn([sys.executable, "-c", ECHO_CLIENT, server_host.address,
                                    str(port)], label="echo-client")
        assert client.wait() == 0, network.logs()
        assert server.wait() == 0, network.logs()
        # the server saw the client's namespace address: the bytes crossed the bridge
        assert client.output().strip() == f"ping from {client_host.address}"
        assert server.output().strip() == f"served {client_host.address}"


def test_a_namespace_reaches_nothing_outside_its_links(tmp_path: Path) -> None:
    outside = [netns.UNROUTED_ADDRESS, *_root_global_ipv4()]
    with namespace_network(["lonely", "other"], tmp_path) as network:
        dial = network["lonely"].spawn([sys.executable, "-c", DIAL, *outside], label="dial")
        assert dial.wait() == 0, network.logs()
        results = json.loads(dial.output())
    # no default route: every connect fails at once with ENETUNREACH, never a timeout
    assert results == dict.fromkeys(outside, errno.ENETUNREACH)


def test_no_route_means_a_wrong_address_fails_where_the_right_one_works(tmp_path: Path) -> None:
    with namespace_network(["a", "b"], tmp_path) as network:
        # nothing listens in b: its own address refuses (reachable), a foreign one is unroutable
        dial = network["a"].spawn([sys.executable, "-c", DIAL, network["b"].address,
                                   "203.0.113.7"], label="dial")
        assert dial.wait() == 0, network.logs()
        results = json.loads(dial.output())
    assert results == {network["b"].address: errno.ECONNREFUSED,
                       "203.0.113.7": errno.ENETUNREACH}


def test_listening_ports_are_read_in_the_host_namespace_only(tmp_path: Path) -> None:
    listen = "import socket, time; s = socket.create_server(('0.0.0.0', 7000)); time.sleep(600)"
    with namespace_network(["host"], tmp_path) as network, \
            socket.create_server(("127.0.0.1", 0)) as listening_here:
        here = listening_here.getsockname()[1]
        # a process outside the namespace (this one) is never read as if it were inside
        assert netns._listening_ports(os.getpid(), network["host"].namespace) == set()
        listener = network["host"].spawn([sys.executable, "-c", listen], label="listener")
        listener.wait_listening(7000)
        assert listener.listening_ports() == {7000}
        assert here not in listener.listening_ports()


def test_close_removes_namespaces_links_and_every_process(tmp_path: Path) -> None:
    netns.skip_unless_available()
    network = NamespaceNetwork(["jm", "tm"], tmp_path)
    with pytest.raises(RuntimeError, match="the test failed"), network:
        assert set(network.namespaces) <= netns.namespaces_on_machine()
        assert "eth0" in network["jm"].run(["ip", "-o", "link", "show"]).stdout
        sleepers = [network[name].spawn([sys.executable, "-c", SLEEPER_WITH_ESCAPED_CHILD],
                                        label="sleeper") for name in ("jm", "tm")]
        for sleeper in sleepers:
            sleeper.wait_for_output("child ")
        children = [int(s.output().split()[1]) for s in sleepers]
        assert network.pids_inside() >= {*children, *(s.pid for s in sleepers)}
        raise RuntimeError("the test failed")  # teardown must happen anyway
    assert not set(network.namespaces) & netns.namespaces_on_machine()
    assert not any(Path("/run/netns", name).exists() for name in network.namespaces)
    assert not set(network.port_names()) & netns.links_in_root_namespace()
    assert all(s.returncode is not None for s in sleepers)
    assert not any(netns._alive(pid) for pid in children)
    network.close()  # a second close does nothing


def test_a_failed_start_removes_what_it_had_created(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    netns.skip_unless_available()
    real_ip = netns._ip
    created: list[str] = []

    def ip_failing_on_the_second_address(*args: str, timeout_s: float = 30) -> str:
        if args[:2] == ("netns", "add"):
            created.append(args[2])
        if "addr" in args and args[-1] == "eth0" and args[1].endswith("-second"):
            raise netns.NetnsCommandError("injected failure")
        return real_ip(*args, timeout_s=timeout_s)

    monkeypatch.setattr(netns, "_ip", ip_failing_on_the_second_address)
    network = NamespaceNetwork(["first", "second"], tmp_path)
    with pytest.raises(netns.NetnsCommandError, match="injected failure"):
        network.start()
    assert created == network.namespaces  # it got as far as creating every namespace
    assert not set(created) & netns.namespaces_on_machine()
    with pytest.raises(RuntimeError, match="not running"):
        network["first"].spawn(["true"])


def test_names_are_unique_per_network_and_carry_the_test_pid(tmp_path: Path) -> None:
    one, two = NamespaceNetwork(["a"], tmp_path), NamespaceNetwork(["a"], tmp_path)
    assert str(os.getpid()) in one.switch_namespace
    assert not set(one.namespaces) & set(two.namespaces)
    assert not set(one.port_names()) & set(two.port_names())
    assert all(len(name) <= 15 for name in one.port_names())


@pytest.mark.parametrize(("hosts", "message"), [
    ([], "at least one host"),
    (["Bad_Name"], "not usable in a namespace name"),
    (["a", "a"], "must be distinct"),
])
def test_bad_host_names_are_refused_before_anything_is_created(
        tmp_path: Path, hosts: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        NamespaceNetwork(hosts, tmp_path)


def test_the_skip_reason_names_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    netns.unavailable_reason.cache_clear()
    try:
        monkeypatch.setattr(netns.os, "geteuid", lambda: 1000)
        assert netns.unavailable_reason() == (
            "creating network namespaces needs root; the tests run as uid 1000")
        netns.unavailable_reason.cache_clear()
        monkeypatch.setattr(netns.shutil, "which", lambda name: None)
        reason = netns.unavailable_reason()
        assert reason is not None and "`ip` command is not installed" in reason
    finally:
        monkeypatch.undo()
        netns.unavailable_reason.cache_clear()


KILLED_TEST_RUN = """
import sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
import netns
network = netns.NamespaceNetwork(["a"], Path(sys.argv[2])).start()
child = network["a"].spawn([sys.executable, "-c", "import time; time.sleep(600)"])
print(child.pid, *network.namespaces, flush=True)
time.sleep(600)
"""


def test_processes_die_with_a_test_run_that_is_killed_outright(tmp_path: Path) -> None:
    netns.skip_unless_available()
    said = tmp_path / "said.txt"
    with said.open("w") as out:
        run = subprocess.Popen([sys.executable, "-c", KILLED_TEST_RUN,
                                str(Path(__file__).parent), str(tmp_path / "log")], stdout=out)
    child, namespaces = 0, []
    try:
        wait_until(lambda: said.read_text().endswith("\n") or run.poll() is not None,
                   timeout_s=60, what="the test run to start a process", interval_s=0.05)
        child, *namespaces = said.read_text().split()
        child = int(child)
        run.kill()  # SIGKILL: no teardown of the run can happen
        run.wait(timeout=30)
        wait_until(lambda: not netns._alive(child), timeout_s=30, interval_s=0.05,
                   what=f"process {child} to end with the test run that started it")
    finally:
        if run.poll() is None:
            run.kill()
            run.wait(timeout=30)
        if child and netns._alive(child):
            os.kill(child, signal.SIGKILL)  # the check failed: still end what it started
        for namespace in namespaces:  # only a teardown could have removed them
            subprocess.run(["ip", "netns", "del", namespace], capture_output=True)
