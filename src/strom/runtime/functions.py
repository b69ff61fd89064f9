"""Normalising user functions: function objects or plain callables, open/close hooks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from strom.datastream.functions import Function, RuntimeContext

__all__ = ["call_close", "call_open", "may_use_keyed_state", "user_callable"]


def user_callable(function: Any, method: str) -> Callable[..., Any]:
    """``function.<method>`` for a function object, or ``function`` itself for a callable."""
    if isinstance(function, Function):
        bound = getattr(function, method, None)
        if bound is None:
            raise TypeError(f"{type(function).__name__} has no method {method}()")
        return bound  # type: ignore[no-any-return]
    bound = getattr(function, method, None)
    if bound is not None and callable(bound):
        return bound  # type: ignore[no-any-return]
    if callable(function):
        return function  # type: ignore[no-any-return]
    raise TypeError(f"expected a function object with {method}() or a callable, got {function!r}")


def call_open(function: Any, runtime_context: RuntimeContext) -> None:
    if isinstance(function, Function):
        function.open(runtime_context)


def call_close(function: Any) -> None:
    if isinstance(function, Function):
        function.close()


def may_use_keyed_state(function: Any) -> bool:
    """True when ``function`` is handed the RuntimeContext (it overrides ``Function.open``), so
    it may read and write keyed state; plain callables and functions without their own
    ``open()`` never see the context."""
    return isinstance(function, Function) and type(function).open is not Function.open
