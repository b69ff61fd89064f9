"""Small PyFlink accessors strom added: what they return must be true of the job."""

from __future__ import annotations

from strom.common import CompletableFuture, JobExecutionResult, Types, WatermarkStrategy
from strom.datastream import StreamExecutionEnvironment
from strom.datastream.window import CountTumblingWindowAssigner
from strom.testing import CollectSink, TestingSource


def make_env() -> StreamExecutionEnvironment:
    env = StreamExecutionEnvironment(None)
    env.set_parallelism(1)
    return env


def test_get_execution_config_is_the_environments() -> None:
    env = make_env()
    ds = env.from_collection([1, 2])
    assert ds.get_execution_config() is env.get_config()
    assert ds.key_by(lambda x: x).get_execution_config() is env.get_config()


def test_windowed_streams_know_their_input_type_and_environment() -> None:
    env = make_env()
    ds = env.from_collection([(1, "a")], type_info=Types.TUPLE([Types.INT(), Types.STRING()]))
    windowed = ds.key_by(lambda t: t[0]).window(CountTumblingWindowAssigner.of(2))
    all_windowed = ds.window_all(CountTumblingWindowAssigner.of(2))
    assert windowed.get_input_type() == ds.get_type()
    assert all_windowed.get_input_type() == ds.get_type()
    assert windowed.get_execution_environment() is env
    assert all_windowed.get_execution_environment() is env


def test_operators_with_different_max_parallelism_chain() -> None:
    env = make_env()
    assert env.is_chaining_of_operators_with_different_max_parallelism_enabled()
    (env.from_source(TestingSource([1]), WatermarkStrategy.no_watermarks(), "src")
     .set_max_parallelism(128).map(lambda x: x).set_max_parallelism(64)
     .sink_to(CollectSink()))
    vertices = env._job_graph(None).vertices
    assert [v.name for v in vertices] == ["Source: src -> Map -> Sink: Collect Sink"]


def test_job_client_futures_are_completable_futures() -> None:
    env = make_env()
    env.from_collection([1]).sink_to(CollectSink())
    client = env.execute_async()
    try:
        future = client.get_job_execution_result()
        assert isinstance(future, CompletableFuture)
        assert isinstance(future.result(timeout=60), JobExecutionResult)
    finally:
        close = getattr(client, "close", None)
        if close is not None:
            close()
