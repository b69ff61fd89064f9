"""What each operator is, as data: the API records these, the runtime builds the operators.

Specs hold user functions as given (function objects or plain callables); the runtime
normalises them. Keeping these free of runtime imports keeps the client side light and lets
the JobGraph travel (cloudpickled) to TaskManagers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "CoFlatMapSpec", "CoMapSpec", "CoProcessSpec", "CollectSinkSpec", "FilterSpec",
    "FlatMapSpec", "KeyedCoProcessSpec", "KeyedFilterSpec", "KeyedFlatMapSpec", "KeyedMapSpec",
    "KeyedProcessSpec", "KeyedReduceSpec", "MapSpec", "OperatorSpec", "PrintSinkSpec",
    "ProcessSpec", "SinkFunctionSpec", "SinkSpec", "SourceSpec", "TimestampsAndWatermarksSpec",
    "WindowSpec", "BroadcastProcessSpec",
]


@dataclass(eq=False)
class OperatorSpec:
    """Base of all operator specs."""

    #: number of inputs (0 for sources)
    arity: int = field(init=False, default=1)
    #: True when the operator keeps keyed state (needs keys on its input)
    keyed: bool = field(init=False, default=False)


@dataclass(eq=False)
class SourceSpec(OperatorSpec):
    source: Any
    watermark_strategy: Any = None

    def __post_init__(self) -> None:
        self.arity = 0


@dataclass(eq=False)
class MapSpec(OperatorSpec):
    function: Any


@dataclass(eq=False)
class FlatMapSpec(OperatorSpec):
    function: Any


@dataclass(eq=False)
class FilterSpec(OperatorSpec):
    function: Any


@dataclass(eq=False)
class ProcessSpec(OperatorSpec):
    function: Any


@dataclass(eq=False)
class TimestampsAndWatermarksSpec(OperatorSpec):
    watermark_strategy: Any


@dataclass(eq=False)
class _KeyedSpec(OperatorSpec):
    function: Any
    key_selector: Any

    def __post_init__(self) -> None:
        self.keyed = True


@dataclass(eq=False)
class KeyedMapSpec(_KeyedSpec):
    pass


@dataclass(eq=False)
class KeyedFlatMapSpec(_KeyedSpec):
    pass


@dataclass(eq=False)
class KeyedFilterSpec(_KeyedSpec):
    pass


@dataclass(eq=False)
class KeyedProcessSpec(_KeyedSpec):
    pass


@dataclass(eq=False)
class KeyedReduceSpec(_KeyedSpec):
    """Rolling reduce (also ``sum``/``min``/``max``/``min_by``/``max_by``)."""


@dataclass(eq=False)
class CoMapSpec(OperatorSpec):
    function: Any

    def __post_init__(self) -> None:
        self.arity = 2


@dataclass(eq=False)
class CoFlatMapSpec(OperatorSpec):
    function: Any

    def __post_init__(self) -> None:
        self.arity = 2


@dataclass(eq=False)
class CoProcessSpec(OperatorSpec):
    function: Any

    def __post_init__(self) -> None:
        self.arity = 2


@dataclass(eq=False)
class KeyedCoProcessSpec(OperatorSpec):
    """Two keyed inputs; also used for keyed CoMap/CoFlatMap (``function`` wrapped)."""

    function: Any
    key_selector1: Any = None
    key_selector2: Any = None
    #: "process" (KeyedCoProcessFunction), "map" (CoMapFunction) or "flat_map"
    mode: str = "process"

    def __post_init__(self) -> None:
        self.arity = 2
        self.keyed = True


@dataclass(eq=False)
class SinkSpec(OperatorSpec):
    """``sink_to(Sink)``: writer per subtask, committer after the end / checkpoints."""

    sink: Any
    input_type: Any = None


@dataclass(eq=False)
class SinkFunctionSpec(OperatorSpec):
    """``add_sink(SinkFunction or callable)``: ``invoke(value, context)`` per record."""

    function: Any


@dataclass(eq=False)
class PrintSinkSpec(OperatorSpec):
    sink_identifier: str | None = None
    input_type: Any = None
    to_stderr: bool = False


@dataclass(eq=False)
class CollectSinkSpec(OperatorSpec):
    """``execute_and_collect``: records flow back to the client through ``collect_id``."""

    collect_id: str = ""
    #: the job runs on a remote cluster: results go back through the JobMaster
    remote: bool = False


@dataclass(eq=False)
class WindowSpec(OperatorSpec):
    """A keyed (or, with a constant key, all-) window operator."""

    key_selector: Any
    assigner: Any
    trigger: Any
    window_function: Any  # the runtime's InternalWindowFunction
    allowed_lateness: int = 0
    late_data_tag: Any = None

    def __post_init__(self) -> None:
        self.keyed = True


@dataclass(eq=False)
class BroadcastProcessSpec(OperatorSpec):
    """``connect(broadcast_stream).process(...)``: input 1 is the main stream (keyed when
    ``key_selector`` is set), input 2 the broadcast stream."""

    function: Any
    descriptors: list[Any]
    key_selector: Any = None

    def __post_init__(self) -> None:
        self.arity = 2
        self.keyed = self.key_selector is not None
