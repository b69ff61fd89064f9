"""A standalone cluster across hosts: the JobManager, two TaskManagers and the client each in
a network namespace of its own, talking over real, distinct addresses.

A fresh namespace has no default route, so an address that is wrong anywhere (a process
that binds or advertises loopback, a client that dials the wrong host) fails at once
instead of reaching something on the machine. Nothing in the test's own namespace
connects to a namespace address: the harness learns that a server listens from the
kernel's socket table. Skipped, with the reason, where the machine forbids namespaces.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from netns import NamespaceNetwork, NamespaceProcess, namespace_network

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

JOBMANAGER_RPC_PORT = 6123
REST_PORT = 8081
DATA_PORT = 6121

#: fast failure detection, so a broken cluster fails the test in seconds
FAST_HEARTBEATS = {"heartbeat.interval": "500 ms", "heartbeat.timeout": "10 s"}

WORDS = "the quick brown fox jumps over the lazy dog while the cat sleeps"

# The job: parallelism 2 on TaskManagers of one slot each, so its two subtasks run in two
# TaskManagers and the key_by exchange crosses between them over TCP. Every subtask leaves
# a marker naming the process it ran in.
JOB = '''
import os
import sys
from pathlib import Path

from strom.common import Encoder, Types
from strom.datastream import RuntimeExecutionMode, StreamExecutionEnvironment
from strom.datastream.connectors.file_system import FileSink
from strom.datastream.functions import MapFunction

WORDS = "{words}".split()
TEXT = [" ".join(WORDS[(i + j) % len(WORDS)] for j in range(i % 7 + 1)) for i in range(500)]


class Pair(MapFunction):
    def __init__(self, markers):
        self.markers = markers

    def open(self, runtime_context):
        if self.markers:
            index = runtime_context.get_index_of_this_subtask()
            Path(self.markers, f"subtask-{index}").write_text(str(os.getpid()))

    def map(self, word):
        return (word, 1)


output, markers = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else "")
env = StreamExecutionEnvironment.get_execution_environment()
env.set_runtime_mode(RuntimeExecutionMode.BATCH)
env.set_parallelism(2)
(env.from_collection(TEXT)
    .flat_map(lambda line: line.split())
    .map(Pair(markers), output_type=Types.TUPLE([Types.STRING(), Types.INT()]))
    .key_by(lambda pair: pair[0])
    .reduce(lambda a, b: (a[0], a[1] + b[1]))
    .sink_to(FileSink.for_row_format(output, Encoder.simple_string_encoder()).build()))
env.execute("word count across hosts")
'''.replace("{words}", WORDS)


def _strom() -> str:
    return str(Path(sys.executable).with_name("strom"))


def _flags(options: dict[str, str | int]) -> list[str]:
    return [flag for key, value in options.items() for flag in ("-D", f"{key}={value}")]


def _lines(directory: Path) -> list[str]:
    return sorted(line for part in directory.rglob("*") if part.is_file()
                  for line in part.read_text().splitlines())


def _start_cluster(network: NamespaceNetwork, wildcard: bool
                   ) -> tuple[NamespaceProcess, list[NamespaceProcess]]:
    """A JobManager and two TaskManagers of one slot, each on its host; every one binds its
    host's address, or with ``wildcard`` every interface (Flink's default bind host) and is
    reached at the address it advertises (jobmanager.rpc.address, taskmanager.host)."""
    jm = network["jobmanager"].address
    jobmanager = network["jobmanager"].spawn([_strom(), "jobmanager", *_flags({
        "jobmanager.rpc.address": jm, "jobmanager.bind-host": "0.0.0.0" if wildcard else jm,
        "jobmanager.rpc.port": JOBMANAGER_RPC_PORT,
        "rest.address": jm, "rest.bind-address": "0.0.0.0" if wildcard else jm,
        "rest.port": REST_PORT,
        **FAST_HEARTBEATS,
    })], label="jobmanager")
    jobmanager.wait_for_output(f"ready at tcp://{jm}:{JOBMANAGER_RPC_PORT} ")
    jobmanager.wait_listening(JOBMANAGER_RPC_PORT)
    jobmanager.wait_listening(REST_PORT)
    task_managers = []
    for name in ("taskmanager-1", "taskmanager-2"):
        host = network[name].address
        task_managers.append(network[name].spawn([_strom(), "taskmanager", *_flags({
            "jobmanager.rpc.address": jm, "jobmanager.rpc.port": JOBMANAGER_RPC_PORT,
            "taskmanager.host": host, "taskmanager.bind-host": "0.0.0.0" if wildcard else host,
            "taskmanager.data.port": DATA_PORT, "taskmanager.numberOfTaskSlots": 1,
            **FAST_HEARTBEATS,
        })], label=name))
    for name, task_manager in zip(("taskmanager-1", "taskmanager-2"), task_managers):
        task_manager.wait_for_output(f"ready at tcp://{network[name].address}:")
        task_manager.wait_for_output(f"registered at tcp://{jm}:{JOBMANAGER_RPC_PORT}/")
        task_manager.wait_listening(DATA_PORT)
    return jobmanager, task_managers


@pytest.mark.parametrize("wildcard", [False, True], ids=["bound-to-own-address",
                                                         "bound-to-every-interface"])
def test_a_job_across_three_hosts_gives_the_in_process_result(tmp_path: Path,
                                                              wildcard: bool) -> None:
    job = tmp_path / "job.py"
    job.write_text(JOB)
    markers = tmp_path / "markers"
    markers.mkdir()
    hosts = ["jobmanager", "taskmanager-1", "taskmanager-2", "client"]
    with namespace_network(hosts, tmp_path / "log") as network:
        client = network["client"]
        # the reference: the same program on the embedded cluster, inside the client's host
        local = client.spawn([sys.executable, str(job), str(tmp_path / "local")],
                             label="in-process")
        assert local.wait(timeout_s=120) == 0, network.logs()

        jobmanager, task_managers = _start_cluster(network, wildcard)
        jm = network["jobmanager"].address
        run = client.spawn([_strom(), "run", "-m", f"{jm}:{REST_PORT}", str(job),
                            str(tmp_path / "remote"), str(markers)], label="strom-run")
        assert run.wait(timeout_s=120) == 0, network.logs()
        assert all(p.returncode is None for p in (jobmanager, *task_managers)), network.logs()

    expected = _lines(tmp_path / "local")
    assert {line[1:].split(",")[0] for line in expected} == set(WORDS.split())
    assert _lines(tmp_path / "remote") == expected
    # one subtask in each TaskManager: the keyed exchange crossed between hosts
    ran_in = {int(marker.read_text()) for marker in markers.iterdir()}
    assert ran_in == {task_manager.pid for task_manager in task_managers}
