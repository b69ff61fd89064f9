"""Keyed streams end to end: rolling aggregations with PyFlink's semantics, STREAMING vs BATCH,
keyed process functions with state and timers, keyed connect."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from dataflow_helpers import run_and_collect, source

from strom.common import Row, RuntimeExecutionMode, Types
from strom.datastream import (
    CoMapFunction,
    KeyedCoProcessFunction,
    KeyedProcessFunction,
    MapFunction,
    RuntimeContext,
    StreamExecutionEnvironment,
)
from strom.datastream.state import (
    ListStateDescriptor,
    MapStateDescriptor,
    ValueStateDescriptor,
)
from strom.testing import CollectSink


def by_key(results: list[Any], key: Callable[[Any], Any] = lambda r: r[0]) -> dict[Any, list[Any]]:
    """Records per key, in arrival order (order is defined per key, not across keys)."""
    grouped: dict[Any, list[Any]] = {}
    for r in results:
        grouped.setdefault(key(r), []).append(r)
    return grouped


PAIRS = [("a", 1), ("b", 2), ("a", 3), ("b", 4), ("a", 5)]


def test_reduce_emits_every_rolling_update_in_streaming(
    strom_env: StreamExecutionEnvironment,
) -> None:
    ds = source(strom_env, PAIRS).key_by(lambda t: t[0]).reduce(lambda a, b: (a[0], a[1] + b[1]))
    assert by_key(run_and_collect(strom_env, ds)) == {
        "a": [("a", 1), ("a", 4), ("a", 9)],
        "b": [("b", 2), ("b", 6)],
    }


def test_reduce_emits_only_the_final_value_per_key_in_batch(
    strom_env: StreamExecutionEnvironment,
) -> None:
    strom_env.set_runtime_mode(RuntimeExecutionMode.BATCH)
    ds = source(strom_env, PAIRS).key_by(lambda t: t[0]).reduce(lambda a, b: (a[0], a[1] + b[1]))
    assert sorted(run_and_collect(strom_env, ds)) == [("a", 9), ("b", 6)]


def test_automatic_mode_with_bounded_sources_runs_as_batch(
    strom_env: StreamExecutionEnvironment,
) -> None:
    strom_env.set_runtime_mode(RuntimeExecutionMode.AUTOMATIC)
    ds = source(strom_env, PAIRS).key_by(lambda t: t[0]).sum(1)
    assert sorted(run_and_collect(strom_env, ds)) == [("a", 9), ("b", 6)]


def test_sum_on_tuples_keeps_the_first_elements_other_fields(
    strom_env: StreamExecutionEnvironment,
) -> None:
    data = [("a", 1, "first"), ("a", 2, "second"), ("b", 5, "x")]
    ds = source(strom_env, data).key_by(lambda t: t[0]).sum(1)
    assert by_key(run_and_collect(strom_env, ds)) == {
        "a": [("a", 1, "first"), ("a", 3, "first")],
        "b": [("b", 5, "x")],
    }


MIXED = [("a", 3, "x"), ("a", 1, "y"), ("a", 2, "z"), ("a", 1, "w"), ("a", 4, "v")]


@pytest.mark.parametrize(("aggregation", "expected"), [
    ("min", [("a", 3, "x"), ("a", 1, "x"), ("a", 1, "x"), ("a", 1, "x"), ("a", 1, "x")]),
    ("max", [("a", 3, "x"), ("a", 3, "x"), ("a", 3, "x"), ("a", 3, "x"), ("a", 4, "x")]),
    ("min_by", [("a", 3, "x"), ("a", 1, "y"), ("a", 1, "y"), ("a", 1, "y"), ("a", 1, "y")]),
    ("max_by", [("a", 3, "x"), ("a", 3, "x"), ("a", 3, "x"), ("a", 3, "x"), ("a", 4, "v")]),
])
def test_min_max_and_their_by_variants(
    strom_env: StreamExecutionEnvironment, aggregation: str, expected: list[Any],
) -> None:
    keyed = source(strom_env, MIXED).key_by(lambda t: t[0])
    ds = getattr(keyed, aggregation)(1)
    assert run_and_collect(strom_env, ds) == expected


def test_aggregations_on_rows_by_position_and_by_name(
    strom_env: StreamExecutionEnvironment,
) -> None:
    rows = [Row(k="a", v=1, tag="p"), Row(k="b", v=7, tag="q"), Row(k="a", v=4, tag="r")]
    keyed = source(strom_env, rows).key_by(lambda r: r.k)
    by_position, by_name, max_by = keyed.sum(1), keyed.sum("v"), keyed.max_by("v")
    from strom.testing import CollectSink

    sinks = [CollectSink(), CollectSink(), CollectSink()]
    for stream, sink in zip((by_position, by_name, max_by), sinks):
        stream.sink_to(sink)
    strom_env.execute()
    expected_sum = {"a": [Row(k="a", v=1, tag="p"), Row(k="a", v=5, tag="p")],
                    "b": [Row(k="b", v=7, tag="q")]}
    assert by_key(sinks[0].results, lambda r: r.k) == expected_sum
    assert by_key(sinks[1].results, lambda r: r.k) == expected_sum
    assert by_key(sinks[2].results, lambda r: r.k) == {
        "a": [Row(k="a", v=1, tag="p"), Row(k="a", v=4, tag="r")],
        "b": [Row(k="b", v=7, tag="q")],
    }
    assert list(sinks[0].results[0]._fields) == ["k", "v", "tag"]  # names survive


def test_sum_of_plain_numbers(strom_env: StreamExecutionEnvironment) -> None:
    ds = source(strom_env, [1, 2, 3, 4, 5, 6]).key_by(lambda x: x % 2).sum()
    results = run_and_collect(strom_env, ds)
    assert sorted(results) == [1, 2, 4, 6, 9, 12]  # odd: 1, 4, 9; even: 2, 6, 12
    assert [r for r in results if r in (1, 4, 9)] == [1, 4, 9]
    assert [r for r in results if r in (2, 6, 12)] == [2, 6, 12]


@pytest.mark.parametrize("data", [
    [("a", "x"), ("a", "y")],  # a second value is reduced
    [("a", "x")],  # a key's only value is never reduced, and is checked all the same
], ids=["reduced", "first"])
@pytest.mark.parametrize("mode", [RuntimeExecutionMode.STREAMING, RuntimeExecutionMode.BATCH])
def test_sum_of_a_non_numeric_field_fails_naming_the_field_and_type(
    strom_env: StreamExecutionEnvironment, data: list[Any], mode: RuntimeExecutionMode,
) -> None:
    strom_env.set_runtime_mode(mode)
    source(strom_env, data).key_by(lambda t: t[0]).sum(1).sink_to(CollectSink())
    with pytest.raises(TypeError, match=r"sum\(1\) cannot add field 1: it holds a str \('x'\)"):
        strom_env.execute()


@pytest.mark.parametrize(("type_info", "field", "declared"), [
    (Types.TUPLE([Types.STRING(), Types.STRING()]), 1, "String"),
    (Types.ROW_NAMED(["k", "v"], [Types.STRING(), Types.BOOLEAN()]), "v", "Boolean"),
    (Types.ROW([Types.STRING(), Types.LIST(Types.INT())]), 1, "List"),
], ids=["tuple", "row-by-name", "list"])
def test_sum_of_a_field_declared_non_numeric_fails_when_the_job_is_built(
    type_info: Any, field: Any, declared: str,
) -> None:
    env = StreamExecutionEnvironment.get_execution_environment()
    keyed = env.from_collection([], type_info=type_info).key_by(lambda t: t[0])
    with pytest.raises(TypeError, match=rf"sum\({field!r}\) cannot add .*declared type is "
                                        rf"{declared}"):
        keyed.sum(field)
    keyed.max(field)  # only sum() needs numbers


def test_sum_of_a_field_declared_numeric_is_accepted() -> None:
    env = StreamExecutionEnvironment.get_execution_environment()
    rows = env.from_collection([], type_info=Types.ROW_NAMED(["k", "v"], [Types.STRING(),
                                                                          Types.DOUBLE()]))
    rows.key_by(lambda r: r.k).sum("v")
    env.from_collection([], type_info=Types.PICKLED_BYTE_ARRAY()).key_by(lambda x: x).sum()


def test_sum_of_bools_fails_as_flink_rejects_booleans(
    strom_env: StreamExecutionEnvironment,
) -> None:
    source(strom_env, [True, False]).key_by(lambda x: 0).sum().sink_to(CollectSink())
    with pytest.raises(TypeError, match="it holds a bool"):
        strom_env.execute()


def test_sum_adds_any_kind_of_number(strom_env: StreamExecutionEnvironment) -> None:
    from decimal import Decimal
    from fractions import Fraction

    data = [("d", Decimal("0.1")), ("d", Decimal("0.2")), ("f", Fraction(1, 3)),
            ("f", Fraction(2, 3)), ("m", 1), ("m", 0.5)]
    ds = source(strom_env, data).key_by(lambda t: t[0]).sum(1)
    last = {k: v[-1] for k, v in by_key(run_and_collect(strom_env, ds)).items()}
    assert last == {"d": ("d", Decimal("0.3")), "f": ("f", Fraction(1)), "m": ("m", 1.5)}


def test_keys_are_partitioned_across_subtasks(strom_env: StreamExecutionEnvironment) -> None:
    from dataflow_helpers import TagSubtask

    words = [f"w{i % 20}" for i in range(200)]
    ds = source(strom_env, words, splits=2).key_by(lambda w: w).map(TagSubtask())
    seen: dict[str, set[int]] = {}
    for subtask, word in run_and_collect(strom_env, ds):
        seen.setdefault(word, set()).add(subtask)
    assert len(seen) == 20
    assert all(len(subtasks) == 1 for subtasks in seen.values())  # one owner per key
    owners = {next(iter(s)) for s in seen.values()}
    assert owners == set(range(strom_env.get_parallelism()))


class CountWithState(KeyedProcessFunction):
    """Per key: a ValueState count, a ListState of values, a MapState of value counts."""

    def open(self, runtime_context: RuntimeContext) -> None:
        self.count = runtime_context.get_state(ValueStateDescriptor("count"))
        self.seen = runtime_context.get_list_state(ListStateDescriptor("seen"))
        self.histogram = runtime_context.get_map_state(MapStateDescriptor("histogram"))

    def process_element(self, value: Any, ctx: KeyedProcessFunction.Context) -> Iterator[Any]:
        count = (self.count.value() or 0) + 1
        self.count.update(count)
        self.seen.add(value[1])
        self.histogram.put(value[1], (self.histogram.get(value[1]) or 0) + 1)
        yield (ctx.get_current_key(), count, list(self.seen.get()),
               dict(self.histogram.items()))


def test_keyed_process_function_with_value_list_and_map_state(
    strom_env: StreamExecutionEnvironment,
) -> None:
    data = [("a", "x"), ("b", "y"), ("a", "x"), ("a", "z")]
    ds = source(strom_env, data).key_by(lambda t: t[0]).process(CountWithState())
    assert by_key(run_and_collect(strom_env, ds)) == {
        "a": [("a", 1, ["x"], {"x": 1}), ("a", 2, ["x", "x"], {"x": 2}),
              ("a", 3, ["x", "x", "z"], {"x": 2, "z": 1})],
        "b": [("b", 1, ["y"], {"y": 1})],
    }


class FireAtEnd(KeyedProcessFunction):
    def process_element(self, value: Any, ctx: KeyedProcessFunction.Context) -> Iterator[Any]:
        ctx.timer_service().register_event_time_timer(value[1] + 100)
        yield "element", value[0]

    def on_timer(self, timestamp: int, ctx: KeyedProcessFunction.OnTimerContext) -> Iterator[Any]:
        yield "timer", ctx.get_current_key(), timestamp


def test_event_time_timers_fire_at_the_end_of_bounded_input(
    strom_env: StreamExecutionEnvironment,
) -> None:
    ds = source(strom_env, [("a", 1), ("b", 2), ("a", 3)]).key_by(lambda t: t[0]) \
        .process(FireAtEnd())
    assert sorted(run_and_collect(strom_env, ds)) == [
        ("element", "a"), ("element", "a"), ("element", "b"),
        ("timer", "a", 101), ("timer", "a", 103), ("timer", "b", 102)]


class StatefulMap(MapFunction):
    def open(self, runtime_context: RuntimeContext) -> None:
        self.total = runtime_context.get_state(ValueStateDescriptor("total"))

    def map(self, value: Any) -> Any:
        total = (self.total.value() or 0) + value[1]
        self.total.update(total)
        return value[0], total


def test_keyed_map_function_with_state(strom_env: StreamExecutionEnvironment) -> None:
    ds = source(strom_env, PAIRS).key_by(lambda t: t[0]).map(StatefulMap())
    assert by_key(run_and_collect(strom_env, ds)) == {
        "a": [("a", 1), ("a", 4), ("a", 9)], "b": [("b", 2), ("b", 6)]}


class CountBothSides(KeyedCoProcessFunction):
    def open(self, runtime_context: RuntimeContext) -> None:
        self.count = runtime_context.get_state(ValueStateDescriptor("count"))

    def _bump(self, ctx: Any, side: str) -> Iterator[Any]:
        count = (self.count.value() or 0) + 1
        self.count.update(count)
        yield ctx.get_current_key(), count, side

    def process_element1(self, value: Any, ctx: Any) -> Iterator[Any]:
        yield from self._bump(ctx, "left")

    def process_element2(self, value: Any, ctx: Any) -> Iterator[Any]:
        yield from self._bump(ctx, "right")


@pytest.mark.parametrize("wrap", [lambda k: k, lambda k: [k]], ids=["str-keys", "list-keys"])
def test_keyed_connect_shares_state_per_key_across_both_inputs(
    strom_env: StreamExecutionEnvironment, wrap: Callable[[str], Any],
) -> None:
    left = source(strom_env, [("a", 1), ("b", 2), ("a", 3)], "left")
    right = source(strom_env, [("a", "x"), ("c", "y")], "right")
    ds = left.connect(right).key_by(lambda t: wrap(t[0]), lambda t: wrap(t[0])) \
        .process(CountBothSides())
    results = run_and_collect(strom_env, ds)
    # the function sees the key its selector returned
    assert sorted({repr(r[0]) for r in results}) == [repr(wrap(k)) for k in "abc"]
    grouped = by_key(results, key=lambda r: r[0][0] if isinstance(r[0], list) else r[0])
    # the two inputs interleave in any order, but each key counts 1, 2, 3... in order
    assert {k: [c for _, c, _ in v] for k, v in grouped.items()} == {
        "a": [1, 2, 3], "b": [1], "c": [1]}
    assert sorted(side for _, _, side in grouped["a"]) == ["left", "left", "right"]


def test_keyed_connect_with_co_map(strom_env: StreamExecutionEnvironment) -> None:
    class Both(CoMapFunction):
        def map1(self, value: Any) -> Any:
            return "L", value

        def map2(self, value: Any) -> Any:
            return "R", value

    left = source(strom_env, [1, 2, 3], "left")
    right = source(strom_env, [10, 20], "right")
    ds = left.connect(right).key_by(lambda x: x % 2, lambda x: x % 2).map(Both())
    assert sorted(run_and_collect(strom_env, ds)) == [
        ("L", 1), ("L", 2), ("L", 3), ("R", 10), ("R", 20)]


def test_batch_mode_keyed_process_sees_all_timers_fire(
    strom_env: StreamExecutionEnvironment,
) -> None:
    strom_env.set_runtime_mode(RuntimeExecutionMode.BATCH)
    ds = source(strom_env, [("a", 1), ("b", 2)]).key_by(lambda t: t[0]).process(FireAtEnd())
    assert sorted(run_and_collect(strom_env, ds)) == [
        ("element", "a"), ("element", "b"), ("timer", "a", 101), ("timer", "b", 102)]
