"""Turning user-given paths (plain paths or ``file://`` URLs) into local filesystem paths."""

from __future__ import annotations

import os
from urllib.parse import unquote, urlsplit

__all__ = ["is_hidden", "to_local_path"]


def to_local_path(path: str | os.PathLike[str], what: str) -> str:
    """The absolute local path for ``path`` (``/a/b``, ``a/b``, ``file:///a/b``, ``file:/a/b``).

    ``what`` names the argument in error messages. Other URL schemes are refused: only
    the local filesystem is supported by the built-in file connectors.
    """
    text = os.fspath(path)
    if not isinstance(text, str):
        raise TypeError(f"{what} must be a str or os.PathLike[str], got {path!r}")
    if not text:
        raise ValueError(f"{what} must not be empty")
    parts = urlsplit(text)
    # A one-letter scheme is a Windows drive ("C:\\data"), not a URL.
    if parts.scheme and len(parts.scheme) > 1:
        if parts.scheme != "file":
            raise ValueError(
                f"{what} {text!r} uses the scheme {parts.scheme!r}; the built-in file "
                "connectors read and write the local filesystem only: give a plain path "
                "or a file:// URL"
            )
        if parts.netloc not in ("", "localhost"):
            raise ValueError(
                f"{what} {text!r} names the host {parts.netloc!r}; file:// URLs must be "
                "local (file:///path or file:/path)"
            )
        text = unquote(parts.path)
    return os.path.abspath(text)


def is_hidden(name: str) -> bool:
    """Flink's default file filter: names starting with ``.`` or ``_`` are skipped."""
    return name.startswith((".", "_"))
