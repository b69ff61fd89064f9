"""Checks that make API misuse fail while the graph is built, with a message that says what
to do."""

from __future__ import annotations

from typing import Any

from strom.datastream.functions import Function

__all__ = ["PARALLELISM_DEFAULT", "check_function", "check_parallelism",
           "check_parallelism_or_default"]


def check_function(function: Any, expected: type, method: str, api: str) -> Any:
    """Accept an instance of ``expected`` or a plain callable; reject everything else."""
    if isinstance(function, expected):
        return function
    if isinstance(function, Function):
        raise TypeError(
            f"{api} expects a {expected.__name__} or a callable, got a "
            f"{type(function).__name__}. Implement {expected.__name__}.{method}() instead."
        )
    if isinstance(function, type):
        raise TypeError(
            f"{api} got the class {function.__name__}, not an instance: pass "
            f"{function.__name__}() instead."
        )
    if callable(function):
        return function
    raise TypeError(
        f"{api} expects a {expected.__name__} or a callable, got {function!r} "
        f"({type(function).__name__})."
    )


PARALLELISM_DEFAULT = -1
"""Flink's ``ExecutionConfig.PARALLELISM_DEFAULT``: "use the default parallelism"."""


def check_parallelism(value: Any, what: str = "parallelism") -> int:
    """A positive integer (max parallelism, the local default)."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"The {what} must be a positive integer, got {value!r}.")
    return value


def check_parallelism_or_default(value: Any) -> int:
    """A positive integer, or -1 for "use the default parallelism" (as Flink's
    ``setParallelism`` of the environment and of an operator accept)."""
    if (not isinstance(value, int) or isinstance(value, bool)
            or (value < 1 and value != PARALLELISM_DEFAULT)):
        raise ValueError(
            f"The parallelism must be a positive integer, or -1 to use the default "
            f"parallelism; got {value!r}."
        )
    return value
