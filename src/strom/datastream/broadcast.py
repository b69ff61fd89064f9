"""Broadcast state: ``stream.connect(other.broadcast(descriptor)).process(...)``.

Every parallel instance receives every broadcast element and keeps the same broadcast state
(MapStates named by the descriptors); the main input reads it (read-only).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from strom.datastream.functions import BroadcastProcessFunction, KeyedBroadcastProcessFunction
from strom.graph.operator_specs import BroadcastProcessSpec
from strom.graph.partitioning import BroadcastPartitioning
from strom.graph.transformations import PartitionTransformation, TwoInputTransformation

if TYPE_CHECKING:
    from strom.datastream.data_stream import DataStream

__all__ = ["BroadcastConnectedStream", "BroadcastStream"]


class BroadcastStream:
    """A stream whose elements go to every parallel instance, with broadcast state."""

    def __init__(self, stream: DataStream, descriptors: list[Any]) -> None:
        from strom.datastream.state import MapStateDescriptor

        for d in descriptors:
            if not isinstance(d, MapStateDescriptor):
                raise TypeError(f"broadcast() takes MapStateDescriptors, got {d!r}")
        self._stream = stream
        self._descriptors = descriptors

    def _connect_broadcast(self, main: DataStream) -> BroadcastConnectedStream:
        return BroadcastConnectedStream(main, self)


class BroadcastConnectedStream:
    """A (keyed or non-keyed) stream connected with a BroadcastStream."""

    def __init__(self, main: DataStream, broadcast: BroadcastStream) -> None:
        self._main = main
        self._broadcast = broadcast

    def process(self, func: Any, output_type: Any = None) -> DataStream:
        from strom.datastream.data_stream import DataStream, KeyedStream

        keyed = isinstance(self._main, KeyedStream)
        if isinstance(func, KeyedBroadcastProcessFunction):
            if not keyed:
                raise TypeError(
                    "A KeyedBroadcastProcessFunction needs a keyed main stream: call key_by(...) "
                    "before connect(broadcast_stream), or use a BroadcastProcessFunction."
                )
        elif isinstance(func, BroadcastProcessFunction):
            if keyed:
                raise TypeError(
                    "The main stream is keyed: use a KeyedBroadcastProcessFunction, or connect "
                    "the stream before key_by(...)."
                )
        else:
            raise TypeError(
                "process() on a broadcast-connected stream takes a BroadcastProcessFunction or "
                f"a KeyedBroadcastProcessFunction, got {func!r}"
            )
        key_selector = self._main._key_selector if keyed else None  # type: ignore[attr-defined]
        source = self._broadcast._stream
        broadcast_input = PartitionTransformation(
            name="Broadcast", output_type=source.get_type(), input=source._transformation,
            partitioning=BroadcastPartitioning(),
        )
        env = self._main._env
        t = TwoInputTransformation(
            name="Co-Process-Broadcast-Keyed" if keyed else "Co-Process-Broadcast",
            output_type=output_type, input1=self._main._transformation, input2=broadcast_input,
            spec=BroadcastProcessSpec(func, list(self._broadcast._descriptors), key_selector),
        )
        env._add(t)
        return DataStream(env, t)
