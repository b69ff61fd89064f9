import pickle

import cloudpickle
import pytest

from strom.common import Row, RowKind


def test_positional_row() -> None:
    row = Row(1, "a")
    assert row[0] == 1 and row[1] == "a" and row[-1] == "a"
    assert row[0:1] == [1]
    assert len(row) == 2
    assert list(row) == [1, "a"]
    assert repr(row) == "<Row(1, 'a')>"
    assert str(row) == repr(row)
    assert 1 in row and "b" not in row
    assert row._fields is None


def test_named_row_keeps_keyword_order() -> None:
    row = Row(name="Alice", age=11)
    assert repr(row) == "Row(name='Alice', age=11)"
    assert row.name == "Alice" and row.age == 11
    assert row["name"] == "Alice" and row[1] == 11
    assert row._fields == ["name", "age"]
    assert "name" in row and "Alice" not in row and "wrong_key" not in row
    assert row.as_dict() == {"name": "Alice", "age": 11}
    assert row.get_fields_by_names(["age", "name"]) == [11, "Alice"]


def test_row_class_factory() -> None:
    person = Row("name", "age")
    assert repr(person) == "<Row('name', 'age')>"
    alice = person("Alice", 11)
    assert alice == Row(name="Alice", age=11)
    assert repr(alice) == "Row(name='Alice', age=11)"
    with pytest.raises(ValueError, match="expected at most 2 values, got 3"):
        person("a", 1, 2)


def test_missing_fields() -> None:
    row = Row(a=1)
    with pytest.raises(AttributeError, match="Row has no field 'b'"):
        _ = row.b
    with pytest.raises(KeyError):
        _ = row["b"]
    with pytest.raises(ValueError):  # PyFlink raises ValueError for unknown names
        _ = row["b"]
    with pytest.raises(AttributeError):
        _ = Row(1).anything
    with pytest.raises(AttributeError):
        row.a = 5  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="either positional values or keyword fields"):
        Row(1, a=2)


def test_setitem() -> None:
    row = Row(a=1, b=2)
    row["b"] = 3
    row[0] = 0
    assert row.as_dict() == {"a": 0, "b": 3}
    with pytest.raises(KeyError):
        row["c"] = 1


def test_as_dict_recursive_and_unnamed() -> None:
    row = Row(key=1, value=Row(name="a", age=2), items=[Row(x=1)], extra={"k": Row(y=2)})
    assert row.as_dict() == {
        "key": 1,
        "value": Row(name="a", age=2),
        "items": [Row(x=1)],
        "extra": {"k": Row(y=2)},
    }
    assert row.as_dict(True) == {
        "key": 1,
        "value": {"name": "a", "age": 2},
        "items": [{"x": 1}],
        "extra": {"k": {"y": 2}},
    }
    with pytest.raises(TypeError, match="without field names"):
        Row(1, 2).as_dict()


def test_set_field_names() -> None:
    row = Row(1, 2)
    row.set_field_names(["x", "y"])
    assert row.y == 2 and repr(row) == "Row(x=1, y=2)"


def test_equality_includes_names_and_kind() -> None:
    assert Row(1, 2) == Row(1, 2)
    assert Row(1, 2) != Row(a=1, b=2)
    assert Row(a=1, b=2) != Row(b=2, a=1)
    assert Row(1, 2) != (1, 2)
    changed = Row(1, 2)
    changed.set_row_kind(RowKind.DELETE)
    assert changed != Row(1, 2)
    assert hash(changed) == hash(Row(1, 2)) == hash((1, 2))
    assert changed.__stable_key__() == (1, 2)


def test_row_kind() -> None:
    row = Row(1)
    assert row.get_row_kind() is RowKind.INSERT
    row.set_row_kind(RowKind.UPDATE_BEFORE)
    assert row.get_row_kind() is RowKind.UPDATE_BEFORE
    assert row._is_retract_msg() and not row._is_accumulate_msg()
    assert [k.short_string() for k in RowKind] == ["+I", "-U", "+U", "-D"]
    assert str(RowKind.UPDATE_AFTER) == "+U"
    assert [k.value for k in RowKind] == [0, 1, 2, 3]
    with pytest.raises(TypeError):
        row.set_row_kind("+I")  # type: ignore[arg-type]


@pytest.mark.parametrize("dumps", [pickle.dumps, cloudpickle.dumps])
def test_pickling_keeps_names_and_kind(dumps: object) -> None:
    row = Row(name="Alice", nested=Row(1, 2))
    row.set_row_kind(RowKind.UPDATE_AFTER)
    copy = pickle.loads(dumps(row))  # type: ignore[operator]
    assert copy == row
    assert copy.get_row_kind() is RowKind.UPDATE_AFTER
    assert copy.name == "Alice"
    unnamed = pickle.loads(pickle.dumps(Row(1, "a")))
    assert unnamed == Row(1, "a") and unnamed._fields is None


def test_stable_key_hashing_uses_content() -> None:
    from strom.state.key_groups import stable_hash

    assert stable_hash(Row(1, "a")) == stable_hash(Row(1, "a"))
    assert stable_hash(Row(1, "a")) != stable_hash(Row(2, "a"))
