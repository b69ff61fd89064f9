"""A FileSink under an unbounded source without checkpointing can never finish a part file
(Flink's semantics): strom says so when the job is built."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from strom.common import Duration, WatermarkStrategy
from strom.common.serialization import Encoder
from strom.datastream import StreamExecutionEnvironment
from strom.datastream.connectors.file_system import FileSink, FileSource, StreamFormat
from strom.testing import MiniClusterFixture


def _job(tmp_path: Path, unbounded: bool) -> StreamExecutionEnvironment:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.txt").write_text("a\nb\n")
    builder = FileSource.for_record_stream_format(StreamFormat.text_line_format(),
                                                  str(tmp_path / "in"))
    if unbounded:
        builder = builder.monitor_continuously(Duration.of_seconds(1))
    env = StreamExecutionEnvironment.get_execution_environment()
    env.from_source(builder.build(), WatermarkStrategy.no_watermarks(), "lines") \
        .map(str.upper) \
        .sink_to(FileSink.for_row_format(str(tmp_path / "out"),
                                         Encoder.simple_string_encoder()).build())
    return env


def test_file_sink_under_an_unbounded_source_warns_at_build(tmp_path: Path) -> None:
    with MiniClusterFixture(parallelism=1):
        env = _job(tmp_path, unbounded=True)
        with pytest.warns(UserWarning, match="never finish a part file") as caught:
            client = env.execute_async("unbounded to files")
        client.cancel().result(timeout=30)
        client.get_job_result().result(timeout=30)  # type: ignore[attr-defined]
    assert "lines" in str(caught[0].message)
    assert caught[0].filename == __file__, "the warning should point at the user's call"


def test_file_sink_under_a_bounded_source_does_not_warn(tmp_path: Path) -> None:
    with MiniClusterFixture(parallelism=1):
        env = _job(tmp_path, unbounded=False)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            env.execute("bounded to files")
    written = sorted(p.read_text() for p in (tmp_path / "out").rglob("part-*"))
    assert written == ["A\nB\n"]
