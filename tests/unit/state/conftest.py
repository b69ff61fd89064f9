"""Fixtures of the state tests: a fresh backend per test, once per backend factory."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from backend_conformance import (
    BACKEND_FACTORIES,
    OPEN_ROCKSDB_BACKENDS,
    BackendFactory,
    FakeClock,
)

from strom.state.key_groups import KeyGroupRange

MAX_PARALLELISM = 128


@pytest.fixture(params=sorted(BACKEND_FACTORIES))
def backend_factory(request: pytest.FixtureRequest) -> BackendFactory:
    return BACKEND_FACTORIES[request.param]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def backend(backend_factory: BackendFactory, clock: FakeClock) -> Iterator[Any]:
    b = backend_factory(MAX_PARALLELISM, KeyGroupRange(0, MAX_PARALLELISM - 1), clock)
    yield b
    b.dispose()


@pytest.fixture(autouse=True)
def _dispose_rocksdb_backends() -> Iterator[None]:
    """Close the DBs (and remove the directories) of the rocksdb backends a test made."""
    yield
    while OPEN_ROCKSDB_BACKENDS:
        OPEN_ROCKSDB_BACKENDS.pop().dispose()
