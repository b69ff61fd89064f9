"""The JobManager's REST endpoint: aiohttp on the RPC loop, routed by the endpoint specs.

Every spec of :mod:`strom.jobmanager.rest.specs` is served at its path and under ``/v1``;
its handler (:mod:`strom.jobmanager.rest.handlers`) calls only the ``DispatcherGateway``.
``GET /v1/openapi.json`` serves the OpenAPI document. Errors are Flink's
``{"errors": [...]}`` with 400 (a bad request, with what was wrong), 404 (unknown job or
path), 405 (a method the path does not take), 409 (a job id submitted twice) or 500 (with
the cause); a bad request never stops the server.

Security (:mod:`strom.common.security`): with ``security.ssl.rest.enabled`` the server
speaks HTTPS only; with ``security.rest.token`` every request but the web UI's own pages
and assets must carry ``Authorization: Bearer <token>``, else it gets 401 with Flink's
error body and a ``WWW-Authenticate`` header.

High availability (:mod:`strom.jobmanager.rest.standby`): given a ``leadership``, a server
whose JobManager does not lead answers every request but the web UI's files with a 307 to
the leader's REST endpoint, or 503 while no leader is known.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import msgspec
from aiohttp import web
from aiohttp.web_request import FileField

from strom.common.config_options import REST_PORT
from strom.common.config_options_security import REST_TOKEN
from strom.common.configuration import Configuration
from strom.common.process_files import process_log_file
from strom.common.security import rest_server_ssl_context, token_accepted
from strom.jobmanager.rest import messages as m
from strom.jobmanager.rest.handlers import (
    HANDLERS,
    Handler,
    RestContext,
    RestHandlerError,
    RestRequest,
)
from strom.jobmanager.rest.openapi import openapi_document
from strom.jobmanager.rest.specs import EndpointSpec
from strom.jobmanager.rest.standby import RestLeadership, standby_response
from strom.jobmanager.rest.webui import add_webui_routes
from strom.rpc.gateways import DispatcherGateway
from strom.rpc.service import RpcService

__all__ = ["RestServer", "RunningRestServer", "routing_order", "serve_rest"]

log = logging.getLogger(__name__)

#: the largest request body (a job's graph and files): 256 MiB
MAX_REQUEST_BYTES = 256 * 1024 * 1024


#: path parameters that only match their id's form, so that a fixed path beside them
#: (``/jobs/:jobid/checkpoints/config``) is not taken for one
_PARAMETER_PATTERNS = {"triggerid": "[0-9a-fA-F]{32}"}


def _aiohttp_path(path: str) -> str:
    def parameter(name: str) -> str:
        pattern = _PARAMETER_PATTERNS.get(name)
        return f"{{{name}:{pattern}}}" if pattern else f"{{{name}}}"

    return "/".join(parameter(p[1:]) if p.startswith(":") else p for p in path.split("/"))


def _error(status: int, *errors: str) -> web.Response:
    return web.Response(status=status, body=msgspec.json.encode(m.ErrorResponse(list(errors))),
                        content_type="application/json")


def _is_not_found(error: BaseException) -> bool:
    """An unknown job, a job that has ended, an unknown operator coordinator, TaskManager
    or log file, a process without a log file."""
    from strom.common.process_files import LogFileError, NoLogFileError
    from strom.jobmanager.dispatcher import (
        JobEndedError,
        UnknownJobError,
        UnknownTaskManagerError,
    )
    from strom.jobmanager.jobmaster import UnknownOperatorError
    from strom.jobmanager.savepoints import UnknownOperationError

    return isinstance(error, UnknownJobError | JobEndedError | UnknownOperatorError
                      | UnknownOperationError | UnknownTaskManagerError | LogFileError
                      | NoLogFileError)


def _is_conflict(error: BaseException) -> bool:
    from strom.jobmanager.dispatcher import ClusterShutdownUnsupportedError

    return isinstance(error, ClusterShutdownUnsupportedError)


def routing_order(path: str) -> list[int]:
    """Sorts fixed path segments before parameters at the same place (``/jobs/metrics``
    before ``/jobs/:jobid``), so that a fixed path is not taken for a parameter."""
    return [1 if part.startswith(":") else 0 for part in path.split("/")]


def _is_duplicate(error: BaseException) -> bool:
    from strom.jobmanager.dispatcher import DuplicateJobSubmissionError

    return isinstance(error, DuplicateJobSubmissionError)


class RestServer:
    """Serves the REST API for the Dispatcher at ``dispatcher_address``.

    ``start()`` and ``stop()`` run on the RPC service's loop; ``port`` 0 picks a free port,
    and :attr:`port` is the one bound after ``start()``.
    """

    def __init__(self, dispatcher: DispatcherGateway, host: str = "127.0.0.1",
                 port: int = 8081, configuration: Configuration | None = None,
                 metric_fetcher: Any = None, leadership: RestLeadership | None = None) -> None:
        self.dispatcher = dispatcher
        self.host = host
        self.requested_port = port
        #: the JobManager's configuration (web.*, security.*, rest.* keys)
        self.configuration = configuration if configuration is not None else Configuration()
        #: fills the metric store the metric handlers read
        #: (:class:`strom.jobmanager.metrics.fetcher.MetricFetcher`); None: no metrics
        self.metric_fetcher = metric_fetcher
        self._context = RestContext(self.configuration, metric_fetcher)
        self.port: int | None = None
        self._runner: web.AppRunner | None = None
        # ---- security
        self.scheme = "http"
        self._token = self.configuration.get(REST_TOKEN) or None
        #: the web UI's routes: its pages and assets load without the token
        self._webui_routes: set[Any] = set()
        #: whether this JobManager leads (None: it always does; no high availability)
        self.leadership = leadership

    @property
    def context(self) -> RestContext:
        """What every handler's request carries: configuration, metric fetcher, log file."""
        return self._context

    @staticmethod
    def from_configuration(dispatcher: DispatcherGateway, configuration: Configuration,
                           metric_fetcher: Any = None,
                           leadership: RestLeadership | None = None) -> RestServer:
        """Bound as Flink binds it: ``rest.bind-address`` (default 127.0.0.1) and
        ``rest.bind-port``, else ``rest.port`` (8081; 0 picks a free port)."""
        host = configuration.get_string("rest.bind-address", "") or "127.0.0.1"
        bind_port = configuration.get_string("rest.bind-port", "")
        if bind_port:
            try:
                port = int(bind_port)
            except ValueError:
                raise ValueError(
                    f"rest.bind-port must be a port number, got {bind_port!r} (a range such "
                    "as 50100-50200 is not supported).") from None
        else:
            configured = configuration.get(REST_PORT)
            port = 8081 if configured is None else configured
        return RestServer(dispatcher, host, port, configuration, metric_fetcher, leadership)

    @property
    def url(self) -> str:
        """``http(s)://host:port`` (after ``start()``)."""
        assert self.port is not None, "start() the REST server first"
        return f"{self.scheme}://{self.host}:{self.port}"

    def _application(self) -> web.Application:
        middlewares = [self._authenticate] if self._token else []
        if self.leadership is not None:
            middlewares.append(self._follow_leader)
        app = web.Application(middlewares=[*middlewares, self._errors],
                              client_max_size=MAX_REQUEST_BYTES)
        document = msgspec.json.encode(openapi_document())

        async def openapi(request: web.Request) -> web.Response:
            return web.Response(body=document, content_type="application/json")

        for prefix in ("", "/v1"):
            app.router.add_get(prefix + "/openapi.json", openapi)
            for spec, handler in sorted(HANDLERS.items(),
                                        key=lambda item: (routing_order(item[0].path),
                                                         item[0].path)):
                app.router.add_route(spec.method, prefix + _aiohttp_path(spec.path),
                                     self._route(spec, handler))
        before = set(app.router.routes())
        add_webui_routes(app, self.configuration, self.context)
        self._webui_routes = set(app.router.routes()) - before
        return app

    def _is_webui_file(self, request: web.Request) -> bool:
        """The UI's own pages and assets (not web submit's ``/jars``)."""
        return (request.method in ("GET", "HEAD")
                and request.match_info.route in self._webui_routes
                and not request.path.startswith("/jars"))

    @web.middleware
    async def _follow_leader(self, request: web.Request, handler: Any) -> web.StreamResponse:
        """High availability: a standby sends requests to the leader (307, or 503)."""
        assert self.leadership is not None
        if self.leadership.leading or self._is_webui_file(request):
            return await handler(request)
        return standby_response(self.leadership, request)

    @web.middleware
    async def _authenticate(self, request: web.Request, handler: Any) -> web.StreamResponse:
        """``security.rest.token``: 401 for a request without the right bearer token."""
        assert self._token is not None
        if self._is_webui_file(request):
            return await handler(request)  # the UI's page asks for the token itself
        if token_accepted(self._token, request.headers.get("Authorization")):
            return await handler(request)
        given = "a wrong token" if request.headers.get("Authorization") else "none"
        response = _error(401, f"{request.method} {request.path} needs the REST token "
                               f"(security.rest.token) as 'Authorization: Bearer <token>'; got "
                               f"{given}. Clients read it from security.rest.token or the "
                               "STROM_REST_TOKEN environment variable.")
        response.headers["WWW-Authenticate"] = 'Bearer realm="strom"'
        return response

    @web.middleware
    async def _errors(self, request: web.Request, handler: Any) -> web.StreamResponse:
        try:
            response: web.StreamResponse = await handler(request)
            return response
        except RestHandlerError as e:
            return _error(e.status, e.message)
        except web.HTTPException as e:
            if e.status == 404:
                return _error(404, f"Not found: {request.method} {request.path}. The REST "
                                   "paths are listed at /v1/openapi.json.")
            if e.status == 405:
                allowed = sorted(getattr(e, "allowed_methods", ()) or ())
                return _error(405, f"{request.method} is not allowed on {request.path}; "
                                   f"allowed: {', '.join(allowed)}.")
            return _error(e.status, e.reason or str(e))
        except asyncio.CancelledError:
            raise
        except Exception as e:
            if _is_not_found(e):
                return _error(404, str(e))
            if _is_duplicate(e) or _is_conflict(e):
                return _error(409, str(e))
            log.exception("REST handler for %s %s failed", request.method, request.path)
            return _error(500, f"Internal server error: {type(e).__name__}: {e}")

    def _route(self, spec: EndpointSpec[Any], handler: Handler) -> Any:
        async def serve(request: web.Request) -> web.Response:
            parsed = RestRequest(path_parameters=dict(request.match_info),
                                 query=dict(request.query), context=self._context)
            if spec.multipart:
                await self._read_multipart(request, spec, parsed)
            elif spec.request is not None:
                parsed.body = self._decode(await request.read(), spec.request, "body")
            response = await handler(self.dispatcher, parsed)
            if spec.content_type == "text/plain":
                return web.Response(status=spec.status, text=response, charset="utf-8",
                                    content_type="text/plain")
            return web.Response(status=spec.status, body=msgspec.json.encode(response),
                                content_type="application/json")

        return serve

    @staticmethod
    def _decode(data: bytes | bytearray | str, kind: type, what: str) -> Any:
        try:
            return msgspec.json.decode(data, type=kind)
        except msgspec.DecodeError as e:
            raise RestHandlerError(
                400, f"Bad request {what}: {e}. It must be a JSON {kind.__name__}; see "
                     "/v1/openapi.json.") from None

    async def _read_multipart(self, request: web.Request, spec: EndpointSpec[Any],
                              parsed: RestRequest) -> None:
        if not request.content_type.startswith("multipart/"):
            raise RestHandlerError(
                400, f"{spec.method} {spec.path} takes multipart/form-data (a 'request' part "
                     f"and file parts), got Content-Type {request.content_type!r}.")
        try:
            form = await request.post()
        except web.HTTPException:
            raise
        except Exception as e:
            raise RestHandlerError(400, f"Malformed multipart body: {type(e).__name__}: "
                                        f"{e}.") from None
        for name, value in form.items():
            if name == "request":
                assert spec.request is not None
                text = value.file.read() if isinstance(value, FileField) else value
                parsed.body = self._decode(text, spec.request, "part 'request'")
            elif isinstance(value, FileField):
                parsed.files[value.filename or name] = value.file.read()
        if parsed.body is None and spec.request is not None:
            raise RestHandlerError(
                400, f"The multipart body has no 'request' part with the "
                     f"{getattr(spec.request, '__name__', 'request')} JSON; parts received: "
                     f"{sorted(form) or 'none'}.")

    async def start(self) -> None:
        ssl_context = rest_server_ssl_context(self.configuration)  # bad files fail here
        self.scheme = "https" if ssl_context is not None else "http"
        self._runner = web.AppRunner(self._application(), access_log=None,
                                     handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.requested_port,
                           ssl_context=ssl_context)
        try:
            await site.start()
        except OSError as e:
            await self._runner.cleanup()
            self._runner = None
            raise OSError(
                f"The REST server cannot listen on {self.host}:{self.requested_port}: {e}. "
                "Set rest.port (or rest.bind-port) to a free port, or 0 for any.") from e
        self.port = self._runner.addresses[0][1]
        if self._context.jars is not None:
            self._context.jars.rest_url = self.url

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()


class RunningRestServer:
    """A started :class:`RestServer` seen from outside the RPC loop: ``url`` and a blocking
    ``stop()``, as a JobManager process holds it."""

    def __init__(self, rpc: RpcService, server: RestServer) -> None:
        self._rpc = rpc
        self.server = server

    @property
    def url(self) -> str:
        return self.server.url

    def stop(self) -> None:
        self._rpc.run_sync(self.server.stop(), timeout=30)


def serve_rest(rpc: RpcService, dispatcher_address: str,
               configuration: Configuration, metric_fetcher: Any = None,
               leadership: RestLeadership | None = None) -> RunningRestServer:
    """Start the REST API of the Dispatcher at ``dispatcher_address`` on ``rpc``'s loop,
    bound as ``configuration`` says (:meth:`RestServer.from_configuration`), its metric
    handlers reading ``metric_fetcher``'s store, sending requests to the leader while
    ``leadership`` says this JobManager stands by; what a JobManager process calls."""
    server = RestServer.from_configuration(rpc.connect(dispatcher_address, DispatcherGateway),
                                           configuration, metric_fetcher, leadership)
    # the JobManager process serves its own log (/jobmanager/log)
    server.context.log_file = process_log_file()
    rpc.run_sync(server.start(), timeout=30)
    return RunningRestServer(rpc, server)
