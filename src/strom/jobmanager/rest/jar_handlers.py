"""Web submit: Flink's ``/jars`` API for Python job files.

``POST /jars/upload`` stores a ``.py`` file, ``GET /jars`` lists the stored files,
``DELETE /jars/:jarid`` removes one and ``POST /jars/:jarid/run`` runs one as
``strom run -m <this JobManager> -d`` would, in a subprocess, answering the id of the job it
submitted. Everything is guarded by ``web.submit.enable`` (Flink's key; true by default, as
in Flink); files go to ``web.upload.dir``, or to a temporary directory of the JobManager's
own that is removed when the REST server stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shlex
import shutil
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

from strom.common.config_options_web import WEB_SUBMIT_ENABLE, WEB_UPLOAD_DIR
from strom.common.configuration import Configuration
from strom.jobmanager.rest import jar_messages as jm
from strom.jobmanager.rest import messages as m
from strom.jobmanager.rest import specs
from strom.jobmanager.rest.specs import EndpointSpec
from strom.rpc.gateways import DispatcherGateway

__all__ = ["JAR_HANDLERS", "WEB_SUBMIT_ENABLE", "WEB_UPLOAD_DIR", "JarStore"]

#: how long a program may take to submit its first job
RUN_TIMEOUT_S = 300.0
#: how much of a failed program's output a 400 carries
MAX_ERROR_OUTPUT = 8000

_SUBMITTED = re.compile(rb"Job has been submitted with JobID ([0-9a-f]{32})")
#: configuration keys the program's REST client needs to reach this server
_CLIENT_KEY_PREFIXES = ("security.ssl.rest.",)
#: the REST token's key and the environment variable clients read it from
_REST_TOKEN_KEY = "security.rest.token"
_REST_TOKEN_ENV = "STROM_REST_TOKEN"
_JAR_ID = re.compile(r"[0-9a-f]{32}_[^/\\]+\.py")


class JarStore:
    """The uploaded files and the programs running from them; one per REST server.

    ``rest_url`` is the address the programs submit to (set once the server listens).
    ``close()`` stops the programs still running and removes a temporary directory.
    """

    def __init__(self, configuration: Configuration) -> None:
        self.configuration = configuration
        configured = configuration.get(WEB_UPLOAD_DIR)
        self._configured = Path(configured) if configured else None
        self._directory: Path | None = None
        self.rest_url = ""
        #: programs that submitted a job and go on running (their outputs are drained)
        self._programs: set[asyncio.Task[None]] = set()

    @property
    def directory(self) -> Path:
        if self._directory is None:
            if self._configured is not None:
                self._configured.mkdir(parents=True, exist_ok=True)
                self._directory = self._configured
            else:
                self._directory = Path(tempfile.mkdtemp(prefix="strom-web-upload-"))
        return self._directory

    def upload(self, name: str, data: bytes) -> Path:
        base = Path(name).name
        if not base.endswith(".py") or base == ".py":
            raise RestError(400, f"Web submit takes a Python job file (*.py), got {name!r}. "
                                 "Upload the program's .py file in the 'jarfile' part.")
        path = self.directory / f"{uuid.uuid4().hex}_{base}"
        path.write_bytes(data)
        return path

    def path(self, jar_id: str) -> Path:
        if not _JAR_ID.fullmatch(jar_id):
            raise RestError(400, f"Bad jar id {jar_id!r}: it is the file name /jars/upload "
                                 "answered (<32 hex digits>_<name>.py); GET /jars lists them.")
        path = self.directory / jar_id
        if not path.is_file():
            raise RestError(400, f"File {jar_id} does not exist in the upload directory; "
                                 "GET /jars lists the uploaded files.")
        return path

    def listing(self) -> jm.JarListInfo:
        files = []
        for path in sorted(self.directory.iterdir(), key=lambda p: p.stat().st_mtime,
                           reverse=True):
            if _JAR_ID.fullmatch(path.name):
                name = path.name.split("_", 1)[1]
                files.append(jm.JarFileInfo(
                    id=path.name, name=name, uploaded=int(path.stat().st_mtime * 1000),
                    entry=[jm.JarEntryInfo(name)]))
        return jm.JarListInfo(address=self.rest_url, files=files)

    def delete(self, jar_id: str) -> None:
        self.path(jar_id).unlink()

    def command(self, path: Path, body: jm.JarRunRequest) -> list[str]:
        """``strom run -m <this JobManager> -d ...`` for ``path`` with ``body``'s options."""
        address = self.rest_url.split("://", 1)[-1]
        host, _, port = address.rpartition(":")
        if host in ("0.0.0.0", "::", "[::]", ""):
            address = f"127.0.0.1:{port}"
        command = [sys.executable, "-m", "strom.cli.main", "run", "-m", address, "-d"]
        # the program reaches this REST server as its clients do: REST TLS as configured here
        for key in sorted(self.configuration.key_set()):
            if key.startswith(_CLIENT_KEY_PREFIXES):
                command += ["-D", f"{key}={self.configuration.get_string(key, '')}"]
        if body.parallelism is not None and body.parallelism > 0:
            command += ["-p", str(body.parallelism)]
        if body.savepoint_path:
            command += ["-s", body.savepoint_path]
            if body.allow_non_restored_state:
                command.append("-n")
        if body.program_args_list is not None:
            args = list(body.program_args_list)
        else:
            args = shlex.split(body.program_args or "")
        return [*command, str(path), *args]

    def environment(self) -> dict[str, str]:
        """This process's environment, plus the REST token (security.rest.token) in the
        variable REST clients read it from, so that it never shows in a process list."""
        environment = dict(os.environ)
        token = self.configuration.get_string(_REST_TOKEN_KEY, "")
        if token:
            environment[_REST_TOKEN_ENV] = token
        return environment

    async def run(self, jar_id: str, body: jm.JarRunRequest) -> str:
        """Run the program; answer the first job id it submits, or raise a 400 with its
        output when it ends (or times out) without submitting one."""
        path = self.path(jar_id)
        if body.parallelism is not None and body.parallelism < 1 and body.parallelism != -1:
            raise RestError(400, f"parallelism must be a positive number, got "
                                 f"{body.parallelism}; leave it out for the program's own.")
        process = await asyncio.create_subprocess_exec(
            *self.command(path, body), cwd=str(self.directory), env=self.environment(),
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE)
        assert process.stdout is not None and process.stderr is not None
        stdout = bytearray()
        stderr_reader = asyncio.ensure_future(process.stderr.read())
        job_id: str | None = None
        try:
            async with asyncio.timeout(RUN_TIMEOUT_S):
                while job_id is None:
                    try:
                        line = await process.stdout.readline()
                    except ValueError:  # a line past the reader's limit: take a piece
                        line = await process.stdout.read(65536)
                    if not line:
                        break
                    stdout += line
                    found = _SUBMITTED.search(line)
                    if found:
                        job_id = found.group(1).decode()
        except TimeoutError:
            process.kill()
        except BaseException:
            # the request was cancelled (the client went away): the program goes too
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            stderr_reader.cancel()
            raise
        if job_id is not None:
            self._keep(process, stderr_reader)
            return job_id
        await process.wait()
        stderr = await stderr_reader
        output = (bytes(stdout) + stderr).decode(errors="replace")[-MAX_ERROR_OUTPUT:]
        what = (f"did not submit a job within {RUN_TIMEOUT_S:.0f} s and was stopped"
                if process.returncode == -9 else
                f"ended (exit code {process.returncode}) without submitting a job")
        raise RestError(400, f"The program {path.name.split('_', 1)[1]} {what}. Its "
                             f"output:\n{output}")

    def _keep(self, process: asyncio.subprocess.Process,
              stderr_reader: asyncio.Future[bytes]) -> None:
        async def drain() -> None:
            assert process.stdout is not None
            try:
                while await process.stdout.read(65536):
                    pass
                await stderr_reader
                await process.wait()
            except asyncio.CancelledError:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
                raise

        task = asyncio.ensure_future(drain())
        self._programs.add(task)
        task.add_done_callback(self._programs.discard)

    async def close(self) -> None:
        for task in list(self._programs):
            task.cancel()
        await asyncio.gather(*self._programs, return_exceptions=True)
        if self._directory is not None and self._configured is None:
            shutil.rmtree(self._directory, ignore_errors=True)
        self._directory = None


class RestError(Exception):
    """Raised by the store; the handlers turn it into a :class:`RestHandlerError`."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _store(request: base.RestRequest) -> JarStore:
    context = request.context
    store = getattr(context, "jars", None)
    configuration = context.configuration if context is not None else Configuration()
    if not configuration.get(WEB_SUBMIT_ENABLE):
        raise base.RestHandlerError(
            404, "Web submit is disabled on this cluster (web.submit.enable: false); submit "
                 "with 'strom run -m <host:port>', or set web.submit.enable: true.")
    if store is None:
        raise base.RestHandlerError(
            404, "Web submit is not available on this REST server (it has no upload "
                 "directory); submit with 'strom run -m <host:port>'.")
    assert isinstance(store, JarStore)
    return store


def _raising(error: RestError) -> base.RestHandlerError:
    return base.RestHandlerError(error.status, error.message)


async def upload_jar(gateway: DispatcherGateway, request: base.RestRequest
                     ) -> jm.JarUploadResponse:
    store = _store(request)
    if len(request.files) != 1:
        raise base.RestHandlerError(
            400, f"POST /jars/upload takes one file part ('jarfile', a .py file), got "
                 f"{len(request.files)}: {sorted(request.files) or 'none'}.")
    [(name, data)] = request.files.items()
    try:
        return jm.JarUploadResponse(filename=str(store.upload(name, data)))
    except RestError as e:
        raise _raising(e) from None


async def list_jars(gateway: DispatcherGateway, request: base.RestRequest) -> jm.JarListInfo:
    return _store(request).listing()


async def delete_jar(gateway: DispatcherGateway, request: base.RestRequest) -> m.EmptyResponse:
    try:
        _store(request).delete(request.path_parameters["jarid"])
    except RestError as e:
        raise _raising(e) from None
    return m.EmptyResponse()


async def run_jar(gateway: DispatcherGateway, request: base.RestRequest) -> jm.JarRunResponse:
    store = _store(request)
    body = request.body if request.body is not None else jm.JarRunRequest()
    try:
        return jm.JarRunResponse(await store.run(request.path_parameters["jarid"], body))
    except RestError as e:
        raise _raising(e) from None


#: which handler answers which web-submit spec
JAR_HANDLERS: dict[EndpointSpec[Any], Any] = {
    specs.JAR_UPLOAD: upload_jar,
    specs.JAR_LIST: list_jars,
    specs.JAR_DELETE: delete_jar,
    specs.JAR_RUN: run_jar,
}

from strom.jobmanager.rest import handlers as base  # noqa: E402
