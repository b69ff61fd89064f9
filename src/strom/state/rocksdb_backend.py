"""The ``rocksdb`` keyed state backend: keyed state in an embedded RocksDB (``rocksdict``).

State lives on local disk, so a job can hold more keyed state than memory: only RocksDB's
block cache and write buffers (sized by :class:`RocksDBOptions`' memory budget) stay in
memory. Rows are laid out by key group (:mod:`strom.state.rocksdb_keys`); values are pickled
in the ``hashmap`` backend's stored form, so both backends produce the same canonical
:class:`~strom.state.snapshots.KeyedStateSnapshot` and a savepoint taken with one restores
into the other.

Timers are kept on the heap (Flink's ``state.backend.rocksdb.timer-service.factory: HEAP``)
and snapshotted with the state. The DB lives in a fresh directory under
``state.backend.rocksdb.localdir`` (else ``io.tmp.dirs``, else the system's temp dir) and
is removed by :meth:`RocksDBKeyedStateBackend.dispose`.

Snapshots: the synchronous part flushes the write buffer and creates a RocksDB checkpoint
(hard links of the immutable SST files), which is cheap; the deferred part reads that
checkpoint on another thread while the task goes on writing. Incremental checkpoints are in
:mod:`strom.state.rocksdb_incremental`.
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
import threading
import uuid
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from strom.datastream.state import StateDescriptor, ValueStateDescriptor
from strom.state.heap_backend import _describe, requested_meta, wall_clock_millis
from strom.state.key_groups import (
    UPPER_BOUND_MAX_PARALLELISM,
    KeyGroupRange,
    assign_to_key_group,
    check_backend_range,
)
from strom.state.rocksdb_keys import (
    META_PREFIX,
    decode_object,
    dumps_value,
    encode_object,
    key_group_prefix,
    key_part,
    loads_value,
    meta_key,
    split_row_key,
)
from strom.state.rocksdb_states import (
    ROCKS_STATE_CLASSES,
    RocksRawValueMap,
    RocksState,
    purge_stored,
)
from strom.state.snapshots import (
    KeyedStateSnapshot,
    KeyGroupPayload,
    StateMeta,
    decode_key_group,
    encode_key_group,
)
from strom.state.timers import InternalTimerService
from strom.state.ttl_states import TtlPolicy

rocksdict: Any
try:
    import rocksdict
except ImportError:  # pragma: no cover - rocksdict is a dependency of strom
    rocksdict = None

__all__ = ["DEFAULT_MEMORY_BUDGET", "RocksDBKeyedStateBackend", "RocksDBOptions"]

DEFAULT_MEMORY_BUDGET = 64 * 1024 * 1024
"""Memory of one backend's RocksDB (block cache plus write buffers) when
``state.backend.rocksdb.memory.fixed-per-slot`` is not set."""

_U16_MAX = 0xFFFF
_NO_KEY = object()
_snapshot_numbers = itertools.count()


@dataclass(frozen=True)
class RocksDBOptions:
    """Where a backend's DB lives and how much memory its RocksDB may use.

    ``memory_budget`` bytes are split as Flink splits a slot's RocksDB memory: the write
    buffers (memtables) get ``write_buffer_ratio`` of it and are charged to the block cache,
    which is capped at the whole budget."""

    local_dir: str | None = None
    memory_budget: int | None = DEFAULT_MEMORY_BUDGET
    """None: no shared budget, RocksDB's own defaults."""
    write_buffer_ratio: float = 0.5
    incremental: bool = False
    """``execution.checkpointing.incremental``: checkpoints (not savepoints) are native and
    upload only new SST files."""

    @staticmethod
    def from_config(config: Mapping[str, Any] | None) -> RocksDBOptions:
        """Options from configuration keys (``state.backend.rocksdb.localdir``,
        ``...memory.fixed-per-slot``, ``...memory.write-buffer-ratio``, ``io.tmp.dirs``);
        values may be typed or strings in the option's syntax."""
        from strom.common import config_options as opts

        config = dict(config or {})

        def get(option: Any) -> Any:
            for key in (option.key, *option.fallback_keys):
                if key in config and config[key] is not None:
                    value = config[key]
                    return option.parse(value) if isinstance(value, str) else value
            return option.default

        local_dir = get(opts.ROCKSDB_LOCALDIR)
        if not local_dir:
            tmp_dirs = config.get("io.tmp.dirs")
            if tmp_dirs:
                local_dir = str(tmp_dirs).replace(";", ",").split(",")[0].strip() or None
        if local_dir and "," in local_dir:  # Flink accepts a list: strom uses the first
            local_dir = local_dir.split(",")[0].strip()
        fixed = get(opts.ROCKSDB_MEMORY_FIXED_PER_SLOT)
        budget: int | None = int(fixed) if fixed else DEFAULT_MEMORY_BUDGET
        if not fixed and not get(opts.ROCKSDB_MEMORY_MANAGED):
            budget = None
        return RocksDBOptions(local_dir, budget, float(get(opts.ROCKSDB_WRITE_BUFFER_RATIO)),
                              bool(get(opts.INCREMENTAL_CHECKPOINTS)))


def _require_rocksdict() -> Any:
    if rocksdict is None:
        raise RuntimeError(
            "state.backend.type 'rocksdb' needs the 'rocksdict' package, which cannot be "
            "imported here; install it (pip install rocksdict) or use state.backend.type "
            "'hashmap'"
        )
    return rocksdict


def _db_options(options: RocksDBOptions) -> Any:
    rd = _require_rocksdict()
    db_options = rd.Options(raw_mode=True)
    db_options.create_if_missing(True)
    db_options.set_max_open_files(256)
    db_options.set_max_background_jobs(2)
    if options.memory_budget is None:
        return db_options
    budget = max(options.memory_budget, 1024 * 1024)
    write_buffers = max(int(budget * options.write_buffer_ratio), 256 * 1024)
    cache = rd.Cache(budget)
    table = rd.BlockBasedOptions()
    table.set_block_cache(cache)
    table.set_cache_index_and_filter_blocks(True)
    table.set_pin_l0_filter_and_index_blocks_in_cache(True)
    db_options.set_block_based_table_factory(table)
    db_options.set_write_buffer_manager(
        rd.WriteBufferManager.new_write_buffer_manager_with_cache(write_buffers, False, cache))
    db_options.set_write_buffer_size(max(write_buffers // 2, 64 * 1024))
    db_options.set_max_write_buffer_number(2)
    return db_options


def _open(path: str, options: RocksDBOptions, read_only: bool = False) -> Any:
    rd = _require_rocksdict()
    if read_only:
        db = rd.Rdict(path, _db_options(options), access_type=rd.AccessType.read_only())
    else:
        db = rd.Rdict(path, _db_options(options))
        write_options = rd.WriteOptions()
        write_options.disable_wal = True  # checkpoints flush first, as Flink's backend does
        db.set_write_options(write_options)
    return db


def _close_and_remove(db: Any, directory: str) -> None:
    try:
        db.close()
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def scan_rows(db: Any, state_id: int | None = None, after: bytes | None = None,
              key_groups: KeyGroupRange | None = None) -> Iterator[tuple[bytes, bytes]]:
    """``(row, value)`` of the state rows of ``db`` in key order: all states, or the one
    with ``state_id`` (seeking past the others), starting after the row ``after``, within
    ``key_groups`` if given."""
    it = db.iter()
    first_kg = 0 if key_groups is None else key_groups.start
    last_kg = UPPER_BOUND_MAX_PARALLELISM - 1 if key_groups is None else key_groups.end
    if after is not None:
        it.seek(after)
        if it.valid() and it.key() == after:
            it.next()
    else:
        it.seek(key_group_prefix(first_kg, state_id or 0))
    while it.valid():
        row: bytes = it.key()
        if row[:2] == META_PREFIX:
            return
        kg = int.from_bytes(row[:2], "big")
        if kg > last_kg:
            return
        if state_id is None:
            yield row, it.value()
            it.next()
            continue
        sid = int.from_bytes(row[2:4], "big")
        if sid == state_id:
            yield row, it.value()
            it.next()
        elif sid < state_id:
            it.seek(key_group_prefix(kg, state_id))
        elif kg + 1 > last_kg:
            return
        else:
            it.seek(key_group_prefix(kg + 1, state_id))


def read_metas(db: Any) -> dict[str, tuple[int, StateMeta]]:
    """The states a DB holds: name -> (state id, meta), from its metadata rows."""
    metas: dict[str, tuple[int, StateMeta]] = {}
    for row, raw in db.items(from_key=META_PREFIX):
        if row[:2] != META_PREFIX:
            break
        sid, kind, has_ttl = loads_value(raw)
        metas[row[2:].decode("utf-8")] = (sid, StateMeta(kind, has_ttl))
    return metas


class RocksDBKeyedStateBackend:
    """Keyed state and timers of one keyed operator instance, in RocksDB.

    The same contract as :class:`~strom.state.heap_backend.HeapKeyedStateBackend` (one
    conformance suite covers both); ``clock`` (milliseconds) drives TTL.
    """

    backend_type = "rocksdb"

    def __init__(
        self,
        max_parallelism: int,
        key_group_range: KeyGroupRange,
        clock: Callable[[], int] = wall_clock_millis,
        options: RocksDBOptions | None = None,
    ) -> None:
        check_backend_range(max_parallelism, key_group_range)
        self.max_parallelism = max_parallelism
        self.key_group_range = key_group_range
        self.options = options or RocksDBOptions()
        self._clock = clock
        _require_rocksdict()
        parent = self.options.local_dir
        if parent:
            os.makedirs(parent, exist_ok=True)
        #: this backend's working directory: the DB in ``db/``, local checkpoints beside it
        self.directory = tempfile.mkdtemp(prefix="strom-rocksdb-", dir=parent or None)
        #: names this backend's files in shared checkpoint storage
        self.backend_id = uuid.uuid4().hex
        try:
            self._db = _open(os.path.join(self.directory, "db"), self.options)
        except BaseException:
            shutil.rmtree(self.directory, ignore_errors=True)
            raise
        self._finalizer = weakref.finalize(self, _close_and_remove, self._db, self.directory)
        self._closed = False
        self._current_key: Any = None
        self._encoded_key: Any = _NO_KEY  # the key _kg_bytes and _key_part encode
        self._kg_bytes = self._key_part = b""
        self._states: dict[str, RocksState] = {}
        self._metas: dict[str, tuple[int, StateMeta]] = {}
        self._restored_names: set[str] = set()  # restored, not yet asked for
        self._raw_maps: dict[str, RocksRawValueMap] = {}
        self._timer_services: dict[str, InternalTimerService] = {}
        self._per_record_hooks: list[Callable[[], None]] = []
        #: incremental checkpoints: SST name -> shared handle of the last confirmed one,
        #: and the uploads of checkpoints not yet confirmed (see rocksdb_incremental)
        self.confirmed_shared: dict[str, Any] = {}
        self.pending_shared: dict[int, dict[str, Any]] = {}
        self._lock = threading.Lock()
        #: the checkpoint the task snapshots next: (id, whether it is a savepoint)
        self._checkpoint: tuple[int, bool] = (0, True)
        self.set_current_key(None)

    # ------------------------------------------------------------------ the current key

    def set_current_key(self, key: Any) -> None:
        """Make ``key`` the key that every state object and timer registration acts on."""
        self._current_key = key
        if key is not self._encoded_key:  # the same object: the same bytes
            self._encoded_key = key
            self._kg_bytes = assign_to_key_group(key, self.max_parallelism).to_bytes(2, "big")
            self._key_part = key_part(encode_object(key))
        if self._per_record_hooks:
            for hook in self._per_record_hooks:
                hook()

    def get_current_key(self) -> Any:
        return self._current_key

    def row_for(self, key: Any, state_id: int, ns_bytes: bytes) -> bytes:
        """The row of ``key`` in state ``state_id`` under the encoded namespace."""
        kg = assign_to_key_group(key, self.max_parallelism)
        return key_group_prefix(kg, state_id) + key_part(encode_object(key)) + ns_bytes

    def scan_state(self, state_id: int, after: bytes | None) -> Iterator[tuple[bytes, bytes]]:
        """The rows of one state in key order, after the row ``after``."""
        return scan_rows(self._db, state_id, after)

    # ------------------------------------------------------------------ state access

    def get_partitioned_state(self, namespace: Any, descriptor: StateDescriptor) -> Any:
        """The state described by ``descriptor``, acting on ``(current key, namespace)``."""
        try:
            state = self._states.get(descriptor.name)
        except AttributeError:  # not a descriptor: _register says what is expected
            state = None
        if state is None or state._descriptor is not descriptor:
            state = self._register(descriptor)
        state.set_current_namespace(namespace)
        return state

    def _state_id(self, name: str, meta: StateMeta) -> int:
        """The id of state ``name`` (a new one, recorded in the DB, for a new name)."""
        known = self._metas.get(name)
        if known is not None:
            return known[0]
        sid = 1 + max((s for s, _ in self._metas.values()), default=0)
        if sid >= _U16_MAX:
            raise ValueError(f"a rocksdb backend holds at most {_U16_MAX - 1} states")
        self._metas[name] = (sid, meta)
        self._db.put(meta_key(name), dumps_value((sid, meta.kind, meta.has_ttl)))
        return sid

    def _register(self, descriptor: StateDescriptor) -> RocksState:
        wanted, existing = requested_meta(descriptor, self._states)
        if existing is not None:
            return existing
        name = descriptor.name
        kind, with_ttl = wanted
        ttl_config = descriptor.get_ttl_config()
        known = self._metas.get(name)
        if known is not None and known[1] != wanted:
            if name in self._restored_names:
                raise ValueError(
                    f"state {name!r} was restored from a snapshot as {_describe(known[1])}, "
                    f"but is now asked for as {_describe(wanted)} ({descriptor!r}). Keep the "
                    "state's kind and TTL setting, or use a new state name."
                )
            raise ValueError(
                f"state {name!r} is already registered as {_describe(known[1])}; it cannot "
                f"also be used as {_describe(wanted)} ({descriptor!r}). Give each state "
                "its own name."
            )
        self._restored_names.discard(name)
        policy = TtlPolicy(ttl_config, self._clock) if ttl_config is not None and with_ttl else None
        state = ROCKS_STATE_CLASSES[kind](self, descriptor, self._state_id(name, wanted), policy)
        self._states[name] = state
        hook = state.per_record_cleanup()
        if hook is not None:
            self._per_record_hooks.append(hook)
        return state

    def raw_value_map(self, name: str) -> RocksRawValueMap:
        """A mapping key -> value over the TTL-less value state ``name`` in
        :data:`VOID_NAMESPACE` (the same object every time; reads and writes go to
        RocksDB). Store no ``None`` values in it."""
        raw = self._raw_maps.get(name)
        if raw is not None:
            return raw
        state = self._states.get(name)
        if state is None:
            state = self._register(ValueStateDescriptor(name))
        elif state.kind != "value" or state.has_ttl:
            raise ValueError(
                f"raw_value_map({name!r}): state {name!r} is "
                f"{_describe(StateMeta(state.kind, state.has_ttl))}; the raw map needs value "
                "state without TTL. Use another name."
            )
        raw = self._raw_maps[name] = RocksRawValueMap(self, name, state.state_id)
        return raw

    def keys(self, state_name: str, namespace: Any) -> Iterator[Any]:
        """The keys that have an entry in state ``state_name`` under ``namespace`` (a list
        read at once, so state may be changed meanwhile)."""
        known = self._metas.get(state_name)
        if known is None or self._closed:
            return iter(())
        ns_bytes = encode_object(namespace)
        found = []
        for row, _ in scan_rows(self._db, known[0]):
            _, _, key_bytes, row_ns = split_row_key(row)
            if row_ns == ns_bytes:
                found.append(decode_object(key_bytes))
        return iter(found)

    def state_names(self) -> list[str]:
        """Names of all states, registered or restored."""
        return list(self._metas)

    def get_timer_service(self, name: str) -> InternalTimerService:
        """The timer service ``name`` of this backend (created on first use; on the heap)."""
        service = self._timer_services.get(name)
        if service is None:
            service = self._timer_services[name] = InternalTimerService(name, self)
        return service

    # ------------------------------------------------------------------ snapshots

    def create_local_checkpoint(self, name: str) -> str:
        """Flush the write buffers and create a RocksDB checkpoint (hard links of the SST
        files) in a new directory of this backend; returns its path."""
        path = os.path.join(self.directory, name)
        shutil.rmtree(path, ignore_errors=True)  # left by an attempt that was never uploaded
        self._db.flush()
        _require_rocksdict().Checkpoint(self._db).create_checkpoint(path)
        return path

    def _timer_payloads(self) -> dict[int, KeyGroupPayload]:
        """Every timer, by key group, in the canonical payload shape (no states)."""
        payloads: dict[int, KeyGroupPayload] = {}
        for name, service in self._timer_services.items():
            for index, timers in enumerate(
                (service.event_time_timers(), service.processing_time_timers())
            ):
                for timer in timers:
                    kg = self._checked_key_group(timer.key)
                    per_service = payloads.setdefault(kg, ({}, {}))[1]
                    per_service.setdefault(name, ([], []))[index].append(tuple(timer))
        return payloads

    def _checked_key_group(self, key: Any, kg: int | None = None) -> int:
        if kg is None:
            kg = assign_to_key_group(key, self.max_parallelism)
        if kg not in self.key_group_range:
            r = self.key_group_range
            raise ValueError(
                f"key {key!r} belongs to key group {kg}, outside this backend's key "
                f"groups {r.start}..{r.end} (max parallelism {self.max_parallelism}): its "
                "records reached the wrong subtask. Partition the input with key_by using "
                "the same max parallelism."
            )
        return kg

    def snapshot_deferred(self) -> Callable[[], KeyedStateSnapshot]:
        """The synchronous part of a canonical snapshot: a RocksDB checkpoint and a copy of
        the timers. The returned function (run it on another thread; the task may go on
        writing) reads the checkpoint into a :class:`KeyedStateSnapshot` and removes it."""
        path = self.create_local_checkpoint(f"snapshot-{next(_snapshot_numbers)}")
        timers = self._timer_payloads()
        metas = {name: meta for name, (_, meta) in self._metas.items()}
        purges = {
            state.state_id: (state.kind, state._policy.ttl)
            for state in self._states.values()
            if state._policy is not None and state._policy.cleanup_in_snapshot
        }
        names = {sid: name for name, (sid, _) in self._metas.items()}
        now = self._clock()
        services = tuple(self._timer_services)
        options = self.options

        done: list[KeyedStateSnapshot] = []

        def materialize() -> KeyedStateSnapshot:
            if done:  # runs once; later calls return the same snapshot
                return done[0]
            db = _open(path, options, read_only=True)
            try:
                payloads = self._read_payloads(db, names, purges, now, timers)
            finally:
                _close_and_remove(db, path)
            done.append(KeyedStateSnapshot(
                backend_type=self.backend_type,
                max_parallelism=self.max_parallelism,
                key_group_range=self.key_group_range,
                states=metas,
                key_groups={kg: encode_key_group(p) for kg, p in sorted(payloads.items())},
                timer_services=services,
            ))
            return done[0]

        return materialize

    def _read_payloads(
        self, db: Any, names: dict[int, str], purges: dict[int, tuple[str, int]], now: int,
        payloads: dict[int, KeyGroupPayload],
    ) -> dict[int, KeyGroupPayload]:
        """All rows of ``db`` added to ``payloads`` (key group -> (states, timers))."""
        namespaces: dict[bytes, Any] = {}
        for row, raw in scan_rows(db):
            kg, sid, key_bytes, ns_bytes = split_row_key(row)
            key = decode_object(key_bytes)
            self._checked_key_group(key, kg)
            stored = loads_value(raw)
            purge = purges.get(sid)
            if purge is not None:
                stored = purge_stored(purge[0], stored, now, purge[1])
                if stored is None:
                    continue
            ns = namespaces.get(ns_bytes)
            if ns is None:
                ns = namespaces[ns_bytes] = decode_object(ns_bytes)
            states = payloads.setdefault(kg, ({}, {}))[0]
            states.setdefault(names[sid], {}).setdefault(ns, {})[key] = stored
        return payloads

    def snapshot(self) -> KeyedStateSnapshot:
        """A canonical snapshot of all state and timers, taken at once."""
        return self.snapshot_deferred()()

    def begin_checkpoint(self, checkpoint_id: int, savepoint: bool) -> None:
        """The task is about to snapshot for checkpoint ``checkpoint_id`` (a savepoint or
        not): :meth:`checkpoint_snapshot` takes the matching kind of snapshot."""
        self._checkpoint = (checkpoint_id, savepoint)

    def checkpoint_snapshot(self) -> Any:
        """The synchronous part of the snapshot of the checkpoint announced by
        :meth:`begin_checkpoint`: an incremental one when ``options.incremental`` and it is
        not a savepoint, else the deferred canonical snapshot (see
        :func:`strom.state.backends.checkpoint_keyed_state`)."""
        from strom.state.backends import checkpoint_keyed_state

        checkpoint_id, savepoint = self._checkpoint
        return checkpoint_keyed_state(self, checkpoint_id, self.options.incremental, savepoint)

    def snapshot_incremental(self, checkpoint_id: int) -> Any:
        """The synchronous part of an incremental checkpoint (see
        :func:`strom.state.rocksdb_incremental.snapshot_incremental`)."""
        from strom.state.rocksdb_incremental import snapshot_incremental

        return snapshot_incremental(self, checkpoint_id)

    def notify_checkpoint_complete(self, checkpoint_id: int) -> None:
        """An incremental checkpoint's files become the base the next one references."""
        with self._lock:
            uploaded = self.pending_shared.pop(checkpoint_id, None)
            if uploaded is not None:
                self.confirmed_shared = uploaded
            for cid in [c for c in self.pending_shared if c < checkpoint_id]:
                del self.pending_shared[cid]

    def notify_checkpoint_aborted(self, checkpoint_id: int) -> None:
        """Forget an aborted incremental checkpoint (and its local files, if its upload
        never ran)."""
        with self._lock:
            self.pending_shared.pop(checkpoint_id, None)
        shutil.rmtree(os.path.join(self.directory, f"chk-{checkpoint_id}"), ignore_errors=True)

    # ------------------------------------------------------------------ restore

    def restore(self, snapshots: Iterable[Any]) -> None:
        """Load the key groups of this backend's range from canonical snapshots (any
        parallelism, any backend) or this backend's incremental snapshots; restore into a
        fresh backend. The max parallelism must be the one the snapshots were taken with."""
        from strom.state.rocksdb_incremental import IncrementalKeyedSnapshot, restore_incremental

        snapshots = list(snapshots)
        for snap in snapshots:
            if not isinstance(snap, KeyedStateSnapshot | IncrementalKeyedSnapshot):
                raise TypeError(
                    f"restore() needs KeyedStateSnapshot objects (or the rocksdb backend's "
                    f"IncrementalKeyedSnapshot), got {snap!r}"
                )
            if snap.max_parallelism != self.max_parallelism:
                raise ValueError(
                    f"cannot restore keyed state taken with max parallelism "
                    f"{snap.max_parallelism} into a backend with max parallelism "
                    f"{self.max_parallelism}: the max parallelism of a job's keyed state must "
                    "stay fixed. Set it back to the value the snapshot was taken with."
                )
        native = [s for s in snapshots if isinstance(s, IncrementalKeyedSnapshot)]
        if native:
            restore_incremental(self, native)
        canonical = [s for s in snapshots if isinstance(s, KeyedStateSnapshot)]
        for snap in canonical:
            for name, meta in snap.states.items():
                self.prepare_restored_state(name, StateMeta(*meta))
            for name in snap.timer_services:
                self.get_timer_service(name)
        for snap in canonical:
            self.restore_key_groups(snap.states, snap.key_groups)

    def prepare_restored_state(self, name: str, meta: StateMeta) -> int:
        """The state id to restore state ``name`` under, checking its kind and TTL flag."""
        state = self._states.get(name)
        if state is not None:
            have = StateMeta(state.kind, state.has_ttl)
            if have != meta:
                raise ValueError(
                    f"cannot restore state {name!r} as {_describe(meta)}: this backend already "
                    f"has it as {_describe(have)}"
                )
            return state.state_id
        known = self._metas.get(name)
        if known is not None and known[1] != meta:
            raise ValueError(
                f"the snapshots disagree about state {name!r}: {_describe(known[1])} in one, "
                f"{_describe(meta)} in another"
            )
        if known is None:
            self._restored_names.add(name)
        return self._state_id(name, meta)

    def restore_key_groups(self, metas: Mapping[str, Any], key_groups: Mapping[int, bytes]) -> None:
        """Write the canonical payloads of the key groups in this backend's range."""
        rd = _require_rocksdict()
        key_range = self.key_group_range
        for kg, blob in key_groups.items():
            if kg not in key_range:
                continue
            states, timers = decode_key_group(blob)
            batch = rd.WriteBatch(raw_mode=True)
            for name, by_ns in states.items():
                sid = self.prepare_restored_state(name, StateMeta(*metas[name]))
                prefix = key_group_prefix(kg, sid)
                for ns, entries in by_ns.items():
                    ns_bytes = encode_object(ns)
                    for key, stored in entries.items():
                        row = prefix + key_part(encode_object(key)) + ns_bytes
                        batch.put(row, dumps_value(stored))
            self._db.write(batch)
            for name, (event_time, processing_time) in timers.items():
                self.get_timer_service(name).restore_timers(event_time, processing_time)

    def replace_db(self, path: str) -> None:
        """Make the DB at ``path`` (a restored checkpoint, moved into this backend's
        directory) this backend's DB; only on a fresh backend."""
        self._db.close()
        db_path = os.path.join(self.directory, "db")
        shutil.rmtree(db_path, ignore_errors=True)
        os.replace(path, db_path)
        self._db = _open(db_path, self.options)
        self._finalizer.detach()
        self._finalizer = weakref.finalize(self, _close_and_remove, self._db, self.directory)
        for name, known in read_metas(self._db).items():
            if name not in self._metas:
                self._restored_names.add(name)
            self._metas[name] = known

    # ------------------------------------------------------------------ dispose

    def dispose(self) -> None:
        """Close the DB and remove its directory; drop the timers. The backend is empty
        afterwards (and holds no state any more)."""
        if not self._closed:
            self._closed = True
            for state in self._states.values():
                state.release_scan()
            self._finalizer()
            self._db = _ClosedDB()
        self._states.clear()
        self._metas.clear()
        self._restored_names.clear()
        for service in self._timer_services.values():
            service.clear()
        self._timer_services.clear()
        self._per_record_hooks.clear()
        self._current_key = None
        self._encoded_key = _NO_KEY

    def __repr__(self) -> str:
        return (
            f"RocksDBKeyedStateBackend(max_parallelism={self.max_parallelism}, "
            f"key_group_range={self.key_group_range.start}..{self.key_group_range.end}, "
            f"states={sorted(self.state_names())}, directory={self.directory!r})"
        )


class _ClosedDB:
    """What a disposed backend reads from: nothing."""

    def get(self, row: bytes) -> None:
        return None

    def iter(self) -> Any:
        return _EmptyIterator()

    def put(self, row: bytes, value: bytes) -> None:
        raise RuntimeError("this rocksdb state backend was disposed; its state is gone")

    def delete(self, row: bytes) -> None:
        self.put(row, b"")


class _EmptyIterator:
    def seek(self, key: bytes) -> None:
        pass

    def valid(self) -> bool:
        return False
