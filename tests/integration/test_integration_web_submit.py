"""Web submit (Flink's ``/jars`` API for Python files) against a MiniCluster's REST server:
upload, list, run (as ``strom run -d``), delete, the 400s for bad input, and
``web.submit.enable`` / ``web.upload.dir``."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from strom.common.configuration import Configuration
from strom.common.job import JobID, JobStatus
from strom.jobmanager.rest.server import RestServer
from strom.minicluster import MiniCluster
from strom.testing.sync import wait_until

PROGRAM = """
import sys
from strom.datastream import StreamExecutionEnvironment

env = StreamExecutionEnvironment.get_execution_environment()
out, factor = sys.argv[1], int(sys.argv[2])  # read here: the functions run on the cluster

def write(x):
    with open(out, "a") as f:
        f.write(f"{x}\\n")
    return x

env.from_collection([1, 2, 3]).map(lambda x: x * factor).map(write).print()
env.execute("web submitted")
"""

TERMINAL = {JobStatus.FINISHED.value, JobStatus.FAILED.value, JobStatus.CANCELED.value}

BROKEN = """
print("reading the input")
raise ValueError("no input file given")
"""


@pytest.fixture
def cluster() -> Iterator[MiniCluster]:
    with MiniCluster(num_task_managers=1, slots_per_task_manager=2) as c:
        yield c
        wait_until(lambda: c.leftovers() == [], what="the cluster to be idle")


def serve(cluster: MiniCluster, **config: str) -> RestServer:
    assert cluster.rpc is not None
    server = RestServer(cluster.dispatcher_gateway, port=0,
                        configuration=Configuration.from_dict(config))
    cluster.rpc.run_sync(server.start(), timeout=30)
    return server


@pytest.fixture
def rest(cluster: MiniCluster) -> Iterator[str]:
    server = serve(cluster)
    yield server.url
    assert cluster.rpc is not None
    cluster.rpc.run_sync(server.stop(), timeout=30)


def upload(url: str, name: str, text: str) -> requests.Response:
    return requests.post(f"{url}/jars/upload", files={"jarfile": (name, text.encode())},
                         timeout=30)


def job_status(url: str, job_id: str) -> str:
    return str(requests.get(f"{url}/jobs/{job_id}", timeout=30).json()["state"])


def test_upload_list_run_and_delete(rest: str, tmp_path: Path) -> None:
    uploaded = upload(rest, "double.py", PROGRAM)
    assert uploaded.status_code == 200, uploaded.text
    body = uploaded.json()
    assert body["status"] == "success"
    jar_id = Path(body["filename"]).name
    assert re.fullmatch(r"[0-9a-f]{32}_double\.py", jar_id)

    listed = requests.get(f"{rest}/jars", timeout=30).json()
    assert listed["address"] == rest
    assert [(f["id"], f["name"]) for f in listed["files"]] == [(jar_id, "double.py")]

    out = tmp_path / "out.txt"
    ran = requests.post(f"{rest}/jars/{jar_id}/run",
                        json={"programArgsList": [str(out), "10"], "parallelism": 1},
                        timeout=120)
    assert ran.status_code == 200, ran.text
    job_id = ran.json()["jobid"]
    JobID.from_hex_string(job_id)
    wait_until(lambda: job_status(rest, job_id) in TERMINAL, timeout_s=60,
               what="the submitted job to end")
    assert job_status(rest, job_id) == JobStatus.FINISHED.value, requests.get(
        f"{rest}/jobs/{job_id}/exceptions", timeout=30).text
    assert sorted(out.read_text().split()) == ["10", "20", "30"]

    assert requests.delete(f"{rest}/jars/{jar_id}", timeout=30).status_code == 200
    assert requests.get(f"{rest}/jars", timeout=30).json()["files"] == []
    gone = requests.delete(f"{rest}/jars/{jar_id}", timeout=30)
    assert gone.status_code == 400 and "does not exist" in gone.json()["errors"][0]


def test_a_program_that_fails_before_submitting_is_a_400_with_its_output(rest: str) -> None:
    jar_id = Path(upload(rest, "broken.py", BROKEN).json()["filename"]).name
    ran = requests.post(f"{rest}/jars/{jar_id}/run", json={}, timeout=120)
    assert ran.status_code == 400
    [error] = ran.json()["errors"]
    assert "broken.py ended (exit code 1) without submitting a job" in error
    assert "reading the input" in error and "ValueError: no input file given" in error


def test_bad_uploads_and_ids_are_400s(rest: str) -> None:
    not_python = upload(rest, "job.jar", "PK")
    assert not_python.status_code == 400
    assert "takes a Python job file (*.py), got 'job.jar'" in not_python.json()["errors"][0]
    no_file = requests.post(f"{rest}/jars/upload", files={"other": ("", b"")}, timeout=30)
    assert no_file.status_code == 400
    not_multipart = requests.post(f"{rest}/jars/upload", data=b"print(1)", timeout=30)
    assert not_multipart.status_code == 400
    assert "multipart/form-data" in not_multipart.json()["errors"][0]
    bad_id = requests.post(f"{rest}/jars/..%2Fetc_passwd.py/run", json={}, timeout=30)
    assert bad_id.status_code in (400, 404)
    unknown = requests.post(f"{rest}/jars/{'0' * 32}_x.py/run", json={}, timeout=30)
    assert unknown.status_code == 400 and "does not exist" in unknown.json()["errors"][0]
    bad_body = requests.post(f"{rest}/jars/{'0' * 32}_x.py/run", data=b"{", timeout=30)
    assert bad_body.status_code == 400


def test_web_submit_disabled_answers_404(cluster: MiniCluster) -> None:
    server = serve(cluster, **{"web.submit.enable": "false"})
    try:
        listed = requests.get(f"{server.url}/jars", timeout=30)
        assert listed.status_code == 404
        assert "web.submit.enable: false" in listed.json()["errors"][0]
        assert upload(server.url, "x.py", "print(1)").status_code == 404
    finally:
        assert cluster.rpc is not None
        cluster.rpc.run_sync(server.stop(), timeout=30)


def test_upload_dir_is_kept_when_configured_and_removed_when_temporary(
    cluster: MiniCluster, tmp_path: Path,
) -> None:
    assert cluster.rpc is not None
    configured = serve(cluster, **{"web.upload.dir": str(tmp_path / "uploads")})
    temporary = serve(cluster)
    kept = Path(upload(configured.url, "a.py", "print(1)").json()["filename"])
    removed = Path(upload(temporary.url, "b.py", "print(2)").json()["filename"])
    assert kept.parent == tmp_path / "uploads" and kept.is_file() and removed.is_file()
    cluster.rpc.run_sync(configured.stop(), timeout=30)
    cluster.rpc.run_sync(temporary.stop(), timeout=30)
    assert kept.is_file()
    assert not removed.parent.exists()


def test_the_run_command_is_strom_run_detached_against_this_server() -> None:
    from strom.jobmanager.rest.jar_handlers import JarStore
    from strom.jobmanager.rest.jar_messages import JarRunRequest

    store = JarStore(Configuration.from_dict({
        "security.ssl.rest.enabled": "true", "security.ssl.rest.truststore": "/certs/ca.pem",
        "security.rest.token": "s3cret"}))
    store.rest_url = "https://0.0.0.0:8443"
    command = store.command(Path("/up/job.py"), JarRunRequest(
        program_args_list=["--in", "a b"], parallelism=3, savepoint_path="/sp/1",
        allow_non_restored_state=True))
    assert command[1:] == [
        "-m", "strom.cli.main", "run", "-m", "127.0.0.1:8443", "-d",
        "-D", "security.ssl.rest.enabled=true", "-D", "security.ssl.rest.truststore=/certs/ca.pem",
        "-p", "3", "-s", "/sp/1", "-n", "/up/job.py", "--in", "a b"]
    # the token travels in the environment, never on the command line
    assert "s3cret" not in " ".join(command)
    assert store.environment()["STROM_REST_TOKEN"] == "s3cret"
    older = store.command(Path("/up/job.py"), JarRunRequest(program_args="x 'y z'"))
    assert older[-3:] == ["/up/job.py", "x", "y z"]


def test_a_program_submits_to_a_token_guarded_server(cluster: MiniCluster, tmp_path: Path,
                                                     ) -> None:
    server = serve(cluster, **{"security.rest.token": "s3cret"})
    auth = {"Authorization": "Bearer s3cret"}
    try:
        assert requests.get(f"{server.url}/jars", timeout=30).status_code == 401
        uploaded = requests.post(f"{server.url}/jars/upload", headers=auth, timeout=30,
                                 files={"jarfile": ("double.py", PROGRAM.encode())})
        jar_id = Path(uploaded.json()["filename"]).name
        out = tmp_path / "out.txt"
        ran = requests.post(f"{server.url}/jars/{jar_id}/run", headers=auth, timeout=120,
                            json={"programArgsList": [str(out), "2"]})
        assert ran.status_code == 200, ran.text
        job_id = ran.json()["jobid"]

        def status() -> str:
            return str(requests.get(f"{server.url}/jobs/{job_id}", headers=auth,
                                    timeout=30).json()["state"])

        wait_until(lambda: status() in TERMINAL, timeout_s=60, what="the job to end")
        assert status() == JobStatus.FINISHED.value
        assert sorted(out.read_text().split()) == ["2", "4", "6"]
    finally:
        assert cluster.rpc is not None
        cluster.rpc.run_sync(server.stop(), timeout=30)
