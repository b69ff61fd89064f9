"""Turning an operator spec (data, from the JobGraph) into a fresh operator."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from strom.graph import operator_specs as specs
from strom.runtime.operators.base import StreamOperator
from strom.runtime.operators.keyed import (
    KeyedCoOperator,
    KeyedFilterOperator,
    KeyedFlatMapOperator,
    KeyedMapOperator,
    KeyedProcessOperator,
    KeyedReduceOperator,
)
from strom.runtime.operators.sink import (
    CollectSinkOperator,
    PrintSinkOperator,
    SinkFunctionOperator,
    SinkWriterOperator,
)
from strom.runtime.operators.source import SourceOperator, TimestampsAndWatermarksOperator
from strom.runtime.operators.stateless import (
    CoFlatMapOperator,
    CoMapOperator,
    CoProcessOperator,
    FilterOperator,
    FlatMapOperator,
    MapOperator,
    ProcessOperator,
)

__all__ = ["create_operator", "register_operator"]

Builder = Callable[[str, Any, str], StreamOperator]

_BUILDERS: dict[type, Builder] = {
    specs.SourceSpec: lambda n, s, oid: SourceOperator(n, s.source, s.watermark_strategy, oid),
    specs.MapSpec: lambda n, s, _: MapOperator(n, s.function),
    specs.FlatMapSpec: lambda n, s, _: FlatMapOperator(n, s.function),
    specs.FilterSpec: lambda n, s, _: FilterOperator(n, s.function),
    specs.ProcessSpec: lambda n, s, _: ProcessOperator(n, s.function),
    specs.TimestampsAndWatermarksSpec:
        lambda n, s, _: TimestampsAndWatermarksOperator(n, s.watermark_strategy),
    specs.KeyedMapSpec: lambda n, s, _: KeyedMapOperator(n, s.function, s.key_selector),
    specs.KeyedFlatMapSpec: lambda n, s, _: KeyedFlatMapOperator(n, s.function, s.key_selector),
    specs.KeyedFilterSpec: lambda n, s, _: KeyedFilterOperator(n, s.function, s.key_selector),
    specs.KeyedProcessSpec: lambda n, s, _: KeyedProcessOperator(n, s.function, s.key_selector),
    specs.KeyedReduceSpec: lambda n, s, _: KeyedReduceOperator(n, s.function, s.key_selector),
    specs.CoMapSpec: lambda n, s, _: CoMapOperator(n, s.function),
    specs.CoFlatMapSpec: lambda n, s, _: CoFlatMapOperator(n, s.function),
    specs.CoProcessSpec: lambda n, s, _: CoProcessOperator(n, s.function),
    specs.KeyedCoProcessSpec: lambda n, s, _: KeyedCoOperator(
        n, s.function, s.key_selector1, s.key_selector2, getattr(s, "mode", "process")
    ),
    specs.SinkSpec: lambda n, s, _: SinkWriterOperator(n, s.sink, s.input_type),
    specs.SinkFunctionSpec: lambda n, s, _: SinkFunctionOperator(n, s.function),
    specs.PrintSinkSpec:
        lambda n, s, _: PrintSinkOperator(n, s.sink_identifier, s.input_type, s.to_stderr),
    specs.CollectSinkSpec: lambda n, s, _: (
        _remote_collect_sink(n) if s.remote else CollectSinkOperator(n, s.collect_id)),
}


def register_operator(spec_type: type, builder: Builder) -> None:
    """Register the operator for a spec type (windows and connectors add theirs)."""
    _BUILDERS[spec_type] = builder


def create_operator(
    name: str, spec: Any, operator_id: str, heap_state: bool = True
) -> StreamOperator:
    """The operator of ``spec``; ``heap_state`` False (the rocksdb backend) rules out the
    operators that work on the hashmap backend's dicts directly."""
    builder = _BUILDERS.get(type(spec))
    if builder is None:
        raise TypeError(f"no operator is registered for {type(spec).__name__}")
    if not heap_state and type(spec) is specs.WindowSpec:
        from strom.runtime.operators.window import WindowOperator

        return WindowOperator(name, spec)
    return builder(name, spec, operator_id)


def _remote_collect_sink(name: str) -> StreamOperator:
    from strom.runtime.operators.remote_collect_sink import RemoteCollectSinkOperator

    return RemoteCollectSinkOperator(name)


def _window_operator(name: str, spec: Any, operator_id: str) -> StreamOperator:
    from strom.runtime.operators.fast_window import EventTimeWindowAggregator, fast_path_applies
    from strom.runtime.operators.window import WindowOperator

    if fast_path_applies(spec):
        return EventTimeWindowAggregator(name, spec)
    return WindowOperator(name, spec)


def _broadcast_operator(name: str, spec: Any, operator_id: str) -> StreamOperator:
    from strom.runtime.operators.broadcast import BroadcastProcessOperator

    return BroadcastProcessOperator(name, spec)


register_operator(specs.WindowSpec, _window_operator)
register_operator(specs.BroadcastProcessSpec, _broadcast_operator)
