"""Makes the README's web UI screenshot (``docs/images/webui-job.png``) from a real cluster.

    .venv/bin/python docs/screenshots.py

Starts a local cluster with its REST API on a free port, runs a streaming job whose sink is
slow (so its upstream vertex is back-pressured), waits until the metrics have moved, and
photographs the job page in Debian's Chromium (``STROM_CHROMIUM``, default
``/usr/bin/chromium``) with Playwright.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

from strom.client.rest import RestClient
from strom.client.rest_cluster_client import RestClusterClient
from strom.common import WatermarkStrategy
from strom.common.configuration import Configuration
from strom.connectors import NumberSequenceSource
from strom.datastream import StreamExecutionEnvironment
from strom.minicluster import MiniCluster

OUT = Path(__file__).parent / "images" / "webui-job.png"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]


def slow_sink_job() -> object:
    def parse(x: int) -> tuple[int, int]:
        return x % 64, 1

    def write(value: tuple[int, int]) -> tuple[int, int]:
        time.sleep(0.0005)  # a slow external system
        return value

    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(2)
    env.enable_checkpointing(2_000)
    (env.from_source(NumberSequenceSource(0, 10**9), WatermarkStrategy.no_watermarks(),
                     "events")
     .map(parse).name("parse")
     .key_by(lambda t: t[0]).reduce(lambda a, b: (a[0], a[1] + b[1])).name("count per key")
     .map(write).name("write to store").set_parallelism(1)
     .filter(lambda value: False).name("errors").set_parallelism(1)
     .print().name("print errors").set_parallelism(1))
    return env._job_graph("clicks per key")


def main() -> None:
    configuration = Configuration.from_dict({"metrics.fetcher.update-interval": "500 ms"})
    rest_configuration = Configuration.from_dict({"web.refresh-interval": "1 s"})
    with MiniCluster(num_task_managers=2, slots_per_task_manager=2, rest_port=0,
                     configuration=configuration,
                     rest_configuration=rest_configuration) as cluster:
        client = RestClusterClient(cluster.rest_url.removeprefix("http://"))
        job = client.submit(slow_sink_job())
        job_id = str(job.get_job_id())
        rest = RestClient(cluster.rest_url)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # two checkpoints and moving records
            details = rest.job_details(job_id)
            stats = rest.checkpoints(job_id)
            if stats.counts.completed >= 2 and all(v.metrics.read_records or
                                                   v.metrics.write_records
                                                   for v in details.vertices):
                break
            time.sleep(0.5)
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=os.environ.get("STROM_CHROMIUM", "/usr/bin/chromium"),
                args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 720})
            page.goto(f"{cluster.rest_url}/#/jobs/{job_id}")
            page.wait_for_selector("g.vertex")
            page.wait_for_timeout(3000)
            page.locator("g.vertex").nth(1).click()
            page.wait_for_timeout(2500)
            OUT.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(OUT))
            browser.close()
        job.cancel().result(timeout=30)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
