from __future__ import annotations

import datetime as dt
import os
import pickle
import re
from pathlib import Path
from typing import Any

import cloudpickle
import pytest
from connector_fakes import FakeWriterContext

from strom.common.serialization import Encoder
from strom.connectors import FileSinkCommittable, FileWriterBucketState, FileWriterIdentity
from strom.connectors.file_sink_config import compile_date_time_pattern
from strom.datastream.connectors import DeliveryGuarantee, SinkWriter
from strom.datastream.connectors.file_system import (
    BucketAssigner,
    FileSink,
    OutputFileConfig,
    RollingPolicy,
)

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def _sink(
    base: Path | str,
    policy: RollingPolicy | None = None,
    assigner: BucketAssigner | None = None,
    config: OutputFileConfig | None = None,
    check_interval: int | None = None,
    encoder: Any = None,
) -> FileSink:
    builder = FileSink.for_row_format(str(base), encoder or Encoder.simple_string_encoder())
    builder.with_bucket_assigner(assigner or BucketAssigner.base_path_bucket_assigner())
    if policy is not None:
        builder.with_rolling_policy(policy)
    if config is not None:
        builder.with_output_file_config(config)
    if check_interval is not None:
        builder.with_bucket_check_interval(check_interval)
    return builder.build()


def _files(root: Path) -> dict[str, bytes]:
    """Every file under root (relative path -> content), end-of-input markers aside."""
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and not path.name.startswith(".strom-filesink-")
    }


def _buckets(states: list[Any]) -> list[FileWriterBucketState]:
    """The bucket entries of a writer snapshot (after its FileWriterIdentity)."""
    assert isinstance(states[0], FileWriterIdentity)
    return states[1:]


def _finish(sink: FileSink, writer: SinkWriter[FileSinkCommittable]) -> None:
    """End of a bounded input: flush(True), prepare_commit, commit."""
    writer.flush(True)
    committables = writer.prepare_commit()
    committer = sink.create_committer()
    assert committer is not None
    committer.commit(committables)
    writer.close()


def test_bounded_write_produces_one_finished_part_file(tmp_path: Path) -> None:
    sink = _sink(tmp_path)
    writer = sink.create_writer(FakeWriterContext())
    writer.write(["a", "b"], None)
    writer.write([("c", 1)], [5])

    (in_progress,) = _files(tmp_path)
    assert re.fullmatch(rf"\.part-{UUID}-0\.inprogress\.{UUID}", in_progress)

    _finish(sink, writer)
    ((name, content),) = _files(tmp_path).items()
    assert re.fullmatch(rf"part-{UUID}-0", name)
    assert content == b"a\nb\n('c', 1)\n"
    assert in_progress == f".{name}.inprogress.{in_progress.rsplit('.', 1)[1]}"


def test_prefix_and_suffix_name_the_part_files(tmp_path: Path) -> None:
    config = OutputFileConfig.builder().with_part_prefix("prefix").with_part_suffix(".ext").build()
    sink = _sink(tmp_path, RollingPolicy.on_checkpoint_rolling_policy(), config=config)
    writer = sink.create_writer(FakeWriterContext())
    writer.write(["1"], None)
    writer.flush(False)
    pending = writer.prepare_commit()
    writer.write(["2"], None)

    names = sorted(_files(tmp_path))
    assert re.fullmatch(rf"\.prefix-({UUID})-0\.ext\.inprogress\.{UUID}", names[0])
    assert re.fullmatch(rf"\.prefix-({UUID})-1\.ext\.inprogress\.{UUID}", names[1])
    committer = sink.create_committer()
    assert committer is not None
    committer.commit(pending)
    _finish(sink, writer)
    finished = sorted(_files(tmp_path))
    match0 = re.fullmatch(rf"prefix-({UUID})-0\.ext", finished[0])
    match1 = re.fullmatch(rf"prefix-({UUID})-1\.ext", finished[1])
    assert match0 and match1 and match0.group(1) == match1.group(1)
    assert [_files(tmp_path)[name] for name in finished] == [b"1\n", b"2\n"]


def test_rolls_on_size_before_the_record_that_finds_the_file_too_large(tmp_path: Path) -> None:
    sink = _sink(tmp_path, RollingPolicy.default_rolling_policy(part_size=10))
    writer = sink.create_writer(FakeWriterContext())
    writer.write(["r1xx", "r2xx", "r3xx", "r4xx", "r5xx"], None)  # 5 bytes each
    writer.write(["r6xx", "r7xx"], None)
    _finish(sink, writer)

    files = _files(tmp_path)
    assert [name.rsplit("-", 1)[1] for name in files] == ["0", "1", "2"]
    assert list(files.values()) == [b"r1xx\nr2xx\nr3xx\n", b"r4xx\nr5xx\nr6xx\n", b"r7xx\n"]


def test_on_checkpoint_policy_rolls_every_checkpoint(tmp_path: Path) -> None:
    sink = _sink(tmp_path, RollingPolicy.on_checkpoint_rolling_policy())
    writer = sink.create_writer(FakeWriterContext())
    committer = sink.create_committer()
    assert committer is not None

    writer.write(["x"], None)
    writer.flush(False)
    first = writer.prepare_commit()
    # the bucket is kept (uuid and counter), without an in-progress file
    assert [state.in_progress for state in _buckets(writer.snapshot_state(1))] == [None]
    writer.write(["y"], None)
    writer.flush(False)
    second = writer.prepare_commit()
    assert writer.prepare_commit() == []  # the idle bucket is forgotten here
    committer.commit(first + second)
    writer.write(["z"], None)
    _finish(sink, writer)

    files = _files(tmp_path)
    assert sorted(files.values()) == [b"x\n", b"y\n", b"z\n"]
    names = {content: name for name, content in files.items()}
    assert names[b"y\n"] == names[b"x\n"][:-1] + "1"  # same bucket: same uuid, next counter
    assert names[b"z\n"].endswith("-0") and names[b"z\n"][:-2] != names[b"x\n"][:-2]


def test_default_policy_keeps_small_files_open_across_checkpoints(tmp_path: Path) -> None:
    sink = _sink(tmp_path)
    writer = sink.create_writer(FakeWriterContext())
    writer.write(["x"], None)
    writer.flush(False)

    assert writer.prepare_commit() == []
    (state,) = _buckets(writer.snapshot_state(1))
    assert isinstance(state, FileWriterBucketState)
    assert state.in_progress is not None and state.in_progress.size == 2
    assert state.bucket_id == "" and state.bucket_path == str(tmp_path)


def test_time_based_rolling_on_the_bucket_check(tmp_path: Path) -> None:
    policy = RollingPolicy.default_rolling_policy(
        part_size=1 << 20, rollover_interval=1000, inactivity_interval=400
    )
    sink = _sink(tmp_path, policy, check_interval=100)
    context = FakeWriterContext(now=0)
    writer = sink.create_writer(context)
    writer.write(["a"], None)

    writer.on_processing_time(50)  # before the first check is due: ignored
    context.now = 300
    writer.write(["b"], None)
    writer.on_processing_time(600)  # inactive for 300 ms only
    assert writer.prepare_commit() == []
    writer.on_processing_time(650)  # checked at 600 already: not due before 700
    writer.on_processing_time(700)  # inactive for 400 ms: rolls
    (committable,) = writer.prepare_commit()
    assert committable.size == 4

    context.now = 1000
    writer.write(["c"], None)
    for now in (1100, 1200, 1300, 1399):
        context.now = now
        writer.write(["d"], None)
        writer.on_processing_time(now)
    assert writer.prepare_commit() == []
    writer.on_processing_time(2000)  # open for 1000 ms: rolls although active
    (second,) = writer.prepare_commit()
    assert second.size == 10


def test_date_time_buckets_follow_processing_time(tmp_path: Path) -> None:
    t0 = int(dt.datetime(2024, 3, 5, 7, 30, tzinfo=dt.UTC).timestamp() * 1000)
    sink = _sink(tmp_path, assigner=BucketAssigner.date_time_bucket_assigner(timezone_id="UTC"))
    context = FakeWriterContext(now=t0)
    writer = sink.create_writer(context)
    writer.write(["a"], None)
    context.now = t0 + 40 * 60 * 1000
    writer.write(["b"], None)
    _finish(sink, writer)

    files = _files(tmp_path)
    assert [name.split(os.sep)[0] for name in files] == ["2024-03-05--07", "2024-03-05--08"]
    assert list(files.values()) == [b"a\n", b"b\n"]


def test_default_sink_uses_hourly_local_time_buckets(tmp_path: Path) -> None:
    sink = FileSink.for_row_format(str(tmp_path), Encoder.simple_string_encoder()).build()
    now = 1_700_000_000_000
    writer = sink.create_writer(FakeWriterContext(now=now))
    writer.write(["a"], None)
    _finish(sink, writer)

    expected = dt.datetime.fromtimestamp(now / 1000).strftime("%Y-%m-%d--%H")
    assert [name.split(os.sep)[0] for name in _files(tmp_path)] == [expected]
    assert sink.delivery_guarantee() is DeliveryGuarantee.EXACTLY_ONCE
    assert sink.get_bucket_check_interval() == 60_000


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("yyyy-MM-dd--HH", "2024-03-05--07"),
        ("yyyy/MM/dd/HH/mm", "2024/03/05/07/09"),
        ("yy-M-d H:m:s.SSS", "24-3-5 7:9:4.120"),
        ("'hour='HH 'o''clock' ''", "hour=07 o'clock '"),
        ("EEE EEEE MMM MMMM a hh D", "Tue Tuesday Mar March AM 07 65"),
    ],
)
def test_java_date_time_patterns(pattern: str, expected: str) -> None:
    moment = dt.datetime(2024, 3, 5, 7, 9, 4, 120_000)
    assert compile_date_time_pattern(pattern)(moment) == expected


def test_bad_patterns_and_timezones_are_refused() -> None:
    with pytest.raises(ValueError, match="letter 'w'"):
        BucketAssigner.date_time_bucket_assigner("yyyy-ww")
    with pytest.raises(ValueError, match="unclosed quote"):
        BucketAssigner.date_time_bucket_assigner("'abc")
    with pytest.raises(ValueError, match="unknown timezone_id 'Mars/Base'"):
        BucketAssigner.date_time_bucket_assigner(timezone_id="Mars/Base")


def test_offset_timezones() -> None:
    t0 = int(dt.datetime(2024, 3, 5, 7, 30, tzinfo=dt.UTC).timestamp() * 1000)
    assigner = BucketAssigner.date_time_bucket_assigner("HH:mm", "GMT-08:00")
    assert assigner.get_bucket_id(t0) == "23:30"
    assert BucketAssigner.date_time_bucket_assigner("HH", "+05:30").get_bucket_id(t0) == "13"
    assert BucketAssigner.date_time_bucket_assigner("HH", "Asia/Tokyo").get_bucket_id(t0) == "16"
    restored = pickle.loads(pickle.dumps(assigner))
    assert restored.get_bucket_id(t0) == "23:30"


def test_commit_is_idempotent(tmp_path: Path) -> None:
    sink = _sink(tmp_path)
    writer = sink.create_writer(FakeWriterContext())
    writer.write(["a"], None)
    writer.flush(True)
    committables = pickle.loads(pickle.dumps(writer.prepare_commit()))
    committer = sink.create_committer()
    assert committer is not None

    committer.commit(committables)
    committer.commit(committables)
    assert list(_files(tmp_path).values()) == [b"a\n"]


def test_commit_without_any_file_is_a_clear_error(tmp_path: Path) -> None:
    committable = FileSinkCommittable("", str(tmp_path / ".p.inprogress.x"), str(tmp_path / "p"), 1)
    committer = _sink(tmp_path).create_committer()
    assert committer is not None

    with pytest.raises(FileNotFoundError, match="neither it nor its pending file"):
        committer.commit([committable])


def test_restore_rolls_the_in_progress_file_back_to_the_checkpoint(tmp_path: Path) -> None:
    sink = _sink(tmp_path)
    writer = sink.create_writer(FakeWriterContext())
    writer.write(["a", "b"], None)
    writer.flush(False)
    assert writer.prepare_commit() == []
    state = pickle.loads(pickle.dumps(writer.snapshot_state(1)))
    writer.write(["after-the-checkpoint"], None)
    writer.flush(False)
    writer.close()  # the task fails
    (in_progress,) = _files(tmp_path).values()
    assert in_progress == b"a\nb\nafter-the-checkpoint\n"

    restored = sink.restore_writer(FakeWriterContext(), state)
    assert list(_files(tmp_path).values()) == [b"a\nb\n"]
    restored.write(["c"], None)
    _finish(sink, restored)

    ((name, content),) = _files(tmp_path).items()
    assert name == os.path.basename(_buckets(state)[0].in_progress.final_path)
    assert content == b"a\nb\nc\n"


def test_restore_recommits_pending_files_and_continues(tmp_path: Path) -> None:
    sink = _sink(tmp_path, RollingPolicy.default_rolling_policy(part_size=2))
    writer = sink.create_writer(FakeWriterContext())
    writer.write(["aa", "bb"], None)  # "aa\n" overfills the first part; "bb\n" starts the next
    writer.flush(False)
    pending = writer.prepare_commit()
    state = writer.snapshot_state(1)
    committer = sink.create_committer()
    assert committer is not None
    committer.commit(pending)  # committed, then the job fails before acknowledging
    writer.close()

    restored = sink.restore_writer(FakeWriterContext(), state)
    committer.commit(pending)  # the restore re-commits the checkpoint's committables
    restored.write(["cc"], None)
    _finish(sink, restored)

    assert sorted(_files(tmp_path).values()) == [b"aa\n", b"bb\n", b"cc\n"]


def test_restore_fails_clearly_when_the_in_progress_file_is_gone(tmp_path: Path) -> None:
    sink = _sink(tmp_path, RollingPolicy.default_rolling_policy())
    writer = sink.create_writer(FakeWriterContext())
    writer.write(["a"], None)
    state = writer.snapshot_state(1)
    writer.close()
    for path in tmp_path.iterdir():
        path.unlink()  # removed outside the sink

    with pytest.raises(
        FileNotFoundError, match=r"the in-progress file .* recorded in the checkpoint is gone"
    ):
        sink.restore_writer(FakeWriterContext(), state)


def test_a_writer_restored_after_its_end_of_input_writes_nothing_again(tmp_path: Path) -> None:
    """Without a checkpoint after the end of input, a restart restores an earlier one:
    the end marker says the input after it was written and finished, so the replayed
    records are dropped and the files finished then are committed again (idempotently)."""
    sink = _sink(tmp_path, RollingPolicy.default_rolling_policy(part_size=4))
    writer = sink.create_writer(FakeWriterContext())
    writer.write(["a"], None)
    state = pickle.loads(pickle.dumps(writer.snapshot_state(1)))
    writer.write(["bbbb", "c"], None)
    writer.flush(True)
    finished = writer.prepare_commit()
    writer.close()
    committer = sink.create_committer()
    assert committer is not None
    committer.commit(finished[:1])  # the attempt fails while committing
    before = _files(tmp_path)

    restored = sink.restore_writer(FakeWriterContext(), state)
    restored.write(["bbbb", "c"], None)  # the replay
    assert restored.snapshot_state(2) == [state[0]]  # still that writer, nothing open
    _finish(sink, restored)
    assert sorted(_files(tmp_path).values()) == [b"a\nbbbb\n", b"c\n"]
    assert [name.startswith(".") for name in before] == [True, False]  # "c" was pending


def test_a_writer_without_checkpoints_leaves_no_end_marker(tmp_path: Path) -> None:
    sink = _sink(tmp_path)
    writer = sink.create_writer(FakeWriterContext())
    writer.write(["a"], None)
    _finish(sink, writer)
    assert [p.name for p in tmp_path.iterdir()] == [next(iter(_files(tmp_path)))]


def test_restore_merges_states_of_the_same_bucket(tmp_path: Path) -> None:
    sink = _sink(tmp_path)
    states: list[Any] = []
    for value in ("one", "two"):
        writer = sink.create_writer(FakeWriterContext())
        writer.write([value], None)
        states += writer.snapshot_state(1)
        writer.close()

    restored = sink.restore_writer(FakeWriterContext(), states)
    restored.write(["three"], None)
    _finish(sink, restored)
    assert sorted(_files(tmp_path).values()) == [b"one\nthree\n", b"two\n"]


def test_restore_rejects_foreign_state(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="must be a list of FileWriterBucketState"):
        _sink(tmp_path).restore_writer(FakeWriterContext(), [{"x": 1}])


class _RecordingEncoder:
    def __init__(self) -> None:
        self.type_infos: list[Any] = []

    def encode(self, value: Any, type_info: Any) -> bytes:
        self.type_infos.append(type_info)
        return f"<{value}>".encode()


def test_input_type_reaches_the_encoder(tmp_path: Path) -> None:
    encoder = _RecordingEncoder()
    sink = _sink(tmp_path, encoder=encoder)
    sink.set_input_type("STRING-TYPE")
    writer = sink.create_writer(FakeWriterContext())
    writer.write([1, 2], None)
    _finish(sink, writer)

    assert encoder.type_infos == ["STRING-TYPE", "STRING-TYPE"]
    assert list(_files(tmp_path).values()) == [b"<1><2>"]


def test_encoder_returning_text_is_a_clear_error(tmp_path: Path) -> None:
    class TextEncoder:
        def encode(self, value: Any, type_info: Any) -> Any:
            return str(value)

    writer = _sink(tmp_path, encoder=TextEncoder()).create_writer(FakeWriterContext())
    with pytest.raises(TypeError, match=r"returned str .* must return bytes"):
        writer.write(["a"], None)


def test_builder_validation_and_url_base_path(tmp_path: Path) -> None:
    builder = FileSink.for_row_format(tmp_path.as_uri(), Encoder.simple_string_encoder())
    assert builder.build().get_base_path() == str(tmp_path)
    with pytest.raises(TypeError, match="expects an Encoder"):
        FileSink.for_row_format(str(tmp_path), "utf-8")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="positive int of milliseconds"):
        builder.with_bucket_check_interval(0)
    with pytest.raises(TypeError, match="expects a RollingPolicy"):
        builder.with_rolling_policy("on-checkpoint")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="part_size must be a positive int"):
        RollingPolicy.default_rolling_policy(part_size=0)
    with pytest.raises(ValueError, match="must not contain a path separator"):
        OutputFileConfig("a/b", "")


def test_sink_ships_with_cloudpickle(tmp_path: Path) -> None:
    sink = FileSink.for_row_format(str(tmp_path), Encoder.simple_string_encoder()).build()
    copy = cloudpickle.loads(cloudpickle.dumps(sink))
    writer = copy.create_writer(FakeWriterContext(now=0))
    writer.write(["a"], None)
    _finish(copy, writer)
    assert list(_files(tmp_path).values()) == [b"a\n"]
