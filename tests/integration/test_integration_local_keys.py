"""A key strom cannot hash the same way in every process (an instance of a class defined inside
a function) fails alike at every parallelism, with advice, instead of working at parallelism 1
and failing to pickle at 2."""

from __future__ import annotations

from typing import Any

import pytest
from dataflow_helpers import run_and_collect, source

from strom.datastream import StreamExecutionEnvironment
from strom.testing import CollectSink


class ModuleKey:
    def __init__(self, v: int) -> None:
        self.v = v

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ModuleKey) and other.v == self.v

    def __hash__(self) -> int:
        return hash(self.v)


def test_a_key_of_a_local_class_fails_at_every_parallelism(
    strom_env: StreamExecutionEnvironment,
) -> None:
    class LocalKey(ModuleKey):
        pass

    source(strom_env, [1, 2, 1]).key_by(lambda x: LocalKey(x)) \
        .reduce(lambda a, b: a + b).sink_to(CollectSink())
    with pytest.raises(TypeError, match="a class defined inside a function") as info:
        strom_env.execute()
    assert "Define the key's class at module level" in str(info.value)
    assert any("key selector of Keyed Reduce" in note for note in info.value.__notes__)


def test_a_local_class_with_a_stable_key_works(strom_env: StreamExecutionEnvironment) -> None:
    class LocalKey(ModuleKey):
        def __stable_key__(self) -> Any:
            return (self.v,)

    ds = source(strom_env, [1, 2, 1]).key_by(lambda x: LocalKey(x)).reduce(lambda a, b: a + b)
    assert sorted(run_and_collect(strom_env, ds)) == [1, 2, 2]


def test_a_key_of_a_module_level_class_works(strom_env: StreamExecutionEnvironment) -> None:
    ds = source(strom_env, [1, 2, 1]).key_by(lambda x: ModuleKey(x)).reduce(lambda a, b: a + b)
    assert sorted(run_and_collect(strom_env, ds)) == [1, 2, 2]
