"""The keyed state backend conformance kit: the backends under test and shared helpers.

Every keyed state backend must pass the ``test_state_conformance_*`` modules of this folder.
To add a backend, add a factory ``(max_parallelism, key_group_range, clock) -> backend`` to
:data:`BACKEND_FACTORIES`; the ``backend`` and ``backend_factory`` fixtures of
``conftest.py`` run every conformance test once per factory.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from strom.datastream.functions import AggregateFunction
from strom.state.heap_backend import HeapKeyedStateBackend
from strom.state.key_groups import KeyGroupRange
from strom.state.rocksdb_backend import RocksDBKeyedStateBackend

BackendFactory = Callable[[int, KeyGroupRange, Callable[[], int]], Any]

#: rocksdb backends created by the current test (conftest disposes them afterwards)
OPEN_ROCKSDB_BACKENDS: list[RocksDBKeyedStateBackend] = []


def rocksdb_backend(
    max_parallelism: int, key_group_range: KeyGroupRange, clock: Callable[[], int]
) -> RocksDBKeyedStateBackend:
    backend = RocksDBKeyedStateBackend(max_parallelism, key_group_range, clock)
    OPEN_ROCKSDB_BACKENDS.append(backend)
    return backend


BACKEND_FACTORIES: dict[str, BackendFactory] = {
    "hashmap": HeapKeyedStateBackend,
    "rocksdb": rocksdb_backend,
}


class FakeClock:
    """A processing-time clock the test moves by hand (milliseconds)."""

    def __init__(self, now: int = 0) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


class AverageAggregate(AggregateFunction):
    """Accumulator ``(sum, count)``; result the mean."""

    def create_accumulator(self) -> tuple[int, int]:
        return (0, 0)

    def add(self, value: int, accumulator: tuple[int, int]) -> tuple[int, int]:
        return (accumulator[0] + value, accumulator[1] + 1)

    def get_result(self, accumulator: tuple[int, int]) -> float:
        return accumulator[0] / accumulator[1]

    def merge(self, acc_a: tuple[int, int], acc_b: tuple[int, int]) -> tuple[int, int]:
        return (acc_a[0] + acc_b[0], acc_a[1] + acc_b[1])
