"""strom's public test kit: sources with end and failure markers, a collecting sink, a manual
clock and a mini-cluster fixture for testing pipelines.

Typical use with pytest (``pytest_plugins = ["strom.testing.pytest_plugin"]`` in a
conftest, or the fixtures directly)::

    def test_doubles(strom_env):
        sink = CollectSink()
        strom_env.from_source(TestingSource([1, 2, 3]), WatermarkStrategy.no_watermarks(),
                              "numbers").map(lambda x: 2 * x).sink_to(sink)
        strom_env.execute()
        assert sorted(sink.results) == [2, 4, 6]
"""

from strom.testing.clock import ManualClock
from strom.testing.cluster import (
    ClusterLeakError,
    MiniClusterFixture,
    processing_time_deadlines,
    settle_processing_time,
)
from strom.testing.sinks import CollectSink
from strom.testing.sources import TestingSource
from strom.testing.sync import Latch, wait_until

__all__ = [
    "ClusterLeakError",
    "CollectSink",
    "Latch",
    "ManualClock",
    "MiniClusterFixture",
    "TestingSource",
    "processing_time_deadlines",
    "settle_processing_time",
    "wait_until",
]
