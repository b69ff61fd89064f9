"""The REST endpoints that need real processes: a ``strom cluster start`` cluster serves its
processes' log files (the JobManager's own, the TaskManagers' through their RPC), a
TaskManager's data port, and ``DELETE /cluster`` stops the JobManager process."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from test_process_cluster_cli import alive, cluster_dir, pids, strom  # noqa: F401

from strom.testing.sync import wait_until

pytestmark = pytest.mark.slow


def fetch(url: str, method: str = "GET") -> tuple[int, str, bytes]:
    request = urllib.request.Request(url, method=method)
    with urllib.request.urlopen(request, timeout=30) as answer:
        return answer.status, answer.headers.get_content_type(), answer.read()


def fetch_json(url: str, method: str = "GET") -> Any:
    status, content_type, body = fetch(url, method)
    assert (status, content_type) == (200, "application/json"), body
    return json.loads(body)


def test_logs_data_ports_and_shutdown_of_a_process_cluster(cluster_dir: Path) -> None:  # noqa: F811
    started = strom("cluster", "start", cwd=cluster_dir)
    assert started.returncode == 0, started.stdout + started.stderr
    log_dir = cluster_dir / "log"
    rest = re.search(r"REST (http://\S+?)\)", (log_dir / "jobmanager.log").read_text())
    assert rest is not None
    url = rest.group(1)

    logs = fetch_json(url + "/jobmanager/logs")["logs"]
    assert {f["name"] for f in logs} == {"jobmanager.log", "taskmanager-0.log"}
    status, content_type, text = fetch(url + "/jobmanager/log")
    assert (status, content_type) == (200, "text/plain")
    assert "JobManager ready at" in text.decode()

    [tm] = fetch_json(url + "/taskmanagers")["taskmanagers"]
    # a TaskManager process has a TCP data server
    assert tm["dataPort"] > 0 and tm["hardware"]["cpuCores"] >= 1
    _, _, tm_log = fetch(f"{url}/taskmanagers/{tm['id']}/log")
    assert f"TaskManager {tm['id']} ready at" in tm_log.decode()
    tm_logs = fetch_json(f"{url}/taskmanagers/{tm['id']}/logs")["logs"]
    assert "taskmanager-0.log" in {f["name"] for f in tm_logs}
    # the TaskManager's "no such file" comes back through its RPC as a 404
    with pytest.raises(urllib.error.HTTPError) as missing:
        fetch(f"{url}/taskmanagers/{tm['id']}/logs/jobmanager.pid")
    assert missing.value.code == 404
    assert "no log file 'jobmanager.pid'" in json.loads(missing.value.read())["errors"][0]
    dump = fetch_json(f"{url}/taskmanagers/{tm['id']}/thread-dump")["threadInfos"]
    assert any(t["threadName"] == "MainThread" for t in dump)

    jobmanager = pids(log_dir)["jobmanager"]
    assert fetch_json(url + "/cluster", method="DELETE") == {}
    wait_until(lambda: not alive(jobmanager), timeout_s=30, what="the JobManager to exit")
    assert "JobManager stopped" in (log_dir / "jobmanager.log").read_text()
    stopped = strom("cluster", "stop", cwd=cluster_dir)
    assert stopped.returncode == 0, stopped.stderr
