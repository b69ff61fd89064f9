"""The longest processing pause while a checkpoint of ~1 GB of ``hashmap`` keyed state is taken.

Setup (scale 1.0): one :class:`~strom.state.heap_backend.HeapKeyedStateBackend` with
``KEYS`` = 5,000,000 keys of value state, each holding a distinct 100-byte ``bytes`` value
(its real size, keys, values and the dict, is measured and reported: about 1 GiB).

A processing loop plays the task thread: batches of ``BATCH`` records, each setting the
current key to a random existing key and reading and updating its value state. Between two
batches, as a task does when a barrier arrives, it takes the synchronous part of a snapshot
(``snapshot_deferred()``) and hands the asynchronous part to an upload thread, which files the
entries under their key groups and pickles them while the loop goes on, then encodes the
whole snapshot for its state file as a checkpoint upload does (``pickle.dumps``; writing the
file would release the GIL and is left out). The pause is the
longest time between the ends of two consecutive batches, from just before the synchronous
part until the upload is done. The same loop without a checkpoint gives the noise floor.

Reported: the longest pause, the synchronous part's time, the upload's time and the state
size, in two rows: ``checkpoint_pause.max_pause`` as strom takes a snapshot of this size by
default (forked, on Linux: see :mod:`strom.state.heap_snapshots`), and
``checkpoint_pause.max_pause_copying`` with the synchronous part copying every namespace map
(what smaller states, and platforms without fork, get). ``ratio`` is the longest pause over
the 200 ms target (lower is better; <= 1.0 meets it). Runs: the longest pause of each run
(seconds), and of each run without checkpoint as the baseline.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the ``benchmarks`` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import gc
import json
import pickle
import random
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from benchmarks._harness import parse_options, report, scaled
from strom.datastream.state import ValueStateDescriptor
from strom.state.heap_backend import HeapKeyedStateBackend
from strom.state.heap_snapshots import FORK_AVAILABLE
from strom.state.key_groups import KeyGroupRange
from strom.state.namespaces import VOID_NAMESPACE
from strom.state.snapshots import KeyedStateSnapshot

__all__ = ["BATCH", "KEYS", "TARGET_MS", "PauseResult", "build_state", "measure_pause", "run"]

KEYS = 5_000_000
"""Keys of value state at scale 1.0 (about 1 GiB with 100-byte values)."""

VALUE_BYTES = 100
BATCH = 1_000
"""Records per batch of the processing loop."""

TARGET_MS = 200.0
"""The longest processing pause a checkpoint of 1 GB of state may cause."""

MAX_PARALLELISM = 128
_STATE = ValueStateDescriptor("value")


@dataclass(frozen=True)
class PauseResult:
    """The longest processing pause during a checkpoint, and what it was made of."""

    name: str
    keys: int
    state_bytes: int
    max_pause_s: float
    sync_s: float
    upload_s: float
    snapshot_bytes: int
    baseline_max_pause_s: float
    runs: tuple[float, ...] = ()
    baseline_runs: tuple[float, ...] = ()
    target_ms: float = TARGET_MS

    @property
    def ratio(self) -> float:
        """The longest pause over the target: <= 1.0 meets it."""
        return self.max_pause_s * 1000 / self.target_ms

    def line(self) -> str:
        verdict = "ok" if self.ratio <= 1.0 else "ABOVE"
        return (
            f"{self.name:<31} keys={self.keys:>11,}  state={self.state_bytes / 2**30:.2f} GiB  "
            f"max pause={self.max_pause_s * 1000:,.0f} ms "
            f"(no checkpoint: {self.baseline_max_pause_s * 1000:,.0f} ms)  "
            f"sync part={self.sync_s * 1000:,.0f} ms  upload={self.upload_s:,.1f} s  "
            f"ratio={self.ratio:.3f}  (target <= 1.00, i.e. {self.target_ms:.0f} ms: {verdict})"
        )

    def as_json(self) -> str:
        return json.dumps({
            "name": self.name,
            "records": self.keys,
            "state_bytes": self.state_bytes,
            "max_pause_ms": round(self.max_pause_s * 1000, 3),
            "sync_part_ms": round(self.sync_s * 1000, 3),
            "upload_s": round(self.upload_s, 3),
            "snapshot_bytes": self.snapshot_bytes,
            "baseline_max_pause_ms": round(self.baseline_max_pause_s * 1000, 3),
            "ratio": round(self.ratio, 4),
            "target": 1.0,
            "target_ms": self.target_ms,
            "lower_is_better": True,
            "strom_runs_s": [round(t, 6) for t in self.runs],
            "baseline_runs_s": [round(t, 6) for t in self.baseline_runs],
        })


def build_state(keys: int) -> tuple[HeapKeyedStateBackend, int]:
    """A backend with ``keys`` keys of value state ``"value"`` (distinct 100-byte values),
    and the state's real size in bytes (dict, keys and values)."""
    backend = HeapKeyedStateBackend(MAX_PARALLELISM, KeyGroupRange(0, MAX_PARALLELISM - 1))
    state = backend.get_partitioned_state(VOID_NAMESPACE, _STATE)
    set_key, update, width = backend.set_current_key, state.update, VALUE_BYTES
    for i in range(keys):
        set_key(i)
        update(b"%0*d" % (width, i))
    size = 0
    for table in state._namespaces.values():
        size += sys.getsizeof(table) + sum(
            sys.getsizeof(k) + sys.getsizeof(v) for k, v in table.items())
    return backend, size


def _process(backend: HeapKeyedStateBackend, state: Any, picks: list[int]) -> None:
    set_key, value, update = backend.set_current_key, state.value, state.update
    for key in picks:
        set_key(key)
        update(value())


def measure_pause(
    backend: HeapKeyedStateBackend, keys: int, checkpoint: bool, settle_s: float = 0.3
) -> tuple[float, float, float, KeyedStateSnapshot | None]:
    """Run the processing loop; with ``checkpoint``, take a snapshot after ``settle_s`` and
    keep going until its upload is done (plus ``settle_s``). Returns ``(longest pause, sync
    part, upload time, snapshot)``; without a checkpoint the loop runs ``2 * settle_s``."""
    state = backend.get_partitioned_state(VOID_NAMESPACE, _STATE)
    rng = random.Random(5)
    batches = [[rng.randrange(keys) for _ in range(BATCH)] for _ in range(64)]
    uploaded: list[KeyedStateSnapshot] = []
    upload: threading.Thread | None = None
    upload_times: list[float] = []
    sync_s = 0.0
    start = last = time.perf_counter()
    checkpoint_at = start + settle_s
    stop_at = start + 2 * settle_s
    longest = 0.0
    i = 0
    while True:
        now = time.perf_counter()
        if checkpoint and upload is None and now >= checkpoint_at:
            began = time.perf_counter()
            finish = backend.snapshot_deferred()
            sync_s = time.perf_counter() - began

            def run_upload(finish: Any = finish, began: float = began) -> None:
                snapshot = finish()
                pickle.dumps(snapshot, protocol=5)  # encoded for the state file, as uploads do
                uploaded.append(snapshot)
                upload_times.append(time.perf_counter() - began)

            upload = threading.Thread(target=run_upload, name="upload")
            upload.start()
        if upload is not None and upload.is_alive():
            stop_at = now + settle_s
        if now >= stop_at:
            break
        _process(backend, state, batches[i % len(batches)])
        i += 1
        end = time.perf_counter()
        longest = max(longest, end - last)
        last = end
    if upload is not None:
        upload.join()
    return longest, sync_s, (upload_times[0] - sync_s if upload_times else 0.0), (
        uploaded[0] if uploaded else None)


def run(scale: float = 1.0, repeat: int = 3, warmup: int = 1) -> list[PauseResult]:
    keys = scaled(KEYS, scale)
    backend, size = build_state(keys)
    settle = 0.3 if scale >= 0.5 else 0.05
    gc.collect()
    baseline = [measure_pause(backend, keys, False, settle)[0] for _ in range(repeat)]
    rows = []
    for name, fork_min_entries in (
        ("checkpoint_pause.max_pause", 0 if FORK_AVAILABLE else None),
        ("checkpoint_pause.max_pause_copying", None),
    ):
        backend.fork_min_entries = fork_min_entries
        best: tuple[float, float, float, KeyedStateSnapshot | None] | None = None
        pauses: list[float] = []
        for _ in range(repeat):
            gc.collect()
            result = measure_pause(backend, keys, True, settle)
            pauses.append(result[0])
            if best is None or result[0] < best[0]:
                best = result
        assert best is not None and best[3] is not None
        snapshot = best[3]
        if sum(1 for _ in _entries(snapshot)) != keys:
            raise RuntimeError(f"{name}: the snapshot does not hold every key once")
        rows.append(PauseResult(name, keys, size, best[0], best[1], best[2],
                                snapshot.size_bytes(), min(baseline), tuple(pauses),
                                tuple(baseline)))
    backend.dispose()
    return rows


def _entries(snapshot: KeyedStateSnapshot) -> Any:
    from strom.state.snapshots import decode_key_group

    for blob in snapshot.key_groups.values():
        states, _ = decode_key_group(blob)
        for by_ns in states.values():
            for entries in by_ns.values():
                yield from entries.items()


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_options(argv, "Longest processing pause during a checkpoint of 1 GB of state")
    report(run(options.scale, options.repeat, options.warmup), options.as_json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
