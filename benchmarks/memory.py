"""Peak memory of a stateless ``from_collection`` job against the plain loop over the same list.

Each side runs alone in a fresh Python process, so one run's garbage, caches and arenas do
not count against the next. A child process imports strom, runs a ten-element job to warm
up (imports and first-use caches are not what is measured), then starts measuring, builds
the input ``data = list(range(1_000_000))`` and runs its side:

- strom: ``env.from_collection(data).map(times_three_plus_one).filter(is_even)
  .sink_to(CountingSink())`` at parallelism 1 with ``env.execute()`` (the job of
  ``benchmarks/stateless.py``);
- baseline: the plain loop applying the same two functions to ``data``.

Two measures, each the lowest of ``repeat`` processes:

- ``memory.from_collection_peak``: the peak of Python allocations (``tracemalloc``) from
  just before the input is built to the end of the run. The input itself counts on both
  sides, so 1.0 means the job needs no memory beyond the list the user made. Target stated
  for the project: strom <= 1.3 times the baseline.
- ``memory.from_collection_rss`` (information, Linux only): the growth of the process's
  resident set from before the input is built to its high-water mark, without tracemalloc.

The ratio of a memory row is ``strom / baseline`` (lower is better), unlike the throughput
rows. Both sides must count the same records, or the benchmark fails.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the ``benchmarks`` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import json
import os
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from benchmarks._harness import add_common_options, common_options, report, scaled

__all__ = ["RECORDS", "TARGET", "MemoryResult", "measure", "run"]

RECORDS = 1_000_000
"""Input size at scale 1.0."""

TARGET = 1.3
"""The highest strom/baseline ratio of peak memory this benchmark should show."""

_ROOT = Path(__file__).resolve().parents[1]
_STATM = Path("/proc/self/statm")


@dataclass(frozen=True)
class MemoryResult:
    """One memory benchmark: the lowest peak of each side over its runs, in bytes."""

    name: str
    records: int
    strom_bytes: int
    baseline_bytes: int
    target: float | None = None
    strom_runs: tuple[int, ...] = ()
    baseline_runs: tuple[int, ...] = ()

    @property
    def ratio(self) -> float:
        """``strom / baseline``: 1.0 means strom needs as much memory as the plain loop."""
        return self.strom_bytes / max(1, self.baseline_bytes)

    def line(self) -> str:
        """One human-readable line."""
        target = ""
        if self.target is not None:
            verdict = "ok" if self.ratio <= self.target else "ABOVE"
            target = f"  (target <= {self.target:.2f}: {verdict})"
        return (
            f"{self.name:<31} records={self.records:>11,}  "
            f"strom={self.strom_bytes / 2**20:>9,.1f} MiB  "
            f"baseline={self.baseline_bytes / 2**20:>9,.1f} MiB  "
            f"ratio={self.ratio:.3f}{target}"
        )

    def as_json(self) -> str:
        """One JSON object on one line, for machines."""
        return json.dumps({
            "name": self.name,
            "records": self.records,
            "strom_bytes": self.strom_bytes,
            "baseline_bytes": self.baseline_bytes,
            "ratio": round(self.ratio, 4),
            "target": self.target,
            "lower_is_better": True,
            "strom_runs_bytes": list(self.strom_runs),
            "baseline_runs_bytes": list(self.baseline_runs),
        })


# ---------------------------------------------------------------------------- the child side
def _strom_side(data: list[int]) -> int:
    from benchmarks._harness import CountingSink
    from benchmarks.stateless import strom_map_filter

    sink = CountingSink()
    try:
        strom_map_filter(data, sink)
        return sink.count
    finally:
        sink.release()


def _baseline_side(data: list[int]) -> int:
    from benchmarks.stateless import baseline_same_functions

    return baseline_same_functions(data)


def _rss_bytes() -> int:
    return int(_STATM.read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _child(side: str, metric: str, records: int) -> dict[str, int]:
    """Run one side once in this (fresh) process and measure it."""
    import gc
    import resource
    import tracemalloc

    run: Callable[[list[int]], int] = _strom_side if side == "strom" else _baseline_side
    run(list(range(10)))  # warm-up: imports, first-use caches
    gc.collect()
    if metric == "tracemalloc":
        tracemalloc.start()
        count = run(list(range(records)))
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    else:
        before = _rss_bytes()
        count = run(list(range(records)))
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before
    return {"peak_bytes": peak, "count": count}


# ---------------------------------------------------------------------------- the parent side
def measure(side: str, metric: str, records: int) -> tuple[int, int]:
    """``(peak bytes, records counted)`` of one side, measured in a fresh process."""
    env = dict(os.environ)
    env.pop("STROM_RPC", None)  # the default transport, as a user's job runs
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_ROOT), env.get("PYTHONPATH")]))
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks.memory", "--child", side, "--metric", metric,
         "--records", str(records)],
        cwd=_ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    if completed.returncode != 0:
        raise RuntimeError(
            f"the memory benchmark's {side} process ({metric}) failed with exit code "
            f"{completed.returncode}:\n{completed.stderr}"
        )
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    return int(result["peak_bytes"]), int(result["count"])


def _row(name: str, metric: str, records: int, repeat: int, target: float | None
         ) -> MemoryResult:
    runs: dict[str, list[int]] = {"strom": [], "baseline": []}
    counts: dict[str, set[int]] = {"strom": set(), "baseline": set()}
    for _ in range(repeat):
        for side in runs:
            peak, count = measure(side, metric, records)
            runs[side].append(peak)
            counts[side].add(count)
    if counts["strom"] != counts["baseline"] or len(counts["strom"]) != 1:
        raise RuntimeError(
            f"{name}: strom counted {sorted(counts['strom'])} records but the baseline "
            f"counted {sorted(counts['baseline'])} over the same {records} inputs; the job's "
            "output is wrong, so its memory means nothing."
        )
    return MemoryResult(name, records, min(runs["strom"]), min(runs["baseline"]), target,
                        tuple(runs["strom"]), tuple(runs["baseline"]))


def run(scale: float = 1.0, repeat: int = 3, warmup: int = 1) -> list[MemoryResult]:
    """Measure both rows over ``RECORDS * scale`` integers (``warmup`` is not used: every
    run is a fresh process that warms itself up)."""
    n = scaled(RECORDS, scale)
    rows = [_row("memory.from_collection_peak", "tracemalloc", n, repeat, TARGET)]
    if _STATM.exists():
        rows.append(_row("memory.from_collection_rss", "rss", n, repeat, None))
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="peak memory of a from_collection job against a plain loop")
    add_common_options(parser)
    parser.add_argument("--child", choices=["strom", "baseline"], help=argparse.SUPPRESS)
    parser.add_argument("--metric", choices=["tracemalloc", "rss"], default="tracemalloc",
                        help=argparse.SUPPRESS)
    parser.add_argument("--records", type=int, default=RECORDS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(_child(args.child, args.metric, args.records)), flush=True)
        return 0
    options = common_options(parser, args)
    report(run(options.scale, options.repeat, options.warmup), options.as_json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
