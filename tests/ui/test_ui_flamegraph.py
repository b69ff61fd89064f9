"""flamegraph.js in a real browser (Debian's Chromium through Playwright): it draws sample
data, names the frames, shows a frame's share on hover, zooms on click and back on the root,
and says why there is no graph (sampling, disabled, ended)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import strom

pytestmark = pytest.mark.ui

WEBUI = Path(strom.__file__).parent / "webui"
ARTIFACTS = Path(__file__).parent / "artifacts"


@pytest.fixture
def page(page: Any) -> Iterator[Any]:
    """The conftest's page on the flame graph demo, which must load nothing but its files."""
    page.set_viewport_size({"width": 1200, "height": 500})
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto((WEBUI / "flamegraph-demo.html").as_uri())
    yield page
    # no network: the page and its script come from the package's files only
    assert all(url.startswith("file://") for url in requests), requests


def width_of(page: Any, name: str) -> float:
    return float(page.locator(f'g[data-name="{name}"] rect').first.evaluate(
        "r => r.getBoundingClientRect().width"))


def test_draws_the_frames_shows_their_share_and_zooms(page: Any) -> None:
    user = "slow_user_function (my_job.py:12)"
    frame = page.locator(f'g[data-name="{user}"]')
    assert frame.count() == 1
    assert page.locator("svg text", has_text="slow_user_function (my_job.py:12)").count() == 1
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "flamegraph-demo.png"), full_page=True)
    full = width_of(page, "root")
    assert width_of(page, user) == pytest.approx(0.6 * full, rel=0.02)

    frame.hover()
    tooltip = page.locator(".strom-flamegraph-tooltip")
    assert tooltip.is_visible()
    assert tooltip.inner_text() == f"{user} — 60 samples, 60.0% of all"

    frame.click()  # zoom: the frame takes the whole width, its siblings are gone
    assert width_of(page, user) == pytest.approx(full, rel=0.01)
    assert page.locator('g[data-name="enrich (my_job.py:41)"]').count() == 0
    assert width_of(page, "parse_record (my_job.py:30)") == pytest.approx(0.25 * full, rel=0.02)
    page.locator('g[data-name="parse_record (my_job.py:30)"]').hover()
    assert tooltip.inner_text().endswith("15.0% of all, 25.0% of slow_user_function")
    page.screenshot(path=str(ARTIFACTS / "flamegraph-demo-zoomed.png"), full_page=True)

    page.locator('g[data-name="root"]').click()  # back out
    assert page.locator('g[data-name="enrich (my_job.py:41)"]').count() == 1
    assert width_of(page, user) == pytest.approx(0.6 * full, rel=0.02)


@pytest.mark.parametrize(("code", "says"), [
    (-3, "Sampling the tasks' stacks"),
    (-2, "rest.flamegraph.enabled: true"),
    (-1, "has ended"),
])
def test_says_why_there_is_no_graph(page: Any, code: int, says: str) -> None:
    page.evaluate("""code => window.stromFlameGraph.render(document.getElementById('graph'),
                                                          {endTimestamp: code, data: null})""",
                  code)
    message = page.locator(".strom-flamegraph-message")
    assert says in message.inner_text()
    assert page.locator("#graph svg").count() == 0


def test_a_graph_without_samples_of_the_type_says_so(page: Any) -> None:
    page.evaluate("""() => window.stromFlameGraph.render(document.getElementById('graph'),
        {endTimestamp: 5, data: {name: 'root', value: 0, children: []}})""")
    assert "No samples of this type" in page.locator(".strom-flamegraph-message").inner_text()


def burn_for_the_browser(x: int) -> int:
    total = 0
    for i in range(20_000):
        total += i * i
    return x + total % 2


def test_draws_a_running_jobs_flame_graph_from_rest(page: Any) -> None:
    import json
    import urllib.request

    from strom.common.job import JobStatus
    from strom.datastream import StreamExecutionEnvironment
    from strom.jobmanager.flame_graph import FlameGraphSettings
    from strom.minicluster import MiniCluster
    from strom.testing import CollectSink
    from strom.testing.sync import wait_until

    def get(url: str) -> Any:
        with urllib.request.urlopen(url, timeout=30) as answer:
            return json.loads(answer.read())

    with MiniCluster(num_task_managers=1, slots_per_task_manager=1, rest_port=0) as cluster:
        assert cluster.dispatcher is not None
        cluster.dispatcher.flame_graph_settings = FlameGraphSettings(num_samples=10,
                                                                     delay_ms=20)
        env = StreamExecutionEnvironment.get_execution_environment()
        env.set_parallelism(1)
        env.from_collection(list(range(1_000_000))).map(burn_for_the_browser) \
            .sink_to(CollectSink())
        job = cluster.submit(env._job_graph("burning job"))
        wait_until(lambda: job.get_job_status().result(10) is JobStatus.RUNNING,
                   what="the job to run")
        vertex = get(f"{cluster.rest_url}/jobs/{job.get_job_id()}")["vertices"][0]
        url = f"{cluster.rest_url}/jobs/{job.get_job_id()}/vertices/{vertex['id']}/flamegraph"
        answers: list[Any] = []
        wait_until(lambda: answers.append(get(url)) or answers[-1]["data"] is not None,
                   timeout_s=60, interval_s=0.05, what="the flame graph")
        job.cancel().result(10)
        wait_until(lambda: job.get_job_status().result(10) is JobStatus.CANCELED,
                   what="the job to be cancelled")
        wait_until(lambda: cluster.leftovers() == [], what="the cluster to be idle")
    page.evaluate("data => window.stromFlameGraph.render(document.getElementById('graph'), "
                  "data)", answers[-1])
    frames = page.locator('g[data-name^="burn_for_the_browser (test_ui_flamegraph.py:"]')
    assert frames.count() >= 1
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "flamegraph-job.png"), full_page=True)
