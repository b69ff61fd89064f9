"""A client of the JobManager's REST API, driven by the endpoint specs.

:meth:`RestClient.send` fills in a spec's path, encodes its request (JSON, or multipart for
``POST /jobs``) and decodes the answer into the spec's response type; an error answer
raises :class:`RestClientError` with the server's ``errors`` list. The typed methods
(:meth:`RestClient.overview`, :meth:`RestClient.job_details`, ...) are what the CLI and the
tests call; :meth:`RestClient.get_json` returns an answer as the server sent it (for
``--json``). Plain ``urllib``: the client side needs no event loop. Every connection is made
by the opener of :meth:`RestClient._session`, the one place TLS and auth headers go.

A standby JobManager (high availability) answers with ``307 Temporary Redirect`` to the
leader: the client repeats the request there with the same method, body and headers, for at
most :data:`MAX_REDIRECTS` hops.

>>> RestClient("localhost:8081").base_url
'http://localhost:8081'
"""

from __future__ import annotations

import os
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, TypeVar

import msgspec

from strom.common.configuration import Configuration
from strom.common.security import auth_headers, client_ssl_context, rest_scheme
from strom.jobmanager.rest import checkpoint_messages as cm
from strom.jobmanager.rest import messages as m
from strom.jobmanager.rest import specs
from strom.jobmanager.rest.specs import EndpointSpec

__all__ = ["MAX_REDIRECTS", "RestClient", "RestClientError"]

R = TypeVar("R")

#: how many 307 redirects (standby to leader) one request follows
MAX_REDIRECTS = 5


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """Redirects reach :meth:`RestClient._request` as errors: it follows them itself, with
    the request's method and body (urllib repeats only GET and HEAD)."""

    def redirect_request(self, req: urllib.request.Request, fp: Any, code: int, msg: str,
                         headers: Any, newurl: str) -> None:
        return None


class RestClientError(RuntimeError):
    """The REST server answered with an error ``status`` and its ``errors`` messages, or
    could not be reached (``status`` None)."""

    def __init__(self, status: int | None, errors: list[str],
                 message: str | None = None) -> None:
        super().__init__(message or "; ".join(errors))
        self.status = status
        self.errors = errors


def _multipart(request: msgspec.Struct, files: dict[str, bytes]) -> tuple[bytes, str]:
    boundary = "strom-" + os.urandom(12).hex()
    parts = [
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"request\"\r\n"
        "Content-Type: application/json\r\n\r\n".encode() + msgspec.json.encode(request)
        + b"\r\n"
    ]
    for n, (name, data) in enumerate(files.items()):
        quoted = name.replace('"', "%22")
        parts.append(
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file_{n}\"; "
            f"filename=\"{quoted}\"\r\nContent-Type: application/octet-stream\r\n\r\n".encode()
            + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


class RestClient:
    """Talks to the REST API at ``url`` (``host:port`` or ``http(s)://host:port``).

    ``configuration`` holds the client's security settings: HTTPS with
    ``security.ssl.rest.*`` (a bare ``host:port`` then means ``https://``) and the bearer
    token ``security.rest.token`` (else the ``STROM_REST_TOKEN`` environment variable)."""

    def __init__(self, url: str, configuration: Configuration | None = None,
                 timeout_s: float = 60.0) -> None:
        if "://" not in url:
            url = f"{rest_scheme(configuration)}://{url}"
        parsed = urllib.parse.urlsplit(url)
        try:
            port = parsed.port
        except ValueError:
            port = None
        if parsed.scheme not in ("http", "https") or not parsed.hostname or not port:
            raise ValueError(
                f"A JobManager address is host:port (e.g. localhost:8081), got {url!r}.")
        self.base_url = f"{parsed.scheme}://{parsed.netloc}"
        self.configuration = configuration or Configuration()
        self.timeout_s = timeout_s
        self._opener: urllib.request.OpenerDirector | None = None
        self._headers: dict[str, str] = {}

    def _session(self) -> tuple[urllib.request.OpenerDirector, dict[str, str]]:
        """The opener every request goes through and the headers every request carries,
        made once from :attr:`configuration`: TLS (an ``ssl`` context for the
        HTTPSHandler) and authentication headers are set up here and nowhere else."""
        if self._opener is None:
            # ---- security: TLS and the token (strom.common.security)
            context = client_ssl_context(self.configuration)
            self._opener = urllib.request.build_opener(
                urllib.request.HTTPSHandler(context=context), _NoRedirects())
            self._headers = {"Accept": "application/json",
                             **auth_headers(self.configuration)}
        return self._opener, self._headers

    # ------------------------------------------------------------------ transport
    def _request(self, method: str, path: str, query: dict[str, str] | None = None,
                 data: bytes | None = None, content_type: str | None = None,
                 follow_redirects: bool = True) -> bytes:
        url = self.base_url + path
        if query:
            url += "?" + urllib.parse.urlencode(query)
        opener, session_headers = self._session()
        headers = dict(session_headers)
        if content_type is not None:
            headers["Content-Type"] = content_type
        visited = [url]
        while True:
            request = urllib.request.Request(url, data=data, method=method, headers=headers)
            try:
                with opener.open(request, timeout=self.timeout_s) as answer:
                    payload: bytes = answer.read()
                    return payload
            except urllib.error.HTTPError as e:
                location = e.headers.get("Location") if e.code == 307 else None
                if location is None or not follow_redirects:
                    raise self._error_answer(method, url, e) from None
                e.close()
                url = urllib.parse.urljoin(url, location)
                visited.append(url)
                if len(visited) > MAX_REDIRECTS + 1:
                    message = (f"{method} {visited[0]} was redirected more than "
                               f"{MAX_REDIRECTS} times ({' -> '.join(visited)}); the "
                               "JobManagers disagree on who leads. Retry in a moment, or ask "
                               "the leader with -m host:port.")
                    raise RestClientError(307, [message], message) from None
            except (urllib.error.URLError, OSError) as e:
                reason = getattr(e, "reason", e)
                where = urllib.parse.urlsplit(url)
                message = (f"Could not reach the JobManager's REST API at "
                           f"{where.scheme}://{where.netloc}: {reason}. Check that the "
                           "cluster runs and -m names its rest.port (8081 by default); if it "
                           "serves HTTPS (security.ssl.rest.enabled), give the client "
                           "security.ssl.rest.enabled and security.ssl.rest.truststore too.")
                raise RestClientError(None, [message], message) from None

    @staticmethod
    def _error_answer(method: str, url: str, e: urllib.error.HTTPError) -> RestClientError:
        text = e.read()
        try:
            errors = msgspec.json.decode(text, type=m.ErrorResponse).errors
        except msgspec.DecodeError:
            errors = [text.decode(errors="replace") or str(e.reason)]
        return RestClientError(
            e.code, errors, f"{method} {url} failed with {e.code}: {'; '.join(errors)}")

    def send(self, spec: EndpointSpec[R], *, query: dict[str, str] | None = None,
             body: msgspec.Struct | None = None, files: dict[str, bytes] | None = None,
             **path_parameters: Any) -> R:
        """Call the endpoint of ``spec``; its answer decoded as the spec's response type."""
        data: bytes | None = None
        content_type = None
        if spec.multipart:
            assert body is not None, f"{spec.method} {spec.path} needs a request body"
            data, content_type = _multipart(body, files or {})
        elif body is not None:
            data, content_type = msgspec.json.encode(body), "application/json"
        path = spec.url(**path_parameters)
        payload = self._request(spec.method, path, query, data, content_type)
        if spec.content_type.startswith("text/"):  # logs and stdout
            return payload.decode(errors="replace")  # type: ignore[return-value]
        try:
            return msgspec.json.decode(payload, type=spec.response)
        except msgspec.DecodeError as e:
            name = getattr(spec.response, "__name__", str(spec.response))
            message = (f"{spec.method} {self.base_url}{path} answered with a body that is "
                       f"not a {name}: {e}.")
            raise RestClientError(None, [message], message) from None

    def get_json(self, path: str, query: dict[str, str] | None = None) -> Any:
        """``GET path`` with the answer as the server sent it (dicts and lists)."""
        return msgspec.json.decode(self._request("GET", path, query))

    # ------------------------------------------------------------------ cluster
    def leadership(self) -> str:
        """Whether this JobManager leads (high availability): ``leader`` (it answers),
        ``standby`` (it redirects to the leader), ``electing`` (503: no leader known) or
        ``unreachable``."""
        try:
            self._request("GET", specs.CLUSTER_OVERVIEW.url(), follow_redirects=False)
        except RestClientError as e:
            return {None: "unreachable", 307: "standby", 503: "electing"}.get(e.status,
                                                                              "leader")
        return "leader"

    def overview(self) -> m.ClusterOverviewInfo:
        return self.send(specs.CLUSTER_OVERVIEW)

    def taskmanagers(self) -> list[m.TaskManagerInfo]:
        return self.send(specs.TASK_MANAGERS).taskmanagers

    def config(self) -> dict[str, Any]:
        """``GET /config``: the dashboard configuration (refresh interval, versions)."""
        answer: dict[str, Any] = self.get_json("/config")
        return answer

    # ------------------------------------------------------------------ jobs
    def jobs_overview(self) -> list[m.JobOverviewInfo]:
        return self.send(specs.JOBS_OVERVIEW).jobs

    def job_details(self, job_id: object) -> m.JobDetailsInfo:
        return self.send(specs.JOB_DETAILS, jobid=job_id)

    def job_result(self, job_id: object) -> m.JobExecutionResultResponse:
        return self.send(specs.JOB_EXECUTION_RESULT, jobid=job_id)

    def cancel_job(self, job_id: object) -> None:
        self.send(specs.CANCEL_JOB, query={"mode": "cancel"}, jobid=job_id)

    # ------------------------------------------------------------------ savepoints
    def trigger_savepoint(self, job_id: object, target_directory: str | None = None,
                          format_type: str = "CANONICAL", cancel_job: bool = False) -> str:
        """Start a savepoint; the trigger id to poll with :meth:`savepoint_status`."""
        request = m.SavepointTriggerRequest(target_directory, cancel_job, format_type)
        return self.send(specs.SAVEPOINT_TRIGGER, body=request, jobid=job_id).request_id

    def stop_with_savepoint(self, job_id: object, target_directory: str | None = None,
                            drain: bool = False, format_type: str = "CANONICAL") -> str:
        """Start a stop-with-savepoint; the trigger id to poll with :meth:`savepoint_status`."""
        request = m.StopWithSavepointRequest(target_directory, drain, format_type)
        return self.send(specs.STOP_WITH_SAVEPOINT, body=request, jobid=job_id).request_id

    def savepoint_status(self, job_id: object, trigger_id: str) -> m.SavepointStatusResponse:
        return self.send(specs.SAVEPOINT_STATUS, jobid=job_id, triggerid=trigger_id)

    def dispose_savepoint(self, path: str) -> str:
        """Start disposing the savepoint at ``path``; the trigger id to poll with
        :meth:`savepoint_disposal_status`."""
        request = m.SavepointDisposalRequest(path)
        return self.send(specs.SAVEPOINT_DISPOSAL, body=request).request_id

    def savepoint_disposal_status(self, trigger_id: str) -> m.OperationStatusResponse:
        return self.send(specs.SAVEPOINT_DISPOSAL_STATUS, triggerid=trigger_id)

    # ------------------------------------------------------------------ checkpoints
    def trigger_checkpoint(self, job_id: object, full: bool = False) -> str:
        """Start a checkpoint; the trigger id to poll with :meth:`checkpoint_status`."""
        request = m.CheckpointTriggerRequest("FULL" if full else "CONFIGURED")
        return self.send(specs.CHECKPOINT_TRIGGER, body=request, jobid=job_id).request_id

    def checkpoint_status(self, job_id: object, trigger_id: str) -> m.CheckpointStatusResponse:
        return self.send(specs.CHECKPOINT_STATUS, jobid=job_id, triggerid=trigger_id)

    def checkpoints(self, job_id: object) -> cm.CheckpointingStatistics:
        """The job's checkpoint statistics (404 for a job without checkpointing)."""
        return self.send(specs.CHECKPOINT_STATISTICS, jobid=job_id)

    def checkpoint_config(self, job_id: object) -> cm.CheckpointConfigInfo:
        return self.send(specs.CHECKPOINT_CONFIG, jobid=job_id)
