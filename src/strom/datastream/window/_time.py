"""Turning the durations users pass (``Time``, ``Duration`` or plain milliseconds) into ms."""

from __future__ import annotations

from typing import Any

__all__ = ["to_millis"]


def to_millis(value: Any, what: str) -> int:
    """``value`` in milliseconds: a :class:`~strom.common.time.Time` or
    :class:`~strom.common.time.Duration` (anything with ``to_milliseconds()``), or an ``int``
    that already is milliseconds. ``what`` names the argument in the error message."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    to_ms = getattr(value, "to_milliseconds", None)
    if callable(to_ms):
        millis = to_ms()
        if isinstance(millis, int) and not isinstance(millis, bool):
            return millis
    raise TypeError(
        f"{what} must be a Time (e.g. Time.milliseconds(5)), a Duration or an int of "
        f"milliseconds, got {value!r} of type {type(value).__name__}"
    )
