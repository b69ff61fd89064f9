"""Which operator a user exception came from: the note a failed task's error carries."""

from __future__ import annotations

__all__ = ["attribute_failure"]


def attribute_failure(error: BaseException, operator_name: str) -> None:
    """Remember the innermost operator a user exception passed through."""
    if getattr(error, "__strom_operator__", None) is None:
        try:
            error.__strom_operator__ = operator_name  # type: ignore[attr-defined]
        except AttributeError:
            pass
