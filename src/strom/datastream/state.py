"""Keyed and broadcast state: the user-facing interfaces and descriptors (``pyflink.datastream.state``).

A function on a keyed stream asks its runtime context for state with a descriptor
(``ctx.get_state(ValueStateDescriptor("count"))``); the state it gets back always acts on
the key of the element being processed. The state backends in :mod:`strom.state` implement
these interfaces. Time-to-live is configured per descriptor with :class:`StateTtlConfig`.

>>> descriptor = ValueStateDescriptor("last-seen")
>>> descriptor.enable_time_to_live(StateTtlConfig.new_builder(Time.seconds(60)).build())
>>> descriptor.get_name()
'last-seen'
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Generic, TypeVar

from strom.common.time import Duration, Time
from strom.datastream.functions import AggregateFunction, ReduceFunction

__all__ = [
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

T = TypeVar("T")
K = TypeVar("K")
V = TypeVar("V")
IN = TypeVar("IN")
OUT = TypeVar("OUT")


# --------------------------------------------------------------------------- state interfaces


class State(ABC):
    """Partitioned state: every operation acts on the current key (and namespace)."""

    __slots__ = ()

    @abstractmethod
    def clear(self) -> None:
        """Removes the value stored for the current key."""


class ValueState(State, Generic[T]):
    """A single value per key. ``value()`` is ``None`` until the first ``update``."""

    __slots__ = ()

    @abstractmethod
    def value(self) -> T | None:
        """The value for the current key, or ``None`` when there is none."""

    @abstractmethod
    def update(self, value: T | None) -> None:
        """Replaces the value for the current key; ``update(None)`` removes it."""


class AppendingState(State, Generic[IN, OUT]):
    """State that values are added to and whose content can be read as a whole."""

    __slots__ = ()

    @abstractmethod
    def get(self) -> OUT:
        """The content for the current key."""

    @abstractmethod
    def add(self, value: IN) -> None:
        """Adds ``value`` to the content for the current key."""


class MergingState(AppendingState[IN, OUT]):
    """Appending state whose contents for several namespaces (windows) can be merged."""

    __slots__ = ()


class ReducingState(MergingState[T, T]):
    """Values added are combined with the descriptor's reduce function; ``get()`` is ``None``
    when nothing was added."""

    __slots__ = ()


class AggregatingState(MergingState[IN, OUT]):
    """Values added are folded into an accumulator by an
    :class:`~strom.datastream.functions.AggregateFunction`; ``get()`` returns
    ``get_result(accumulator)``, or ``None`` when nothing was added."""

    __slots__ = ()


class ListState(MergingState[T, Iterable[T]]):
    """A list of values per key. ``get()`` returns the elements in insertion order (an empty
    list when there are none); ``None`` elements are rejected."""

    __slots__ = ()

    @abstractmethod
    def update(self, values: list[T]) -> None:
        """Replaces the list for the current key; an empty list removes it."""

    @abstractmethod
    def add_all(self, values: list[T]) -> None:
        """Appends all ``values`` to the list for the current key."""

    def __iter__(self) -> Iterator[T]:
        return iter(self.get())


class MapState(State, Generic[K, V]):
    """A map per key. Supports ``k in state``, ``state[k]``, ``state[k] = v``,
    ``del state[k]`` and ``iter(state)`` (over the user keys). ``keys()``, ``values()`` and
    ``items()`` return lists, so the state may be modified while iterating over them."""

    __slots__ = ()

    @abstractmethod
    def get(self, key: K) -> V | None:
        """The value mapped to ``key``, or ``None``."""

    @abstractmethod
    def put(self, key: K, value: V) -> None:
        """Maps ``key`` to ``value``."""

    @abstractmethod
    def put_all(self, dict_value: dict[K, V]) -> None:
        """Copies all mappings of ``dict_value`` into the state."""

    @abstractmethod
    def remove(self, key: K) -> None:
        """Removes the mapping of ``key`` (no error if there is none)."""

    @abstractmethod
    def contains(self, key: K) -> bool:
        """Whether ``key`` is mapped."""

    @abstractmethod
    def items(self) -> Iterable[tuple[K, V]]:
        """All ``(key, value)`` pairs."""

    @abstractmethod
    def keys(self) -> Iterable[K]:
        """All keys."""

    @abstractmethod
    def values(self) -> Iterable[V]:
        """All values."""

    @abstractmethod
    def is_empty(self) -> bool:
        """Whether the map for the current key has no mappings."""

    def __getitem__(self, key: K) -> V | None:
        return self.get(key)

    def __setitem__(self, key: K, value: V) -> None:
        self.put(key, value)

    def __delitem__(self, key: K) -> None:
        self.remove(key)

    def __contains__(self, key: object) -> bool:
        return self.contains(key)  # type: ignore[arg-type]

    def __iter__(self) -> Iterator[K]:
        return iter(self.keys())


class ReadOnlyBroadcastState(State, Generic[K, V]):
    """Read access to broadcast state (the non-broadcast side of a broadcast connection).

    Values are returned without copying: do not modify them."""

    __slots__ = ()

    @abstractmethod
    def get(self, key: K) -> V | None: ...

    @abstractmethod
    def contains(self, key: K) -> bool: ...

    @abstractmethod
    def items(self) -> Iterable[tuple[K, V]]: ...

    @abstractmethod
    def keys(self) -> Iterable[K]: ...

    @abstractmethod
    def values(self) -> Iterable[V]: ...

    @abstractmethod
    def is_empty(self) -> bool: ...

    def __getitem__(self, key: K) -> V | None:
        return self.get(key)

    def __contains__(self, key: object) -> bool:
        return self.contains(key)  # type: ignore[arg-type]

    def __iter__(self) -> Iterator[K]:
        return iter(self.keys())


class BroadcastState(ReadOnlyBroadcastState[K, V]):
    """Read-write broadcast state: a map that every parallel instance keeps a copy of.

    The user must make every instance store the same entries (they all see the same broadcast
    elements); on restore and rescaling every instance gets one of the stored copies."""

    __slots__ = ()

    @abstractmethod
    def put(self, key: K, value: V) -> None: ...

    @abstractmethod
    def put_all(self, dict_value: dict[K, V]) -> None: ...

    @abstractmethod
    def remove(self, key: K) -> None: ...

    def __setitem__(self, key: K, value: V) -> None:
        self.put(key, value)

    def __delitem__(self, key: K) -> None:
        self.remove(key)


class OperatorStateStore(ABC):
    """Gives access to non-keyed (operator) state. PyFlink user functions get broadcast state
    from it; strom's sources and sinks also use list state (see
    :class:`strom.state.OperatorStateBackend`)."""

    @abstractmethod
    def get_broadcast_state(self, state_descriptor: MapStateDescriptor) -> BroadcastState:
        """The broadcast state named by ``state_descriptor`` (created empty when new)."""


# --------------------------------------------------------------------------- TTL configuration


class StateTtlConfig:
    """Time-to-live of keyed state (processing time), as Flink's ``StateTtlConfig``.

    Build with :meth:`new_builder`. Defaults: update type ``OnCreateAndWrite``, visibility
    ``NeverReturnExpired``, processing time, background cleanup on (on the heap backend: check
    5 entries on every state access). A value expires ``ttl`` milliseconds after its last
    timestamp update; expired values are removed when they are read.

    >>> cfg = (StateTtlConfig.new_builder(Time.minutes(5))
    ...        .update_ttl_on_read_and_write().cleanup_full_snapshot().build())
    >>> cfg.get_ttl().to_milliseconds()
    300000
    """

    class UpdateType(enum.Enum):
        """When the last-access timestamp (which prolongs the TTL) is updated."""

        Disabled = 0
        """TTL is disabled: state never expires."""
        OnCreateAndWrite = 1
        """On creation and on every write."""
        OnReadAndWrite = 2
        """On creation, on every write and on every read."""

    class StateVisibility(enum.Enum):
        """Whether an expired value that is still stored may be returned."""

        ReturnExpiredIfNotCleanedUp = 0
        """Return it (the read that returns it also removes it)."""
        NeverReturnExpired = 1
        """Never return it."""

    class TtlTimeCharacteristic(enum.Enum):
        """The time scale of TTL; only processing time exists."""

        ProcessingTime = 0

    class CleanupStrategies:
        """Which background cleanups of expired state are configured.

        Expired state is always removed when it is read. Additionally: removal while taking a
        full snapshot, incremental checks of a few entries on state access (the heap
        backend's background cleanup) and the RocksDB compaction filter."""

        class Strategies(enum.Enum):
            FULL_STATE_SCAN_SNAPSHOT = 0
            INCREMENTAL_CLEANUP = 1
            ROCKSDB_COMPACTION_FILTER = 2

        class CleanupStrategy:
            """Base of the strategy settings."""

        class EmptyCleanupStrategy(CleanupStrategy):
            """A strategy without settings."""

        class IncrementalCleanupStrategy(CleanupStrategy):
            """Check ``cleanup_size`` entries on every state access (and, if
            ``run_cleanup_for_every_record``, on every processed record)."""

            def __init__(self, cleanup_size: int, run_cleanup_for_every_record: bool) -> None:
                if isinstance(cleanup_size, bool) or not isinstance(cleanup_size, int):
                    raise TypeError(f"cleanup_size must be an int, got {cleanup_size!r}")
                if cleanup_size < 0:
                    raise ValueError(
                        f"cleanup_size must be >= 0 (0 disables the cleanup), got {cleanup_size}"
                    )
                self._cleanup_size = cleanup_size
                self._run_cleanup_for_every_record = bool(run_cleanup_for_every_record)

            def get_cleanup_size(self) -> int:
                return self._cleanup_size

            def run_cleanup_for_every_record(self) -> bool:
                return self._run_cleanup_for_every_record

        class RocksdbCompactFilterCleanupStrategy(CleanupStrategy):
            """Cleanup by RocksDB's compaction filter (only the ``rocksdb`` backend uses it)."""

            def __init__(
                self,
                query_time_after_num_entries: int,
                periodic_compaction_time: Duration | None = None,
            ) -> None:
                self._query_time_after_num_entries = query_time_after_num_entries
                self._periodic_compaction_time = (
                    Duration.of_days(30)
                    if periodic_compaction_time is None
                    else periodic_compaction_time
                )

            def get_query_time_after_num_entries(self) -> int:
                return self._query_time_after_num_entries

            def get_periodic_compaction_time(self) -> Duration:
                return self._periodic_compaction_time

        EMPTY_STRATEGY: StateTtlConfig.CleanupStrategies.EmptyCleanupStrategy

        def __init__(
            self,
            strategies: dict[StateTtlConfig.CleanupStrategies.Strategies, Any],
            is_cleanup_in_background: bool,
        ) -> None:
            self._strategies = dict(strategies)
            self._is_cleanup_in_background = is_cleanup_in_background

        def is_cleanup_in_background(self) -> bool:
            return self._is_cleanup_in_background

        def in_full_snapshot(self) -> bool:
            return self.Strategies.FULL_STATE_SCAN_SNAPSHOT in self._strategies

        def get_incremental_cleanup_strategy(
            self,
        ) -> StateTtlConfig.CleanupStrategies.IncrementalCleanupStrategy | None:
            """The configured incremental cleanup; ``(5, False)`` when none is configured and
            background cleanup is on; ``None`` when background cleanup is off."""
            default = (
                self.IncrementalCleanupStrategy(5, False)
                if self._is_cleanup_in_background
                else None
            )
            return self._strategies.get(self.Strategies.INCREMENTAL_CLEANUP, default)

        def get_rocksdb_compact_filter_cleanup_strategy(
            self,
        ) -> StateTtlConfig.CleanupStrategies.RocksdbCompactFilterCleanupStrategy | None:
            default = (
                self.RocksdbCompactFilterCleanupStrategy(1000)
                if self._is_cleanup_in_background
                else None
            )
            return self._strategies.get(self.Strategies.ROCKSDB_COMPACTION_FILTER, default)

    class Builder:
        """Builds a :class:`StateTtlConfig`; every setter returns the builder."""

        def __init__(self, ttl: Time) -> None:
            self._ttl = _check_ttl(ttl)
            self._update_type = StateTtlConfig.UpdateType.OnCreateAndWrite
            self._state_visibility = StateTtlConfig.StateVisibility.NeverReturnExpired
            self._ttl_time_characteristic = StateTtlConfig.TtlTimeCharacteristic.ProcessingTime
            self._is_cleanup_in_background = True
            self._strategies: dict[StateTtlConfig.CleanupStrategies.Strategies, Any] = {}

        def set_update_type(self, update_type: StateTtlConfig.UpdateType) -> StateTtlConfig.Builder:
            self._update_type = _check_enum(update_type, StateTtlConfig.UpdateType)
            return self

        def update_ttl_on_create_and_write(self) -> StateTtlConfig.Builder:
            return self.set_update_type(StateTtlConfig.UpdateType.OnCreateAndWrite)

        def update_ttl_on_read_and_write(self) -> StateTtlConfig.Builder:
            return self.set_update_type(StateTtlConfig.UpdateType.OnReadAndWrite)

        def set_state_visibility(
            self, state_visibility: StateTtlConfig.StateVisibility
        ) -> StateTtlConfig.Builder:
            self._state_visibility = _check_enum(state_visibility, StateTtlConfig.StateVisibility)
            return self

        def return_expired_if_not_cleaned_up(self) -> StateTtlConfig.Builder:
            return self.set_state_visibility(
                StateTtlConfig.StateVisibility.ReturnExpiredIfNotCleanedUp
            )

        def never_return_expired(self) -> StateTtlConfig.Builder:
            return self.set_state_visibility(StateTtlConfig.StateVisibility.NeverReturnExpired)

        def set_ttl_time_characteristic(
            self, ttl_time_characteristic: StateTtlConfig.TtlTimeCharacteristic
        ) -> StateTtlConfig.Builder:
            self._ttl_time_characteristic = _check_enum(
                ttl_time_characteristic, StateTtlConfig.TtlTimeCharacteristic
            )
            return self

        def use_processing_time(self) -> StateTtlConfig.Builder:
            return self.set_ttl_time_characteristic(
                StateTtlConfig.TtlTimeCharacteristic.ProcessingTime
            )

        def cleanup_full_snapshot(self) -> StateTtlConfig.Builder:
            """Leave expired entries out of full snapshots (checkpoints and savepoints)."""
            strategies = StateTtlConfig.CleanupStrategies
            self._strategies[strategies.Strategies.FULL_STATE_SCAN_SNAPSHOT] = (
                strategies.EMPTY_STRATEGY
            )
            return self

        def cleanup_incrementally(
            self, cleanup_size: int, run_cleanup_for_every_record: bool
        ) -> StateTtlConfig.Builder:
            """On every access of the state, check ``cleanup_size`` entries for expiry and
            remove the expired ones; with ``run_cleanup_for_every_record`` also on every record
            the operator processes. Entries are visited round-robin, so all are checked
            eventually as long as the state is used."""
            strategies = StateTtlConfig.CleanupStrategies
            self._strategies[strategies.Strategies.INCREMENTAL_CLEANUP] = (
                strategies.IncrementalCleanupStrategy(cleanup_size, run_cleanup_for_every_record)
            )
            return self

        def cleanup_in_rocksdb_compact_filter(
            self,
            query_time_after_num_entries: int,
            periodic_compaction_time: Duration | None = None,
        ) -> StateTtlConfig.Builder:
            """Remove expired entries during RocksDB compaction (``rocksdb`` backend only)."""
            strategies = StateTtlConfig.CleanupStrategies
            self._strategies[strategies.Strategies.ROCKSDB_COMPACTION_FILTER] = (
                strategies.RocksdbCompactFilterCleanupStrategy(
                    query_time_after_num_entries, periodic_compaction_time
                )
            )
            return self

        def disable_cleanup_in_background(self) -> StateTtlConfig.Builder:
            """Turn off the default background cleanup; explicitly configured strategies
            (``cleanup_incrementally``, ...) stay on."""
            self._is_cleanup_in_background = False
            return self

        def set_ttl(self, ttl: Time) -> StateTtlConfig.Builder:
            self._ttl = _check_ttl(ttl)
            return self

        def build(self) -> StateTtlConfig:
            return StateTtlConfig(
                self._update_type,
                self._state_visibility,
                self._ttl_time_characteristic,
                self._ttl,
                StateTtlConfig.CleanupStrategies(self._strategies, self._is_cleanup_in_background),
            )

    def __init__(
        self,
        update_type: StateTtlConfig.UpdateType,
        state_visibility: StateTtlConfig.StateVisibility,
        ttl_time_characteristic: StateTtlConfig.TtlTimeCharacteristic,
        ttl: Time,
        cleanup_strategies: StateTtlConfig.CleanupStrategies,
    ) -> None:
        self._update_type = update_type
        self._state_visibility = state_visibility
        self._ttl_time_characteristic = ttl_time_characteristic
        self._ttl = ttl
        self._cleanup_strategies = cleanup_strategies

    @staticmethod
    def new_builder(ttl: Time) -> StateTtlConfig.Builder:
        """A builder for a TTL of ``ttl`` (a :class:`~strom.common.time.Time` or
        :class:`~strom.common.time.Duration`, at least 1 ms)."""
        return StateTtlConfig.Builder(ttl)

    def get_update_type(self) -> StateTtlConfig.UpdateType:
        return self._update_type

    def get_state_visibility(self) -> StateTtlConfig.StateVisibility:
        return self._state_visibility

    def get_ttl(self) -> Time:
        return self._ttl

    def get_ttl_time_characteristic(self) -> StateTtlConfig.TtlTimeCharacteristic:
        return self._ttl_time_characteristic

    def is_enabled(self) -> bool:
        """False when the update type is ``Disabled`` (the state then never expires)."""
        return self._update_type is not StateTtlConfig.UpdateType.Disabled

    def get_cleanup_strategies(self) -> StateTtlConfig.CleanupStrategies:
        return self._cleanup_strategies

    def __repr__(self) -> str:
        return (
            f"StateTtlConfig<update_type={self._update_type}, "
            f"state_visibility={self._state_visibility}, "
            f"ttl_time_characteristic={self._ttl_time_characteristic}, ttl={self._ttl!r}>"
        )


StateTtlConfig.CleanupStrategies.EMPTY_STRATEGY = (
    StateTtlConfig.CleanupStrategies.EmptyCleanupStrategy()
)


E = TypeVar("E", bound=enum.Enum)


def _check_enum(value: Any, enum_type: type[E]) -> E:
    if not isinstance(value, enum_type):
        raise TypeError(
            f"expected a StateTtlConfig.{enum_type.__name__} "
            f"(one of {', '.join(m.name for m in enum_type)}), got {value!r}"
        )
    return value


def _check_ttl(ttl: Any) -> Time:
    if isinstance(ttl, Duration):
        ttl = Time.milliseconds(ttl.to_milliseconds())
    if not isinstance(ttl, Time):
        raise TypeError(
            f"the TTL must be a strom.common.time.Time (e.g. Time.seconds(10)), got {ttl!r}"
        )
    if ttl.to_milliseconds() <= 0:
        raise ValueError(f"the TTL must be at least 1 ms, got {ttl!r}")
    return ttl


# --------------------------------------------------------------------------- descriptors


class StateDescriptor(ABC):  # noqa: B024 - abstract by intent: only the subclasses describe state
    """Names a piece of partitioned state and says what kind it is.

    Backends cache state per name: asking twice with the same name returns the same state
    object; asking with the same name but another kind of descriptor is an error."""

    def __init__(self, name: str, type_info: Any = None) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError(f"a state descriptor needs a non-empty name (str), got {name!r}")
        self.name = name
        self.type_info = type_info
        self._ttl_config: StateTtlConfig | None = None

    def get_name(self) -> str:
        return self.name

    def enable_time_to_live(self, ttl_config: StateTtlConfig) -> None:
        """Let values of this state expire as ``ttl_config`` says (see :class:`StateTtlConfig`).

        Call it before the state is first used; a state restored from a checkpoint must keep
        TTL on or off as it was when the checkpoint was taken."""
        if not isinstance(ttl_config, StateTtlConfig):
            raise TypeError(
                "enable_time_to_live needs a StateTtlConfig "
                f"(StateTtlConfig.new_builder(Time.seconds(n)).build()), got {ttl_config!r}"
            )
        self._ttl_config = ttl_config

    def get_ttl_config(self) -> StateTtlConfig | None:
        """The TTL configuration, or ``None`` when TTL was not enabled."""
        return self._ttl_config

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


class ValueStateDescriptor(StateDescriptor):
    """Describes a :class:`ValueState`."""

    def __init__(self, name: str, value_type_info: Any = None) -> None:
        super().__init__(name, value_type_info)


class ListStateDescriptor(StateDescriptor):
    """Describes a :class:`ListState` whose elements have ``elem_type_info``."""

    def __init__(self, name: str, elem_type_info: Any = None) -> None:
        super().__init__(name, elem_type_info)
        self.elem_type_info = elem_type_info


class MapStateDescriptor(StateDescriptor):
    """Describes a :class:`MapState` (or a broadcast state)."""

    def __init__(self, name: str, key_type_info: Any = None, value_type_info: Any = None) -> None:
        super().__init__(name, (key_type_info, value_type_info))
        self.key_type_info = key_type_info
        self.value_type_info = value_type_info


class _CallableReduceFunction(ReduceFunction[Any]):
    """Adapts a plain two-argument callable to :class:`ReduceFunction`."""

    def __init__(self, fn: Callable[[Any, Any], Any]) -> None:
        self._fn = fn

    def reduce(self, value1: Any, value2: Any) -> Any:
        return self._fn(value1, value2)


class ReducingStateDescriptor(StateDescriptor):
    """Describes a :class:`ReducingState`; ``reduce_function`` is a
    :class:`~strom.datastream.functions.ReduceFunction` or a callable ``f(a, b) -> c``."""

    def __init__(self, name: str, reduce_function: Any, type_info: Any = None) -> None:
        super().__init__(name, type_info)
        if isinstance(reduce_function, ReduceFunction):
            self._reduce_function: ReduceFunction[Any] = reduce_function
        elif callable(reduce_function):
            self._reduce_function = _CallableReduceFunction(reduce_function)
        else:
            raise TypeError(
                f"ReducingStateDescriptor {name!r} needs a ReduceFunction or a callable "
                f"f(a, b) -> c, got {reduce_function!r}"
            )

    def get_reduce_function(self) -> ReduceFunction[Any]:
        return self._reduce_function


class AggregatingStateDescriptor(StateDescriptor):
    """Describes an :class:`AggregatingState` driven by ``agg_function``."""

    def __init__(self, name: str, agg_function: Any, state_type_info: Any = None) -> None:
        super().__init__(name, state_type_info)
        if not isinstance(agg_function, AggregateFunction):
            raise TypeError(
                f"AggregatingStateDescriptor {name!r} needs an instance of "
                f"strom.datastream.functions.AggregateFunction, got {agg_function!r}"
            )
        self._agg_function: AggregateFunction[Any, Any, Any] = agg_function

    def get_agg_function(self) -> AggregateFunction[Any, Any, Any]:
        return self._agg_function
