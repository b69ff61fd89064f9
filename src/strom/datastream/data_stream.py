"""DataStream, KeyedStream, ConnectedStreams and DataStreamSink — PyFlink's stream API.

Each method records a Transformation; nothing runs until ``env.execute()``.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from strom.common.typeinfo import TypeInformation, Types
from strom.common.types import Row
from strom.datastream._aggregations import aggregation
from strom.datastream._validation import (
    PARALLELISM_DEFAULT,
    check_function,
    check_parallelism,
    check_parallelism_or_default,
)
from strom.datastream.functions import (
    CoFlatMapFunction,
    CoMapFunction,
    CoProcessFunction,
    FilterFunction,
    FlatMapFunction,
    KeyedCoProcessFunction,
    KeyedProcessFunction,
    KeySelector,
    MapFunction,
    Partitioner,
    ProcessFunction,
    ReduceFunction,
    SinkFunction,
)
from strom.datastream.output_tag import OutputTag
from strom.datastream.slot_sharing_group import SlotSharingGroup, slot_sharing_group_of
from strom.graph import operator_specs as specs
from strom.graph.partitioning import (
    BroadcastPartitioning,
    CustomPartitioning,
    ForwardPartitioning,
    GlobalPartitioning,
    HashPartitioning,
    Partitioning,
    RebalancePartitioning,
    RescalePartitioning,
    ShufflePartitioning,
)
from strom.graph.transformations import (
    ChainingStrategy,
    OneInputTransformation,
    PartitionTransformation,
    SideOutputTransformation,
    SinkTransformation,
    Transformation,
    TwoInputTransformation,
    UnionTransformation,
)

if TYPE_CHECKING:
    from strom.common.execution_config import ExecutionConfig
    from strom.datastream.stream_execution_environment import StreamExecutionEnvironment

__all__ = ["CloseableIterator", "ConnectedStreams", "DataStream", "DataStreamSink",
           "KeyedStream"]


class DataStream:
    """A stream of records of one type, produced by one transformation."""

    def __init__(self, env: StreamExecutionEnvironment, transformation: Transformation) -> None:
        self._env = env
        self._transformation = transformation

    # ------------------------------------------------------------ properties of the operator
    def get_name(self) -> str:
        return self._transformation.name

    def name(self, name: str) -> DataStream:
        """Name the operator (shown in the plan, the web UI and error messages)."""
        self._transformation.name = name
        return self

    def uid(self, uid: str) -> DataStream:
        """A stable id for the operator, used to match its state across savepoints."""
        self._transformation.uid = uid
        return self

    def set_uid_hash(self, uid_hash: str) -> DataStream:
        self._transformation.uid = uid_hash
        return self

    def set_description(self, description: str) -> DataStream:
        self._transformation.description = description
        return self

    def get_type(self) -> TypeInformation | None:
        return self._transformation.output_type  # type: ignore[no-any-return]

    def get_execution_environment(self) -> StreamExecutionEnvironment:
        return self._env

    def get_execution_config(self) -> ExecutionConfig:
        return self._env.get_config()

    def set_parallelism(self, parallelism: int) -> DataStream:
        self._transformation.parallelism = _operator_parallelism(parallelism)
        return self

    def set_max_parallelism(self, max_parallelism: int) -> DataStream:
        self._transformation.max_parallelism = check_parallelism(max_parallelism,
                                                                 "max parallelism")
        return self

    def force_non_parallel(self) -> DataStream:
        self._transformation.parallelism = 1
        self._transformation.max_parallelism = 1
        return self

    def set_buffer_timeout(self, timeout_millis: int) -> DataStream:
        self._transformation.buffer_timeout = timeout_millis
        return self

    def start_new_chain(self) -> DataStream:
        self._transformation.chaining_strategy = ChainingStrategy.HEAD
        return self

    def disable_chaining(self) -> DataStream:
        self._transformation.chaining_strategy = ChainingStrategy.NEVER
        return self

    def slot_sharing_group(self, slot_sharing_group: str | SlotSharingGroup) -> DataStream:
        """Operators of one group (by name) may share a slot; the default group is
        ``"default"``. A SlotSharingGroup's resources are recorded on the job, not enforced."""
        _set_slot_sharing_group(self._transformation, slot_sharing_group)
        return self

    # ------------------------------------------------------------ operators
    def _one_input(self, name: str, spec: specs.OperatorSpec, output_type: Any) -> DataStream:
        t = OneInputTransformation(name=name, output_type=output_type,
                                   input=self._transformation, spec=spec)
        self._env._add(t)
        return DataStream(self._env, t)

    def map(self, func: Callable[[Any], Any] | MapFunction, output_type: Any = None) -> DataStream:
        """Apply ``func`` to every record."""
        check_function(func, MapFunction, "map", "map()")
        return self._one_input("Map", specs.MapSpec(func), output_type)

    def flat_map(self, func: Any, output_type: Any = None) -> DataStream:
        """Apply ``func`` to every record; it returns (or yields) zero or more records."""
        check_function(func, FlatMapFunction, "flat_map", "flat_map()")
        return self._one_input("FlatMap", specs.FlatMapSpec(func), output_type)

    def filter(self, func: Callable[[Any], bool] | FilterFunction) -> DataStream:
        """Keep the records for which ``func`` returns true."""
        check_function(func, FilterFunction, "filter", "filter()")
        return self._one_input("Filter", specs.FilterSpec(func), self.get_type())

    def process(self, func: ProcessFunction, output_type: Any = None) -> DataStream:
        """Apply a ProcessFunction (side outputs, timestamps, current watermark)."""
        if isinstance(func, KeyedProcessFunction):
            raise TypeError(
                "A KeyedProcessFunction needs a keyed stream: call key_by(...) before "
                "process(...), or use a ProcessFunction."
            )
        if not isinstance(func, ProcessFunction):
            raise TypeError(
                f"process() expects a ProcessFunction, got {func!r}. Subclass "
                "ProcessFunction and implement process_element(value, ctx)."
            )
        return self._one_input("Process", specs.ProcessSpec(func), output_type)

    def project(self, *field_indexes: int) -> DataStream:
        """Keep the given fields of tuple records, in the given order."""
        if not field_indexes:
            raise ValueError("project() needs at least one field index")
        indexes = tuple(field_indexes)
        source_type = self.get_type()
        output_type = None
        field_types = getattr(source_type, "get_field_types", None)
        if field_types is not None:
            types = field_types()
            output_type = Types.TUPLE([types[i] for i in indexes])
        return self._one_input(
            "Projection", specs.MapSpec(lambda v: tuple(v[i] for i in indexes)), output_type
        )

    def key_by(self, key_selector: Callable[[Any], Any] | KeySelector,
               key_type: Any = None) -> KeyedStream:
        """Partition the stream by key; keyed state and timers become available."""
        check_function(key_selector, KeySelector, "get_key", "key_by()")
        t = PartitionTransformation(
            name="Partition", output_type=self.get_type(), input=self._transformation,
            partitioning=HashPartitioning(key_selector=key_selector),
        )
        return KeyedStream(self._env, t, key_selector, key_type, self)

    def union(self, *streams: DataStream) -> DataStream:
        """Merge streams of the same type into one."""
        if not streams:
            raise ValueError("union() needs at least one other stream")
        for s in streams:
            if not isinstance(s, DataStream):
                raise TypeError(f"union() takes DataStreams, got {s!r}")
        t = UnionTransformation(
            name="Union", output_type=self.get_type(),
            union_inputs=[self._transformation] + [s._transformation for s in streams],
        )
        return DataStream(self._env, t)

    def connect(self, ds: DataStream) -> ConnectedStreams:
        """Connect with another stream (of any type) for a CoMap/CoFlatMap/CoProcess."""
        broadcast_connect = getattr(ds, "_connect_broadcast", None)
        if broadcast_connect is not None:
            return broadcast_connect(self)  # type: ignore[no-any-return]
        if not isinstance(ds, DataStream):
            raise TypeError(f"connect() takes a DataStream or BroadcastStream, got {ds!r}")
        return ConnectedStreams(self, ds)

    def get_side_output(self, output_tag: OutputTag) -> DataStream:
        """The records this operator emitted to ``output_tag`` (``yield (tag, value)``)."""
        if not isinstance(output_tag, OutputTag):
            raise TypeError(f"get_side_output() takes an OutputTag, got {output_tag!r}")
        t = SideOutputTransformation(name="SideOutput", output_type=output_tag.type_info,
                                     input=self._transformation, output_tag=output_tag)
        return DataStream(self._env, t)

    def assign_timestamps_and_watermarks(self, watermark_strategy: Any) -> DataStream:
        """Assign event timestamps and generate watermarks with ``watermark_strategy``."""
        if not hasattr(watermark_strategy, "create_watermark_generator"):
            raise TypeError(
                f"assign_timestamps_and_watermarks() takes a WatermarkStrategy, got "
                f"{watermark_strategy!r}"
            )
        return self._one_input("Timestamps/Watermarks",
                               specs.TimestampsAndWatermarksSpec(watermark_strategy),
                               self.get_type())

    # ------------------------------------------------------------ partitioning
    def _partition(self, partitioning: Partitioning) -> DataStream:
        t = PartitionTransformation(name="Partition", output_type=self.get_type(),
                                    input=self._transformation, partitioning=partitioning)
        return DataStream(self._env, t)

    def shuffle(self) -> DataStream:
        return self._partition(ShufflePartitioning())

    def rebalance(self) -> DataStream:
        return self._partition(RebalancePartitioning())

    def rescale(self) -> DataStream:
        return self._partition(RescalePartitioning())

    def forward(self) -> DataStream:
        return self._partition(ForwardPartitioning())

    def global_(self) -> DataStream:
        return self._partition(GlobalPartitioning())

    def broadcast(self, broadcast_state_descriptor: Any = None, *others: Any) -> Any:
        """Send every record to every parallel instance downstream, or, given
        MapStateDescriptors, make a BroadcastStream for ``connect``."""
        if broadcast_state_descriptor is None:
            return self._partition(BroadcastPartitioning())
        from strom.datastream.broadcast import BroadcastStream

        return BroadcastStream(self, [broadcast_state_descriptor, *others])

    def partition_custom(self, partitioner: Callable[[Any, int], int] | Partitioner,
                         key_selector: Callable[[Any], Any] | KeySelector) -> DataStream:
        check_function(partitioner, Partitioner, "partition", "partition_custom()")
        check_function(key_selector, KeySelector, "get_key", "partition_custom()")
        return self._partition(CustomPartitioning(partitioner=partitioner,
                                                  key_selector=key_selector))

    # ------------------------------------------------------------ windows
    def window_all(self, window_assigner: Any) -> Any:
        """Non-keyed windows (run with parallelism 1)."""
        from strom.datastream.windowed_stream import AllWindowedStream

        return AllWindowedStream(self, window_assigner)

    # ------------------------------------------------------------ sinks
    def _sink(self, name: str, spec: specs.OperatorSpec) -> DataStreamSink:
        t = SinkTransformation(name=name, output_type=None, input=self._transformation,
                               spec=spec)
        self._env._add(t)
        return DataStreamSink(t)

    def print(self, sink_identifier: str | None = None) -> DataStreamSink:
        """Print every record to stdout, as PyFlink's print sink does."""
        return self._sink("Print to Std. Out",
                          specs.PrintSinkSpec(sink_identifier, self.get_type()))

    def sink_to(self, sink: Any) -> DataStreamSink:
        """Write to a Sink (e.g. ``FileSink``)."""
        from strom.datastream.connectors.base import Sink

        if not isinstance(sink, Sink):
            raise TypeError(f"sink_to() takes a Sink (e.g. FileSink), got {sink!r}. Use "
                            "add_sink() for a SinkFunction or a callable.")
        name = getattr(sink, "name", None) or type(sink).__name__
        return self._sink(str(name), specs.SinkSpec(sink, self.get_type()))

    def add_sink(self, sink_func: Callable[[Any, Any], None] | SinkFunction) -> DataStreamSink:
        """Call ``sink_func.invoke(value, context)`` (or ``sink_func(value, context)``) per
        record."""
        check_function(sink_func, SinkFunction, "invoke", "add_sink()")
        return self._sink("Unnamed", specs.SinkFunctionSpec(sink_func))

    def execute_and_collect(self, job_execution_name: str | None = None,
                            limit: int | None = None) -> Any:
        """Run the job and bring this stream's records back: a list of at most ``limit``
        records, or (without a limit) a closeable iterator over all of them."""
        if limit is not None and (not isinstance(limit, int) or limit < 0):
            raise ValueError(f"limit must be a non-negative integer, got {limit!r}")
        collect_id = uuid.uuid4().hex
        # one collecting instance, as Flink's collect sink: it ends the client's iterator
        self._sink("Collect Sink", specs.CollectSinkSpec(collect_id)).set_parallelism(1)
        iterator = self._env._execute_collect(collect_id, job_execution_name,
                                              self._transformation)
        if limit is None:
            return iterator
        with iterator:
            results: list[Any] = []
            for value in iterator:
                if len(results) >= limit:
                    break
                results.append(value)
            return results


class CloseableIterator:
    """Iterates over collected records; ``close()`` (or leaving a ``with`` block) cancels the
    job if it is still running, and so does dropping the iterator without closing it (once
    it is garbage collected).

    ``iter()`` of it (as ``for`` and ``list()`` call it) gives a C-level iterator over the
    same records, so a loop costs no Python call per record; ``next(it)`` and ``it.next()``
    take one record at a time.
    """

    def __init__(self, batches: Iterator[list[Any]], close: Callable[[], None]) -> None:
        self._records = itertools.chain.from_iterable(batches)
        self._close = close

    def __iter__(self) -> Iterator[Any]:
        return self._records

    def __next__(self) -> Any:
        return next(self._records)

    def next(self) -> Any:
        """The next record (PyFlink's spelling of ``next(iterator)``)."""
        return next(self._records)

    def close(self) -> None:
        self._close()

    def __enter__(self) -> CloseableIterator:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class DataStreamSink:
    """The end of a stream: a sink whose name, parallelism and chaining can be set."""

    def __init__(self, transformation: Transformation) -> None:
        self._transformation = transformation

    def name(self, name: str) -> DataStreamSink:
        self._transformation.name = name
        return self

    def uid(self, uid: str) -> DataStreamSink:
        self._transformation.uid = uid
        return self

    def set_uid_hash(self, uid_hash: str) -> DataStreamSink:
        self._transformation.uid = uid_hash
        return self

    def set_description(self, description: str) -> DataStreamSink:
        self._transformation.description = description
        return self

    def set_parallelism(self, parallelism: int) -> DataStreamSink:
        self._transformation.parallelism = _operator_parallelism(parallelism)
        return self

    def disable_chaining(self) -> DataStreamSink:
        self._transformation.chaining_strategy = ChainingStrategy.NEVER
        return self

    def slot_sharing_group(self, slot_sharing_group: str | SlotSharingGroup) -> DataStreamSink:
        _set_slot_sharing_group(self._transformation, slot_sharing_group)
        return self


def _set_slot_sharing_group(transformation: Transformation, group: str | SlotSharingGroup) -> None:
    ssg = slot_sharing_group_of(group)
    transformation.slot_sharing_group = ssg.get_name()
    transformation.slot_sharing_group_resources = ssg if ssg.has_resources() else None


def _not_on_keyed_stream(what: str) -> Callable[..., Any]:
    def refuse(self: Any, *args: Any, **kwargs: Any) -> Any:
        raise Exception(
            f"Cannot {what} on a KeyedStream: a KeyedStream is a partitioning of its input. "
            "Apply it to the stream before key_by(), or to the result of an operation on the "
            "keyed stream."
        )

    return refuse


class KeyedStream(DataStream):
    """A stream partitioned by key: rolling aggregations, keyed process functions, windows."""

    def __init__(self, env: StreamExecutionEnvironment, transformation: Transformation,
                 key_selector: Any, key_type: Any, origin: DataStream) -> None:
        super().__init__(env, transformation)
        self._key_selector = key_selector
        self._key_type = key_type
        self._origin = origin

    def _keyed(self, name: str, spec: specs.OperatorSpec, output_type: Any) -> DataStream:
        return self._one_input(name, spec, output_type)

    def map(self, func: Any, output_type: Any = None) -> DataStream:
        check_function(func, MapFunction, "map", "map()")
        return self._keyed("Map", specs.KeyedMapSpec(func, self._key_selector), output_type)

    def flat_map(self, func: Any, output_type: Any = None) -> DataStream:
        check_function(func, FlatMapFunction, "flat_map", "flat_map()")
        return self._keyed("FlatMap", specs.KeyedFlatMapSpec(func, self._key_selector),
                           output_type)

    def filter(self, func: Any) -> DataStream:
        check_function(func, FilterFunction, "filter", "filter()")
        return self._keyed("Filter", specs.KeyedFilterSpec(func, self._key_selector),
                           self.get_type())

    def reduce(self, func: Callable[[Any, Any], Any] | ReduceFunction) -> DataStream:
        """Rolling reduce per key: STREAMING emits every update, BATCH the final value."""
        check_function(func, ReduceFunction, "reduce", "reduce()")
        return self._keyed("Keyed Reduce", specs.KeyedReduceSpec(func, self._key_selector),
                           self.get_type())

    def _aggregate(self, kind: str, position_to_field: int | str) -> DataStream:
        return self._keyed(
            "Keyed Aggregation",
            specs.KeyedReduceSpec(aggregation(kind, position_to_field, self.get_type()),
                                  self._key_selector),
            self.get_type(),
        )

    def sum(self, position_to_sum: int | str = 0) -> DataStream:
        return self._aggregate("sum", position_to_sum)

    def min(self, position_to_min: int | str = 0) -> DataStream:
        return self._aggregate("min", position_to_min)

    def max(self, position_to_max: int | str = 0) -> DataStream:
        return self._aggregate("max", position_to_max)

    def min_by(self, position_to_min_by: int | str = 0) -> DataStream:
        return self._aggregate("min_by", position_to_min_by)

    def max_by(self, position_to_max_by: int | str = 0) -> DataStream:
        return self._aggregate("max_by", position_to_max_by)

    def process(self, func: Any, output_type: Any = None) -> DataStream:
        """Apply a KeyedProcessFunction (keyed state, timers, side outputs)."""
        if isinstance(func, ProcessFunction):
            raise TypeError(
                "KeyedStream.process() takes a KeyedProcessFunction (it gets the current key "
                "and timers); a ProcessFunction is for non-keyed streams."
            )
        if not isinstance(func, KeyedProcessFunction):
            raise TypeError(
                f"KeyedStream.process() expects a KeyedProcessFunction, got {func!r}."
            )
        return self._keyed("KeyedProcess", specs.KeyedProcessSpec(func, self._key_selector),
                           output_type)

    def window(self, window_assigner: Any) -> Any:
        """Group each key's records into windows."""
        from strom.datastream.windowed_stream import WindowedStream

        return WindowedStream(self, window_assigner)

    def count_window(self, size: int, slide: int = 0) -> Any:
        """Windows of ``size`` records per key, sliding by ``slide`` when given."""
        from strom.datastream.window import CountSlidingWindowAssigner, CountTumblingWindowAssigner
        from strom.datastream.windowed_stream import WindowedStream

        if slide == 0:
            return WindowedStream(self, CountTumblingWindowAssigner.of(size))
        return WindowedStream(self, CountSlidingWindowAssigner.of(size, slide))

    def key_by(self, key_selector: Any, key_type: Any = None) -> KeyedStream:
        return self._origin.key_by(key_selector, key_type)

    def execute_and_collect(self, job_execution_name: str | None = None,
                            limit: int | None = None) -> Any:
        """As PyFlink, a KeyedStream is collected as ``Row(f0=key, f1=value)`` records.

        PyFlink pairs key and value before the keyed exchange and collects straight from it;
        here the pairing runs after it, in the single collecting subtask, so the keyed edge
        stays the only exchange and one upstream subtask's records keep their order."""
        selector = self._key_selector
        get_key = getattr(selector, "get_key", selector)
        pairs = DataStream.map(self, lambda value: Row(f0=get_key(value), f1=value))
        pairs.set_parallelism(1)
        return pairs.execute_and_collect(job_execution_name, limit)

    def union(self, *streams: DataStream) -> DataStream:
        return super().union(*streams)

    shuffle = _not_on_keyed_stream("shuffle")
    rebalance = _not_on_keyed_stream("rebalance")
    rescale = _not_on_keyed_stream("rescale")
    forward = _not_on_keyed_stream("forward")
    global_ = _not_on_keyed_stream("global_")
    partition_custom = _not_on_keyed_stream("partition_custom")
    project = _not_on_keyed_stream("project")
    name = _not_on_keyed_stream("set a name")
    uid = _not_on_keyed_stream("set a uid")
    set_uid_hash = _not_on_keyed_stream("set a uid hash")
    set_description = _not_on_keyed_stream("set a description")
    set_parallelism = _not_on_keyed_stream("set the parallelism")
    set_max_parallelism = _not_on_keyed_stream("set the max parallelism")
    force_non_parallel = _not_on_keyed_stream("force non-parallel")
    start_new_chain = _not_on_keyed_stream("start a new chain")
    disable_chaining = _not_on_keyed_stream("disable chaining")
    slot_sharing_group = _not_on_keyed_stream("set a slot sharing group")

    def broadcast(self, *args: Any) -> Any:
        return _not_on_keyed_stream("broadcast")(self)


class ConnectedStreams:
    """Two streams connected for a CoMap, CoFlatMap or CoProcess function."""

    def __init__(self, stream1: DataStream, stream2: DataStream) -> None:
        self.stream1 = stream1
        self.stream2 = stream2

    def key_by(self, key_selector1: Any, key_selector2: Any,
               key_type: Any = None) -> ConnectedStreams:
        """Key both inputs (records with equal keys meet in the same instance)."""
        return ConnectedStreams(self.stream1.key_by(key_selector1, key_type),
                                self.stream2.key_by(key_selector2, key_type))

    def _is_keyed(self) -> bool:
        return isinstance(self.stream1, KeyedStream) and isinstance(self.stream2, KeyedStream)

    def _two_input(self, name: str, spec: specs.OperatorSpec, output_type: Any) -> DataStream:
        env = self.stream1._env
        t = TwoInputTransformation(
            name=name, output_type=output_type, input1=self.stream1._transformation,
            input2=self.stream2._transformation, spec=spec,
        )
        env._add(t)
        return DataStream(env, t)

    def _keyed_spec(self, func: Any, mode: str) -> specs.OperatorSpec:
        s1, s2 = self.stream1, self.stream2
        assert isinstance(s1, KeyedStream) and isinstance(s2, KeyedStream)
        return specs.KeyedCoProcessSpec(func, s1._key_selector, s2._key_selector, mode)

    def map(self, func: CoMapFunction, output_type: Any = None) -> DataStream:
        if not isinstance(func, CoMapFunction):
            raise TypeError(f"ConnectedStreams.map() expects a CoMapFunction, got {func!r}")
        spec = self._keyed_spec(func, "map") if self._is_keyed() else specs.CoMapSpec(func)
        return self._two_input("Co-Map", spec, output_type)

    def flat_map(self, func: CoFlatMapFunction, output_type: Any = None) -> DataStream:
        if not isinstance(func, CoFlatMapFunction):
            raise TypeError(
                f"ConnectedStreams.flat_map() expects a CoFlatMapFunction, got {func!r}"
            )
        keyed = self._is_keyed()
        spec = self._keyed_spec(func, "flat_map") if keyed else specs.CoFlatMapSpec(func)
        return self._two_input("Co-Flat Map", spec, output_type)

    def process(self, func: Any, output_type: Any = None) -> DataStream:
        if isinstance(func, KeyedCoProcessFunction):
            if not self._is_keyed():
                raise TypeError(
                    "A KeyedCoProcessFunction needs keyed inputs: call key_by(...) on the "
                    "connected streams first."
                )
            return self._two_input("Keyed Co-Process", self._keyed_spec(func, "process"),
                                   output_type)
        if isinstance(func, CoProcessFunction):
            return self._two_input("Co-Process", specs.CoProcessSpec(func), output_type)
        raise TypeError(
            f"ConnectedStreams.process() expects a CoProcessFunction or a "
            f"KeyedCoProcessFunction, got {func!r}"
        )


def _operator_parallelism(parallelism: int) -> int | None:
    """An operator's parallelism as the transformation keeps it: None (-1) is the job's
    default parallelism."""
    value = check_parallelism_or_default(parallelism)
    return None if value == PARALLELISM_DEFAULT else value
