"""from_collection: the job reads the collection as it was when from_collection() was called,
and the collection travels to the source task inside its split, not inside the task's copy
of the operators."""

from __future__ import annotations

from typing import Any

import cloudpickle
import pytest

from strom.common import _pickling
from strom.datastream import StreamExecutionEnvironment
from strom.graph.job_graph import ChainedOperator
from strom.graph.operator_specs import SourceSpec
from strom.testing import MiniClusterFixture


def test_changing_the_list_after_from_collection_does_not_change_the_job() -> None:
    with MiniClusterFixture(parallelism=1):
        env = StreamExecutionEnvironment.get_execution_environment()
        data = list(range(3000))
        stream = env.from_collection(data).map(lambda x: x)
        data[0] = "changed before the job started"
        data.append("appended")
        it = stream.execute_and_collect()
        data.clear()
        with it:
            assert list(it) == list(range(3000))


def test_the_source_task_operators_do_not_carry_the_collection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    unpickled: list[tuple[int, list[ChainedOperator]]] = []
    loads = _pickling.loads

    def recording(blob: bytes, *args: Any, **kwargs: Any) -> Any:
        result = loads(blob, *args, **kwargs)
        if isinstance(result, list) and result and isinstance(result[0], ChainedOperator):
            unpickled.append((len(blob), result))
        return result

    monkeypatch.setattr(_pickling, "loads", recording)
    data = [f"a fairly long element number {i}" for i in range(50_000)]
    with MiniClusterFixture(parallelism=1):
        env = StreamExecutionEnvironment.get_execution_environment()
        with env.from_collection(data).map(str.upper).execute_and_collect() as it:
            assert list(it) == [d.upper() for d in data]

    source_blobs = [size for size, chain in unpickled if isinstance(chain[0].spec, SourceSpec)]
    assert source_blobs, "no source task unpickled its operators"
    assert len(cloudpickle.dumps(data)) > 1_000_000
    assert max(source_blobs) < 20_000, f"the source task's operators pickle to {source_blobs}"


def test_in_process_the_job_reads_the_very_objects_of_the_list() -> None:
    class Element:
        def __reduce__(self) -> Any:
            raise AssertionError("an element was pickled")

    data = [Element() for _ in range(3000)]
    with MiniClusterFixture(parallelism=1, rpc="local"):  # plain in-process transport
        env = StreamExecutionEnvironment.get_execution_environment()
        with env.from_collection(data).map(id).execute_and_collect() as it:
            assert list(it) == [id(e) for e in data]
