"""Records and timestamps that do not match what the job declared fail with a message naming
the operator, what it expected and what it got, not with a TypeError from inside strom."""

from __future__ import annotations

import numbers
from typing import Any

import pytest
from dataflow_helpers import run_and_collect, source
from test_integration_source_errors import BrokenSource, run

from strom.common import Row, Types, WatermarkStrategy
from strom.datastream import StreamExecutionEnvironment
from strom.testing import CollectSink

MONOTONOUS = WatermarkStrategy.for_monotonous_timestamps()


@pytest.mark.parametrize(("returned", "shown"), [(None, "None (a NoneType)"),
                                                  ("5", "'5' (a str)"),
                                                  (5.5, "5.5 (a float)")])
def test_a_timestamp_assigner_must_return_int_milliseconds(
    strom_env: StreamExecutionEnvironment, returned: Any, shown: str
) -> None:
    strategy = MONOTONOUS.with_timestamp_assigner(
        lambda v, _: returned if v == 3 else v)
    source(strom_env, [1, 2, 3, 4]).assign_timestamps_and_watermarks(strategy) \
        .name("stamp").sink_to(CollectSink())
    with pytest.raises(TypeError) as info:
        strom_env.execute()
    assert str(info.value).startswith(
        f"The timestamp assigner of 'stamp' returned {shown} for the record 3; a timestamp "
        "must be an int, in milliseconds since the epoch.")


def test_a_sources_timestamp_assigner_is_checked_too(
    strom_env: StreamExecutionEnvironment,
) -> None:
    strategy = MONOTONOUS.with_timestamp_assigner(lambda v, _: None)
    strom_env.from_source(BrokenSource(), strategy, "stamped").sink_to(CollectSink())
    with pytest.raises(TypeError, match="The timestamp assigner of 'Source: stamped' returned "
                                        "None"):
        strom_env.execute()


def test_a_reader_must_give_one_timestamp_per_record(
    strom_env: StreamExecutionEnvironment,
) -> None:
    with pytest.raises(ValueError, match=r"The reader of 'Source: broken source' emitted 3 "
                                         r"records with 1 timestamps; ReaderOutput.collect"):
        run(strom_env, BrokenSource(timestamps=[1]), MONOTONOUS)


def test_a_reader_must_give_int_timestamps(strom_env: StreamExecutionEnvironment) -> None:
    with pytest.raises(TypeError, match="The reader of 'Source: broken source' emitted the "
                                        "timestamp '2' \\(a str\\) for the record 2"):
        run(strom_env, BrokenSource(timestamps=[1, "2", 3]), MONOTONOUS)  # type: ignore[list-item]


def test_valid_timestamps_pass(strom_env: StreamExecutionEnvironment) -> None:
    strom_env.set_parallelism(1)  # every reader of the fake source emits the batch
    assert sorted(run(strom_env, BrokenSource(timestamps=[1, 2, 3]), MONOTONOUS)) == [1, 2, 3]


class _Millis:
    """An integral number that is not an int subclass, as numpy's scalar types are."""

    def __init__(self, value: int) -> None:
        self.value = value

    def __int__(self) -> int:
        return self.value

    def __index__(self) -> int:
        return self.value

    def __radd__(self, other: Any) -> Any:
        return _Millis(other + self.value) if isinstance(other, int) else NotImplemented

    def __add__(self, other: Any) -> Any:
        return self.__radd__(other)


numbers.Integral.register(_Millis)


def test_integral_timestamps_of_other_types_become_ints(
    strom_env: StreamExecutionEnvironment,
) -> None:
    strategy = MONOTONOUS.with_timestamp_assigner(lambda v, _: _Millis(v))
    sink = CollectSink()
    source(strom_env, [1, 2, 3]).assign_timestamps_and_watermarks(strategy) \
        .map(lambda v: v).sink_to(sink)
    strom_env.execute()
    assert sorted(sink.results) == [1, 2, 3]


@pytest.mark.parametrize(("values", "declared", "problem"), [
    ([1, 2], Types.TUPLE([Types.INT(), Types.INT()]),
     "expected a tuple of 2 fields, got int 1"),
    (["a"], Types.INT(), "expected an int for Integer, got str 'a'"),
    ([(1, "a")], Types.TUPLE([Types.STRING(), Types.INT()]),
     "field 0: expected a str for String, got int 1"),
    ([(1, 2, 3)], Types.ROW([Types.INT(), Types.INT()]),
     "expected a Row of 2 fields, got tuple (1, 2, 3) (3 fields)"),
    ([[1, "x"]], Types.LIST(Types.INT()), "element 1: expected an int for Integer"),
    ([{"a": "x"}], Types.MAP(Types.STRING(), Types.INT()), "entry 'a': expected an int"),
])
def test_records_must_match_the_declared_output_type(
    strom_env: StreamExecutionEnvironment, values: list[Any], declared: Any, problem: str
) -> None:
    source(strom_env, values).map(lambda v: v, output_type=declared).name("typed") \
        .sink_to(CollectSink())
    with pytest.raises(TypeError) as info:
        strom_env.execute()
    message = str(info.value)
    assert message.startswith("'typed' emitted the record ")
    assert f"does not match the output type declared for its stream, {declared!r}" in message
    assert problem in message


def test_a_collections_declared_type_is_checked(strom_env: StreamExecutionEnvironment) -> None:
    strom_env.from_collection(["a", "b"], type_info=Types.INT()).sink_to(CollectSink())
    with pytest.raises(TypeError, match="'Source: Collection Source' emitted the record 'a'"):
        strom_env.execute()


def test_later_batches_are_sampled(strom_env: StreamExecutionEnvironment) -> None:
    strom_env.set_parallelism(1)
    values: list[Any] = [*range(5000), "late"]  # the last record of a later batch
    source(strom_env, values).map(lambda v: v, output_type=Types.LONG()).name("typed") \
        .sink_to(CollectSink())
    with pytest.raises(TypeError, match="'typed' emitted the record 'late'"):
        strom_env.execute()


def test_what_pyflinks_coders_accept_passes(strom_env: StreamExecutionEnvironment) -> None:
    values = [(1, 2.5, "a", None, [1, 2], {"k": 1}, Row(1, "x"), (1, "y"))]
    declared = Types.TUPLE([Types.LONG(), Types.DOUBLE(), Types.STRING(), Types.INT(),
                            Types.LIST(Types.INT()), Types.MAP(Types.STRING(), Types.INT()),
                            Types.ROW([Types.INT(), Types.STRING()]),
                            Types.ROW([Types.INT(), Types.STRING()])])
    ds = source(strom_env, values).map(lambda v: v, output_type=declared)
    assert run_and_collect(strom_env, ds) == values
    # an int where a float is declared, None anywhere
    ds = source(strom_env, [1, None]).map(lambda v: v, output_type=Types.DOUBLE())
    assert sorted(run_and_collect(strom_env, ds), key=str) == [1, None]
