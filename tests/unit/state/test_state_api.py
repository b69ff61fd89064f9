"""The public state API: descriptors, StateTtlConfig, the backend factory and the exports."""

from __future__ import annotations

import pickle

import pytest

import strom.datastream.state as api
import strom.state
from strom.common.time import Duration, Time
from strom.datastream.functions import AggregateFunction, ReduceFunction
from strom.datastream.state import (
    AggregatingStateDescriptor,
    ListStateDescriptor,
    MapStateDescriptor,
    ReducingStateDescriptor,
    StateTtlConfig,
    ValueStateDescriptor,
)
from strom.state import (
    VOID_NAMESPACE,
    HeapKeyedStateBackend,
    create_keyed_state_backend,
)
from strom.state.key_groups import KeyGroupRange

Strategies = StateTtlConfig.CleanupStrategies.Strategies


def test_public_surface_of_datastream_state() -> None:
    assert sorted(api.__all__) == sorted(
        [
            "AggregatingState",
            "AggregatingStateDescriptor",
            "AppendingState",
            "BroadcastState",
            "ListState",
            "ListStateDescriptor",
            "MapState",
            "MapStateDescriptor",
            "MergingState",
            "OperatorStateStore",
            "ReadOnlyBroadcastState",
            "ReducingState",
            "ReducingStateDescriptor",
            "State",
            "StateDescriptor",
            "StateTtlConfig",
            "ValueState",
            "ValueStateDescriptor",
        ]
    )
    for name in api.__all__:
        assert getattr(api, name) is not None


def test_public_surface_of_strom_state() -> None:
    assert sorted(strom.state.__all__) == sorted(
        [
            "AVAILABLE_BACKENDS",
            "LONG_MIN",
            "VOID_NAMESPACE",
            "HeapKeyedStateBackend",
            "InternalTimerService",
            "KeyedStateBackend",
            "KeyedStateSnapshot",
            "OperatorBroadcastState",
            "OperatorListState",
            "OperatorStateBackend",
            "OperatorStateSnapshot",
            "ReadOnlyBroadcastStateView",
            "StateMeta",
            "Timer",
            "TtlPolicy",
            "create_keyed_state_backend",
            "redistribute_operator_state",
            "wall_clock_millis",
        ]
    )
    for name in strom.state.__all__:
        assert getattr(strom.state, name) is not None
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        strom.state.Nope  # noqa: B018


def test_void_namespace_survives_pickling() -> None:
    assert pickle.loads(pickle.dumps(VOID_NAMESPACE)) is VOID_NAMESPACE
    assert repr(VOID_NAMESPACE) == "VOID_NAMESPACE"


def test_descriptors() -> None:
    value = ValueStateDescriptor("v", "type")
    assert value.get_name() == "v" and value.type_info == "type"
    assert value.get_ttl_config() is None
    lst = ListStateDescriptor("l", "elem")
    assert lst.elem_type_info == "elem"
    mp = MapStateDescriptor("m", "k", "v")
    assert (mp.key_type_info, mp.value_type_info) == ("k", "v")
    assert repr(mp) == "MapStateDescriptor('m')"

    reducing = ReducingStateDescriptor("r", lambda a, b: a * b)
    fn = reducing.get_reduce_function()
    assert isinstance(fn, ReduceFunction) and fn.reduce(3, 4) == 12

    class Sum(ReduceFunction):
        def reduce(self, value1: int, value2: int) -> int:
            return value1 + value2

    own = Sum()
    assert ReducingStateDescriptor("r", own).get_reduce_function() is own

    class Count(AggregateFunction):
        def create_accumulator(self) -> int:
            return 0

        def add(self, value: object, accumulator: int) -> int:
            return accumulator + 1

        def get_result(self, accumulator: int) -> int:
            return accumulator

    count = Count()
    assert AggregatingStateDescriptor("a", count).get_agg_function() is count


def test_descriptor_errors() -> None:
    with pytest.raises(ValueError, match="non-empty name"):
        ValueStateDescriptor("")
    with pytest.raises(TypeError, match="needs a ReduceFunction or a callable"):
        ReducingStateDescriptor("r", 42)
    with pytest.raises(TypeError, match="needs an instance of"):
        AggregatingStateDescriptor("a", lambda x: x)
    with pytest.raises(TypeError, match="needs a StateTtlConfig"):
        ValueStateDescriptor("v").enable_time_to_live(Time.seconds(1))  # type: ignore[arg-type]


def test_ttl_builder_defaults() -> None:
    config = StateTtlConfig.new_builder(Time.seconds(1)).build()
    assert config.get_ttl() == Time.seconds(1)
    assert config.get_update_type() is StateTtlConfig.UpdateType.OnCreateAndWrite
    assert config.get_state_visibility() is StateTtlConfig.StateVisibility.NeverReturnExpired
    assert (
        config.get_ttl_time_characteristic() is StateTtlConfig.TtlTimeCharacteristic.ProcessingTime
    )
    assert config.is_enabled()
    cleanup = config.get_cleanup_strategies()
    assert cleanup.is_cleanup_in_background()
    assert not cleanup.in_full_snapshot()
    incremental = cleanup.get_incremental_cleanup_strategy()
    assert incremental is not None
    assert (incremental.get_cleanup_size(), incremental.run_cleanup_for_every_record()) == (
        5,
        False,
    )
    rocksdb = cleanup.get_rocksdb_compact_filter_cleanup_strategy()
    assert rocksdb is not None
    assert rocksdb.get_query_time_after_num_entries() == 1000
    assert rocksdb.get_periodic_compaction_time() == Duration.of_days(30)
    assert "OnCreateAndWrite" in repr(config)


def test_ttl_builder_setters() -> None:
    config = (
        StateTtlConfig.new_builder(Time.seconds(1))
        .update_ttl_on_read_and_write()
        .return_expired_if_not_cleaned_up()
        .use_processing_time()
        .cleanup_full_snapshot()
        .cleanup_incrementally(10, True)
        .cleanup_in_rocksdb_compact_filter(50, Duration.of_hours(1))
        .disable_cleanup_in_background()
        .set_ttl(Time.minutes(2))
        .build()
    )
    assert config.get_ttl().to_milliseconds() == 120_000
    assert config.get_update_type() is StateTtlConfig.UpdateType.OnReadAndWrite
    assert (
        config.get_state_visibility() is StateTtlConfig.StateVisibility.ReturnExpiredIfNotCleanedUp
    )
    cleanup = config.get_cleanup_strategies()
    assert cleanup.in_full_snapshot() and not cleanup.is_cleanup_in_background()
    incremental = cleanup.get_incremental_cleanup_strategy()
    assert incremental is not None and incremental.get_cleanup_size() == 10
    assert incremental.run_cleanup_for_every_record()
    rocksdb = cleanup.get_rocksdb_compact_filter_cleanup_strategy()
    assert rocksdb is not None and rocksdb.get_periodic_compaction_time() == Duration.of_hours(1)

    builder = StateTtlConfig.new_builder(Time.seconds(1))
    builder.update_ttl_on_read_and_write().update_ttl_on_create_and_write()
    builder.return_expired_if_not_cleaned_up().never_return_expired()
    config = builder.set_update_type(StateTtlConfig.UpdateType.Disabled).build()
    assert not config.is_enabled()
    assert config.get_state_visibility() is StateTtlConfig.StateVisibility.NeverReturnExpired

    quiet = StateTtlConfig.new_builder(Time.seconds(1)).disable_cleanup_in_background().build()
    assert quiet.get_cleanup_strategies().get_incremental_cleanup_strategy() is None
    assert quiet.get_cleanup_strategies().get_rocksdb_compact_filter_cleanup_strategy() is None


def test_ttl_builder_errors() -> None:
    with pytest.raises(TypeError, match=r"must be a strom\.common\.time\.Time"):
        StateTtlConfig.new_builder(1000)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least 1 ms"):
        StateTtlConfig.new_builder(Time.milliseconds(0))
    assert StateTtlConfig.new_builder(Duration.of_seconds(2)).build().get_ttl() == Time.seconds(2)  # type: ignore[arg-type]
    builder = StateTtlConfig.new_builder(Time.seconds(1))
    with pytest.raises(TypeError, match=r"StateTtlConfig\.UpdateType"):
        builder.set_update_type("OnReadAndWrite")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"StateTtlConfig\.StateVisibility"):
        builder.set_state_visibility(1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="TtlTimeCharacteristic"):
        builder.set_ttl_time_characteristic(0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="cleanup_size must be >= 0"):
        builder.cleanup_incrementally(-1, False)


def test_backend_factory() -> None:
    backend = create_keyed_state_backend("HashMap", 128, KeyGroupRange(0, 127))
    assert isinstance(backend, HeapKeyedStateBackend)
    rocks = create_keyed_state_backend(" RocksDB", 128, KeyGroupRange(0, 127))
    try:
        assert rocks.backend_type == "rocksdb"
    finally:
        rocks.dispose()
    with pytest.raises(
        ValueError, match=r"unknown state\.backend\.type 'memory'; available: 'hashmap', 'rocksdb'"
    ):
        create_keyed_state_backend("memory", 128, KeyGroupRange(0, 127))


def test_backend_constructor_checks() -> None:
    with pytest.raises(ValueError, match=r"max_parallelism must be in 1\.\.32768, got 0"):
        HeapKeyedStateBackend(0, KeyGroupRange(0, 0))
    with pytest.raises(TypeError, match="max_parallelism must be an int"):
        HeapKeyedStateBackend("128", KeyGroupRange(0, 127))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"outside the key groups 0\.\.127"):
        HeapKeyedStateBackend(128, KeyGroupRange(100, 128))
    with pytest.raises(TypeError, match="must be a KeyGroupRange"):
        HeapKeyedStateBackend(128, (0, 127))  # type: ignore[arg-type]
    assert HeapKeyedStateBackend(128, KeyGroupRange(0, 127)).backend_type == "hashmap"
