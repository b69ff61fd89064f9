"""Internal window functions: adapt the user's window functions to one shape for the window
operator.

An :class:`InternalWindowFunction` names the state that holds a window's contents (a list of
elements, or one incrementally reduced/aggregated value) and turns fired contents into output
values. Build one with :func:`reduce_window_function`, :func:`aggregate_window_function` or
:func:`iterable_window_function`; pass ``keyed=False`` for ``window_all`` streams.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from typing import Any

from strom.datastream.functions import (
    AggregateFunction,
    AllWindowFunction,
    Function,
    ProcessAllWindowFunction,
    ProcessWindowFunction,
    ReduceFunction,
    RuntimeContext,
    WindowFunction,
)
from strom.datastream.state import (
    AggregatingStateDescriptor,
    ListStateDescriptor,
    ReducingStateDescriptor,
    StateDescriptor,
)

__all__ = [
    "WINDOW_CONTENTS_STATE_NAME",
    "InternalWindowContext",
    "InternalWindowFunction",
    "aggregate_window_function",
    "iterable_window_function",
    "reduce_window_function",
]

WINDOW_CONTENTS_STATE_NAME = "window-contents"


class InternalWindowContext(ProcessWindowFunction.Context, ProcessAllWindowFunction.Context):
    """The context handed to process window functions; the operator points it at the window
    being evaluated before each call."""


class InternalWindowFunction(ABC):
    """The window operator's view of the user's window function.

    ``state_descriptor`` names the keyed state (namespaced by window) holding each window's
    contents; ``single_value`` says whether that state holds one pre-aggregated value (reducing
    or aggregating state) rather than the list of elements.
    """

    def __init__(self, state_descriptor: StateDescriptor, single_value: bool,
                 functions: tuple[Any, ...]) -> None:
        self.state_descriptor = state_descriptor
        self.single_value = single_value
        self._functions = tuple(f for f in functions if isinstance(f, Function))

    def open(self, runtime_context: RuntimeContext) -> None:
        """Open the user functions (reduce/aggregate function first, then the window function)."""
        for function in self._functions:
            function.open(runtime_context)

    def close(self) -> None:
        for function in self._functions:
            function.close()

    @abstractmethod
    def process(self, key: Any, window: Any, ctx: InternalWindowContext, contents: Any
                ) -> Iterable[Any] | None:
        """The outputs for one fire of ``window``; ``contents`` is the list of elements or the
        single pre-aggregated value. ``ctx`` already points at ``window``."""

    def clear(self, window: Any, ctx: InternalWindowContext) -> None:
        """Called when ``window`` is cleaned up (``ctx`` points at it)."""
        return None

    @property
    def needs_clear(self) -> bool:
        """Whether :meth:`clear` does anything (the user's window function overrides
        ``clear``); the operator skips the call per (key, window) otherwise."""
        return False


class _PassThrough(InternalWindowFunction):
    """reduce/aggregate without a window function: the pre-aggregated value is the output."""

    def process(self, key: Any, window: Any, ctx: InternalWindowContext, contents: Any
                ) -> Iterable[Any]:
        return (contents,)


class _Apply(InternalWindowFunction):
    def __init__(self, state_descriptor: StateDescriptor, single_value: bool,
                 functions: tuple[Any, ...], apply: Callable[..., Any]
                 ) -> None:
        super().__init__(state_descriptor, single_value, functions)
        self._apply = apply

    def process(self, key: Any, window: Any, ctx: InternalWindowContext, contents: Any
                ) -> Iterable[Any] | None:
        return self._apply(key, window, (contents,) if self.single_value else contents)


class _ApplyAll(_Apply):
    def process(self, key: Any, window: Any, ctx: InternalWindowContext, contents: Any
                ) -> Iterable[Any] | None:
        return self._apply(window, (contents,) if self.single_value else contents)


class _Process(InternalWindowFunction):
    def __init__(self, state_descriptor: StateDescriptor, single_value: bool,
                 functions: tuple[Any, ...], function: ProcessWindowFunction[Any, Any, Any, Any]
                 ) -> None:
        super().__init__(state_descriptor, single_value, functions)
        self._function = function

    def process(self, key: Any, window: Any, ctx: InternalWindowContext, contents: Any
                ) -> Iterable[Any] | None:
        return self._function.process(key, ctx, (contents,) if self.single_value else contents)

    def clear(self, window: Any, ctx: InternalWindowContext) -> None:
        self._function.clear(ctx)

    @property
    def needs_clear(self) -> bool:
        return type(self._function).clear is not ProcessWindowFunction.clear


class _ProcessAll(InternalWindowFunction):
    def __init__(self, state_descriptor: StateDescriptor, single_value: bool,
                 functions: tuple[Any, ...], function: ProcessAllWindowFunction[Any, Any, Any]
                 ) -> None:
        super().__init__(state_descriptor, single_value, functions)
        self._function = function

    def process(self, key: Any, window: Any, ctx: InternalWindowContext, contents: Any
                ) -> Iterable[Any] | None:
        return self._function.process(ctx, (contents,) if self.single_value else contents)

    def clear(self, window: Any, ctx: InternalWindowContext) -> None:
        self._function.clear(ctx)

    @property
    def needs_clear(self) -> bool:
        return type(self._function).clear is not ProcessAllWindowFunction.clear


def _wrap_window_function(window_function: Any, keyed: bool, descriptor: StateDescriptor,
                          single_value: bool, functions: tuple[Any, ...]
                          ) -> InternalWindowFunction:
    everything = (*functions, window_function)
    if isinstance(window_function, ProcessWindowFunction):
        _require_keyed(window_function, keyed)
        return _Process(descriptor, single_value, everything, window_function)
    if isinstance(window_function, WindowFunction):
        _require_keyed(window_function, keyed)
        return _Apply(descriptor, single_value, everything, window_function.apply)
    if isinstance(window_function, ProcessAllWindowFunction):
        _require_all(window_function, keyed)
        return _ProcessAll(descriptor, single_value, everything, window_function)
    if isinstance(window_function, AllWindowFunction):
        _require_all(window_function, keyed)
        return _ApplyAll(descriptor, single_value, everything, window_function.apply)
    if callable(window_function):
        if keyed:
            return _Apply(descriptor, single_value, everything, window_function)
        return _ApplyAll(descriptor, single_value, everything, window_function)
    expected = ("a WindowFunction, a ProcessWindowFunction or a callable (key, window, inputs)"
                if keyed else
                "an AllWindowFunction, a ProcessAllWindowFunction or a callable (window, inputs)")
    raise TypeError(f"window function must be {expected}, got {type(window_function).__name__}")


def _require_keyed(function: Any, keyed: bool) -> None:
    if not keyed:
        raise TypeError(
            f"{type(function).__name__} is a keyed window function; a window_all stream needs "
            "an AllWindowFunction or a ProcessAllWindowFunction"
        )


def _require_all(function: Any, keyed: bool) -> None:
    if keyed:
        raise TypeError(
            f"{type(function).__name__} is an all-window function; a keyed window stream needs "
            "a WindowFunction or a ProcessWindowFunction"
        )


def reduce_window_function(reduce_function: Any, window_function: Any = None, *,
                           keyed: bool = True, type_info: Any = None) -> InternalWindowFunction:
    """Incremental reduce: each window keeps one value in reducing state; when it fires the
    value is emitted as is, or handed (as a one-element iterable) to ``window_function``.

    ``reduce_function`` is a :class:`ReduceFunction` or a callable ``(a, b) -> c``;
    ``type_info`` is the element type, kept on the state descriptor.
    """
    if not (isinstance(reduce_function, ReduceFunction) or callable(reduce_function)):
        raise TypeError(
            "reduce needs a ReduceFunction or a callable (value1, value2) -> value, got "
            f"{type(reduce_function).__name__}"
        )
    descriptor = ReducingStateDescriptor(WINDOW_CONTENTS_STATE_NAME, reduce_function, type_info)
    reducer = descriptor.get_reduce_function()
    if window_function is None:
        return _PassThrough(descriptor, True, (reducer,))
    return _wrap_window_function(window_function, keyed, descriptor, True, (reducer,))


def aggregate_window_function(aggregate_function: AggregateFunction[Any, Any, Any],
                              window_function: Any = None, *, keyed: bool = True,
                              accumulator_type: Any = None) -> InternalWindowFunction:
    """Incremental aggregate: each window keeps one accumulator in aggregating state; when it
    fires ``get_result(acc)`` is emitted as is, or handed (as a one-element iterable) to
    ``window_function``. Session windows also need ``aggregate_function.merge``."""
    if not isinstance(aggregate_function, AggregateFunction):
        raise TypeError(
            "aggregate needs an AggregateFunction (create_accumulator, add, get_result, merge), "
            f"got {type(aggregate_function).__name__}"
        )
    descriptor = AggregatingStateDescriptor(
        WINDOW_CONTENTS_STATE_NAME, aggregate_function, accumulator_type
    )
    if window_function is None:
        return _PassThrough(descriptor, True, (aggregate_function,))
    return _wrap_window_function(window_function, keyed, descriptor, True, (aggregate_function,))


def iterable_window_function(window_function: Any, *, keyed: bool = True,
                             type_info: Any = None) -> InternalWindowFunction:
    """``apply``/``process``: each window buffers its elements in list state, and the window
    function gets them all when the window fires. ``type_info`` is the element type."""
    descriptor = ListStateDescriptor(WINDOW_CONTENTS_STATE_NAME, type_info)
    return _wrap_window_function(window_function, keyed, descriptor, False, ())
