"""The web UI's routes on the REST server: its static files (``strom/webui``) at ``/``."""

from __future__ import annotations

from aiohttp import web

from strom.common.configuration import Configuration

__all__ = ["add_webui_routes"]


def add_webui_routes(app: web.Application, configuration: Configuration) -> None:
    """Serve the web UI at ``/`` (its assets ship in the package)."""
