import datetime
import pickle
from decimal import Decimal

import pytest

from strom.common import Instant, Row, RowKind, Types
from strom.common.typeinfo import RowTypeInfo, TypeInformation, to_java_string


def test_basic_types_equality_and_repr() -> None:
    assert Types.STRING() == Types.STRING()
    assert Types.INT() != Types.LONG()
    assert hash(Types.INT()) == hash(Types.INT())
    names = [
        repr(f())
        for f in (
            Types.STRING, Types.BYTE, Types.BOOLEAN, Types.SHORT, Types.INT, Types.LONG,
            Types.FLOAT, Types.DOUBLE, Types.CHAR, Types.BIG_INT, Types.BIG_DEC, Types.INSTANT,
            Types.SQL_DATE, Types.SQL_TIME, Types.SQL_TIMESTAMP, Types.LOCAL_DATE,
            Types.LOCAL_TIME, Types.LOCAL_DATE_TIME, Types.PICKLED_BYTE_ARRAY,
        )
    ]  # fmt: skip
    assert names == [
        "String", "Byte", "Boolean", "Short", "Integer", "Long", "Float", "Double",
        "Character", "BigInteger", "BigDecimal", "Instant", "Date", "Time", "Timestamp",
        "LocalDate", "LocalTime", "LocalDateTime", "PickledByteArrayTypeInfo",
    ]  # fmt: skip


def test_composite_types() -> None:
    row = Types.ROW_NAMED(["name", "age"], [Types.STRING(), Types.INT()])
    assert repr(row) == "RowTypeInfo(name: String, age: Integer)"
    assert row.get_field_names() == ["name", "age"]
    assert row.get_field_types() == [Types.STRING(), Types.INT()]
    assert row.get_field_index("age") == 1 and row.get_field_index("x") == -1
    assert row.get_arity() == 2
    assert row == Types.ROW_NAMED(["name", "age"], [Types.STRING(), Types.INT()])
    assert row != Types.ROW_NAMED(["n", "age"], [Types.STRING(), Types.INT()])
    assert Types.ROW([Types.INT()]).get_field_names() == ["f0"]
    assert Types.ROW([Types.STRING(), Types.INT()]) == RowTypeInfo(
        [Types.STRING(), Types.INT()], ["f0", "f1"]
    )
    tup = Types.TUPLE([Types.STRING(), Types.INT()])
    assert repr(tup) == "TupleTypeInfo(String, Integer)" and tup.get_arity() == 2
    assert tup != Types.ROW([Types.STRING(), Types.INT()])
    assert repr(Types.PRIMITIVE_ARRAY(Types.INT())) == "PrimitiveArrayTypeInfo<Integer>"
    assert repr(Types.BASIC_ARRAY(Types.STRING())) == "BasicArrayTypeInfo<String>"
    assert repr(Types.OBJECT_ARRAY(row)) == (
        "ObjectArrayTypeInfo<RowTypeInfo(name: String, age: Integer)>"
    )
    assert repr(Types.MAP(Types.STRING(), Types.LONG())) == "MapTypeInfo<String, Long>"
    assert repr(Types.LIST(Types.DOUBLE())) == "ListTypeInfo<Double>"
    assert Types.LIST(Types.INT()) == Types.LIST(Types.INT())
    assert Types.LIST(Types.INT()) != Types.BASIC_ARRAY(Types.INT())
    assert Types.MAP(Types.STRING(), Types.INT()).get_value_type() == Types.INT()
    assert isinstance(Types.LIST(Types.INT()), TypeInformation)


def test_type_validation() -> None:
    with pytest.raises(ValueError, match="as many names as types"):
        Types.ROW_NAMED(["a"], [Types.INT(), Types.INT()])
    with pytest.raises(ValueError, match="unique"):
        Types.ROW_NAMED(["a", "a"], [Types.INT(), Types.INT()])
    with pytest.raises(TypeError, match="field 1 must be a TypeInformation"):
        Types.TUPLE([Types.INT(), int])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="PRIMITIVE_ARRAY needs a primitive element type"):
        Types.PRIMITIVE_ARRAY(Types.STRING())
    with pytest.raises(TypeError, match="BASIC_ARRAY needs a basic element type"):
        Types.BASIC_ARRAY(Types.ROW([Types.INT()]))


def test_types_pickle() -> None:
    for t in (
        Types.INT(),
        Types.SQL_TIMESTAMP(),
        Types.ROW_NAMED(["a"], [Types.LIST(Types.STRING())]),
        Types.MAP(Types.STRING(), Types.TUPLE([Types.INT()])),
        Types.PICKLED_BYTE_ARRAY(),
    ):
        assert pickle.loads(pickle.dumps(t)) == t


def test_untyped_values_use_python_str() -> None:
    assert to_java_string(("Germany", 123), None) == "('Germany', 123)"
    assert to_java_string("as is", None) == "as is"
    assert to_java_string(None, None) == "None"
    assert to_java_string(Row(1, "a"), Types.PICKLED_BYTE_ARRAY()) == "<Row(1, 'a')>"
    assert to_java_string(True, None) == "True"


def test_basic_values() -> None:
    assert to_java_string("hi", Types.STRING()) == "hi"
    assert to_java_string(True, Types.BOOLEAN()) == "true"
    assert to_java_string(False, Types.BOOLEAN()) == "false"
    assert to_java_string(42, Types.INT()) == "42"
    assert to_java_string(-7, Types.LONG()) == "-7"
    assert to_java_string(2**70, Types.BIG_INT()) == str(2**70)
    assert to_java_string(200, Types.BYTE()) == "-56"
    assert to_java_string(3, Types.SHORT()) == "3"
    assert to_java_string("x", Types.CHAR()) == "x"
    assert to_java_string(Decimal("3.14"), Types.BIG_DEC()) == "3.14"
    assert to_java_string(None, Types.INT()) == "null"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1.0, "1.0"),
        (0.5, "0.5"),
        (1e10, "1.0E10"),
        (1e7, "1.0E7"),
        (9999999.0, "9999999.0"),
        (0.001, "0.001"),
        (0.0001, "1.0E-4"),
        (123456789.0, "1.23456789E8"),
        (-2.5, "-2.5"),
        (100, "100.0"),
        (0.0, "0.0"),
        (-0.0, "-0.0"),
        (float("nan"), "NaN"),
        (float("inf"), "Infinity"),
        (float("-inf"), "-Infinity"),
        (0.1 + 0.2, "0.30000000000000004"),
    ],
)
def test_double_like_java(value: float, text: str) -> None:
    assert to_java_string(value, Types.DOUBLE()) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [(0.1, "0.1"), (1.1, "1.1"), (1.0, "1.0"), (16777216.0, "1.6777216E7"), (1e40, "Infinity")],
)
def test_float_like_java(value: float, text: str) -> None:
    assert to_java_string(value, Types.FLOAT()) == text


def test_temporal_values() -> None:
    ts = datetime.datetime(2021, 1, 9, 12, 0, 0, 11_000)
    assert to_java_string(ts, Types.SQL_TIMESTAMP()) == "2021-01-09 12:00:00.011"
    assert to_java_string(ts.replace(microsecond=0), Types.SQL_TIMESTAMP()) == (
        "2021-01-09 12:00:00.0"
    )
    assert to_java_string(datetime.date(2021, 1, 9), Types.SQL_DATE()) == "2021-01-09"
    assert to_java_string(datetime.time(7, 5, 3), Types.SQL_TIME()) == "07:05:03"
    assert to_java_string(datetime.time(7, 5), Types.LOCAL_TIME()) == "07:05"
    assert to_java_string(datetime.time(7, 5, 0, 1000), Types.LOCAL_TIME()) == "07:05:00.001"
    assert to_java_string(ts, Types.LOCAL_DATE_TIME()) == "2021-01-09T12:00:00.011"
    assert to_java_string(datetime.date(2021, 1, 9), Types.LOCAL_DATE()) == "2021-01-09"
    assert to_java_string(Instant.of_epoch_milli(1_610_193_600_000), Types.INSTANT()) == (
        "2021-01-09T12:00:00Z"
    )


def test_tuples() -> None:
    t = Types.TUPLE([Types.STRING(), Types.INT()])
    assert to_java_string(("a", 1), t) == "(a,1)"
    assert to_java_string(("hi", 4), t) == "(hi,4)"
    nested = Types.TUPLE([Types.TUPLE([Types.STRING(), Types.DOUBLE()]), Types.BOOLEAN()])
    assert to_java_string((("x", 1.0), True), nested) == "((x,1.0),true)"
    assert to_java_string((None, 1), t) == "(null,1)"


def test_rows_print_style_and_java_style() -> None:
    t = Types.ROW([Types.STRING(), Types.INT()])
    assert to_java_string(Row("a", 1), t) == "+I[a,1]"
    assert to_java_string(Row("a", 1), t, row_style="java") == "+I[a, 1]"
    named = Types.ROW_NAMED(["name", "n"], [Types.STRING(), Types.INT()])
    assert to_java_string(Row(name="cfgs", n=5), named, row_style="java") == "+I[cfgs, 5]"
    deleted = Row("a", 1)
    deleted.set_row_kind(RowKind.DELETE)
    assert to_java_string(deleted, t) == "-D[a,1]"
    assert to_java_string(("a", 1), t) == "+I[a,1]"  # tuples given for row types
    assert to_java_string({"name": "x", "n": 2}, named, row_style="java") == "+I[x, 2]"
    # print shows Python str() of each field of a top-level row
    floats = Types.ROW([Types.DOUBLE(), Types.BOOLEAN()])
    assert to_java_string(Row(1e10, True), floats) == "+I[10000000000.0,True]"
    assert to_java_string(Row(1e10, True), floats, row_style="java") == "+I[1.0E10, true]"
    # rows nested in other types are always Java's Row.toString
    in_tuple = Types.TUPLE([t, Types.INT()])
    assert to_java_string((Row("a", 1), 2), in_tuple) == "(+I[a, 1],2)"


def test_arrays_lists_maps() -> None:
    assert to_java_string([1, 2], Types.PRIMITIVE_ARRAY(Types.INT())) == "[1, 2]"
    assert to_java_string(b"\x01\xff", Types.PRIMITIVE_ARRAY(Types.BYTE())) == "[1, -1]"
    assert to_java_string([1.1, None, 1.3], Types.BASIC_ARRAY(Types.DOUBLE())) == (
        "[1.1, null, 1.3]"
    )
    assert to_java_string([], Types.LIST(Types.STRING())) == "[]"
    assert to_java_string([["a"], ["b", "c"]], Types.OBJECT_ARRAY(Types.LIST(Types.STRING()))) == (
        "[[a], [b, c]]"
    )
    assert to_java_string({"a": 1, "b": 2}, Types.MAP(Types.STRING(), Types.INT())) == (
        "{a=1, b=2}"
    )
    nested_map = Types.MAP(Types.STRING(), Types.LIST(Types.BOOLEAN()))
    assert to_java_string({"a": [True]}, nested_map) == "{a=[true]}"
