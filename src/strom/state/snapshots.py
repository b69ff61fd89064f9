"""Snapshots of keyed and operator state: what a task hands to checkpoint storage.

Keyed state is organised by key group, so a snapshot taken at one parallelism can be
restored at another: each new backend keeps the key groups of its own range
(``compute_key_group_range_for_operator_index``). One key group's payload is the pickled
pair ``(states, timers)``::

    states: {state_name: {namespace: {key: stored}}}
    timers: {service_name: (event_time_timers, processing_time_timers)}   # lists of Timer

``stored`` is the backend's stored form (see :mod:`strom.state.heap_states` and
:mod:`strom.state.ttl_states`). Payloads are pickled when the snapshot is taken, so later
changes of the live state cannot leak into it, and it can travel between processes as is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from strom.common import _pickling
from strom.state.key_groups import KeyGroupRange

__all__ = [
    "KeyGroupPayload",
    "KeyedStateSnapshot",
    "OperatorStateSnapshot",
    "OperatorSubtaskState",
    "RestoredOperatorState",
    "StateMeta",
    "decode_key_group",
    "encode_key_group",
]

KeyGroupPayload = tuple[
    dict[str, dict[Any, dict[Any, Any]]], dict[str, tuple[list[Any], list[Any]]]
]
"""``(states, timers)`` of one key group, as described in the module docstring."""


class StateMeta(NamedTuple):
    """What a restored state must be asked for as: its kind and whether it has TTL."""

    kind: str
    has_ttl: bool


def encode_key_group(payload: KeyGroupPayload) -> bytes:
    """Pickle one key group's payload (cloudpickle: values of classes defined in the user's
    ``__main__`` survive the trip to another process)."""
    return _pickling.dumps(payload, protocol=5)


def decode_key_group(blob: bytes) -> KeyGroupPayload:
    payload: KeyGroupPayload = _pickling.loads(blob)
    return payload


@dataclass(frozen=True)
class KeyedStateSnapshot:
    """The keyed state (and timers) of one backend at one checkpoint.

    ``key_groups`` maps a key group to its encoded payload; key groups without state are
    absent. ``states`` lists every state the backend knew, even ones without entries.
    """

    backend_type: str
    max_parallelism: int
    key_group_range: KeyGroupRange
    states: dict[str, StateMeta]
    key_groups: dict[int, bytes]
    timer_services: tuple[str, ...] = ()

    def size_bytes(self) -> int:
        """The encoded size of all key groups."""
        return sum(len(blob) for blob in self.key_groups.values())

    def is_empty(self) -> bool:
        return not self.key_groups

    def __reduce__(self) -> tuple[Any, ...]:
        # The key groups go through a generator, one at a time: pickling a GB of state in
        # one C call would hold the GIL (and stop the task thread) for the whole copy; the
        # generator gives the interpreter a point between key groups to switch threads.
        return (_rebuild_keyed_snapshot, (
            self.backend_type, self.max_parallelism, self.key_group_range, self.states,
            _KeyGroupItems(self.key_groups.items()), self.timer_services))


class _KeyGroupItems(list[tuple[int, bytes]]):
    """``(key group, payload)`` pairs that pickle one by one (see
    ``KeyedStateSnapshot.__reduce__``)."""

    def __reduce__(self) -> tuple[Any, ...]:
        return (_KeyGroupItems, (), None, (pair for pair in self))


def _rebuild_keyed_snapshot(
    backend_type: str, max_parallelism: int, key_group_range: KeyGroupRange,
    states: dict[str, StateMeta], key_groups: list[tuple[int, bytes]],
    timer_services: tuple[str, ...],
) -> KeyedStateSnapshot:
    return KeyedStateSnapshot(backend_type, max_parallelism, key_group_range, states,
                              dict(key_groups), timer_services)


@dataclass(frozen=True)
class OperatorStateSnapshot:
    """The operator (non-keyed) state of one subtask.

    ``list_states`` are redistributed by even split on rescaling, ``union_states`` are given
    whole to every subtask, ``broadcast_states`` are copied to every subtask. Values are deep
    copies taken at snapshot time.
    """

    list_states: dict[str, list[Any]] = field(default_factory=dict)
    union_states: dict[str, list[Any]] = field(default_factory=dict)
    broadcast_states: dict[str, dict[Any, Any]] = field(default_factory=dict)

    def is_empty(self) -> bool:
        return not (self.list_states or self.union_states or self.broadcast_states)


DeferredKeyedSnapshot = Callable[[], Any]
"""The asynchronous part of a keyed snapshot: called on an upload thread, it returns what
the synchronous part captured, encoded (a :class:`KeyedStateSnapshot`, or a backend's native
incremental snapshot). It must not read the live state."""


@dataclass(frozen=True)
class OperatorSubtaskState:
    """What one operator of one subtask contributes to a checkpoint.

    ``StreamOperator.snapshot_state`` returns it from the task's thread, where only the
    synchronous part may run (capture references, copy-on-write); ``keyed`` may then be a
    :data:`DeferredKeyedSnapshot`, which :meth:`materialize` resolves on an upload thread.
    ``operator`` holds the operator (non-keyed) state: source reader splits, sink writer
    state, broadcast state, the user's list states.
    """

    keyed: KeyedStateSnapshot | DeferredKeyedSnapshot | Any | None = None
    operator: OperatorStateSnapshot | None = None

    def materialize(self) -> OperatorSubtaskState:
        """The same state with the deferred keyed part run (call off the task's thread)."""
        keyed = self.keyed
        if callable(keyed):
            return OperatorSubtaskState(keyed(), self.operator)
        return self

    def is_empty(self) -> bool:
        keyed_empty = self.keyed is None or (
            isinstance(self.keyed, KeyedStateSnapshot) and self.keyed.is_empty())
        return keyed_empty and (self.operator is None or self.operator.is_empty())


@dataclass(frozen=True)
class RestoredOperatorState:
    """The state one operator of a restored subtask starts from, already re-assigned to this
    subtask (key groups re-sliced, list state redistributed, broadcast state copied).

    ``keyed`` are the snapshots whose key groups overlap this subtask's range (the backend's
    ``restore`` keeps only its own key groups); ``operator`` is this subtask's share of the
    operator state, or None.
    """

    checkpoint_id: int
    keyed: tuple[Any, ...] = ()
    operator: OperatorStateSnapshot | None = None
    #: an unaligned checkpoint's in-flight data of the subtask, on its head operator's state
    #: (a state handle; a ``strom.runtime.channel_state.ChannelState`` once read)
    channel_state: Any = None
