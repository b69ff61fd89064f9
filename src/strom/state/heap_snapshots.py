"""The two parts of a ``hashmap`` snapshot, and the two ways of taking the first.

:meth:`~strom.state.heap_backend.HeapKeyedStateBackend.snapshot_deferred` runs a
synchronous part on the task thread and returns the asynchronous part, a callable that an
upload thread runs to get the :class:`~strom.state.snapshots.KeyedStateSnapshot`:

* **Copied** (:class:`CopiedSnapshot`): the synchronous part takes a shallow copy of every
  namespace map and timer bucket (one ``dict.copy`` each, about 40-50 ns per entry) and the
  state objects copy stored objects on write while the snapshot is pending (see
  :mod:`strom.state.heap_states`). The callable files the copies' entries under their key
  groups and pickles each group.
* **Forked** (:class:`ForkedSnapshot`, Linux, state of at least ``fork_min_entries``
  entries): the synchronous part is ``os.fork()``, whose cost is copying page tables (about
  15 ms for 1 GB of state) instead of touching every entry; the operating system copies
  pages on write. The child process encodes the state as it was at the fork and streams the
  key groups through a pipe; the callable reads them and reaps the child. While the child
  runs, the process may need up to the state's size again in memory (the child's reference
  counting touches every page it reads).

Both encode the same way, so restoring cannot tell which one took the snapshot.
"""

from __future__ import annotations

import gc
import os
import pickle
import signal
import struct
import sys
import threading
import weakref
from collections.abc import Callable
from typing import Any, BinaryIO, NamedTuple

import cloudpickle

from strom.state.heap_states import _ATOMIC as _ATOMIC_TYPES
from strom.state.heap_states import NamespaceMap, copy_stored, is_immutable
from strom.state.key_groups import KeyGroupRange, assign_to_key_group
from strom.state.snapshots import (
    KeyedStateSnapshot,
    KeyGroupPayload,
    StateMeta,
    encode_key_group,
)
from strom.state.timers import Bucket, timers_in_order

__all__ = [
    "FORK_AVAILABLE",
    "Capture",
    "CopiedSnapshot",
    "ForkedSnapshot",
    "SnapshotLayout",
    "TimerCapture",
    "capture_namespaces",
    "file_entries",
    "holds_mutable",
]

_FORK_SENSITIVE_LOCK = getattr(
    cloudpickle.cloudpickle, "_DYNAMIC_CLASS_TRACKER_LOCK", threading.Lock())

FORK_AVAILABLE = sys.platform.startswith("linux") and hasattr(os, "fork")
"""Whether forked snapshots can be used here (Linux only: fork is unsafe on macOS)."""


class Capture(NamedTuple):
    """One state as the synchronous part captured it."""

    name: str
    frozen: NamespaceMap
    keep: Callable[[Any, int], Any] | None  # the state's snapshot_filter


TimerCapture = tuple[str, dict[int, Bucket], dict[int, Bucket]]
"""``(service name, event-time buckets, processing-time buckets)``."""


class SnapshotLayout(NamedTuple):
    """What a snapshot says about its backend, besides the entries."""

    backend_type: str
    max_parallelism: int
    key_group_range: KeyGroupRange
    states: dict[str, StateMeta]
    timer_services: tuple[str, ...]


def capture_namespaces(namespaces: NamespaceMap, deep: bool = False) -> NamespaceMap:
    """Copies of the non-empty namespace maps: shallow, or with ``deep`` also copies of the
    stored objects that could change in place (:func:`copy_stored`)."""
    if not deep:
        return {ns: m.copy() for ns, m in namespaces.items() if m}
    return {ns: {k: v if is_immutable(v) else copy_stored(v) for k, v in m.items()}
            for ns, m in namespaces.items() if m}


def holds_mutable(namespaces: NamespaceMap) -> bool:
    """Whether any stored object could change in place (not atomic, not a tuple of atomic
    values). About 20 ns per entry when none can."""
    for m in namespaces.values():
        types = set(map(type, m.values()))
        if types <= _ATOMIC_TYPES:
            continue
        if types - _ATOMIC_TYPES != {tuple}:
            return True
        if not all(map(is_immutable, m.values())):
            return True
    return False


def file_entries(
    layout: SnapshotLayout, captures: list[Capture], timers: list[TimerCapture], now: int
) -> dict[int, KeyGroupPayload]:
    """File the captured entries and timers under their key groups, in key-group order.
    Raises ``ValueError`` for a key outside the backend's key groups."""
    payloads: dict[int, KeyGroupPayload] = {}
    key_groups: dict[Any, int] = {}
    max_p = layout.max_parallelism
    key_range = layout.key_group_range

    def payload_for(key: Any) -> KeyGroupPayload:
        kg = key_groups.get(key)
        if kg is None:
            kg = assign_to_key_group(key, max_p)
            if kg not in key_range:
                raise ValueError(
                    f"key {key!r} belongs to key group {kg}, outside this backend's key "
                    f"groups {key_range.start}..{key_range.end} (max parallelism {max_p}): "
                    "its records reached the wrong subtask. Partition the input with "
                    "key_by using the same max parallelism."
                )
            key_groups[key] = kg
        payload = payloads.get(kg)
        if payload is None:
            payload = payloads[kg] = ({}, {})
        return payload

    for name, frozen, keep in captures:
        for ns, m in frozen.items():
            for key, stored in m.items():
                if keep is not None:
                    stored = keep(stored, now)
                    if stored is None:
                        continue
                by_ns = payload_for(key)[0].setdefault(name, {})
                by_key = by_ns.get(ns)
                if by_key is None:
                    by_key = by_ns[ns] = {}
                by_key[key] = stored
    for name, event_time, processing_time in timers:
        for index, buckets in enumerate((event_time, processing_time)):
            for timer in timers_in_order(buckets):
                per_service = payload_for(timer.key)[1]
                lists = per_service.get(name)
                if lists is None:
                    lists = per_service[name] = ([], [])
                lists[index].append(tuple(timer))
    return dict(sorted(payloads.items()))


def _snapshot(layout: SnapshotLayout, key_groups: dict[int, bytes]) -> KeyedStateSnapshot:
    return KeyedStateSnapshot(
        backend_type=layout.backend_type,
        max_parallelism=layout.max_parallelism,
        key_group_range=layout.key_group_range,
        states=layout.states,
        key_groups=key_groups,
        timer_services=layout.timer_services,
    )


class _OnceSnapshot:
    """A deferred snapshot that runs once; later calls return the same result."""

    release: weakref.finalize

    def __init__(self) -> None:
        self._result: KeyedStateSnapshot | None = None
        self._error: BaseException | None = None
        self._lock = threading.Lock()

    def __call__(self) -> KeyedStateSnapshot:
        with self._lock:
            if self._error is not None:
                raise self._error
            if self._result is None:
                try:
                    self._result = self._run()
                except BaseException as e:
                    self._error = e
                    raise
                finally:
                    self.release()
            return self._result

    def _run(self) -> KeyedStateSnapshot:
        raise NotImplementedError


class CopiedSnapshot(_OnceSnapshot):
    """The asynchronous part of a copied snapshot: encodes the captured copies."""

    def __init__(self, layout: SnapshotLayout, captures: list[Capture],
                 timers: list[TimerCapture], now: int) -> None:
        super().__init__()
        self._layout = layout
        self._captures = captures
        self._timers = timers
        self._now = now

    def _run(self) -> KeyedStateSnapshot:
        try:
            payloads = file_entries(self._layout, self._captures, self._timers, self._now)
            return _snapshot(self._layout, {kg: encode_key_group(p) for kg, p in payloads.items()})
        finally:
            self._captures, self._timers = [], []  # let the copies go


# A forked child writes frames to the pipe: a 1-byte tag, then a payload.
_KEY_GROUP = b"k"  # then >iQ (key group, size) and the pickled group
_DONE = b"d"
_FAILED = b"f"  # then >Q size and the pickled error message
_HEADER = struct.Struct(">iQ")
_SIZE = struct.Struct(">Q")


class ForkedSnapshot(_OnceSnapshot):
    """The asynchronous part of a forked snapshot: reads the child's key groups."""

    def __init__(self, layout: SnapshotLayout, pid: int, pipe: BinaryIO) -> None:
        super().__init__()
        self._layout = layout
        self._pid = pid
        self._pipe = pipe

    @classmethod
    def fork(cls, layout: SnapshotLayout, capture: Callable[[], tuple[list[Capture],
             list[TimerCapture]]], now: int) -> ForkedSnapshot:
        """Fork; the child calls ``capture()`` (on its frozen copy of the live state), encodes
        and streams what it returns, and exits."""
        read_fd, write_fd = os.pipe()
        # only the forking thread lives on in the child: a lock another thread holds at the
        # fork would stay locked there for ever. The child pickles with cloudpickle, so its
        # class-tracking lock is taken across the fork (the import lock CPython handles).
        with _FORK_SENSITIVE_LOCK:
            pid = os.fork()
        if pid == 0:  # the child: never returns
            os.close(read_fd)
            _child(layout, capture, now, write_fd)
        os.close(write_fd)
        snapshot = cls(layout, pid, open(read_fd, "rb", buffering=1 << 20))
        snapshot.release = weakref.finalize(snapshot, _reap, pid, snapshot._pipe)
        return snapshot

    def _run(self) -> KeyedStateSnapshot:
        pipe = self._pipe
        key_groups: dict[int, bytes] = {}
        while True:
            tag = pipe.read(1)
            if tag == _KEY_GROUP:
                kg, size = _HEADER.unpack(_read_exactly(pipe, _HEADER.size))
                key_groups[kg] = _read_exactly(pipe, size)
            elif tag == _DONE:
                return _snapshot(self._layout, key_groups)
            elif tag == _FAILED:
                (size,) = _SIZE.unpack(_read_exactly(pipe, _SIZE.size))
                raise ValueError(pickle.loads(_read_exactly(pipe, size)))
            else:
                raise RuntimeError(
                    f"the forked snapshot process {self._pid} ended without finishing the "
                    f"snapshot (got {tag!r}); it may have been killed (out of memory?)")


def _read_exactly(pipe: BinaryIO, size: int) -> bytes:
    data = pipe.read(size)
    if len(data) != size:
        raise RuntimeError(
            f"the forked snapshot process ended in the middle of a frame ({len(data)} of "
            f"{size} bytes); it may have been killed (out of memory?)")
    return data


def _reap(pid: int, pipe: BinaryIO) -> None:
    """Stop (if still running) and reap a forked snapshot's child, close its pipe."""
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass
    pipe.close()


def _child(layout: SnapshotLayout, capture: Callable[[], tuple[list[Capture],
           list[TimerCapture]]], now: int, write_fd: int) -> None:
    code = 0
    try:
        gc.disable()  # a collection would touch (and so copy) every page of the heap
        out = open(write_fd, "wb", buffering=1 << 20)
        try:
            captures, timers = capture()
            payloads = file_entries(layout, captures, timers, now)
        except Exception as e:  # reported to the parent, which raises it
            message = pickle.dumps(str(e))
            out.write(_FAILED + _SIZE.pack(len(message)) + message)
        else:
            for kg, payload in payloads.items():
                blob = encode_key_group(payload)
                out.write(_KEY_GROUP + _HEADER.pack(kg, len(blob)))
                out.write(blob)
            out.write(_DONE)
        out.flush()
    except BaseException:
        code = 1
    finally:
        os._exit(code)
