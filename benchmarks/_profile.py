"""Profile the strom side of a benchmark with cProfile, in every thread the job uses.

Usage::

    python benchmarks/_profile.py stateless [--scale 1.0] [--sort tottime] [--limit 30]

A job runs in several threads: the caller (graph building, submission), the RPC loop
(dispatcher and JobMaster: unpickling and re-pickling the job), and one thread per task
slot (the operators). cProfile only sees the thread it was enabled in, so this script
installs a profiler in every thread started while the job runs, then prints each thread's
profiled time and the merged statistics.

cProfile charges a fixed cost to every Python call, so per-record user functions (the
lambdas) look more expensive than they are; compare call counts and the shares of the
framework functions, not absolute times, with the unprofiled benchmark.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the ``benchmarks`` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import cProfile
import importlib
import pstats
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

__all__ = ["main", "profile_all_threads"]


def _total_seconds(profile: cProfile.Profile) -> float:
    stats = pstats.Stats(profile)
    return float(stats.total_tt)  # type: ignore[attr-defined]


@contextmanager
def profile_all_threads() -> Iterator[list[tuple[str, cProfile.Profile]]]:
    """Profile the calling thread and every thread started inside the ``with`` block.

    Yields the list that collects ``(thread name, profile)`` pairs; a thread's profile is
    complete once that thread has ended.
    """
    profiles: list[tuple[str, cProfile.Profile]] = []
    original_run = threading.Thread.run

    def profiled_run(self: threading.Thread) -> None:
        profile = cProfile.Profile()
        profiles.append((self.name, profile))
        profile.enable()
        try:
            original_run(self)
        finally:
            profile.disable()

    main_profile = cProfile.Profile()
    profiles.append((threading.current_thread().name, main_profile))
    threading.Thread.run = profiled_run  # type: ignore[method-assign]
    main_profile.enable()
    try:
        yield profiles
    finally:
        main_profile.disable()
        threading.Thread.run = original_run  # type: ignore[method-assign]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Profile the strom side of a benchmark.")
    parser.add_argument("benchmark", help="module name under benchmarks/ (e.g. stateless)")
    parser.add_argument("--scale", type=float, default=1.0,
                        help="multiply the input size by this (default 1.0)")
    parser.add_argument("--sort", default="tottime",
                        help="pstats sort key: tottime, cumtime, ncalls (default tottime)")
    parser.add_argument("--limit", type=int, default=30, help="rows to print (default 30)")
    args = parser.parse_args(argv)
    module = importlib.import_module(f"benchmarks.{args.benchmark}")
    strom_side: Callable[[float], Callable[[], Any]] | None = getattr(module, "strom_side", None)
    if strom_side is None:
        parser.error(f"benchmarks/{args.benchmark}.py defines no strom_side(scale) to profile")
    job = strom_side(args.scale)
    job()  # warm-up: imports and first-run costs stay out of the profile
    with profile_all_threads() as profiles:
        result = job()
    print(f"{args.benchmark}: strom side returned {result!r}")
    print("profiled seconds per thread (inflated by the profiler's per-call cost):")
    for name, profile in profiles:
        print(f"  {name:<32} {_total_seconds(profile):8.3f} s")
    stats = pstats.Stats(*(p for _, p in profiles))
    stats.strip_dirs().sort_stats(args.sort).print_stats(args.limit)
    return 0


if __name__ == "__main__":
    sys.exit(main())
