"""A secured standalone cluster as a user runs it: ``strom cluster start`` with internal TLS,
REST over TLS and the REST token in conf/config.yaml; ``strom run -m`` submits a p=2 job
across two TaskManager processes with the truststore and the token from ``-D`` or from
``STROM_REST_TOKEN``; a client without them is refused; a TaskManager process with an
untrusted certificate is rejected and logged by the JobManager, and the jobs do not notice.
Every process started here is ended by its pid, also when a test fails."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from strom.common import Encoder
from strom.datastream import StreamExecutionEnvironment
from strom.datastream.connectors.file_system import FileSink
from strom.testing import wait_until
from strom.testing.process_cluster import ProcessCluster
from strom.testing.tls import make_certificates

pytestmark = pytest.mark.slow

TOKEN = "process-test-token"
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "word_count.py"


def strom(*args: str, cwd: Path, env: dict[str, str] | None = None,
          timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "strom.cli.main", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def pids(log_dir: Path) -> dict[str, int]:
    return {f.stem: int(f.read_text().split()[0]) for f in log_dir.glob("*.pid")}


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")


@pytest.fixture
def cluster_dir(tmp_path: Path) -> Iterator[Path]:
    """conf/config.yaml with every security key on, two one-slot TaskManagers; whatever
    was started is killed by pid at the end, and the logs are printed."""
    certs = make_certificates(tmp_path / "certs")
    conf = tmp_path / "conf"
    conf.mkdir()
    keys = {"jobmanager.rpc.port": "0", "rest.port": "0",
            "taskmanager.numberOfTaskSlots": "1", **certs.internal_config(),
            **certs.rest_config(), "security.rest.token": TOKEN}
    (conf / "config.yaml").write_text("".join(f"{k}: {v}\n" for k, v in keys.items()))
    (conf / "workers").write_text("localhost\nlocalhost\n")
    try:
        yield tmp_path
    finally:
        for pid in pids(tmp_path / "log").values():
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        for log in sorted([*(tmp_path / "log").glob("*.log"), *tmp_path.glob("*.log")]):
            print(f"----- {log.name}\n{log.read_text(errors='replace')}", file=sys.stderr)


def test_a_secured_cluster_runs_jobs_for_clients_with_the_truststore_and_token(
        cluster_dir: Path) -> None:
    started = strom("cluster", "start", cwd=cluster_dir)
    assert started.returncode == 0, started.stdout + started.stderr
    log_dir = cluster_dir / "log"
    jm_log = (log_dir / "jobmanager.log").read_text()
    rest = re.search(r"REST https://(\S+?)\)", jm_log)
    assert rest is not None, jm_log
    address = rest.group(1)
    jm_rpc = re.search(r"ready at tcp://(\S+):(\d+)", jm_log)
    assert jm_rpc is not None
    status = strom("cluster", "status", cwd=cluster_dir)
    assert "2 TaskManager(s) registered" in status.stdout, status.stdout + status.stderr

    # a TaskManager whose certificate the cluster does not trust (though it trusts the
    # cluster's CA): the JobManager turns it away and says so
    rogue = make_certificates(cluster_dir / "rogue", name="rogue")
    rogue_log = cluster_dir / "rogue-taskmanager.log"
    with open(rogue_log, "wb") as out:
        intruder = subprocess.Popen(
            [sys.executable, "-m", "strom.cli.main", "taskmanager",
             "-D", f"jobmanager.rpc.address={jm_rpc.group(1)}",
             "-D", f"jobmanager.rpc.port={jm_rpc.group(2)}",
             *[a for k, v in rogue.internal_config().items() for a in ("-D", f"{k}={v}")],
             "-D", f"security.ssl.internal.truststore={cluster_dir / 'certs' / 'strom-ca.pem'}"],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_until(lambda: "Rejected an RPC connection" in
                   (log_dir / "jobmanager.log").read_text(), timeout_s=60,
                   what="the JobManager to log the rejected TaskManager")

        ca = str(cluster_dir / "certs" / "strom-ca.pem")
        tls = ["-D", "security.ssl.rest.enabled=true", "-D", f"security.ssl.rest.truststore={ca}"]
        # the token from -D
        run = strom("run", "-m", address, "-p", "2", *tls, "-D",
                    f"security.rest.token={TOKEN}", str(EXAMPLE), cwd=cluster_dir)
        assert run.returncode == 0, run.stdout + run.stderr
        assert "has finished" in run.stdout, run.stdout
        # each TaskManager ran one subtask of the parallel print sink: the records crossed
        logs = [(log_dir / f"taskmanager-{i}.log").read_text() for i in (0, 1)]
        assert all(re.search(r"^[12]> \(\w+,\d+\)$", log, re.M) for log in logs), logs
        # the token from the environment
        run = strom("run", "-m", address, "-p", "2", *tls, str(EXAMPLE), cwd=cluster_dir,
                    env={"STROM_REST_TOKEN": TOKEN})
        assert run.returncode == 0, run.stdout + run.stderr

        # no token: 401, and the message says what to set
        refused = strom("run", "-m", address, *tls, str(EXAMPLE), cwd=cluster_dir,
                        env={"STROM_REST_TOKEN": ""})
        assert refused.returncode != 0
        assert "401" in refused.stderr and "security.rest.token" in refused.stderr
        # no truststore: the server's certificate is not trusted
        untrusting = strom("run", "-m", address, "-D", "security.ssl.rest.enabled=true",
                           "-D", f"security.rest.token={TOKEN}", str(EXAMPLE),
                           cwd=cluster_dir)
        assert untrusting.returncode != 0
        assert "CERTIFICATE_VERIFY_FAILED" in untrusting.stderr, untrusting.stderr
        assert intruder.poll() is None  # still knocking, never registered
        status = strom("cluster", "status", cwd=cluster_dir)
        assert "2 TaskManager(s) registered" in status.stdout, status.stdout
    finally:
        intruder.kill()
        intruder.wait(30)
    running = pids(log_dir)
    stopped = strom("cluster", "stop", cwd=cluster_dir)
    assert stopped.returncode == 0, stopped.stderr
    assert not any(alive(pid) for pid in running.values())


def test_the_test_process_cluster_submits_over_internal_tls(tmp_path: Path) -> None:
    """ProcessCluster's own RPC client presents the cluster's certificate: without it the
    JobManager would turn the test away."""
    certs = make_certificates(tmp_path / "certs")
    with ProcessCluster(task_managers=2, slots=1, config=certs.internal_config(),
                        log_dir=tmp_path / "log") as cluster:
        env = StreamExecutionEnvironment.get_execution_environment()
        env.set_parallelism(2)
        output = tmp_path / "out"
        env.from_collection(list(range(500))).key_by(lambda x: x % 5) \
            .map(lambda x: str(x + 1)) \
            .sink_to(FileSink.for_row_format(str(output),
                                             Encoder.simple_string_encoder()).build())
        assert env.execute("over tls").get_job_id() is not None
        lines = [line for f in output.rglob("*") if f.is_file()
                 for line in f.read_text().splitlines()]
        assert sorted(map(int, lines)) == list(range(1, 501))
        assert "Rejected" not in cluster.logs()
