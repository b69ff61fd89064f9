"""Keyed state (all five kinds, and TTL on the manual clock) and broadcast state through the
runtime (reference §1.7, §5.12, §5.14). The backends have unit tests in tests/unit/state."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest

from strom.common import WatermarkStrategy
from strom.common.time import Time
from strom.datastream import (
    AggregateFunction,
    BroadcastProcessFunction,
    KeyedBroadcastProcessFunction,
    KeyedProcessFunction,
    RuntimeContext,
    StreamExecutionEnvironment,
)
from strom.datastream.state import (
    AggregatingStateDescriptor,
    ListStateDescriptor,
    MapStateDescriptor,
    ReducingStateDescriptor,
    StateTtlConfig,
    ValueStateDescriptor,
)
from strom.testing import CollectSink, TestingSource
from strom.testing.sync import Latch, wait_until


class Mean(AggregateFunction):
    def create_accumulator(self) -> tuple[int, int]:
        return 0, 0

    def add(self, value: int, accumulator: tuple[int, int]) -> tuple[int, int]:
        return accumulator[0] + value, accumulator[1] + 1

    def get_result(self, accumulator: tuple[int, int]) -> float:
        return accumulator[0] / accumulator[1]

    def merge(self, a: tuple[int, int], b: tuple[int, int]) -> tuple[int, int]:
        return a[0] + b[0], a[1] + b[1]


class AllStates(KeyedProcessFunction):
    """Keeps every kind of keyed state; ``(key, v)`` updates them all, ``(key, None)`` clears
    them. Emits ``(key, count, items, histogram, total, mean)`` after each record."""

    def open(self, runtime_context: RuntimeContext) -> None:
        self.count = runtime_context.get_state(ValueStateDescriptor("count"))
        self.items = runtime_context.get_list_state(ListStateDescriptor("items"))
        self.histogram = runtime_context.get_map_state(MapStateDescriptor("histogram"))
        self.total = runtime_context.get_reducing_state(
            ReducingStateDescriptor("total", lambda a, b: a + b))
        self.mean = runtime_context.get_aggregating_state(
            AggregatingStateDescriptor("mean", Mean()))

    def process_element(self, value: Any, ctx: KeyedProcessFunction.Context) -> Iterable[Any]:
        key, v = value
        if v is None:
            for state in (self.count, self.items, self.histogram, self.total, self.mean):
                state.clear()
        else:
            self.count.update((self.count.value() or 0) + 1)
            self.items.add(v)
            self.histogram.put(v, (self.histogram.get(v) or 0) + 1)
            self.total.add(v)
            self.mean.add(v)
        yield (key, self.count.value(), list(self.items.get()), sorted(self.histogram.items()),
               self.total.get(), self.mean.get())


def test_every_kind_of_keyed_state(strom_env: StreamExecutionEnvironment) -> None:
    data = [("a", 1), ("b", 5), ("a", 3), ("a", 1), ("b", None), ("b", 7)]
    sink = CollectSink()
    strom_env.from_source(TestingSource(data), WatermarkStrategy.no_watermarks(), "src") \
        .key_by(lambda v: v[0]).process(AllStates()).sink_to(sink)
    strom_env.execute()
    assert [r for r in sink.results if r[0] == "a"] == [
        ("a", 1, [1], [(1, 1)], 1, 1.0),
        ("a", 2, [1, 3], [(1, 1), (3, 1)], 4, 2.0),
        ("a", 3, [1, 3, 1], [(1, 2), (3, 1)], 5, 5 / 3),
    ]
    # cleared state reads as empty: None for value, reducing and aggregating state
    assert [r for r in sink.results if r[0] == "b"] == [
        ("b", 1, [5], [(5, 1)], 5, 5.0),
        ("b", None, [], [], None, None),
        ("b", 1, [7], [(7, 1)], 7, 7.0),
    ]


class TtlValue(KeyedProcessFunction):
    """``(key, "set", v)`` writes a value with a 1000 ms TTL; ``(key, "get")`` emits it."""

    def open(self, runtime_context: RuntimeContext) -> None:
        descriptor = ValueStateDescriptor("v")
        descriptor.enable_time_to_live(StateTtlConfig.new_builder(Time.milliseconds(1000)).build())
        self.state = runtime_context.get_state(descriptor)

    def process_element(self, value: Any, ctx: KeyedProcessFunction.Context) -> Iterable[Any]:
        if value[1] == "set":
            self.state.update(value[2])
        yield value[0], value[1], self.state.value()


def test_state_ttl_hides_expired_values_on_the_manual_clock(
    strom_env_manual_clock: StreamExecutionEnvironment, manual_clock: Any, jobs: Any,
) -> None:
    env = strom_env_manual_clock
    l1, l2 = Latch(), Latch()
    data = [("a", "set", 1), ("b", "set", 2), TestingSource.AWAIT(l1), ("a", "get"),
            ("b", "set", 3), TestingSource.AWAIT(l2), ("a", "get"), ("b", "get")]
    sink = CollectSink()
    env.from_source(TestingSource(data), WatermarkStrategy.no_watermarks(), "src") \
        .key_by(lambda v: v[0]).process(TtlValue()).sink_to(sink)
    client = jobs.start(env)
    wait_until(lambda: len(sink.results) == 2, what="both writes")
    manual_clock.advance(999)  # a and b written at 0: alive until 1000
    l1.trigger()
    wait_until(lambda: len(sink.results) == 4, what="the read at 999 and b's rewrite")
    manual_clock.advance(1)  # a expires; b was rewritten at 999
    l2.trigger()
    jobs.finish(client)
    assert sorted(sink.results, key=repr) == [("a", "get", 1), ("a", "get", None), ("a", "set", 1),
                                    ("b", "get", 3), ("b", "set", 2), ("b", "set", 3)]


# ---------------------------------------------------------------------------- broadcast


RULES = MapStateDescriptor("rules")


class Scale(BroadcastProcessFunction):
    """Broadcast ``(name, factor)`` rules; main records are multiplied by the rule "x"."""

    def open(self, runtime_context: RuntimeContext) -> None:
        self.subtask = runtime_context.get_index_of_this_subtask()

    def process_element(self, value: Any, ctx: Any) -> Iterable[Any]:
        yield "main", value * ctx.get_broadcast_state(RULES).get("x")

    def process_broadcast_element(self, value: Any, ctx: Any) -> Iterable[Any]:
        ctx.get_broadcast_state(RULES).put(value[0], value[1])
        yield "rule", self.subtask, value


def test_every_instance_sees_every_broadcast_element(
    strom_env: StreamExecutionEnvironment, strom_parallelism: int, jobs: Any,
) -> None:
    latch = Latch()
    main = strom_env.from_source(
        TestingSource([TestingSource.AWAIT(latch), TestingSource.AWAIT(latch), 1, 2, 3, 4],
                      splits=2),  # each split waits for the latch first
        WatermarkStrategy.no_watermarks(), "main")
    rules = strom_env.from_source(TestingSource([("x", 10), ("y", 0), ("x", 100)]),
                                  WatermarkStrategy.no_watermarks(), "rules")
    sink = CollectSink()
    main.connect(rules.broadcast(RULES)).process(Scale()).sink_to(sink)
    client = jobs.start(strom_env)
    wait_until(lambda: len(sink.results) == 3 * strom_parallelism, what="the rules everywhere")
    latch.trigger()
    jobs.finish(client)
    got = sorted(sink.results)
    assert got[:4] == [("main", 100), ("main", 200), ("main", 300), ("main", 400)]
    assert got[4:] == sorted(("rule", i, r) for i in range(strom_parallelism)
                             for r in (("x", 10), ("y", 0), ("x", 100)))


COUNT = ValueStateDescriptor("count")


class CountAndDump(KeyedBroadcastProcessFunction):
    """Counts records per key; the broadcast command "dump" emits every key's count through
    ``apply_to_keyed_state``, "double" doubles them all."""

    def open(self, runtime_context: RuntimeContext) -> None:
        self.count = runtime_context.get_state(COUNT)

    def process_element(self, value: Any, ctx: Any) -> Iterable[Any]:
        self.count.update((self.count.value() or 0) + 1)
        yield "seen", ctx.get_current_key()

    def process_broadcast_element(self, value: Any, ctx: Any) -> Iterable[Any]:
        found: list[Any] = []
        if value == "double":
            ctx.apply_to_keyed_state(COUNT, lambda key, state: state.update(state.value() * 2))
        else:
            ctx.apply_to_keyed_state(COUNT, lambda key, state: found.append((key, state.value())))
        yield from (("count", key, count) for key, count in found)


@pytest.mark.parametrize("wrap", [lambda k: k, lambda k: [k]], ids=["str-keys", "list-keys"])
def test_keyed_broadcast_apply_to_keyed_state(
    strom_env: StreamExecutionEnvironment, jobs: Any, wrap: Any,
) -> None:
    latch = Latch()
    main = strom_env.from_source(
        TestingSource([("a", 1), ("b", 1), ("a", 1), ("c", 1), ("a", 1)]),
        WatermarkStrategy.no_watermarks(), "main")
    commands = strom_env.from_source(
        TestingSource([TestingSource.AWAIT(latch), "double", "dump"]),
        WatermarkStrategy.no_watermarks(), "commands")
    sink = CollectSink()
    main.key_by(lambda v: wrap(v[0])).connect(commands.broadcast(RULES)) \
        .process(CountAndDump()).sink_to(sink)
    client = jobs.start(strom_env)
    wait_until(lambda: len(sink.results) == 5, what="all main records")
    latch.trigger()
    jobs.finish(client)
    # each instance reports the keys it holds, so every key is reported exactly once; the
    # functions see the keys the key selector returned
    assert sorted((r for r in sink.results if r[0] == "count"), key=repr) == [
        ("count", wrap("a"), 6), ("count", wrap("b"), 2), ("count", wrap("c"), 2)]
    assert sorted((r for r in sink.results if r[0] == "seen"), key=repr) == [
        ("seen", wrap(k)) for k in "aaabc"]


class WritesFromMainInput(BroadcastProcessFunction):
    def process_element(self, value: Any, ctx: Any) -> None:
        ctx.get_broadcast_state(RULES).put("x", value)

    def process_broadcast_element(self, value: Any, ctx: Any) -> None:
        pass


def test_broadcast_state_is_read_only_on_the_main_input(
    strom_env: StreamExecutionEnvironment,
) -> None:
    main = strom_env.from_source(TestingSource([1]), WatermarkStrategy.no_watermarks(), "main")
    rules = strom_env.from_source(TestingSource([]), WatermarkStrategy.no_watermarks(), "rules")
    main.connect(rules.broadcast(RULES)).process(WritesFromMainInput()).sink_to(CollectSink())
    with pytest.raises(Exception) as error:
        strom_env.execute()
    assert "read" in str(error.value).lower()
