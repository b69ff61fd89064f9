"""Smoke test of the internal-TLS channel benchmark: both sides count every record, and the
TLS side really runs over TLS. Nothing here looks at timings beyond their sign."""

from __future__ import annotations

import sys
from pathlib import Path

if str(Path(__file__).resolve().parents[2]) not in sys.path:  # benchmarks/ is at the root
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks import network_channel

from strom.testing.tls import make_certificates


def test_the_tls_channel_counts_every_record(tmp_path: Path) -> None:
    tls = make_certificates(tmp_path)
    env = network_channel._tcp_environment(tls)
    assert env.tls is not None  # the environment the benchmark builds has TLS on
    n = 5_000
    wall, producer_cpu, consumer_cpu, counts = network_channel._over_tcp(n, tls)
    assert sum(counts.values()) == n and wall > 0 and producer_cpu > 0 and consumer_cpu > 0
    [cpu, wall_result] = network_channel.run_tls(scale=0.002, repeat=1, warmup=0)
    assert cpu.name == "network.tcp_channel_tls" and cpu.records == 2_000
    assert cpu.ratio > 0 and wall_result.ratio > 0
