"""Failures: a user function's exception reaches ``execute()`` as itself (type, traceback, a
note naming the operator) and fails the job; API misuse fails while the graph is built."""

from __future__ import annotations

import json
import threading
import traceback
from collections.abc import Iterator
from typing import Any

import pytest
from dataflow_helpers import source

from strom.common import JobStatus
from strom.datastream import (
    KeyedProcessFunction,
    MapFunction,
    ProcessFunction,
    RuntimeContext,
    StreamExecutionEnvironment,
)
from strom.testing import CollectSink, TestingSource


class Boom(Exception):
    """The user's own exception type."""


def explode(value: Any) -> Any:
    raise Boom(f"cannot handle {value!r}")


def assert_user_failure(info: pytest.ExceptionInfo[BaseException], operator: str,
                        function: str) -> None:
    frames = [frame.name for frame in traceback.extract_tb(info.value.__traceback__)]
    assert function in frames, frames  # the user's frame is in the traceback
    notes = getattr(info.value, "__notes__", [])
    assert any(f"operator '{operator}'" in note for note in notes), notes


def test_failing_map_raises_the_users_exception(strom_env: StreamExecutionEnvironment) -> None:
    source(strom_env, [1, 2]).map(explode).name("exploding map").sink_to(CollectSink())
    with pytest.raises(Boom, match="cannot handle 1") as info:
        strom_env.execute("failing job")
    assert_user_failure(info, "exploding map", "explode")
    assert any("failing job" in note for note in info.value.__notes__)


def test_the_note_is_matched_by_pytest_raises(strom_env: StreamExecutionEnvironment) -> None:
    source(strom_env, [1]).map(explode).name("mapper").sink_to(CollectSink())
    with pytest.raises(Boom, match=r"raised in operator 'mapper' of task"):
        strom_env.execute()


def test_failing_key_selector(strom_env: StreamExecutionEnvironment) -> None:
    def bad_key(value: Any) -> Any:
        return value["missing"]

    source(strom_env, [{"k": 1}]).key_by(bad_key).reduce(lambda a, b: a) \
        .sink_to(CollectSink())
    with pytest.raises(KeyError, match="missing") as info:
        strom_env.execute()
    assert_user_failure(info, "key selector of Keyed Reduce", "bad_key")


def test_failing_custom_partitioner(strom_env: StreamExecutionEnvironment) -> None:
    def pick(key: Any, n: int) -> int:
        raise Boom(f"no partition for {key}")

    source(strom_env, [1]).map(lambda x: x).name("before") \
        .partition_custom(pick, lambda x: x).map(lambda x: x).name("after") \
        .sink_to(CollectSink())
    with pytest.raises(Boom, match="no partition for 1") as info:
        strom_env.execute()
    assert_user_failure(info, "custom partitioner of after", "pick")


def test_failing_reduce(strom_env: StreamExecutionEnvironment) -> None:
    def divide(a: Any, b: Any) -> Any:
        return a / (b - b)

    source(strom_env, [1, 2]).key_by(lambda x: 0).reduce(divide).sink_to(CollectSink())
    with pytest.raises(ZeroDivisionError) as info:
        strom_env.execute()
    assert_user_failure(info, "Keyed Reduce", "divide")


def test_failing_process_function(strom_env: StreamExecutionEnvironment) -> None:
    class Faulty(ProcessFunction):
        def process_element(self, value: Any, ctx: Any) -> Iterator[Any]:
            yield value
            raise Boom("after yielding")

    source(strom_env, [1]).process(Faulty()).name("faulty").sink_to(CollectSink())
    with pytest.raises(Boom, match="after yielding") as info:
        strom_env.execute()
    assert_user_failure(info, "faulty", "process_element")


def test_failing_sink(strom_env: StreamExecutionEnvironment) -> None:
    def refuse(value: Any, context: Any) -> None:
        raise PermissionError(f"read-only: {value}")

    source(strom_env, ["x"]).add_sink(refuse).name("refusing sink")
    with pytest.raises(PermissionError, match="read-only: x") as info:
        strom_env.execute()
    assert_user_failure(info, "Sink: refusing sink", "refuse")


def test_failing_open(strom_env: StreamExecutionEnvironment) -> None:
    class NoOpen(MapFunction):
        def open(self, runtime_context: RuntimeContext) -> None:
            raise Boom("open failed")

        def map(self, value: Any) -> Any:
            return value

    source(strom_env, [1]).map(NoOpen()).name("unopenable").sink_to(CollectSink())
    with pytest.raises(Boom, match="open failed") as info:
        strom_env.execute()
    assert_user_failure(info, "unopenable", "open")


def test_testing_source_fail_marker(strom_env: StreamExecutionEnvironment) -> None:
    sink = CollectSink()
    source(strom_env, [1, 2, TestingSource.FAIL(Boom("injected")), 3]).sink_to(sink)
    with pytest.raises(Boom, match="injected"):
        strom_env.execute()
    assert 3 not in sink.results


def test_a_failed_job_ends_failed(strom_env: StreamExecutionEnvironment) -> None:
    source(strom_env, [1]).map(explode).sink_to(CollectSink())
    client = strom_env.execute_async()
    with pytest.raises(Boom):
        client.get_job_execution_result().result(timeout=10)
    assert client.get_job_status().result(timeout=5) is JobStatus.FAILED


def test_a_failure_cancels_the_other_tasks(strom_env: StreamExecutionEnvironment) -> None:
    from test_integration_execution import UnboundedSource

    forever = UnboundedSource.stream(strom_env)
    failing = source(strom_env, [1]).map(explode)
    forever.union(failing).sink_to(CollectSink())
    with pytest.raises(Boom):
        strom_env.execute()  # returns although one source never ends


def test_execute_and_collect_raises_the_failure(strom_env: StreamExecutionEnvironment) -> None:
    with pytest.raises(Boom, match="cannot handle"):
        source(strom_env, [1, 2]).map(explode).execute_and_collect(limit=5)


def test_the_embedded_cluster_raises_and_shuts_down() -> None:
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(2)
    source(env, [1, 2], splits=2).map(explode).sink_to(CollectSink())
    with pytest.raises(Boom):
        env.execute()


# ---------------------------------------------------------------- misuse at graph time
def env_p1() -> StreamExecutionEnvironment:
    env = StreamExecutionEnvironment(None)
    env.set_parallelism(1)
    return env


def test_map_of_something_not_callable() -> None:
    with pytest.raises(TypeError, match=r"map\(\) expects a MapFunction or a callable, got 3"):
        source(env_p1(), [1]).map(3)  # type: ignore[arg-type]


def test_map_of_a_function_class_instead_of_an_instance() -> None:
    class Identity(MapFunction):
        def map(self, value: Any) -> Any:
            return value

    with pytest.raises(TypeError, match=r"got the class Identity, not an instance"):
        source(env_p1(), [1]).map(Identity)  # type: ignore[arg-type]


def test_the_wrong_function_kind() -> None:
    class NotAMap(ProcessFunction):
        def process_element(self, value: Any, ctx: Any) -> Any:
            return None

    with pytest.raises(TypeError, match="expects a MapFunction or a callable, got a NotAMap"):
        source(env_p1(), [1]).map(NotAMap())  # type: ignore[arg-type]


def test_keyed_process_function_on_a_non_keyed_stream() -> None:
    class Keyed(KeyedProcessFunction):
        def process_element(self, value: Any, ctx: Any) -> Any:
            return None

    with pytest.raises(TypeError, match=r"needs a keyed stream: call key_by\(\.\.\.\)"):
        source(env_p1(), [1]).process(Keyed())  # type: ignore[arg-type]


def test_process_function_on_a_keyed_stream() -> None:
    class Plain(ProcessFunction):
        def process_element(self, value: Any, ctx: Any) -> Any:
            return None

    with pytest.raises(TypeError, match="takes a KeyedProcessFunction"):
        source(env_p1(), [1]).key_by(lambda x: x).process(Plain())


@pytest.mark.parametrize("bad", [0, -2, 1.5, True, "2"])
def test_invalid_parallelism(bad: Any) -> None:
    env = env_p1()
    message = r"parallelism must be a positive integer, or -1 to use the default parallelism; got"
    with pytest.raises(ValueError, match=message):
        source(env, [1]).map(lambda x: x).set_parallelism(bad)
    with pytest.raises(ValueError, match=message):
        env.set_parallelism(bad)
    with pytest.raises(ValueError, match=message):
        source(env, [1]).print().set_parallelism(bad)


def test_parallelism_minus_one_means_the_default() -> None:
    """As Flink's ExecutionConfig.PARALLELISM_DEFAULT: the environment and an operator
    accept -1; the environment then uses the system default, the operator the job's."""
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(-1)
    assert env.get_parallelism() == StreamExecutionEnvironment.get_default_local_parallelism()
    assert env.get_config().get_parallelism() == -1
    env.set_parallelism(3)
    mapped = env.from_collection([1, 2]).map(lambda x: x).set_parallelism(2)
    mapped.set_parallelism(-1)
    mapped.print().set_parallelism(-1)
    vertices = json.loads(env.get_execution_plan())["nodes"]
    assert [v["parallelism"] for v in vertices] == [1, 3, 3]


@pytest.mark.parametrize("method", ["shuffle", "rebalance", "rescale", "forward", "global_",
                                    "broadcast"])
def test_partitioning_a_keyed_stream_is_refused(method: str) -> None:
    keyed = source(env_p1(), [1]).key_by(lambda x: x)
    with pytest.raises(Exception, match=f"Cannot {method} on a KeyedStream"):
        getattr(keyed, method)()


def test_partition_custom_and_naming_a_keyed_stream_are_refused() -> None:
    keyed = source(env_p1(), [1]).key_by(lambda x: x)
    with pytest.raises(Exception, match="Cannot partition_custom on a KeyedStream"):
        keyed.partition_custom(lambda k, n: 0, lambda x: x)
    with pytest.raises(Exception, match="Cannot set a name on a KeyedStream"):
        keyed.name("keyed")
    with pytest.raises(Exception, match="Cannot set the parallelism on a KeyedStream"):
        keyed.set_parallelism(2)


def test_from_source_without_a_watermark_strategy() -> None:
    with pytest.raises(TypeError, match=r"from_source\(\) needs a WatermarkStrategy"):
        env_p1().from_source(TestingSource([1]), None, "s")
    with pytest.raises(TypeError, match=r"from_source\(\) takes a Source"):
        env_p1().from_source([1, 2], None, "s")  # type: ignore[arg-type]


def test_add_source_points_to_from_source() -> None:
    with pytest.raises(TypeError, match=r"use from_source\(\)"):
        env_p1().add_source(object())


def test_unpicklable_closure_fails_with_a_clear_error(
    strom_env: StreamExecutionEnvironment,
) -> None:
    lock = threading.Lock()

    def locked(value: Any) -> Any:
        with lock:
            return value

    source(strom_env, [1]).map(locked).name("locking map").sink_to(CollectSink())
    with pytest.raises(TypeError, match=(
            r"Could not serialize the operators of '.*locking map.*'.*lock.*create such things "
            r"in open\(\) instead")):
        strom_env.execute()


def test_a_job_without_a_sink_cannot_run(strom_env: StreamExecutionEnvironment) -> None:
    from strom.graph.stream_graph import GraphBuildError

    source(strom_env, [1]).map(lambda x: x)
    with pytest.raises(GraphBuildError, match=r"No operators defined .* Add a sink"):
        strom_env.execute()


def test_union_and_connect_take_streams() -> None:
    ds = source(env_p1(), [1])
    with pytest.raises(TypeError, match="union"):
        ds.union([1])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"union\(\) needs at least one other stream"):
        ds.union()
    with pytest.raises(TypeError, match=r"connect\(\) takes a DataStream"):
        ds.connect(3)  # type: ignore[arg-type]


def test_execute_and_collect_limit_must_be_a_count() -> None:
    with pytest.raises(ValueError, match="limit must be a non-negative integer, got -1"):
        source(env_p1(), [1]).execute_and_collect(limit=-1)
