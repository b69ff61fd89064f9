"""The rocksdb state backend in TaskManager processes: a keyed job gives the in-thread
hashmap results, its DBs live under ``state.backend.rocksdb.localdir`` and are gone when
the job ends."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from strom.common import Configuration, Duration, Encoder, Time, Types, WatermarkStrategy
from strom.datastream import StreamExecutionEnvironment
from strom.datastream.connectors.file_system import FileSink
from strom.datastream.window import TumblingEventTimeWindows

pytestmark = pytest.mark.slow


def _run(mode: str, backend: str, local_dir: Path, out: Path) -> list[str]:
    config = Configuration()
    config.set_string("execution.local.taskmanagers", mode)
    config.set_string("state.backend.type", backend)
    config.set_string("state.backend.rocksdb.localdir", str(local_dir))
    env = StreamExecutionEnvironment.get_execution_environment(config)
    env.set_parallelism(2)
    events = [(f"k{i % 5}", i % 37) for i in range(400)]
    windowed = (env.from_collection(events).set_parallelism(1)
                .assign_timestamps_and_watermarks(
                    WatermarkStrategy.for_bounded_out_of_orderness(Duration.of_seconds(40))
                    .with_timestamp_assigner(lambda e, _: e[1] * 1000)).set_parallelism(1)
                .key_by(lambda e: e[0])
                .window(TumblingEventTimeWindows.of(Time.seconds(10)))
                .reduce(lambda a, b: (a[0], a[1] + b[1])))
    rolling = windowed.key_by(lambda e: e[0]).reduce(lambda a, b: (a[0], a[1] + b[1]))
    # which process ran the keyed state: this one (threads) or a TaskManager's
    here = os.getpid()
    rolling.map(lambda v: f"{v} {'here' if os.getpid() == here else 'elsewhere'}",
                output_type=Types.STRING()).sink_to(
        FileSink.for_row_format(str(out), Encoder.simple_string_encoder()).build())
    env.execute(f"{backend} in {mode} TaskManagers")
    return sorted(line for p in out.rglob("*") if p.is_file() for line in
                  p.read_text().splitlines())


def test_rocksdb_in_taskmanager_processes_gives_hashmap_results(tmp_path: Path) -> None:
    local_dir = tmp_path / "rocksdb"
    expected = _run("thread", "hashmap", local_dir, tmp_path / "hashmap")
    got = _run("process", "rocksdb", local_dir, tmp_path / "rocksdb-out")
    assert expected and all(line.endswith(" here") for line in expected)
    assert got == [line.replace(" here", " elsewhere") for line in expected]
    assert local_dir.is_dir() and list(local_dir.iterdir()) == []
