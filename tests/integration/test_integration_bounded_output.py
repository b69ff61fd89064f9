"""Operators that multiply records (flat_map, process) emit batches no larger than a network
buffer, read the user's generators lazily, and stop between chunks while back-pressured."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from dataflow_helpers import source
from test_integration_source_errors import BrokenSource

from strom.common import Time, WatermarkStrategy
from strom.datastream import (
    KeyedCoProcessFunction,
    KeyedProcessFunction,
    ProcessFunction,
    ProcessWindowFunction,
    RuntimeExecutionMode,
    StreamExecutionEnvironment,
)
from strom.datastream.connectors.base import InputStatus, Sink, SinkWriter, SinkWriterContext
from strom.datastream.window import TumblingEventTimeWindows

BATCH_SIZE = 1024  # records per network buffer (the default)
MANY = 100_000


class Progress:
    """How far the generator got and what the sink saw; shared with the tasks (this class is
    pickled by reference)."""

    lock = threading.Lock()
    produced = 0
    consumed = 0
    largest_batch = 0
    most_ahead = 0
    timestamps: set[int | None] = set()

    @classmethod
    def reset(cls) -> None:
        with cls.lock:
            cls.produced = cls.consumed = cls.largest_batch = cls.most_ahead = 0
            cls.timestamps = set()


def explode(n: int) -> Iterator[int]:
    for i in range(n):
        Progress.produced += 1
        yield i


class ExplodeProcess(ProcessFunction):
    def process_element(self, value: int, ctx: ProcessFunction.Context) -> Iterator[int]:
        yield from explode(value)


class ExplodeKeyedProcess(KeyedProcessFunction):
    def process_element(self, value: int, ctx: KeyedProcessFunction.Context) -> Iterator[Any]:
        for i in explode(value):
            yield (ctx.get_current_key(), i)


class _StatsWriter(SinkWriter[Any]):
    def write(self, values: Sequence[Any], timestamps: Sequence[int] | None) -> None:
        with Progress.lock:
            Progress.largest_batch = max(Progress.largest_batch, len(values))
            Progress.most_ahead = max(Progress.most_ahead,
                                      Progress.produced - Progress.consumed)
            Progress.consumed += len(values)
            Progress.timestamps.update(timestamps if timestamps is not None else [None])

    def flush(self, end_of_input: bool) -> None:
        pass


class StatsSink(Sink[Any]):
    """Records the largest batch it received and how far the producer was ahead of it."""

    def create_writer(self, context: SinkWriterContext) -> SinkWriter[Any]:
        return _StatsWriter()


@pytest.fixture(autouse=True)
def _reset() -> None:
    Progress.reset()


@pytest.mark.parametrize("how", ["generator", "list", "process", "keyed_flat_map",
                                 "keyed_process"])
@pytest.mark.parametrize("over_network", [False, True], ids=["chained", "network"])
def test_output_batches_never_exceed_the_buffer_size(
    strom_env: StreamExecutionEnvironment, how: str, over_network: bool
) -> None:
    stream = source(strom_env, [MANY, 3])
    if how == "generator":
        stream = stream.flat_map(explode)
    elif how == "list":
        stream = stream.flat_map(lambda n: list(range(n)))
    elif how == "process":
        stream = stream.process(ExplodeProcess())
    elif how == "keyed_flat_map":
        stream = stream.key_by(lambda n: n % 2).flat_map(explode)
    else:
        stream = stream.key_by(lambda n: n % 2).process(ExplodeKeyedProcess())
    if over_network:
        stream = stream.rebalance()
    stream.sink_to(StatsSink())
    strom_env.execute()
    assert Progress.consumed == MANY + 3
    assert 0 < Progress.largest_batch <= BATCH_SIZE


def test_a_generator_is_read_as_its_output_is_consumed(
    strom_env: StreamExecutionEnvironment,
) -> None:
    # one slot: producer and consumer share a thread, so without back-pressure between
    # chunks the whole output would be produced before the sink saw any of it
    strom_env.set_parallelism(1)
    source(strom_env, [MANY]).flat_map(explode).rebalance().sink_to(StatsSink())
    strom_env.execute()
    assert Progress.consumed == Progress.produced == MANY
    # credit (2 exclusive + 8 floating buffers) plus the buffers being filled
    assert Progress.most_ahead <= 16 * BATCH_SIZE, Progress.most_ahead


@pytest.mark.parametrize("keyed", [False, True], ids=["flat_map", "keyed_process"])
def test_a_generator_is_read_as_its_output_is_consumed_after_key_by(
    strom_env: StreamExecutionEnvironment, keyed: bool
) -> None:
    strom_env.set_parallelism(1)
    keyed_stream = source(strom_env, [MANY]).key_by(lambda n: "k")
    stream = (keyed_stream.process(ExplodeKeyedProcess()) if keyed
              else keyed_stream.flat_map(explode))
    stream.rebalance().sink_to(StatsSink())
    strom_env.execute()
    assert Progress.consumed == Progress.produced == MANY
    assert Progress.most_ahead <= 16 * BATCH_SIZE, Progress.most_ahead


def test_chunks_keep_the_input_records_timestamp(strom_env: StreamExecutionEnvironment) -> None:
    source(strom_env, [(5000, 7), (3, 9)], timestamped=True).flat_map(explode) \
        .rebalance().sink_to(StatsSink())
    strom_env.execute()
    assert Progress.consumed == 5003
    assert Progress.timestamps == {7, 9}


def test_input_that_ends_during_a_backlog_waits_for_it(
    strom_env: StreamExecutionEnvironment,
) -> None:
    # the reader's only poll emits the record and ends the input: the task must not finish
    # (end the sink's input) before the suspended flat_map has emitted everything
    strom_env.set_parallelism(1)
    ending = BrokenSource(batch=[MANY], first_status=InputStatus.END_OF_INPUT)
    strom_env.from_source(ending, WatermarkStrategy.no_watermarks(), "ending") \
        .flat_map(explode).rebalance().sink_to(StatsSink())
    strom_env.execute()
    assert Progress.consumed == MANY
    assert Progress.most_ahead <= 16 * BATCH_SIZE, Progress.most_ahead


class TimerExplode(KeyedProcessFunction):
    """Each record sets a timer (event or processing time) whose on_timer yields ``value``
    records."""

    def __init__(self, domain: str) -> None:
        self.domain = domain
        self.pending: dict[Any, int] = {}

    def process_element(self, value: int, ctx: KeyedProcessFunction.Context) -> None:
        self.pending[ctx.get_current_key()] = value
        if self.domain == "event":
            ctx.timer_service().register_event_time_timer(100)
        else:
            ctx.timer_service().register_processing_time_timer(0)

    def on_timer(self, timestamp: int, ctx: KeyedProcessFunction.OnTimerContext
                 ) -> Iterator[Any]:
        key = ctx.get_current_key()
        for i in explode(self.pending.pop(key)):
            yield (key, i)


class CoTimerExplode(KeyedCoProcessFunction):
    """TimerExplode for two inputs: either input's record sets the timer."""

    def __init__(self) -> None:
        self.timers = TimerExplode("event")

    def process_element1(self, value: int, ctx: Any) -> None:
        self.timers.process_element(value, ctx)

    def process_element2(self, value: int, ctx: Any) -> None:
        self.timers.process_element(value, ctx)

    def on_timer(self, timestamp: int, ctx: Any) -> Iterator[Any]:
        return self.timers.on_timer(timestamp, ctx)


@pytest.mark.parametrize("domain", ["event", "processing", "batch", "co_process"])
def test_timer_output_is_bounded_and_back_pressured(
    strom_env: StreamExecutionEnvironment, domain: str
) -> None:
    strom_env.set_parallelism(1)
    if domain == "batch":
        strom_env.set_runtime_mode(RuntimeExecutionMode.BATCH)
    records = source(strom_env, [(MANY, 5), (3, 6)], timestamped=True)
    if domain == "co_process":
        other = source(strom_env, [], timestamped=True)
        stream = records.connect(other).key_by(lambda n: n % 2, lambda n: n % 2) \
            .process(CoTimerExplode())
    else:
        stream = records.key_by(lambda n: n % 2) \
            .process(TimerExplode("processing" if domain == "processing" else "event"))
    stream.rebalance().sink_to(StatsSink())
    strom_env.execute()
    assert Progress.consumed == Progress.produced == MANY + 3
    assert 0 < Progress.largest_batch <= BATCH_SIZE
    assert Progress.most_ahead <= 16 * BATCH_SIZE, Progress.most_ahead


class ExplodeWindow(ProcessWindowFunction):
    def process(self, key: Any, context: ProcessWindowFunction.Context, elements: Any
                ) -> Iterator[Any]:
        for value in elements:
            yield from explode(value)


@pytest.mark.parametrize("how", ["process", "reduce_then_process", "many_keys"])
@pytest.mark.parametrize("over_network", [False, True], ids=["chained", "network"])
def test_window_output_batches_never_exceed_the_buffer_size(
    strom_env: StreamExecutionEnvironment, how: str, over_network: bool
) -> None:
    if how == "many_keys":  # one window of MANY keys fires at once (the fast path)
        records = [(i, 5) for i in range(MANY)]
    else:
        records = [(MANY, 5), (3, 6)]
    windowed = source(strom_env, records, timestamped=True) \
        .assign_timestamps_and_watermarks(WatermarkStrategy.for_monotonous_timestamps()) \
        .key_by(lambda n: n % 2 if how != "many_keys" else n) \
        .window(TumblingEventTimeWindows.of(Time.seconds(1)))
    if how == "process":
        stream = windowed.process(ExplodeWindow())
    elif how == "reduce_then_process":  # the fast path, with a window function
        stream = windowed.reduce(lambda a, b: a + b, window_function=ExplodeWindow())
    else:
        stream = windowed.reduce(lambda a, b: a + b)
    if over_network:
        stream = stream.rebalance()
    stream.sink_to(StatsSink())
    strom_env.execute()
    assert Progress.consumed == MANY + (3 if how != "many_keys" else 0)
    assert 0 < Progress.largest_batch <= BATCH_SIZE
