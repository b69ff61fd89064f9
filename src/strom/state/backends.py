"""The keyed state backend interface and the factory that picks a backend by name."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping
from typing import Any, Protocol

from strom.datastream.state import StateDescriptor
from strom.state.heap_backend import HeapKeyedStateBackend, wall_clock_millis
from strom.state.key_groups import KeyGroupRange
from strom.state.snapshots import KeyedStateSnapshot
from strom.state.timers import InternalTimerService

__all__ = [
    "AVAILABLE_BACKENDS",
    "KeyedStateBackend",
    "checkpoint_keyed_state",
    "create_keyed_state_backend",
]

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


def checkpoint_keyed_state(
    backend: Any, checkpoint_id: int, incremental: bool = False, savepoint: bool = False
) -> Any:
    """The synchronous part of a keyed backend's snapshot for a checkpoint, run on the task's
    thread; the result goes into ``OperatorSubtaskState.keyed``:

    * an incremental checkpoint (``execution.checkpointing.incremental``, not a savepoint,
      a backend that has them: rocksdb): its local checkpoint, which the upload thread
      hands to :func:`~strom.state.rocksdb_incremental.upload_keyed_state`;
    * else the deferred canonical snapshot (a callable for the upload thread), when the
      backend has one;
    * else a full canonical snapshot, taken now.

    Savepoints are always canonical, so they restore into any backend."""
    if incremental and not savepoint:
        take_incremental = getattr(backend, "snapshot_incremental", None)
        if take_incremental is not None:
            return take_incremental(checkpoint_id)
    deferred = getattr(backend, "snapshot_deferred", None)
    if deferred is not None:
        return deferred()
    return backend.snapshot()
