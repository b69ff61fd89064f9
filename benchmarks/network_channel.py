"""Network channel throughput: one channel between two TaskManager processes over TCP
against the same edge between two threads of one process.

Both sides run strom's data path, not a job: the producer builds ``(word, i)`` records a
batch at a time (a list comprehension over a 10,000-word vocabulary) and writes them with a
``RecordWriter`` into its result subpartition against the consumer's credit; the consumer
polls its input channel and counts the words in a dict. That is the cheapest real pipeline,
so the channel's own cost (pickling once per buffer, TCP, credit) weighs as much as it can.

* in one process (the baseline): two threads, a ``LocalChannel`` between them (batches by
  reference). Under the GIL they share one core: its CPU seconds are the cost.
* over TCP: the producer is a child process with its own ``NetworkEnvironment`` and data
  port, the consumer this process. Each side has its own core when the machine is free, so
  the CPU-bound time is ``max(producer CPU s, consumer CPU s)`` (``getrusage``, network
  threads included); the wall time is what this (possibly shared) machine gave.

``network.tcp_channel`` (target 0.7) compares the TCP channel's CPU-bound rate with the
in-process rate on one core; ``network.tcp_channel_wall`` compares wall times (information).

``--internal-tls`` measures the TCP channel with internal TLS (``security.ssl.internal.*``,
certificates made with ``openssl`` in a temporary directory) against the same channel over
plain TCP: ``network.tcp_channel_tls`` is the TLS rate over the plain rate (CPU-bound, as
above), ``network.tcp_channel_tls_wall`` the same by wall time (information; no target).

``--latency`` instead sends 1,000 single records per second for ``--seconds`` over TCP, each
flushed as an idle task flushes its partial buffers, and prints the p50/p99 of the time from
``emit`` to the consumer's poll.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the ``benchmarks`` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import resource
import subprocess
import tempfile
import threading
import time
from collections.abc import Sequence
from typing import Any

from benchmarks._harness import BenchmarkResult, Timing, scaled, vocabulary
from strom.common.configuration import Configuration
from strom.common.security import internal_tls
from strom.graph.ids import ResourceID
from strom.graph.partitioning import ForwardPartitioning
from strom.network.elements import END_OF_PARTITION, RecordBatch
from strom.network.environment import NetworkEnvironment
from strom.network.local_network import LocalNetwork
from strom.network.partitioners import create_channel_selector
from strom.network.record_writer import RecordWriter
from strom.rpc.messages import ProducerLocation
from strom.testing.tls import CertificateFiles, make_certificates

__all__ = ["consume", "produce", "run", "run_tls"]

TARGET = 0.7
RECORDS = 1_000_000
BATCH = 1024
#: the consumer's credit with the default buffers-per-channel (2) and floating buffers (8)
CREDIT = 10
KEY = ("bench", 0, "edge", 0, 0)
WORDS = vocabulary(10_000)


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _send_all(writer: RecordWriter, wake: threading.Event) -> None:
    while True:
        wake.clear()
        if writer.send():
            return
        wake.wait(1.0)


def produce(env: NetworkEnvironment, n: int) -> None:
    """Write ``n`` records and the end of the partition into ``KEY``'s subpartition."""
    wake = threading.Event()
    channel = env.result_subpartition(KEY)
    channel.sender_waker = wake.set
    writer = RecordWriter([channel], create_channel_selector(ForwardPartitioning(), 1), BATCH)
    words, size = WORDS, len(WORDS)
    for start in range(0, n, BATCH):
        writer.emit([(words[i % size], i) for i in range(start, min(n, start + BATCH))], None)
        if writer.waiting:
            _send_all(writer, wake)
    writer.broadcast_event(END_OF_PARTITION)
    _send_all(writer, wake)


def consume(env: NetworkEnvironment, producer: ProducerLocation | None) -> dict[str, int]:
    """Read ``KEY``'s channel to its end; the count of each word."""
    wake = threading.Event()
    channel: Any = env.input_channel(KEY, producer, CREDIT)
    channel.receiver_waker = wake.set
    counts: dict[str, int] = {}
    get = counts.get
    while True:
        wake.clear()
        element = channel.poll()
        if element is None:
            wake.wait(1.0)
        elif type(element) is RecordBatch:
            for word, _ in element.values:
                counts[word] = get(word, 0) + 1
        elif element is END_OF_PARTITION:
            return counts


def _in_process(n: int) -> tuple[float, float, dict[str, int]]:
    """(wall s, CPU s, counts) of the edge between two threads of this process."""
    shared = LocalNetwork()
    env = NetworkEnvironment(channels=shared)
    producer = threading.Thread(target=produce, args=(env, n), name="bench-producer")
    cpu, wall = _cpu_seconds(), time.perf_counter()
    producer.start()
    counts = consume(env, None)
    producer.join()
    result = time.perf_counter() - wall, _cpu_seconds() - cpu, counts
    shared.release_job("bench")
    return result


def _tcp_environment(tls: CertificateFiles | None) -> NetworkEnvironment:
    """A TCP network environment, with internal TLS from ``tls``' files if given."""
    contexts = internal_tls(Configuration.from_dict(tls.internal_config())) if tls else None
    return NetworkEnvironment(tcp=True, tls=contexts)


def _tls_args(tls: CertificateFiles | None) -> list[str]:
    return ["--tls-files", f"{tls.ca},{tls.cert},{tls.key}"] if tls else []


def _over_tcp(n: int, tls: CertificateFiles | None = None
              ) -> tuple[float, float, float, dict[str, int]]:
    """(wall s, producer CPU s, consumer CPU s, counts) over TCP to a producer process."""
    child = subprocess.Popen([sys.executable, __file__, "--producer", str(n), *_tls_args(tls)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    env = _tcp_environment(tls)
    try:
        assert child.stdout is not None and child.stdin is not None
        _, resource_id, address = child.stdout.readline().split()
        env.start()
        cpu, wall = _cpu_seconds(), time.perf_counter()
        counts = consume(env, ProducerLocation(ResourceID(resource_id), address))
        wall, cpu = time.perf_counter() - wall, _cpu_seconds() - cpu
        child.stdin.write("done\n")
        child.stdin.flush()
        producer_cpu = float(child.stdout.readline().split()[1])
        child.wait(30)
        return wall, producer_cpu, cpu, counts
    finally:
        env.close()
        if child.poll() is None:
            child.kill()
            child.wait()


def _producer_main(n: int, tls: CertificateFiles | None) -> int:
    env = _tcp_environment(tls)
    env.start()
    print("ready", env.resource_id, env.data_address, flush=True)
    cpu = _cpu_seconds()
    produce(env, n)
    sys.stdin.readline()  # the consumer has everything
    print("cpu", _cpu_seconds() - cpu, flush=True)
    env.close()
    return 0


def _best(runs: list[tuple[float, ...]], index: int) -> Timing[None]:
    times = tuple(r[index] for r in runs)
    return Timing(min(times), times, None)


def run(scale: float = 1.0, repeat: int = 3, warmup: int = 1) -> list[BenchmarkResult]:
    n = scaled(RECORDS, scale)
    expected: dict[str, int] = {}
    for i in range(n):
        expected[WORDS[i % len(WORDS)]] = expected.get(WORDS[i % len(WORDS)], 0) + 1
    local_runs, tcp_runs = [], []
    for attempt in range(warmup + repeat):
        local_wall, local_cpu, local_counts = _in_process(n)
        tcp_wall, producer_cpu, consumer_cpu, tcp_counts = _over_tcp(n)
        if local_counts != expected or tcp_counts != expected:
            raise RuntimeError("network_channel: the consumer did not count every record "
                               "exactly once; the channel lost or duplicated data.")
        if attempt >= warmup:
            local_runs.append((local_wall, local_cpu))
            tcp_runs.append((tcp_wall, max(producer_cpu, consumer_cpu)))
    local_cpu_t, tcp_cpu_t = _best(local_runs, 1), _best(tcp_runs, 1)
    local_wall_t, tcp_wall_t = _best(local_runs, 0), _best(tcp_runs, 0)
    return [
        BenchmarkResult("network.tcp_channel", n, tcp_cpu_t.best, local_cpu_t.best, TARGET,
                        tcp_cpu_t.runs, local_cpu_t.runs),
        BenchmarkResult("network.tcp_channel_wall", n, tcp_wall_t.best, local_wall_t.best,
                        None, tcp_wall_t.runs, local_wall_t.runs),
    ]


def run_tls(scale: float = 1.0, repeat: int = 3, warmup: int = 1) -> list[BenchmarkResult]:
    """The TCP channel with internal TLS against the same channel over plain TCP."""
    n = scaled(RECORDS, scale)
    with tempfile.TemporaryDirectory(prefix="strom-bench-tls-") as directory:
        tls = make_certificates(directory)
        plain_runs, tls_runs = [], []
        for attempt in range(warmup + repeat):
            plain_wall, plain_producer, plain_consumer, plain_counts = _over_tcp(n)
            tls_wall, tls_producer, tls_consumer, tls_counts = _over_tcp(n, tls)
            if plain_counts != tls_counts or sum(tls_counts.values()) != n:
                raise RuntimeError("network_channel --internal-tls: the consumer did not "
                                   "count every record exactly once.")
            if attempt >= warmup:
                plain_runs.append((plain_wall, max(plain_producer, plain_consumer)))
                tls_runs.append((tls_wall, max(tls_producer, tls_consumer)))
    plain_cpu, tls_cpu = _best(plain_runs, 1), _best(tls_runs, 1)
    plain_wall_t, tls_wall_t = _best(plain_runs, 0), _best(tls_runs, 0)
    return [
        BenchmarkResult("network.tcp_channel_tls", n, tls_cpu.best, plain_cpu.best, None,
                        tls_cpu.runs, plain_cpu.runs),
        BenchmarkResult("network.tcp_channel_tls_wall", n, tls_wall_t.best, plain_wall_t.best,
                        None, tls_wall_t.runs, plain_wall_t.runs),
    ]


def latency(seconds: float, rate: int = 1000) -> tuple[float, float, int]:
    """(p50 ms, p99 ms, records) of single records at ``rate``/s over a TCP channel."""
    producer_env, consumer_env = NetworkEnvironment(tcp=True), NetworkEnvironment(tcp=True)
    producer_env.start()
    consumer_env.start()
    try:
        location = ProducerLocation(producer_env.resource_id, producer_env.data_address)
        wake = threading.Event()
        channel: Any = consumer_env.input_channel(KEY, location, CREDIT)
        channel.receiver_waker = wake.set
        delays: list[float] = []
        n = int(seconds * rate)

        def send() -> None:
            out = producer_env.result_subpartition(KEY)
            writer = RecordWriter([out], create_channel_selector(ForwardPartitioning(), 1),
                                  BATCH)
            start = time.perf_counter()
            for i in range(n):
                time.sleep(max(0.0, start + i / rate - time.perf_counter()))
                writer.emit([time.perf_counter()], None)
                writer.flush()  # the source has nothing more right now: an idle flush
            writer.broadcast_event(END_OF_PARTITION)

        sender = threading.Thread(target=send, name="bench-latency-producer")
        sender.start()
        while True:
            wake.clear()
            element = channel.poll()
            if element is None:
                wake.wait(1.0)
            elif type(element) is RecordBatch:
                now = time.perf_counter()
                delays += [now - sent for sent in element.values]
            elif element is END_OF_PARTITION:
                break
        sender.join()
        delays.sort()
        return (delays[len(delays) // 2] * 1000, delays[int(len(delays) * 0.99)] * 1000,
                len(delays))
    finally:
        consumer_env.close()
        producer_env.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--producer", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--latency", action="store_true",
                        help="measure single-record latency at 1,000 records/s instead")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--internal-tls", action="store_true",
                        help="compare the TCP channel with internal TLS to plain TCP instead")
    parser.add_argument("--tls-files", help=argparse.SUPPRESS)
    known, rest = parser.parse_known_args(argv)
    if known.producer is not None:
        files = None
        if known.tls_files:
            ca, cert, key = known.tls_files.split(",")
            files = CertificateFiles(Path(ca), Path(cert), Path(key))
        return _producer_main(known.producer, files)
    if known.latency:
        p50, p99, count = latency(known.seconds)
        print(f"network.tcp_latency: {count} records at 1,000/s, p50 {p50:.3f} ms, "
              f"p99 {p99:.3f} ms")
        return 0
    from benchmarks._harness import main_for

    if known.internal_tls:
        return main_for(run_tls, rest, "the TCP channel with internal TLS against plain TCP")
    return main_for(run, rest, "one network channel over TCP against the in-process edge")


if __name__ == "__main__":
    sys.exit(main())
