"""The keyed state backend interface and the factory that picks a backend by name."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping
from typing import Any, Protocol

from strom.datastream.state import StateDescriptor
from strom.state.heap_backend import HeapKeyedStateBackend, wall_clock_millis
from strom.state.key_groups import KeyGroupRange
from strom.state.snapshots import KeyedStateSnapshot
from strom.state.timers import InternalTimerService

__all__ = ["AVAILABLE_BACKENDS", "KeyedStateBackend", "create_keyed_state_backend"]

AVAILABLE_BACKENDS = ("hashmap", "rocksdb")
"""Values of ``state.backend.type`` this build can create."""


class KeyedStateBackend(Protocol):
    """What keyed operators use; every backend passes ``tests/unit/state``'s conformance
    suite. See :class:`~strom.state.heap_backend.HeapKeyedStateBackend` for the contract."""

    max_parallelism: int
    key_group_range: KeyGroupRange

    def set_current_key(self, key: Any) -> None: ...

    def get_current_key(self) -> Any: ...

    def get_partitioned_state(self, namespace: Any, descriptor: StateDescriptor) -> Any: ...

    def raw_value_map(self, name: str) -> MutableMapping[Any, Any]: ...

    def keys(self, state_name: str, namespace: Any) -> Iterator[Any]: ...

    def get_timer_service(self, name: str) -> InternalTimerService: ...

    def snapshot(self) -> KeyedStateSnapshot: ...

    def restore(self, snapshots: Iterable[KeyedStateSnapshot]) -> None: ...

    def dispose(self) -> None: ...


def create_keyed_state_backend(
    backend_type: str,
    max_parallelism: int,
    key_group_range: KeyGroupRange,
    clock: Callable[[], int] = wall_clock_millis,
    options: Mapping[str, Any] | None = None,
) -> KeyedStateBackend:
    """The backend named by ``state.backend.type`` (case-insensitive); ``options`` are
    configuration entries the backend reads (the rocksdb backend's
    ``state.backend.rocksdb.*`` keys and ``io.tmp.dirs``).

    >>> from strom.state.key_groups import KeyGroupRange
    >>> create_keyed_state_backend("hashmap", 128, KeyGroupRange(0, 127)).backend_type
    'hashmap'
    """
    name = backend_type.strip().lower() if isinstance(backend_type, str) else backend_type
    if name == "hashmap":
        return HeapKeyedStateBackend(max_parallelism, key_group_range, clock)
    if name == "rocksdb":
        from strom.state.rocksdb_backend import RocksDBKeyedStateBackend, RocksDBOptions

        return RocksDBKeyedStateBackend(
            max_parallelism, key_group_range, clock, RocksDBOptions.from_config(options)
        )
    raise ValueError(
        f"unknown state.backend.type {backend_type!r}; available: "
        f"{', '.join(repr(b) for b in AVAILABLE_BACKENDS)}"
    )
