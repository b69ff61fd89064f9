"""The web UI against real processes: a JobManager started as ``strom jobmanager`` (serving
REST and the UI) and a TaskManager process, with web submit turned off."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import requests
from ui_helpers import running_job_graph, screenshot, wait_for

from strom.testing.process_cluster import ProcessCluster

pytestmark = [pytest.mark.ui, pytest.mark.slow]


def test_overview_graph_and_cancel_against_jobmanager_and_taskmanager_processes(
    page: Any, tmp_path: Path,
) -> None:
    with ProcessCluster(task_managers=1, slots=2, log_dir=tmp_path,
                        config={"web.submit.enable": "false"}) as cluster:
        assert cluster.jobmanager is not None
        found = cluster.jobmanager.wait_for_log(r"REST (http://\S+)\)", 30)
        url = found.group(1)
        tm_id = cluster.task_managers[0].extra["resource_id"]
        job = cluster.submit(running_job_graph("process job", parallelism=2))
        job_id = str(job.get_job_id())

        def state() -> str:
            return str(requests.get(f"{url}/jobs/{job_id}", timeout=30).json()["state"])

        wait_for(lambda: state() == "RUNNING", "the job to run")

        page.goto(url + "/")
        page.wait_for_selector("#overview-taskmanagers-table")
        assert page.inner_text("#stat-taskmanagers .value") == "1"
        assert page.inner_text("#stat-slots-total .value") == "2"
        assert tm_id in page.inner_text("#overview-taskmanagers-table")
        # web.submit.enable: false hides the submit page
        assert page.is_hidden("#nav-submit")

        page.goto(f"{url}/#/jobs/{job_id}")
        page.wait_for_selector("svg.job-graph g.vertex")
        assert page.locator("svg.job-graph g.vertex").count() == 3
        assert "process job" in page.inner_text("#job-name")
        screenshot(page, "process-job")

        page.on("dialog", lambda dialog: dialog.accept())
        page.click("#cancel-job")
        page.wait_for_selector("#job-state .status.CANCELED", timeout=60_000)
        assert state() == "CANCELED"
        page.goto(f"{url}/#/jobs")
        page.wait_for_selector("#job-list-completed")
        assert re.search(r"process job.*CANCELED", page.inner_text("#job-list-completed"),
                         re.S)
