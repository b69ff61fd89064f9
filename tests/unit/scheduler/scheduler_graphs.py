"""Job graphs for the scheduler tests, built through the DataStream API."""

from __future__ import annotations

from strom.common import WatermarkStrategy
from strom.datastream import StreamExecutionEnvironment
from strom.graph.job_graph import JobGraph, build_job_graph
from strom.testing import CollectSink, TestingSource


def _env(parallelism: int, chaining: bool = True) -> StreamExecutionEnvironment:
    env = StreamExecutionEnvironment(None)
    env.set_parallelism(parallelism)
    if not chaining:
        env.disable_operator_chaining()
    return env


def _graph(env: StreamExecutionEnvironment) -> JobGraph:
    return build_job_graph(env._stream_graph(None))


def embarrassingly_parallel(parallelism: int = 2, chaining: bool = True) -> JobGraph:
    """source → map → sink, forward edges only."""
    env = _env(parallelism, chaining)
    (env.from_source(TestingSource([1, 2, 3]), WatermarkStrategy.no_watermarks(), "src")
     .map(lambda x: x).name("m").sink_to(CollectSink()))
    return _graph(env)


def keyed(parallelism: int = 2) -> JobGraph:
    """source → key_by → reduce → sink: one all-to-all edge."""
    env = _env(parallelism)
    (env.from_source(TestingSource([1, 2, 3]), WatermarkStrategy.no_watermarks(), "src")
     .key_by(lambda x: x % 2).reduce(lambda a, b: a + b).sink_to(CollectSink()))
    return _graph(env)


def rescaled() -> JobGraph:
    """source (p=2) → rescale → map (p=4): subtask i of the source feeds map 2i and 2i+1."""
    env = _env(2)
    (env.from_source(TestingSource([1]), WatermarkStrategy.no_watermarks(), "src")
     .rescale().map(lambda x: x).name("m").set_parallelism(4)
     .sink_to(CollectSink()).set_parallelism(4))
    return _graph(env)
