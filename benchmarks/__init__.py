"""Benchmarks: strom jobs measured against the plain-Python loop doing the same work.

Run them all with ``make bench`` (``python benchmarks/run_all.py``), or one module with
``python benchmarks/stateless.py`` / ``python -m benchmarks.word_count``. Every benchmark
module exposes ``run(scale, repeat, warmup)`` returning its results (``BenchmarkResult``;
``MemoryResult`` for memory); ``run_all.py`` finds the modules by name (every
``benchmarks/*.py`` that does not start with ``_``).
"""
