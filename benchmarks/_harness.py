"""Shared benchmark machinery: deterministic inputs, timing, a discarding sink and reporting.

A benchmark times the same work twice in this process: once as a strom job (built and run
with ``env.execute()`` on the embedded local cluster, so start-up is included) and once as
the plain-Python loop a user would write instead. It reports both rates and their ratio
``strom / baseline`` (1.0 means strom is as fast as the loop; 0.5 means half as fast).

Timing is best-of-``repeat`` after ``warmup`` untimed runs, with ``time.perf_counter`` and a
``gc.collect()`` before each run; the garbage collector stays enabled while timing, because
it is part of what both sides really cost.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import random
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from strom.datastream.connectors.base import Sink, SinkWriter, SinkWriterContext

__all__ = [
    "BenchmarkResult",
    "CountingSink",
    "Options",
    "Reportable",
    "Timing",
    "add_common_options",
    "common_options",
    "integers",
    "main_for",
    "parse_options",
    "report",
    "scaled",
    "time_best",
    "vocabulary",
    "zipf_lines",
]

T = TypeVar("T")


# ---------------------------------------------------------------------------- inputs
def scaled(base: int, scale: float) -> int:
    """``base * scale`` as a record count (at least 1); ``scale`` must be > 0."""
    if scale <= 0:
        raise ValueError(f"scale must be > 0 (1.0 is the full size), got {scale!r}")
    return max(1, round(base * scale))


def integers(n: int) -> list[int]:
    """The integers ``0 .. n-1``: the input of the stateless benchmarks."""
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    return list(range(n))


_ONSETS = ("", "b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "t",
           "v", "w", "y", "z", "st", "tr", "ch", "sh", "th", "pl", "gr", "br", "fl", "sp")
_VOWELS = ("a", "e", "i", "o", "u", "ea", "ou", "ai", "ee", "oo")
_CODAS = ("", "", "", "n", "r", "s", "t", "l", "d", "m", "nd", "st", "ng", "rt")


def vocabulary(size: int, seed: int = 7) -> list[str]:
    """``size`` distinct pronounceable lower-case pseudo-words, shortest first.

    Shortest first because the most frequent words of a language are its short ones: with
    :func:`zipf_lines` the word at rank 1 is the most frequent. Deterministic for a seed.
    """
    if size < 1:
        raise ValueError(f"a vocabulary needs at least 1 word, got size={size}")
    rng = random.Random(seed)
    words: list[str] = []
    seen: set[str] = set()
    while len(words) < size:
        syllables = rng.choices((1, 2, 3, 4), weights=(3, 4, 2, 1))[0]
        word = "".join(
            rng.choice(_ONSETS) + rng.choice(_VOWELS) + rng.choice(_CODAS)
            for _ in range(syllables)
        )
        if word not in seen:
            seen.add(word)
            words.append(word)
    words.sort(key=len)  # stable: ties keep their generation order, so still deterministic
    return words


def zipf_lines(
    num_lines: int,
    words: Sequence[str],
    exponent: float = 1.0,
    min_words: int = 5,
    max_words: int = 15,
    seed: int = 11,
) -> list[str]:
    """``num_lines`` lines of space-separated words drawn from ``words`` with Zipf weights.

    The word at rank ``r`` (1-based, in the order given) has weight ``1 / r**exponent``; a
    line has between ``min_words`` and ``max_words`` words (uniformly, so on average their
    mean). Deterministic for a seed.
    """
    if num_lines < 0:
        raise ValueError(f"num_lines must be >= 0, got {num_lines}")
    if not 1 <= min_words <= max_words:
        raise ValueError(
            f"need 1 <= min_words <= max_words, got min_words={min_words}, max_words={max_words}"
        )
    if not words:
        raise ValueError("zipf_lines() needs at least one word; got an empty vocabulary")
    rng = random.Random(seed)
    cumulative = list(itertools.accumulate(1.0 / r**exponent for r in range(1, len(words) + 1)))
    lengths = [rng.randint(min_words, max_words) for _ in range(num_lines)]
    tokens = rng.choices(words, cum_weights=cumulative, k=sum(lengths))
    lines = []
    position = 0
    for n in lengths:
        lines.append(" ".join(tokens[position:position + n]))
        position += n
    return lines


# ---------------------------------------------------------------------------- the sink
class _Tally:
    """What one :class:`CountingSink` received, shared by its writers in this process."""

    __slots__ = ("count", "lock", "records")

    def __init__(self, keep: bool) -> None:
        self.count = 0
        self.records: list[Any] | None = [] if keep else None
        self.lock = threading.Lock()


_tallies: dict[str, _Tally] = {}
_tallies_lock = threading.Lock()


class _CountingWriter(SinkWriter[Any]):
    def __init__(self, tally: _Tally) -> None:
        self._tally = tally

    def write(self, values: Sequence[Any], timestamps: Sequence[int] | None) -> None:
        tally = self._tally
        with tally.lock:
            tally.count += len(values)
            if tally.records is not None:
                tally.records.extend(values)


class CountingSink(Sink[Any]):
    """A Sink V2 that counts the records reaching it and throws them away.

    Its cost per record is nothing (one ``len`` per batch), so a benchmark measures the
    pipeline, not the sink. With ``keep=True`` it also keeps the records, in arrival order,
    for checking a run's output (the smoke tests do). The tally lives in this process, so
    the job must run on the embedded local cluster (``env.execute()``); call
    :meth:`release` when done with a sink that kept records.
    """

    name = "Counting Sink"

    def __init__(self, keep: bool = False) -> None:
        self.sink_id = uuid.uuid4().hex
        self.keep = keep
        with _tallies_lock:
            _tallies[self.sink_id] = _Tally(keep)

    def _tally(self) -> _Tally:
        with _tallies_lock:
            tally = _tallies.get(self.sink_id)
        if tally is None:
            raise RuntimeError(
                f"CountingSink {self.sink_id} was released (or belongs to another process); "
                "create a new CountingSink for each job."
            )
        return tally

    @property
    def count(self) -> int:
        """How many records reached the sink."""
        tally = self._tally()
        with tally.lock:
            return tally.count

    @property
    def records(self) -> list[Any]:
        """The records that reached the sink, in arrival order (only with ``keep=True``)."""
        tally = self._tally()
        if tally.records is None:
            raise RuntimeError("This CountingSink does not keep records; create it with keep=True.")
        with tally.lock:
            return list(tally.records)

    def release(self) -> None:
        """Forget the tally (and the kept records)."""
        with _tallies_lock:
            _tallies.pop(self.sink_id, None)

    def create_writer(self, context: SinkWriterContext) -> SinkWriter[Any]:
        return _CountingWriter(self._tally())


# ---------------------------------------------------------------------------- timing
@dataclass(frozen=True)
class Timing(Generic[T]):
    """The best wall-clock time of the timed runs, every timed run's time, and the result
    of the last run."""

    best: float
    runs: tuple[float, ...]
    result: T


def time_best(fn: Callable[[], T], repeat: int = 3, warmup: int = 1) -> Timing[T]:
    """Run ``fn`` ``warmup`` times untimed, then ``repeat`` times timed; keep the fastest.

    Each timed run is preceded by ``gc.collect()`` so garbage left by an earlier run is not
    charged to it.
    """
    if repeat < 1:
        raise ValueError(f"repeat must be >= 1, got {repeat}")
    if warmup < 0:
        raise ValueError(f"warmup must be >= 0, got {warmup}")
    for _ in range(warmup):
        fn()
    runs: list[float] = []
    result: Any = None
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        result = fn()
        runs.append(time.perf_counter() - start)
    return Timing(min(runs), tuple(runs), result)


# ---------------------------------------------------------------------------- reporting
@dataclass(frozen=True)
class BenchmarkResult:
    """One benchmark's outcome: ``records`` processed by both sides, their best times and
    the target ratio the project aims for."""

    name: str
    records: int
    strom_seconds: float
    baseline_seconds: float
    target: float | None = None
    strom_runs: tuple[float, ...] = ()
    baseline_runs: tuple[float, ...] = ()

    @property
    def strom_rate(self) -> float:
        """strom's records per second."""
        return self.records / self.strom_seconds

    @property
    def baseline_rate(self) -> float:
        """The plain-Python baseline's records per second."""
        return self.records / self.baseline_seconds

    @property
    def ratio(self) -> float:
        """``strom_rate / baseline_rate``: 1.0 means as fast as the plain loop."""
        return self.baseline_seconds / self.strom_seconds

    def line(self) -> str:
        """One human-readable line."""
        target = ""
        if self.target is not None:
            verdict = "ok" if self.ratio >= self.target else "BELOW"
            target = f"  (target >= {self.target:.2f}: {verdict})"
        return (
            f"{self.name:<31} records={self.records:>11,}  "
            f"strom={self.strom_rate:>12,.0f} rec/s  "
            f"baseline={self.baseline_rate:>12,.0f} rec/s  "
            f"ratio={self.ratio:.3f}{target}"
        )

    def as_json(self) -> str:
        """One JSON object on one line, for machines."""
        return json.dumps({
            "name": self.name,
            "records": self.records,
            "strom_records_per_s": round(self.strom_rate, 1),
            "baseline_records_per_s": round(self.baseline_rate, 1),
            "ratio": round(self.ratio, 4),
            "target": self.target,
            "strom_best_s": round(self.strom_seconds, 6),
            "baseline_best_s": round(self.baseline_seconds, 6),
            "strom_runs_s": [round(t, 6) for t in self.strom_runs],
            "baseline_runs_s": [round(t, 6) for t in self.baseline_runs],
        })


class Reportable(Protocol):
    """A benchmark's outcome as :func:`report` prints it (:class:`BenchmarkResult`, or a
    memory benchmark's result)."""

    def line(self) -> str: ...

    def as_json(self) -> str: ...


def report(results: Sequence[Reportable], as_json: bool = False) -> None:
    """Print one line per result (JSON lines with ``as_json``)."""
    for result in results:
        print(result.as_json() if as_json else result.line(), flush=True)


@dataclass(frozen=True)
class Options:
    """Command-line options common to every benchmark script."""

    as_json: bool
    scale: float
    repeat: int
    warmup: int


def add_common_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--json``, ``--scale``, ``--repeat`` and ``--warmup`` to ``parser``."""
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object per benchmark instead of a text line")
    parser.add_argument("--scale", type=float, default=1.0,
                        help="multiply every input size by this (default 1.0: full size)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="timed runs per side; the best counts (default 3)")
    parser.add_argument("--warmup", type=int, default=1,
                        help="untimed runs per side before timing (default 1)")


def common_options(parser: argparse.ArgumentParser, args: argparse.Namespace) -> Options:
    """The validated common options from ``args`` (exits through ``parser.error`` if bad)."""
    if args.scale <= 0:
        parser.error(f"--scale must be > 0, got {args.scale}")
    if args.repeat < 1:
        parser.error(f"--repeat must be >= 1, got {args.repeat}")
    if args.warmup < 0:
        parser.error(f"--warmup must be >= 0, got {args.warmup}")
    return Options(args.json, args.scale, args.repeat, args.warmup)


def parse_options(argv: Sequence[str] | None, description: str) -> Options:
    """Parse the common options of a benchmark script."""
    parser = argparse.ArgumentParser(description=description)
    add_common_options(parser)
    return common_options(parser, parser.parse_args(argv))


def main_for(
    run: Callable[[float, int, int], list[BenchmarkResult]],
    argv: Sequence[str] | None,
    description: str,
) -> int:
    """The ``__main__`` of a benchmark module: parse options, ``run``, report; returns 0."""
    options = parse_options(argv, description)
    report(run(options.scale, options.repeat, options.warmup), options.as_json)
    return 0
