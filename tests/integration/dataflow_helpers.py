"""Shared pieces of the dataflow integration tests.

User functions travel to the tasks cloudpickled. Classes defined at module level here are
pickled by reference, so their class-level counters are shared between the test and the
tasks of the in-process cluster (lambdas defined inside a test are copied instead).
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

from strom.common import WatermarkStrategy
from strom.datastream import (
    DataStream,
    MapFunction,
    RuntimeContext,
    StreamExecutionEnvironment,
)
from strom.testing import CollectSink, TestingSource

__all__ = ["Counters", "TagSubtask", "run_and_collect", "source"]


def source(env: StreamExecutionEnvironment, elements: list[Any], name: str = "source",
           **kwargs: Any) -> DataStream:
    """A bounded TestingSource stream (parallel: its splits spread over the subtasks)."""
    return env.from_source(TestingSource(elements, **kwargs),
                           WatermarkStrategy.no_watermarks(), name)


def run_and_collect(env: StreamExecutionEnvironment, stream: DataStream) -> list[Any]:
    """Execute the job with a CollectSink on ``stream``; the records in arrival order."""
    sink = CollectSink()
    stream.sink_to(sink)
    env.execute()
    return sink.results


class Counters:
    """Thread-safe named counters shared by the test and the tasks (reset per test)."""

    _lock = threading.Lock()
    _counts: Counter[str] = Counter()
    _values: dict[str, list[Any]] = {}

    @classmethod
    def reset(cls) -> None:
        with cls._lock:
            cls._counts.clear()
            cls._values.clear()

    @classmethod
    def add(cls, name: str, amount: int = 1) -> int:
        with cls._lock:
            cls._counts[name] += amount
            return cls._counts[name]

    @classmethod
    def get(cls, name: str) -> int:
        with cls._lock:
            return cls._counts[name]

    @classmethod
    def record(cls, name: str, value: Any) -> None:
        with cls._lock:
            cls._values.setdefault(name, []).append(value)

    @classmethod
    def values(cls, name: str) -> list[Any]:
        with cls._lock:
            return list(cls._values.get(name, []))


class TagSubtask(MapFunction):
    """Maps ``v`` to ``(index of this subtask, v)``."""

    def open(self, runtime_context: RuntimeContext) -> None:
        self.index = runtime_context.get_index_of_this_subtask()

    def map(self, value: Any) -> Any:
        return (self.index, value)
