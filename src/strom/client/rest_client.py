"""A client of the JobManager's REST API, driven by the endpoint specs.

:meth:`RestClient.send` fills in a spec's path, encodes its request (JSON, or multipart for
``POST /jobs``) and decodes the answer into the spec's response type; an error answer
raises :class:`RestClientError` with Flink's ``errors`` list. Plain ``urllib``: the client
side needs no event loop.

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
from strom.jobmanager.rest.messages import ErrorResponse
from strom.jobmanager.rest.specs import EndpointSpec

__all__ = ["RestClient", "RestClientError"]

R = TypeVar("R")


class RestClientError(RuntimeError):
    """The REST server answered with an error status (or could not be reached)."""

    def __init__(self, message: str, status: int | None = None,
                 errors: list[str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.errors = errors or []


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
    """Talks to the REST API at ``address`` (``host:port`` or ``http(s)://host:port``).

    ``configuration`` holds the client's security settings: HTTPS with
    ``security.ssl.rest.*`` (a bare ``host:port`` then means ``https://``) and the bearer
    token ``security.rest.token`` (else the ``STROM_REST_TOKEN`` environment variable)."""

    def __init__(self, address: str, timeout_s: float = 60.0,
                 configuration: Configuration | None = None) -> None:
        # ---- security: TLS and the token (strom.common.security)
        self._ssl = client_ssl_context(configuration)
        self._auth = auth_headers(configuration)
        if "://" not in address:
            address = f"{rest_scheme(configuration)}://{address}"
        parsed = urllib.parse.urlsplit(address)
        if parsed.scheme not in ("http", "https") or not parsed.hostname or not parsed.port:
            raise ValueError(
                f"A JobManager address is host:port (e.g. localhost:8081), got {address!r}.")
        self.base_url = f"{parsed.scheme}://{parsed.netloc}"
        self.timeout_s = timeout_s

    def send(self, spec: EndpointSpec[R], *, query: dict[str, str] | None = None,
             body: msgspec.Struct | None = None, files: dict[str, bytes] | None = None,
             **path_parameters: Any) -> R:
        url = self.base_url + spec.url(**path_parameters)
        if query:
            url += "?" + urllib.parse.urlencode(query)
        data: bytes | None = None
        headers = {"Accept": "application/json", **self._auth}
        if spec.multipart:
            assert body is not None, f"{spec.method} {spec.path} needs a request body"
            data, headers["Content-Type"] = _multipart(body, files or {})
        elif body is not None:
            data, headers["Content-Type"] = msgspec.json.encode(body), "application/json"
        request = urllib.request.Request(url, data=data, method=spec.method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s,
                                        context=self._ssl) as answer:
                payload = answer.read()
        except urllib.error.HTTPError as e:
            text = e.read()
            try:
                errors = msgspec.json.decode(text, type=ErrorResponse).errors
            except msgspec.DecodeError:
                errors = [text.decode(errors="replace") or str(e.reason)]
            raise RestClientError(
                f"{spec.method} {url} failed with {e.code}: {'; '.join(errors)}",
                e.code, errors) from None
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise RestClientError(
                f"Could not reach the JobManager's REST API at {self.base_url}: {reason}. "
                "Check that the cluster runs and -m names its rest.port (8081 by default); "
                "if it serves HTTPS (security.ssl.rest.enabled), give the client "
                "security.ssl.rest.enabled and security.ssl.rest.truststore too."
            ) from None
        try:
            return msgspec.json.decode(payload, type=spec.response)
        except msgspec.DecodeError as e:
            raise RestClientError(
                f"{spec.method} {url} answered with a body that is not a "
                f"{spec.response.__name__}: {e}.") from None
