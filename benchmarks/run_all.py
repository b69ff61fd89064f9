"""Run every benchmark module and print one line (or JSON object) per benchmark.

``make bench`` runs ``python benchmarks/run_all.py``. A benchmark module is any
``benchmarks/*.py`` whose name does not start with ``_`` (other than this file); it must
define ``run(scale, repeat, warmup)`` returning a list of results (``BenchmarkResult``, or
``MemoryResult`` for memory benchmarks). Modules run in name order.
Options: ``--json``, ``--scale``, ``--repeat``, ``--warmup`` as for every benchmark, and
``--only NAME`` (repeatable) to run only the named modules. Exits 0 when every module ran,
whether or not it reached its target ratio (the lines say that).
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the ``benchmarks`` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import importlib
from collections.abc import Callable, Sequence
from typing import cast

from benchmarks._harness import Reportable, add_common_options, common_options, report

__all__ = ["benchmark_modules", "main"]

RunFunction = Callable[[float, int, int], Sequence[Reportable]]


def benchmark_modules() -> list[str]:
    """The names of the benchmark modules, sorted (``["stateless", "word_count", ...]``)."""
    here = Path(__file__).resolve().parent
    return sorted(
        p.stem for p in here.glob("*.py") if not p.stem.startswith("_") and p.stem != "run_all"
    )


def _load(name: str) -> RunFunction:
    module = importlib.import_module(f"benchmarks.{name}")
    run = getattr(module, "run", None)
    if not callable(run):
        raise TypeError(
            f"benchmarks/{name}.py has no run(scale, repeat, warmup) function; every benchmark "
            "module must define one (or start its file name with '_' if it is a helper)."
        )
    return cast(RunFunction, run)


def main(argv: Sequence[str] | None = None) -> int:
    available = benchmark_modules()
    parser = argparse.ArgumentParser(description="Run strom's throughput benchmarks.")
    add_common_options(parser)
    parser.add_argument("--only", action="append", choices=available, metavar="NAME",
                        help=f"run only this module (repeatable); one of {', '.join(available)}")
    args = parser.parse_args(argv)
    options = common_options(parser, args)
    for name in args.only or available:
        report(_load(name)(options.scale, options.repeat, options.warmup), options.as_json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
