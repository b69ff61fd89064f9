"""Smoke tests of benchmarks/: every benchmark's strom job computes exactly what its plain
Python baseline computes, at tiny sizes. Nothing here looks at timings."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

if str(Path(__file__).resolve().parents[2]) not in sys.path:  # benchmarks/ is at the root
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks import (
    checkpoint_pause,
    collect,
    keyed_process,
    local_processes,
    memory,
    rocksdb_state,
    run_all,
    stateless,
    windows,
    word_count,
)
from benchmarks._harness import (
    BenchmarkResult,
    CountingSink,
    scaled,
    time_best,
    vocabulary,
    zipf_lines,
)

SMALL = 2_000


def _map_filter_expected(data: list[int]) -> list[int]:
    return [y for y in (x * 3 + 1 for x in data) if y % 2 == 0]


def test_map_filter_matches_baseline() -> None:
    data = list(range(SMALL))
    sink = CountingSink(keep=True)
    try:
        stateless.strom_map_filter(data, sink)
        assert sink.records == _map_filter_expected(data)
        assert sink.count == stateless.baseline_map_filter(data) == SMALL // 2
    finally:
        sink.release()


def test_generated_map_filter_matches_baseline() -> None:
    sink = CountingSink(keep=True)
    try:
        stateless.strom_map_filter_generated(SMALL, sink)
        assert sink.records == _map_filter_expected(list(range(SMALL)))
        assert sink.count == stateless.baseline_map_filter(range(SMALL))
    finally:
        sink.release()


def test_collect_brings_back_what_the_sink_receives() -> None:
    data = list(range(SMALL))
    sink = CountingSink(keep=True)
    try:
        collect.strom_sink(data, sink)
        assert collect.strom_collect(data) == sink.records == _map_filter_expected(data)
    finally:
        sink.release()


def test_memory_children_count_what_the_baseline_counts() -> None:
    strom_peak, strom_count = memory.measure("strom", "tracemalloc", SMALL)
    baseline_peak, baseline_count = memory.measure("baseline", "tracemalloc", SMALL)
    assert strom_count == baseline_count == SMALL // 2
    assert strom_peak > 0 and baseline_peak > 0


def test_memory_result_line_and_json() -> None:
    result = memory.MemoryResult("m", 10, 3 * 2**20, 2 * 2**20, 1.3)
    assert result.ratio == 1.5
    assert "ratio=1.500" in result.line() and "ABOVE" in result.line()
    assert "ok" in memory.MemoryResult("m", 10, 2**20, 2**20, 1.3).line()
    assert json.loads(result.as_json())["lower_is_better"] is True


def test_word_count_emits_every_rolling_update_like_the_baseline() -> None:
    lines = word_count.make_lines(200)
    expected: list[tuple[str, int]] = []
    counts: dict[str, int] = {}
    for line in lines:
        for w in line.split():
            counts[w] = counts.get(w, 0) + 1
            expected.append((w, counts[w]))
    assert len(expected) > 1_000
    sink = CountingSink(keep=True)
    try:
        word_count.strom_word_count(lines, sink)
        assert sink.records == expected  # parallelism 1: arrival order is input order
        assert sink.count == len(expected)
    finally:
        sink.release()
    assert word_count.baseline_word_count(lines) == (len(expected), counts)


def test_run_all_runs_every_module_and_prints_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_all.benchmark_modules() == [
        "checkpoint_overhead", "checkpoint_pause", "collect", "ha_failover", "keyed_process",
        "local_processes", "memory", "metrics_overhead", "network_channel", "recovery_time",
        "rocksdb_state", "stateless", "windows", "word_count"]
    code = run_all.main(["--json", "--scale", "0.002", "--repeat", "1", "--warmup", "0"])
    assert code == 0
    rows = {r["name"]: r for r in map(json.loads, capsys.readouterr().out.splitlines())}
    assert list(rows) == [
        "checkpoint_overhead.window_1s",
        "checkpoint_pause.max_pause", "checkpoint_pause.max_pause_copying",
        "collect.vs_sink", "collect.vs_keeping_sink",
        "ha_failover.kill_leader",
        "keyed_process.value_state_timers",
        "local_processes.scaling_p2_over_p1", "local_processes.cpu_keyed_p2",
        "local_processes.startup_p2", "local_processes.latency",
        "memory.from_collection_peak",
        *(["memory.from_collection_rss"] if Path("/proc/self/statm").exists() else []),
        "metrics_overhead.map_filter", "metrics_overhead.map_filter_off",
        "metrics_overhead.map_filter_on_vs_off", "metrics_overhead.word_count",
        "metrics_overhead.word_count_off", "metrics_overhead.word_count_on_vs_off",
        "network.tcp_channel", "network.tcp_channel_wall",
        "recovery_time.kill_task_manager", "recovery_time.kill_task_manager_p1",
        "rocksdb_state.keyed_process_rocksdb", "rocksdb_state.keyed_process_hashmap",
        "stateless.map_filter", "stateless.map_filter_vs_inlined",
        "stateless.map_filter_generated",
        "windows.tumbling_sum", "windows.tumbling_sum_vs_inlined",
        "windows.tumbling_sum_vs_streaming_loop", "windows.process_window",
        "windows.process_window_general",
        "word_count.streaming", "word_count.streaming_vs_inlined",
    ]
    assert rows["stateless.map_filter"]["records"] == 2_000
    assert rows["word_count.streaming"]["records"] == (
        word_count.baseline_word_count(word_count.make_lines(400))[0])
    assert {name: r["target"] for name, r in rows.items() if r["target"] is not None} == {
        "checkpoint_overhead.window_1s": 0.9,
        "checkpoint_pause.max_pause": 1.0, "checkpoint_pause.max_pause_copying": 1.0,
        "collect.vs_sink": 0.9, "local_processes.scaling_p2_over_p1": 1.7,
        "memory.from_collection_peak": 1.3, "network.tcp_channel": 0.7,
        "metrics_overhead.map_filter_on_vs_off": 0.97,
        "metrics_overhead.word_count_on_vs_off": 0.97,
        "stateless.map_filter": 0.5, "windows.tumbling_sum": 0.25,
        "windows.tumbling_sum_vs_streaming_loop": 0.3, "windows.process_window": 0.25,
        "windows.process_window_general": 0.2, "word_count.streaming": 0.33,
    }
    startup, latency = rows.pop("local_processes.startup_p2"), rows.pop("local_processes.latency")
    assert len(startup["thread_s"]) == len(startup["process_s"]) == 1
    assert 0 <= latency["p50_ms"] <= latency["p99_ms"] <= latency["max_ms"]
    for name in ("recovery_time.kill_task_manager", "recovery_time.kill_task_manager_p1"):
        recovery = rows.pop(name)
        assert recovery["kills"] == 1
        assert 0 < recovery["detected_s"][0] <= recovery["running_s"][0] <= recovery["tasks_s"][0]
    failover = rows.pop("ha_failover.kill_leader")
    assert failover["kills"] == 1
    assert 0 < failover["leader_s"][0] <= failover["running_s"][0] <= failover["tasks_s"][0]
    for name, r in rows.items():
        unit = "bytes" if name.startswith("memory.") else "s"
        assert r["ratio"] > 0
        assert len(r[f"strom_runs_{unit}"]) == len(r[f"baseline_runs_{unit}"]) == 1


def test_window_sums_match_a_plain_computation() -> None:
    n = 5_000
    expected: dict[tuple[str, int], int] = {}
    for i in range(n):
        key, ts, value = windows.event_of(i)
        start = ts - ts % windows.WINDOW_MS
        expected[(key, start)] = expected.get((key, start), 0) + value
    sink = CountingSink(keep=True)
    try:
        windows.strom_window_sum(n, sink)
        got = sorted((k, ts - ts % windows.WINDOW_MS, total) for k, ts, total in sink.records)
    finally:
        sink.release()
    assert got == sorted((k, start, total) for (k, start), total in expected.items())
    assert windows.baseline_same_functions(n) == windows.baseline_inlined(n) == len(expected)


def _window_results(n: int) -> list[tuple[str, int, int, int]]:
    sums: dict[tuple[str, int], int] = {}
    for i in range(n):
        key, ts, value = windows.event_of(i)
        start = ts - ts % windows.WINDOW_MS
        sums[(key, start)] = sums.get((key, start), 0) + value
    return sorted((k, s, s + windows.WINDOW_MS, total) for (k, s), total in sums.items())


@pytest.mark.parametrize("fast", [True, False], ids=["fast_path", "general_operator"])
def test_process_window_matches_a_plain_computation(
    monkeypatch: pytest.MonkeyPatch, fast: bool
) -> None:
    from strom.runtime.operators import fast_window

    monkeypatch.setattr(fast_window, "ENABLED", fast)
    n = 5_000
    expected = _window_results(n)
    sink = CountingSink(keep=True)
    try:
        windows.strom_process_window(n, sink)
        got = sorted(sink.records)
    finally:
        sink.release()
    assert got == expected
    assert windows.baseline_process_window(n) == len(expected)


def test_window_sum_of_tuples_matches_the_streaming_loop() -> None:
    n = 5_000
    events = windows.tuples(n)
    expected = [(k, s, total) for k, s, _, total in _window_results(n)]
    sink = CountingSink(keep=True)
    try:
        windows.strom_window_sum_of_tuples(events, sink)
        got = sorted((k, ts - ts % windows.WINDOW_MS, total) for k, total, ts in sink.records)
    finally:
        sink.release()
    assert got == expected
    assert windows.baseline_streaming_loop(events) == len(expected)


def test_keyed_process_emits_one_record_per_timer() -> None:
    n = 5_000
    timers = {(windows.key_of(e), keyed_process.next_second(e[1]))
              for e in map(windows.event_of, range(n))}
    sink = CountingSink(keep=True)
    try:
        keyed_process.strom_keyed_process(n, sink)
        records = sink.records
    finally:
        sink.release()
    assert len(records) == len(timers) == keyed_process.baseline_same_logic(n)
    assert sum(count for _, count in records) == n


@pytest.mark.parametrize("backend", rocksdb_state.BACKENDS)
def test_keyed_process_on_each_backend_emits_what_the_baseline_emits(backend: str) -> None:
    n = 3_000
    sink = CountingSink(keep=True)
    try:
        rocksdb_state.strom_keyed_process_on(backend, n, sink)
        records = sink.records
    finally:
        sink.release()
    assert len(records) == keyed_process.baseline_same_logic(n)
    assert sum(count for _, count in records) == n


def test_checkpoint_pause_snapshots_hold_every_key_as_of_the_synchronous_part() -> None:
    backend, size = checkpoint_pause.build_state(2_000)
    assert size > 2_000 * checkpoint_pause.VALUE_BYTES
    for fork_min_entries in (0, None):
        backend.fork_min_entries = fork_min_entries
        longest, sync_s, upload_s, snapshot = checkpoint_pause.measure_pause(
            backend, 2_000, True, settle_s=0.01)
        assert snapshot is not None and 0 < sync_s <= longest and upload_s > 0
        entries = dict(checkpoint_pause._entries(snapshot))
        assert sorted(entries) == list(range(2_000))
        assert all(len(v) == checkpoint_pause.VALUE_BYTES for v in entries.values())
    result = checkpoint_pause.PauseResult("p", 10, 2**30, 0.3, 0.25, 1.0, 5, 0.001)
    assert result.ratio == 1.5 and "ABOVE" in result.line()
    assert json.loads(result.as_json())["max_pause_ms"] == 300.0
    backend.dispose()


def test_run_all_rejects_bad_options() -> None:
    with pytest.raises(SystemExit):
        run_all.main(["--scale", "0"])
    with pytest.raises(SystemExit):
        run_all.main(["--only", "no_such_benchmark"])


def test_inputs_are_deterministic_and_shaped_as_documented() -> None:
    words = vocabulary(500)
    assert len(set(words)) == 500 and words == vocabulary(500)
    assert [len(w) for w in words] == sorted(len(w) for w in words)
    lines = zipf_lines(300, words, seed=3)
    assert lines == zipf_lines(300, words, seed=3) != zipf_lines(300, words, seed=4)
    assert all(5 <= len(line.split()) <= 15 for line in lines)
    tokens = [w for line in lines for w in line.split()]
    assert tokens.count(words[0]) > tokens.count(words[-1])  # rank 1 is the most frequent
    assert scaled(1_000, 0.002) == 2 and scaled(10, 0.0001) == 1
    with pytest.raises(ValueError, match="scale must be > 0"):
        scaled(10, 0)
    with pytest.raises(ValueError, match="min_words"):
        zipf_lines(1, words, min_words=3, max_words=2)


def test_time_best_keeps_the_fastest_run_and_the_last_result() -> None:
    calls: list[int] = []

    def work() -> int:
        calls.append(1)
        return len(calls)

    timing = time_best(work, repeat=3, warmup=2)
    assert calls == [1] * 5 and timing.result == 5
    assert len(timing.runs) == 3 and timing.best == min(timing.runs)
    with pytest.raises(ValueError, match="repeat must be >= 1"):
        time_best(lambda: None, repeat=0)


def test_result_line_and_json() -> None:
    result = BenchmarkResult("x", 1_000, 0.5, 0.25, 0.33)
    assert result.strom_rate == 2_000 and result.baseline_rate == 4_000
    assert result.ratio == 0.5
    assert "ratio=0.500" in result.line() and "ok" in result.line()
    assert "BELOW" in BenchmarkResult("x", 1_000, 1.0, 0.25, 0.33).line()
    assert json.loads(result.as_json())["ratio"] == 0.5


def test_counting_sink_without_keep_refuses_records_and_release_forgets() -> None:
    sink = CountingSink()
    assert sink.count == 0
    with pytest.raises(RuntimeError, match="keep=True"):
        _ = sink.records
    sink.release()
    with pytest.raises(RuntimeError, match="was released"):
        _ = sink.count


def test_network_channel_counts_every_record_in_process_and_over_tcp() -> None:
    from benchmarks import network_channel

    n = 5_000
    expected: dict[str, int] = {}
    for i in range(n):
        word = network_channel.WORDS[i % len(network_channel.WORDS)]
        expected[word] = expected.get(word, 0) + 1
    assert network_channel._in_process(n)[2] == expected
    wall, producer_cpu, consumer_cpu, counts = network_channel._over_tcp(n)
    assert counts == expected and wall > 0 and producer_cpu > 0 and consumer_cpu > 0
    p50, p99, records = network_channel.latency(0.05)
    assert records == 50 and 0 < p50 <= p99


@pytest.mark.slow
def test_local_processes_jobs_compute_what_the_loop_computes() -> None:
    assert local_processes.strom_keyed_sums(300, 2) == local_processes.baseline_keyed_sums(300)
    assert local_processes.time_to_running("process") > 0
    latencies = local_processes.strom_latencies(30, rate=2000)
    assert len(latencies) == 30 and all(ms >= 0 for ms in latencies)
