"""``strom.client.rest.RestClient`` against a scripted HTTP server: paths and methods it
asks, the answers it decodes, and the server's errors as ``RestClientError``."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator

import pytest

from strom.client.rest import RestClient, RestClientError

JOB = "0123456789abcdef0123456789abcdef"

ANSWERS: dict[tuple[str, str], tuple[int, bytes]] = {
    ("GET", "/config"): (200, json.dumps({"refresh-interval": 3000,
                                          "flink-version": "x"}).encode()),
    ("GET", "/overview"): (200, json.dumps({
        "taskmanagers": 2, "slots-total": 4, "slots-available": 1, "jobs-running": 1,
        "jobs-finished": 0, "jobs-cancelled": 0, "jobs-failed": 0}).encode()),
    ("PATCH", f"/jobs/{JOB}?mode=cancel"): (202, b"{}"),
    ("GET", f"/jobs/{JOB}"): (404, json.dumps({"errors": [f"No job with id {JOB}."]}).encode()),
    ("GET", "/jobs/overview"): (500, b"not json at all"),
}


class Handler(http.server.BaseHTTPRequestHandler):
    asked: list[tuple[str, str, str | None]] = []

    def _answer(self) -> None:
        self.asked.append((self.command, self.path, self.headers.get("Accept")))
        status, body = ANSWERS.get((self.command, self.path), (404, b'{"errors": ["?"]}'))
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_PATCH = _answer

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    Handler.asked = []
    try:
        yield f"127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_typed_methods_ask_flinks_paths_and_decode_the_answers(server: str) -> None:
    rest = RestClient(server)
    assert rest.config() == {"refresh-interval": 3000, "flink-version": "x"}
    overview = rest.overview()
    assert (overview.taskmanagers, overview.slots_total, overview.slots_available) == (2, 4, 1)
    rest.cancel_job(JOB)
    assert Handler.asked == [("GET", "/config", "application/json"),
                             ("GET", "/overview", "application/json"),
                             ("PATCH", f"/jobs/{JOB}?mode=cancel", "application/json")]


def test_error_answers_raise_with_the_servers_status_and_errors(server: str) -> None:
    rest = RestClient(server)
    with pytest.raises(RestClientError) as raised:
        rest.job_details(JOB)
    assert (raised.value.status, raised.value.errors) == (404, [f"No job with id {JOB}."])
    assert str(raised.value) == (f"GET http://{server}/jobs/{JOB} failed with 404: "
                                 f"No job with id {JOB}.")
    with pytest.raises(RestClientError) as raised:
        rest.jobs_overview()
    assert (raised.value.status, raised.value.errors) == (500, ["not json at all"])


def test_the_error_carries_status_and_errors_as_the_contract_says() -> None:
    error = RestClientError(400, ["bad a", "bad b"])
    assert (error.status, error.errors, str(error)) == (400, ["bad a", "bad b"], "bad a; bad b")


@pytest.mark.parametrize("url", ["localhost", "localhost:http", "ftp://localhost:21", ":8081"])
def test_an_address_without_host_and_port_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match="host:port"):
        RestClient(url)
