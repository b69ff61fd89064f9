"""The web UI's routes on the REST server: its static files (``strom/webui``) at ``/``, and
the upload directory of web submit (:mod:`strom.jobmanager.rest.jar_handlers`).

The UI is plain HTML, CSS and JavaScript modules shipped as package data: no build step
and no network access at runtime. ``/`` answers ``index.html``; the pages route by the
URL's hash (``#/jobs/<id>``), so every page is that one document.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp import web

from strom.common.config_options_web import WEB_SUBMIT_ENABLE
from strom.common.configuration import Configuration
from strom.jobmanager.rest.jar_handlers import JarStore

__all__ = ["WEBUI_DIR", "add_webui_routes"]

#: the UI's files (package data)
WEBUI_DIR = Path(__file__).resolve().parent.parent.parent / "webui"

_CONTENT_TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css",
                  ".svg": "image/svg+xml", ".png": "image/png", ".ico": "image/x-icon"}


def add_webui_routes(app: web.Application, configuration: Configuration,
                     context: Any = None) -> None:
    """Serve the web UI at ``/`` (its assets ship in the package), and give ``context``
    (the handlers' :class:`~strom.jobmanager.rest.handlers.RestContext`) the web-submit
    store when ``web.submit.enable`` is on; the store's files go when the server stops."""
    files = {p.name: p for p in WEBUI_DIR.iterdir()
             if p.is_file() and p.suffix in _CONTENT_TYPES}

    async def asset(request: web.Request) -> web.StreamResponse:
        name = request.match_info.get("name", "") or "index.html"
        path = files.get(name)
        if path is None:
            raise web.HTTPNotFound()
        # no-cache: a new strom version's UI replaces the old one at once
        return web.FileResponse(path, headers={
            "Content-Type": _CONTENT_TYPES[path.suffix], "Cache-Control": "no-cache"})

    app.router.add_get("/", asset)
    app.router.add_get("/web/{name}", asset)

    if context is not None and configuration.get(WEB_SUBMIT_ENABLE):
        store = JarStore(configuration)
        context.jars = store

        async def close_store(app: web.Application) -> None:
            await store.close()

        app.on_cleanup.append(close_store)
