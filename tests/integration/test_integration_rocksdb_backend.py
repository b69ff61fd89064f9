"""Jobs on ``state.backend.type: rocksdb`` give the ``hashmap`` backend's results: keyed
reduce, a KeyedProcessFunction with list state and timers, event-time windows (the window
operator's general path: the fast path works on hashmap's dicts) and session windows."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from strom.common import Duration, Time, WatermarkStrategy
from strom.common.configuration import Configuration
from strom.datastream import KeyedProcessFunction, ProcessWindowFunction, StreamExecutionEnvironment
from strom.datastream.state import ListStateDescriptor, ValueStateDescriptor
from strom.datastream.window import EventTimeSessionWindows, TumblingEventTimeWindows
from strom.testing import CollectSink


class Buffer(KeyedProcessFunction):
    """Buffers each key's values in list state and emits them sorted at the next 100 ms."""

    def open(self, runtime_context: Any) -> None:
        self.items = runtime_context.get_list_state(ListStateDescriptor("items"))

    def process_element(self, value: Any, ctx: Any) -> None:
        self.items.add(value[1])
        ctx.timer_service().register_event_time_timer(ctx.timestamp() - ctx.timestamp() % 100 + 99)

    def on_timer(self, timestamp: int, ctx: Any) -> Any:
        yield (ctx.get_current_key(), timestamp, sorted(self.items.get()))
        self.items.clear()


class CountFires(ProcessWindowFunction):
    def process(self, key: str, context: Any, elements: Any) -> Any:
        fires = context.window_state().get_state(ValueStateDescriptor("fires"))
        fires.update((fires.value() or 0) + 1)
        yield (key, context.window().start, fires.value(), sorted(e[1] for e in elements))

    def clear(self, context: Any) -> None:
        context.window_state().get_state(ValueStateDescriptor("fires")).clear()


def events() -> list[tuple[str, int]]:
    rnd = random.Random(5)
    return [(f"k{rnd.randrange(9)}", i * 7 + rnd.randrange(-30, 5)) for i in range(800)]


def run(backend: str, local_dir: Path, kind: str) -> list[str]:
    config = Configuration()
    config.set_string("state.backend.type", backend)
    config.set_string("state.backend.rocksdb.localdir", str(local_dir))
    env = StreamExecutionEnvironment.get_execution_environment(config)
    env.set_parallelism(2)
    strategy = (WatermarkStrategy.for_bounded_out_of_orderness(Duration.of_millis(40))
                .with_timestamp_assigner(lambda e, _: max(e[1], 0)))
    # one source subtask: each key's elements arrive in one order, so results are
    # deterministic (and no element is ever late: jitter 30 ms < 40 ms out-of-orderness)
    source = env.from_collection(events()).set_parallelism(1)
    timed = source.assign_timestamps_and_watermarks(strategy).set_parallelism(1)
    keyed = timed.key_by(lambda e: e[0])
    if kind == "reduce":
        result = keyed.reduce(lambda a, b: (a[0], a[1] + b[1]))
    elif kind == "process":
        result = keyed.process(Buffer())
    elif kind == "tumbling":
        result = keyed.window(TumblingEventTimeWindows.of(Time.milliseconds(100))).reduce(
            lambda a, b: (a[0], a[1] + b[1]))
    elif kind == "tumbling+process":
        result = keyed.window(TumblingEventTimeWindows.of(Time.milliseconds(100))).process(
            CountFires())
    else:
        result = keyed.window(EventTimeSessionWindows.with_gap(Time.milliseconds(30))).reduce(
            lambda a, b: (a[0], a[1] + b[1]), window_function=None)
    sink = CollectSink()
    result.sink_to(sink)
    env.execute(f"{kind} on {backend}")
    return sorted(map(repr, sink.results))


@pytest.mark.parametrize("kind", ["reduce", "process", "tumbling", "tumbling+process", "session"])
def test_rocksdb_job_matches_hashmap(tmp_path: Path, kind: str) -> None:
    on_heap = run("hashmap", tmp_path, kind)
    on_rocksdb = run("rocksdb", tmp_path, kind)
    assert on_heap, "the job produced output"
    assert on_rocksdb == on_heap
    assert list(tmp_path.iterdir()) == [], "every backend removed its DB directory"
