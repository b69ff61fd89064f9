"""Read a savepoint or retained checkpoint from Python, without running the job.

Flink reads savepoints with its Java-only State Processor API; strom reads them directly::

    from strom.state import savepoint

    reader = savepoint.read("file:///tmp/savepoints/savepoint-3f2a1c-0123456789ab")
    for op in reader.operators():
        print(op.state_id, op.name, op.parallelism, op.max_parallelism, op.state_names)
    for key, count in reader.keyed_state("counter", "count"):
        ...
    offsets = reader.operator_state("source").list_states

What the readers yield:

* :meth:`SavepointReader.keyed_state` gives ``(key, value)`` for the entries of a keyed state
  in the ``VOID_NAMESPACE`` (state a function reads with ``get_runtime_context().get_state``):
  the value of value and reducing state, the accumulator of aggregating state (the reader
  does not have the job's ``AggregateFunction``), a list for list state and a dict for map
  state. TTL timestamps are stripped.
* :meth:`SavepointReader.window_state` gives ``(key, namespace, value)`` for every entry,
  whatever its namespace: window contents live under their window (``TimeWindow(start,
  end)``, ``GlobalWindow``), one entry per key and window.
* :meth:`SavepointReader.operator_state` gives an operator's non-keyed state as one
  subtask would restore it at parallelism 1: list states concatenated in subtask order,
  union list states whole, broadcast state once.

It works for savepoints and for retained checkpoints in the canonical format (every
``hashmap`` checkpoint and every savepoint). Native incremental RocksDB checkpoints cannot be
read this way: take a savepoint of the job (``strom savepoint <job id>``) and read that.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from strom.common import _pickling
from strom.state.checkpoint_metadata import CheckpointMetadata, OperatorStateEntry, StateHandle
from strom.state.checkpoint_storage import read_metadata, read_state
from strom.state.namespaces import VOID_NAMESPACE
from strom.state.operator_state import redistribute_operator_state
from strom.state.snapshots import (
    KeyedStateSnapshot,
    OperatorStateSnapshot,
    StateMeta,
    decode_key_group,
)

__all__ = ["OperatorInfo", "SavepointReader", "read"]


@dataclass(frozen=True)
class OperatorInfo:
    """One operator with state in a savepoint.

    ``keyed_states`` maps each keyed state's name to its kind (``value``, ``list``, ``map``,
    ``reducing``, ``aggregating``; `` with TTL`` appended when it has TTL);
    ``operator_states`` maps each operator state's name to ``list``, ``union`` or
    ``broadcast``.
    """

    state_id: str
    name: str
    parallelism: int
    max_parallelism: int
    keyed_states: dict[str, str] = field(default_factory=dict)
    operator_states: dict[str, str] = field(default_factory=dict)

    @property
    def state_names(self) -> list[str]:
        """The names of all its states, keyed ones first."""
        return [*self.keyed_states, *self.operator_states]


def read(path: str) -> SavepointReader:
    """Open the savepoint or checkpoint at ``path``: its directory or its ``_metadata`` file,
    a local path or any fsspec URL."""
    return SavepointReader(path, read_metadata(path))


class SavepointReader:
    """The state of one savepoint or checkpoint (see the module docstring). State handles
    are read when asked for, one subtask at a time."""

    def __init__(self, path: str, metadata: CheckpointMetadata) -> None:
        self.path = path
        self.metadata = metadata

    @property
    def checkpoint_id(self) -> int:
        return self.metadata.checkpoint_id

    @property
    def kind(self) -> str:
        """``"savepoint"`` or ``"checkpoint"``."""
        return self.metadata.kind

    def operators(self) -> list[OperatorInfo]:
        """Every operator of the savepoint, in the order the metadata lists them."""
        out = []
        for entry in self.metadata.operators:
            keyed: dict[str, str] = {}
            for snapshot in self._keyed_snapshots(entry):
                for name, meta in snapshot.states.items():
                    kind, has_ttl = StateMeta(*meta)
                    keyed.setdefault(name, f"{kind} with TTL" if has_ttl else kind)
            operator: dict[str, str] = {}
            merged = self._merged_operator_state(entry)
            for kind, states in (("list", merged.list_states), ("union", merged.union_states),
                                 ("broadcast", merged.broadcast_states)):
                operator.update(dict.fromkeys(states, kind))
            out.append(OperatorInfo(entry.state_id, entry.name, entry.parallelism,
                                    entry.max_parallelism, keyed, operator))
        return out

    def keyed_state(self, state_id: str, state_name: str) -> Iterator[tuple[Any, Any]]:
        """``(key, value)`` of every key with an entry in keyed state ``state_name`` of the
        operator ``state_id``, in its ``VOID_NAMESPACE`` (see :meth:`window_state` for state
        scoped to windows)."""
        scoped = False
        found = False
        for key, namespace, value in self.window_state(state_id, state_name):
            if namespace is VOID_NAMESPACE or namespace == VOID_NAMESPACE:
                found = True
                yield key, value
            else:
                scoped = True
        if scoped and not found:
            raise ValueError(
                f"keyed state {state_name!r} of operator {state_id!r} has entries only under "
                "windows (namespaces other than VOID_NAMESPACE): read it with "
                "window_state(state_id, state_name), which yields (key, window, value)."
            )

    def window_state(self, state_id: str, state_name: str) -> Iterator[tuple[Any, Any, Any]]:
        """``(key, namespace, value)`` of every entry of keyed state ``state_name`` of the
        operator ``state_id``, whatever its namespace (a window, or ``VOID_NAMESPACE``)."""
        entry = self._entry(state_id)
        seen = False
        for snapshot in self._keyed_snapshots(entry):
            meta = snapshot.states.get(state_name)
            if meta is None:
                continue
            seen = True
            kind, has_ttl = StateMeta(*meta)
            for kg in sorted(snapshot.key_groups):
                states, _ = decode_key_group(snapshot.key_groups[kg])
                for namespace, entries in states.get(state_name, {}).items():
                    for key, stored in entries.items():
                        yield key, namespace, _user_value(kind, has_ttl, stored)
        if not seen:
            names = sorted({n for s in self._keyed_snapshots(entry) for n in s.states})
            raise KeyError(
                f"operator {state_id!r} ({entry.name!r}) has no keyed state {state_name!r}; "
                f"its keyed states are {names}"
            )

    def operator_state(self, state_id: str) -> OperatorStateSnapshot:
        """The operator (non-keyed) state of ``state_id`` as one subtask would restore it at
        parallelism 1."""
        return self._merged_operator_state(self._entry(state_id))

    # ------------------------------------------------------------------ internals

    def _entry(self, state_id: str) -> OperatorStateEntry:
        entry = self.metadata.operator(state_id)
        if entry is None:
            known = [e.state_id for e in self.metadata.operators]
            raise KeyError(
                f"{self.kind} {self.path!r} has no state of operator {state_id!r}; its "
                f"operators are {known} (state ids: the uid set with .uid(), or a generated "
                "id; see operators())"
            )
        return entry

    def _keyed_snapshots(self, entry: OperatorStateEntry) -> Iterator[KeyedStateSnapshot]:
        for index in sorted(entry.subtasks):
            handle = entry.subtasks[index].keyed
            if handle is not None:
                yield self._load_keyed(entry, index, handle)

    def _load_keyed(
        self, entry: OperatorStateEntry, index: int, handle: StateHandle
    ) -> KeyedStateSnapshot:
        snapshot = _pickling.loads(read_state(handle))
        if getattr(snapshot, "shared_urls", None) is not None:  # an incremental rocksdb one
            from strom.state.rocksdb_incremental import canonical_snapshot

            snapshot = canonical_snapshot(snapshot)
        if not isinstance(snapshot, KeyedStateSnapshot):
            raise ValueError(
                f"the keyed state of operator {entry.state_id!r} subtask {index} in "
                f"{self.path!r} is in a state backend's native format "
                f"({type(snapshot).__name__}, {self.metadata.format!r} {self.kind}), which "
                "only that backend can restore. Take a savepoint (canonical format) of the "
                "job and read that instead."
            )
        return snapshot

    def _merged_operator_state(self, entry: OperatorStateEntry) -> OperatorStateSnapshot:
        old: list[OperatorStateSnapshot | None] = []
        for index in sorted(entry.subtasks):
            handle = entry.subtasks[index].operator
            old.append(None if handle is None else _pickling.loads(read_state(handle)))
        if not any(s is not None for s in old):
            return OperatorStateSnapshot()
        return redistribute_operator_state(old, 1)[0]

    def __repr__(self) -> str:
        return (f"SavepointReader({self.path!r}, {self.kind} {self.checkpoint_id}, "
                f"operators={[e.state_id for e in self.metadata.operators]})")


def _user_value(kind: str, has_ttl: bool, stored: Any) -> Any:
    """The value a user put, from the backend's stored form (TTL timestamps stripped)."""
    if not has_ttl:
        return list(stored) if kind == "list" else dict(stored) if kind == "map" else stored
    if kind == "list":
        return [element for element, _ in stored]
    if kind == "map":
        return {k: v for k, (v, _) in stored.items()}
    return stored[0]
