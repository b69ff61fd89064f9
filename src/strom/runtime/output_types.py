"""Checking that an operator's records match the output type declared for its stream.

strom carries records as Python objects, so a declared type (``output_type=`` of map,
``type_info=`` of a source) is not needed to serialize them, but it decides how they are
printed and encoded, and a record that does not match it would fail far from its cause.
The first batch an operator emits is checked record by record; after that, the first and
last record of each batch (a constant cost per batch, so the hot path stays fast).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from strom.common.typeinfo import TypeInformation

__all__ = ["FULLY_CHECKED_BATCHES", "checked_emit"]

#: how many batches of each operator are checked record by record
FULLY_CHECKED_BATCHES = 1

BatchEmit = Callable[[list[Any], "list[int] | None"], None]


def checked_emit(emit: BatchEmit, type_info: Any, operator_name: str) -> BatchEmit:
    """``emit``, after checking its records against ``type_info`` (unchanged when the type
    accepts any value)."""
    if (not isinstance(type_info, TypeInformation)
            or type(type_info).mismatch is TypeInformation.mismatch):
        return emit
    mismatch = type_info.mismatch
    remaining = FULLY_CHECKED_BATCHES

    def fail(value: Any, problem: str) -> TypeError:
        shown = repr(value)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        return TypeError(
            f"'{operator_name}' emitted the record {shown}, which does not match the output "
            f"type declared for its stream, {type_info!r}: {problem}. Return records of that "
            "type, or declare the type the function returns (output_type= / type_info=), or "
            "declare none."
        )

    def emit_checked(values: list[Any], timestamps: list[int] | None) -> None:
        nonlocal remaining
        if remaining:
            remaining -= 1
            sample: Any = values
        else:
            sample = (values[0], values[-1]) if values else ()
        for value in sample:
            problem = mismatch(value)
            if problem is not None:
                raise fail(value, problem)
        emit(values, timestamps)

    return emit_checked
