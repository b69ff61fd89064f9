"""Running jobs: runtime context, function lifecycle, execute_and_collect, execute_async and
the JobClient, built-in sources and sinks, backpressure and the output flusher."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from dataflow_helpers import Counters, run_and_collect, source

from strom.common import Configuration, JobStatus, Types, WatermarkStrategy
from strom.common.serialization import Encoder
from strom.datastream import (
    MapFunction,
    RuntimeContext,
    SinkFunction,
    StreamExecutionEnvironment,
)
from strom.datastream.connectors import (
    Boundedness,
    InputStatus,
    ReaderOutput,
    Source,
    SourceReader,
    SourceReaderContext,
    SourceSplit,
    SplitEnumerator,
    SplitEnumeratorContext,
)
from strom.testing import CollectSink, MiniClusterFixture


@pytest.fixture(autouse=True)
def _reset_counters() -> None:
    Counters.reset()


# ---------------------------------------------------------------- runtime context, lifecycle
class Describe(MapFunction):
    def open(self, runtime_context: RuntimeContext) -> None:
        Counters.add("open")
        self.info = (
            runtime_context.get_task_name(),
            runtime_context.get_task_name_with_subtasks(),
            runtime_context.get_index_of_this_subtask(),
            runtime_context.get_number_of_parallel_subtasks(),
            runtime_context.get_max_number_of_parallel_subtasks(),
            runtime_context.get_attempt_number(),
            runtime_context.get_job_parameter("greeting", "none"),
            runtime_context.get_job_parameter("missing", "default"),
        )

    def map(self, value: Any) -> Any:
        return self.info

    def close(self) -> None:
        Counters.add("close")


def test_runtime_context_fields(strom_env: StreamExecutionEnvironment) -> None:
    p = strom_env.get_parallelism()
    strom_env.get_config().set_global_job_parameters({"greeting": "hello"})
    ds = source(strom_env, list(range(20)), splits=2).map(Describe()).name("describe")
    infos = set(run_and_collect(strom_env, ds))
    name = "Source: source -> describe -> Sink: Collect Sink"
    assert infos == {
        (name, f"{name} ({i + 1}/{p})", i, p, 128, 0, "hello", "default") for i in range(p)}


def test_open_and_close_are_called_once_per_instance(
    strom_env: StreamExecutionEnvironment,
) -> None:
    p = strom_env.get_parallelism()
    ds = source(strom_env, list(range(50)), splits=4).map(Describe())
    run_and_collect(strom_env, ds)
    assert (Counters.get("open"), Counters.get("close")) == (p, p)


def test_max_parallelism_set_on_a_keyed_operator_reaches_its_context(
    strom_env: StreamExecutionEnvironment,
) -> None:
    ds = source(strom_env, [1, 2, 3]).key_by(lambda x: x).map(Describe()).set_max_parallelism(16)
    assert {info[4] for info in run_and_collect(strom_env, ds)} == {16}


# ---------------------------------------------------------------- execute_and_collect
def test_execute_and_collect_with_a_limit_returns_a_list(
    strom_env: StreamExecutionEnvironment,
) -> None:
    strom_env.set_parallelism(1)
    result = source(strom_env, list(range(100))).map(lambda x: x * 2).execute_and_collect(limit=3)
    assert result == [0, 2, 4]


def test_execute_and_collect_without_limit_iterates_everything(
    strom_env: StreamExecutionEnvironment,
) -> None:
    it = source(strom_env, list(range(50)), splits=3).map(lambda x: -x).execute_and_collect()
    with it:
        assert sorted(it) == sorted(-x for x in range(50))


def test_execute_and_collect_closing_early_cancels_the_job(
    strom_env: StreamExecutionEnvironment,
) -> None:
    with UnboundedSource.stream(strom_env).execute_and_collect() as it:
        assert next(it) == "tick"
    # nothing hangs: the job was cancelled when the iterator closed


def test_execute_and_collect_of_a_keyed_stream_gives_key_value_rows(
    strom_env: StreamExecutionEnvironment,
) -> None:
    from strom.common import Row

    data = [("pyflink", 1), ("datastream", 2), ("pyflink", 1), ("collect", 2)]
    strom_env.set_parallelism(1)
    with source(strom_env, data).key_by(lambda t: t[0]).execute_and_collect() as it:
        assert list(it) == [Row(f0=k, f1=(k, n)) for k, n in data]


def test_execute_and_collect_limit_zero(strom_env: StreamExecutionEnvironment) -> None:
    assert source(strom_env, [1, 2]).execute_and_collect(limit=0) == []


def test_execute_and_collect_on_the_embedded_cluster() -> None:
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(2)
    with source(env, list(range(10)), splits=2).execute_and_collect("collect job") as it:
        assert sorted(it) == list(range(10))


# ---------------------------------------------------------------- unbounded jobs, JobClient
class _NoSplit(SourceSplit):
    def split_id(self) -> str:
        return "none"


class _Idle(SplitEnumerator[_NoSplit]):
    def handle_split_request(self, subtask_id: int) -> None:
        """Nothing to hand out."""

    def add_splits_back(self, splits: list[_NoSplit], subtask_id: int) -> None:
        """Nothing was handed out."""

    def snapshot_state(self, checkpoint_id: int) -> Any:
        return None


class _TickOnceReader(SourceReader[_NoSplit]):
    """Emits one "tick", then never anything again (and never ends)."""

    def __init__(self) -> None:
        self.ticked = False

    def poll_next(self, output: ReaderOutput) -> InputStatus:
        if not self.ticked:
            self.ticked = True
            output.collect(["tick"])
        return InputStatus.NOTHING_AVAILABLE

    def add_splits(self, splits: list[_NoSplit]) -> None:
        """No splits exist."""

    def notify_no_more_splits(self) -> None:
        """Still never ends."""

    def snapshot_state(self, checkpoint_id: int) -> list[_NoSplit]:
        return []


class UnboundedSource(Source[_NoSplit]):
    """A never-ending source: one record, then NOTHING_AVAILABLE forever."""

    def get_boundedness(self) -> Boundedness:
        return Boundedness.CONTINUOUS_UNBOUNDED

    def create_enumerator(self, context: SplitEnumeratorContext[_NoSplit]) -> _Idle:
        return _Idle()

    def restore_enumerator(self, context: SplitEnumeratorContext[_NoSplit],
                           checkpoint: Any) -> _Idle:
        return _Idle()

    def create_reader(self, context: SourceReaderContext) -> _TickOnceReader:
        return _TickOnceReader()

    @staticmethod
    def stream(env: StreamExecutionEnvironment) -> Any:
        return env.from_source(UnboundedSource(), WatermarkStrategy.no_watermarks(), "forever")


def wait_for_status(client: Any, wanted: JobStatus, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while (status := client.get_job_status().result(timeout=5)) is not wanted:
        assert time.monotonic() < deadline, f"job stayed {status}, expected {wanted}"
        time.sleep(0.005)


def test_execute_async_follows_and_cancels_an_unbounded_job(
    strom_env: StreamExecutionEnvironment,
) -> None:
    sink = CollectSink()
    UnboundedSource.stream(strom_env).sink_to(sink)
    client = strom_env.execute_async("forever job")
    wait_for_status(client, JobStatus.RUNNING)
    deadline = time.monotonic() + 10
    while len(sink.results) < strom_env.get_parallelism():
        assert time.monotonic() < deadline
        time.sleep(0.005)
    assert not client.get_job_execution_result().done()
    client.cancel().result(timeout=10)
    wait_for_status(client, JobStatus.CANCELED)
    from strom.client.job_client import JobExecutionError

    with pytest.raises(JobExecutionError, match=r"'forever job' .* ended CANCELED"):
        client.get_job_execution_result().result(timeout=10)
    assert sink.results == ["tick"] * strom_env.get_parallelism()


def test_execute_async_of_a_bounded_job_finishes(strom_env: StreamExecutionEnvironment) -> None:
    sink = CollectSink()
    source(strom_env, [1, 2, 3]).sink_to(sink)
    client = strom_env.execute_async()
    result = client.get_job_execution_result().result(timeout=10)
    assert result.get_job_id() == client.get_job_id()
    assert result.get_net_runtime() >= 0
    assert client.get_job_status().result(timeout=5) is JobStatus.FINISHED
    assert sorted(sink.results) == [1, 2, 3]


def test_execute_async_on_the_embedded_cluster_cancels_and_shuts_down() -> None:
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(2)
    UnboundedSource.stream(env).map(lambda x: x).sink_to(CollectSink())
    client = env.execute_async()
    wait_for_status(client, JobStatus.RUNNING)
    client.cancel().result(timeout=10)
    wait_for_status(client, JobStatus.CANCELED)
    client.close()  # type: ignore[attr-defined]


def test_batch_mode_refuses_an_unbounded_source(strom_env: StreamExecutionEnvironment) -> None:
    from strom.common import RuntimeExecutionMode
    from strom.graph.stream_graph import GraphBuildError

    strom_env.set_runtime_mode(RuntimeExecutionMode.BATCH)
    UnboundedSource.stream(strom_env).sink_to(CollectSink())
    with pytest.raises(GraphBuildError, match=r"UNBOUNDED source .* 'BATCH'"):
        strom_env.execute()


# ---------------------------------------------------------------- built-in sources and sinks
def test_number_sequence_source(strom_env: StreamExecutionEnvironment) -> None:
    from strom.datastream.connectors import NumberSequenceSource

    ds = strom_env.from_source(NumberSequenceSource(1, 1000), WatermarkStrategy.no_watermarks(),
                               "numbers").filter(lambda x: x % 100 == 0)
    assert sorted(run_and_collect(strom_env, ds)) == list(range(100, 1001, 100))


def test_file_source_to_file_sink_round_trip(strom_env: StreamExecutionEnvironment,
                                             tmp_path: Path) -> None:
    from strom.datastream.connectors import FileSink, FileSource, StreamFormat

    inputs = tmp_path / "in"
    inputs.mkdir()
    (inputs / "a.txt").write_text("alpha\nbeta\n")
    (inputs / "b.txt").write_text("gamma\n")
    out = tmp_path / "out"
    file_source = FileSource.for_record_stream_format(
        StreamFormat.text_line_format(), str(inputs)).build()
    sink = FileSink.for_row_format(str(out), Encoder.simple_string_encoder()).build()
    strom_env.from_source(file_source, WatermarkStrategy.no_watermarks(), "files") \
        .map(lambda line: line.upper(), output_type=Types.STRING()).sink_to(sink)
    strom_env.execute()
    parts = [p for p in out.rglob("*") if p.is_file()]
    assert parts and all(not p.name.startswith(".") for p in parts)  # all committed
    lines = sorted(line for p in parts for line in p.read_text().splitlines())
    assert lines == ["ALPHA", "BETA", "GAMMA"]


def test_add_sink_with_a_sink_function_and_a_callable(
    strom_env: StreamExecutionEnvironment,
) -> None:
    class Remember(SinkFunction):
        def invoke(self, value: Any, context: Any) -> None:
            Counters.record("sink function", (value, context.timestamp()))

    ds = source(strom_env, [("x", 10), ("y", 20)], timestamped=True)
    ds.add_sink(Remember())
    ds.add_sink(lambda value, context: Counters.record("callable", value))
    strom_env.execute()
    assert sorted(Counters.values("sink function")) == [("x", 10), ("y", 20)]
    assert sorted(Counters.values("callable")) == ["x", "y"]


# ---------------------------------------------------------------- backpressure, flushing
class CountProduced(MapFunction):
    def map(self, value: Any) -> Any:
        Counters.add("produced")
        return value


class SlowSink(SinkFunction):
    """Sleeps now and then; records how far the producers ran ahead of it."""

    def invoke(self, value: Any, context: Any) -> None:
        consumed = Counters.add("consumed")
        ahead = Counters.get("produced") - consumed
        if ahead > Counters.get("max ahead"):
            Counters.add("max ahead", ahead - Counters.get("max ahead"))
        if consumed % 256 == 0:
            time.sleep(0.001)


def test_a_slow_sink_backpressures_a_fast_source(strom_parallelism: int) -> None:
    config = Configuration()
    config.set_string("taskmanager.network.memory.buffers-per-channel", "1")
    config.set_string("taskmanager.network.memory.floating-buffers-per-gate", "0")
    total = 32 * 1024
    with MiniClusterFixture(parallelism=strom_parallelism):
        env = StreamExecutionEnvironment.get_execution_environment(config)
        ds = source(env, list(range(total)), splits=strom_parallelism).map(CountProduced())
        # another slot sharing group: the sink runs in its own thread, at its own pace
        ds.add_sink(SlowSink()).slot_sharing_group("sink")
        env.execute()
    assert Counters.get("consumed") == total
    # per channel: 1 batch in flight + 1 being consumed + 1 waiting for credit + 1 partial
    # buffer and the source's batch (1024 records each)
    bound = strom_parallelism * 5 * 1024
    assert 0 < Counters.get("max ahead") <= bound


def test_partial_buffers_are_flushed_while_the_source_is_busy() -> None:
    """A source that always has a little more data never goes idle; the output flusher
    (``execution.buffer-timeout.interval``) still sends its partly filled buffers."""

    class Trickle(SourceReader[_NoSplit]):
        def poll_next(self, output: ReaderOutput) -> InputStatus:
            time.sleep(0.001)
            output.collect(["drop"])
            return InputStatus.MORE_AVAILABLE

        def add_splits(self, splits: list[_NoSplit]) -> None:
            """No splits."""

        def notify_no_more_splits(self) -> None:
            """Never ends."""

        def snapshot_state(self, checkpoint_id: int) -> list[_NoSplit]:
            return []

    class TrickleSource(UnboundedSource):
        def create_reader(self, context: SourceReaderContext) -> Any:
            return Trickle()

    def first_record_delay(env: StreamExecutionEnvironment, per_operator: int | None) -> float:
        env.set_parallelism(1)
        stream = env.from_source(TrickleSource(), WatermarkStrategy.no_watermarks(), "trickle")
        if per_operator is not None:
            stream.set_buffer_timeout(per_operator)
        with stream.rebalance().map(lambda x: x).execute_and_collect() as it:
            started = time.monotonic()
            assert next(it) == "drop"
            return time.monotonic() - started

    config = Configuration()
    config.set_string("execution.buffer-timeout.interval", "20 ms")
    env = StreamExecutionEnvironment.get_execution_environment(config)
    # the flusher sends it long before 1024 records (a second's worth) fill the buffer
    assert first_record_delay(env, None) < 0.5
    # with the job's flusher off, the source's own DataStream.set_buffer_timeout applies
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_buffer_timeout(-1)
    assert first_record_delay(env, 10) < 0.5
