"""The web UI in Chromium against a MiniCluster serving REST (in this process): the
overview, the job graph, live metrics, cancel, savepoint, web submit and the bearer token.

Where the REST server does not report something yet (the job's plan, vertex metrics), the
test checks what the UI shows instead and says so.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from ui_helpers import running_job_graph, screenshot, wait_for

from strom.client.rest_cluster_client import RestClusterClient
from strom.minicluster import MiniCluster
from strom.testing.sync import wait_until

pytestmark = [pytest.mark.ui, pytest.mark.slow]


@pytest.fixture
def cluster() -> Iterator[MiniCluster]:
    with MiniCluster(num_task_managers=2, slots_per_task_manager=2, rest_port=0) as c:
        yield c
        wait_until(lambda: c.leftovers() == [], timeout_s=30, what="the cluster to be idle")


@pytest.fixture
def job(cluster: MiniCluster) -> Iterator[str]:
    """A running streaming job's id; cancelled (if still running) when the test ends."""
    client = RestClusterClient(cluster.rest_url.removeprefix("http://"))
    submitted = client.submit(running_job_graph())
    job_id = str(submitted.get_job_id())
    wait_for(lambda: rest(cluster, f"/jobs/{job_id}")["state"] == "RUNNING", "the job to run")
    yield job_id
    if rest(cluster, f"/jobs/{job_id}")["state"] == "RUNNING":
        requests.patch(f"{cluster.rest_url}/jobs/{job_id}?mode=cancel", timeout=30)
    wait_for(lambda: rest(cluster, f"/jobs/{job_id}")["state"] == "CANCELED",
             "the job to be cancelled")


def rest(cluster: MiniCluster, path: str) -> Any:
    return requests.get(cluster.rest_url + path, timeout=30).json()


def has_plan(cluster: MiniCluster, job_id: str) -> bool:
    if "plan" in rest(cluster, f"/jobs/{job_id}"):
        return True
    return requests.get(f"{cluster.rest_url}/jobs/{job_id}/plan", timeout=30).ok


def test_overview_shows_the_taskmanagers_slots_and_the_running_job(
    cluster: MiniCluster, job: str, page: Any,
) -> None:
    page.goto(cluster.rest_url + "/")
    page.wait_for_selector("#running-jobs-table")
    assert page.inner_text("#stat-taskmanagers .value") == "2"
    assert page.inner_text("#stat-slots-total .value") == "4"
    assert page.inner_text("#stat-jobs-running .value") == "1"
    tm_ids = {tm["id"] for tm in rest(cluster, "/taskmanagers")["taskmanagers"]}
    rows = page.locator("#overview-taskmanagers-table tbody tr")
    assert {rows.nth(i).locator("td").first.inner_text() for i in range(rows.count())} == tm_ids
    assert "web ui job" in page.inner_text("#running-jobs-table")
    screenshot(page, "overview")
    page.click("#running-jobs-table tbody tr")
    page.wait_for_url(re.compile(f"#/jobs/{job}$"))
    page.wait_for_selector("svg.job-graph")


def test_the_job_graph_renders_its_vertices_and_edges(
    cluster: MiniCluster, job: str, page: Any,
) -> None:
    page.goto(f"{cluster.rest_url}/#/jobs/{job}")
    page.wait_for_selector("svg.job-graph g.vertex")
    vertices = rest(cluster, f"/jobs/{job}")["vertices"]
    assert len(vertices) == 3
    names = [page.locator("g.vertex .vertex-name").nth(i).text_content() for i in range(3)]
    assert sorted(names) == sorted(v["name"] for v in vertices)
    assert "Parallelism: 2" in page.text_content(f'g.vertex[data-vertex-id="{vertices[0]["id"]}"]')
    if has_plan(cluster, job):
        wait_for(lambda: page.locator("svg.job-graph path.edge").count() == 2, "two edges")
        # longest-path layers: source, then filter, then sink, left to right
        xs = [page.locator(f'g.vertex[data-vertex-id="{v["id"]}"]').bounding_box()["x"]
              for v in vertices]
        assert xs[0] < xs[1] < xs[2]
    else:
        assert page.is_visible("#no-plan")
        assert page.locator("svg.job-graph path.edge").count() == 0
    page.wait_for_selector("#job-state .status.RUNNING")
    screenshot(page, "job-graph")

    # a vertex opens its subtasks
    page.click(f'g.vertex[data-vertex-id="{vertices[1]["id"]}"]')
    page.wait_for_url(re.compile(f"/vertices/{vertices[1]['id']}$"))
    page.wait_for_selector("#subtasks-table tbody tr, #vertex-error")
    if page.is_visible("#subtasks-table"):
        assert page.locator("#subtasks-table tbody tr").count() == 2
    screenshot(page, "vertex")
    page.click("#vertex-tab-flamegraph")
    page.wait_for_selector("#flamegraph-message, #flamegraph")
    if not page.evaluate("Boolean(window.stromFlameGraph)"):
        assert page.inner_text("#flamegraph-message") == "flame graphs unavailable"
    else:
        # the first answers say the stacks are being sampled; a refresh draws the samples
        page.wait_for_selector("#flamegraph")
        page.wait_for_function(
            "() => { const f = document.getElementById('flamegraph');"
            " return f && (f.querySelector('svg') || !f.textContent.includes('Sampling')); }",
            timeout=60_000)
    screenshot(page, "flamegraph")


def test_records_in_move_between_refreshes(cluster: MiniCluster, job: str, page: Any) -> None:
    vertex_id = rest(cluster, f"/jobs/{job}")["vertices"][1]["id"]

    def read_records() -> Any:
        vertex = next(v for v in rest(cluster, f"/jobs/{job}")["vertices"]
                      if v["id"] == vertex_id)
        return vertex.get("metrics", {}).get("read-records")

    first = read_records()
    wait_for(lambda: read_records() not in (None, first), "REST's read-records to move",
             timeout_s=30)
    page.goto(f"{cluster.rest_url}/#/jobs/{job}")
    records = page.locator(f'g.vertex[data-vertex-id="{vertex_id}"] .vertex-records')
    page.wait_for_selector(f'g.vertex[data-vertex-id="{vertex_id}"]')
    shown = records.text_content()
    assert re.fullmatch(r"Records in: [0-9.]+[kMG]?  out: [0-9.]+[kMG]?", shown), shown
    for _ in range(600):  # the page refreshes by itself (web.refresh-interval)
        if records.text_content() != shown:
            break
        page.wait_for_timeout(100)
    assert records.text_content() != shown, "records-in did not change between refreshes"
    screenshot(page, "job-graph-metrics")


def test_exceptions_show_the_users_traceback(cluster: MiniCluster, page: Any) -> None:
    from strom.datastream import StreamExecutionEnvironment

    def boom(x: int) -> int:
        if x == 3:
            raise ValueError(f"bad record {x}")
        return x

    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(1)
    env.from_collection([1, 2, 3]).map(boom).print()
    client = RestClusterClient(cluster.rest_url.removeprefix("http://"))
    job_id = str(client.submit(env._job_graph("failing job")).get_job_id())
    wait_for(lambda: rest(cluster, f"/jobs/{job_id}")["state"] == "FAILED", "the job to fail")
    page.goto(f"{cluster.rest_url}/#/jobs/{job_id}/exceptions")
    trace = page.wait_for_selector("#root-exception").inner_text()
    assert "ValueError: bad record 3" in trace
    assert "in boom" in trace and "test_ui_cluster.py" in trace
    assert page.is_disabled("#cancel-job")
    screenshot(page, "exceptions")


def test_cancel_from_the_page_ends_the_job_canceled(
    cluster: MiniCluster, job: str, page: Any,
) -> None:
    page.goto(f"{cluster.rest_url}/#/jobs/{job}")
    page.wait_for_selector("#job-state .status.RUNNING")
    dialogs: list[str] = []

    def accept(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.accept()

    page.on("dialog", accept)
    page.click("#cancel-job")
    page.wait_for_selector("#job-state .status.CANCELED")
    assert dialogs == [f"Cancel job web ui job ({job})?"]
    assert rest(cluster, f"/jobs/{job}")["state"] == "CANCELED"
    assert page.is_disabled("#cancel-job")
    screenshot(page, "cancelled")


def test_a_dismissed_confirmation_does_not_cancel(
    cluster: MiniCluster, job: str, page: Any,
) -> None:
    page.goto(f"{cluster.rest_url}/#/jobs/{job}")
    page.wait_for_selector("#job-state .status.RUNNING")
    page.on("dialog", lambda dialog: dialog.dismiss())
    page.click("#cancel-job")
    page.wait_for_timeout(500)  # what the page would have sent, it sends at once
    assert rest(cluster, f"/jobs/{job}")["state"] == "RUNNING"


def test_savepoint_from_the_page_completes(
    cluster: MiniCluster, job: str, page: Any, tmp_path: Path,
) -> None:
    page.goto(f"{cluster.rest_url}/#/jobs/{job}")
    page.wait_for_selector("#job-state .status.RUNNING")
    page.on("dialog", lambda dialog: dialog.accept(str(tmp_path / "savepoints")))
    page.click("#trigger-savepoint")
    location = page.wait_for_selector("#savepoint-location", timeout=60_000).inner_text()
    path = re.sub("^file:(//)?", "", location.removeprefix("Savepoint completed: "))
    assert path.startswith(str(tmp_path / "savepoints")), location
    assert Path(path).exists()
    screenshot(page, "savepoint")


def test_a_savepoint_without_a_directory_shows_why(
    cluster: MiniCluster, job: str, page: Any,
) -> None:
    page.goto(f"{cluster.rest_url}/#/jobs/{job}")
    page.wait_for_selector("#job-state .status.RUNNING")
    page.on("dialog", lambda dialog: dialog.accept(""))
    page.click("#trigger-savepoint")
    message = page.wait_for_selector("#job-message.error, #job-message .error, "
                                     "#job-message:not([hidden])")
    wait_for(lambda: "Savepoint failed" in message.inner_text(), "the failure message")
    assert "state.savepoints.dir" in message.inner_text()


PROGRAM = """
import sys
from strom.datastream import StreamExecutionEnvironment

env = StreamExecutionEnvironment.get_execution_environment()
env.from_collection(list(range(int(sys.argv[1])))).map(lambda x: x + 1).print()
env.execute("uploaded from the browser")
"""


def test_web_submit_runs_an_uploaded_job(
    cluster: MiniCluster, page: Any, tmp_path: Path,
) -> None:
    program = tmp_path / "count.py"
    program.write_text(PROGRAM)
    page.goto(f"{cluster.rest_url}/#/submit")
    page.wait_for_selector("#nav-submit:not([hidden])")
    page.set_input_files("#upload-file", str(program))
    page.click("#upload-button")
    form = page.wait_for_selector("form.submit")
    assert "count.py" in form.inner_text()
    form.query_selector(".program-args").fill("5")
    form.query_selector(".parallelism").fill("1")
    screenshot(page, "submit")
    form.query_selector(".run-jar").click()
    page.wait_for_url(re.compile(r"#/jobs/[0-9a-f]{32}$"), timeout=120_000)
    job_id = page.url.rsplit("/", 1)[1]
    page.wait_for_selector("#job-name")
    assert page.inner_text("#job-name") == "uploaded from the browser"
    page.wait_for_selector("#job-state .status.FINISHED", timeout=60_000)
    assert rest(cluster, f"/jobs/{job_id}")["state"] == "FINISHED"


def test_a_failing_upload_shows_the_programs_error(
    cluster: MiniCluster, page: Any, tmp_path: Path,
) -> None:
    program = tmp_path / "broken.py"
    program.write_text("raise SystemExit('broken: needs an input path')\n")
    page.goto(f"{cluster.rest_url}/#/submit")
    page.set_input_files("#upload-file", str(program))
    page.click("#upload-button")
    page.wait_for_selector("form.submit .run-jar").click()
    message = page.wait_for_selector("#submit-message.error")
    wait_for(lambda: "broken: needs an input path" in message.inner_text(), "the error")
    assert "without submitting a job" in message.inner_text()


def test_a_401_asks_for_the_token_once_and_sends_it(cluster: MiniCluster, page: Any) -> None:
    # the security helper's token check, played by the browser's request routing
    seen: list[str | None] = []

    def guard(route: Any) -> None:
        header = route.request.headers.get("authorization")
        seen.append(header)
        if header != "Bearer s3cret":
            route.fulfill(status=401, content_type="application/json",
                          body='{"errors": ["Missing or wrong bearer token."]}')
        else:
            route.continue_()

    page.route(re.compile(r".*/(overview|jobs/overview|taskmanagers|config|jars)$"), guard)
    prompts: list[str] = []

    def answer(dialog: Any) -> None:
        prompts.append(dialog.message)
        dialog.accept("s3cret")

    page.on("dialog", answer)
    page.goto(cluster.rest_url + "/")
    page.wait_for_selector("#stat-taskmanagers")
    assert len(prompts) == 1 and "security.rest.token" in prompts[0]
    assert page.evaluate("sessionStorage.getItem('strom.rest.token')") == "s3cret"
    count = len(seen)
    # the route handler runs while Playwright waits, not in a time.sleep
    for _ in range(300):
        if len(seen) > count + 2:
            break
        page.wait_for_timeout(100)
    assert seen[-1] == "Bearer s3cret" and len(prompts) == 1


def test_the_layout_puts_each_vertex_one_layer_after_its_deepest_input(
    cluster: MiniCluster, page: Any,
) -> None:
    page.goto(cluster.rest_url + "/")
    layers = page.evaluate("""async () => {
        const { layout } = await import('/web/graph.js');
        const result = layout([
            {id: 'a', inputs: []}, {id: 'b', inputs: []}, {id: 'c', inputs: ['a']},
            {id: 'd', inputs: ['c', 'b']}, {id: 'e', inputs: ['a']},
        ]);
        return result.layers;
    }""")
    assert layers[0] == ["a", "b"]
    assert sorted(layers[1]) == ["c", "e"]
    assert layers[2] == ["d"]
    colours = page.evaluate("""async () => {
        const { vertexColours } = await import('/web/graph.js');
        return [vertexColours(0, 0), vertexColours(100, 0), vertexColours(0, 100)];
    }""")
    assert [c["background"] for c in colours] == ["#5db1ff", "#ee6464", "#888888"]


def test_a_token_guarded_server_asks_for_the_token_once(cluster: MiniCluster, page: Any) -> None:
    from strom.common.configuration import Configuration
    from strom.jobmanager.rest.server import RestServer

    assert cluster.rpc is not None
    server = RestServer(cluster.dispatcher_gateway, port=0,
                        configuration=Configuration.from_dict({"security.rest.token": "s3cret"}))
    cluster.rpc.run_sync(server.start(), timeout=30)
    try:
        prompts: list[str] = []

        def answer(dialog: Any) -> None:
            prompts.append(dialog.message)
            dialog.accept("s3cret")

        page.on("dialog", answer)
        page.goto(server.url + "/")
        page.wait_for_selector("#overview-taskmanagers-table")
        assert page.inner_text("#stat-taskmanagers .value") == "2"
        assert len(prompts) == 1
        page.goto(server.url + "/#/jobs")
        page.wait_for_selector("#job-list-running")
        assert len(prompts) == 1  # kept in sessionStorage
    finally:
        cluster.rpc.run_sync(server.stop(), timeout=30)
