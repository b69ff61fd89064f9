"""Keyed and operator state, key groups, timers and snapshots (the runtime side of state).

The public names below are loaded on first use, so that importing
:mod:`strom.state.key_groups` (which the graph and network layers do) stays cheap and does
not pull in the state backends and the DataStream API.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from strom.state.backends import (
        AVAILABLE_BACKENDS,
        KeyedStateBackend,
        create_keyed_state_backend,
    )
    from strom.state.heap_backend import HeapKeyedStateBackend, wall_clock_millis
    from strom.state.namespaces import VOID_NAMESPACE
    from strom.state.operator_state import (
        OperatorBroadcastState,
        OperatorListState,
        OperatorStateBackend,
        ReadOnlyBroadcastStateView,
        redistribute_operator_state,
    )
    from strom.state.snapshots import KeyedStateSnapshot, OperatorStateSnapshot, StateMeta
    from strom.state.timers import LONG_MIN, InternalTimerService, Timer
    from strom.state.ttl_states import TtlPolicy

__all__ = [
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

_WHERE = {
    "AVAILABLE_BACKENDS": "backends",
    "KeyedStateBackend": "backends",
    "create_keyed_state_backend": "backends",
    "HeapKeyedStateBackend": "heap_backend",
    "wall_clock_millis": "heap_backend",
    "VOID_NAMESPACE": "namespaces",
    "OperatorBroadcastState": "operator_state",
    "OperatorListState": "operator_state",
    "OperatorStateBackend": "operator_state",
    "ReadOnlyBroadcastStateView": "operator_state",
    "redistribute_operator_state": "operator_state",
    "KeyedStateSnapshot": "snapshots",
    "OperatorStateSnapshot": "snapshots",
    "StateMeta": "snapshots",
    "LONG_MIN": "timers",
    "InternalTimerService": "timers",
    "Timer": "timers",
    "TtlPolicy": "ttl_states",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'strom.state' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"strom.state.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
