from __future__ import annotations

import bz2
import gzip
import os
import pickle
from pathlib import Path

import pytest
from connector_fakes import FakeEnumeratorContext, FakeEnumeratorContextWithCallAsync, Wiring

from strom.common.time import Duration
from strom.connectors import (
    ContinuousFileSplitEnumerator,
    FileEnumeratorCheckpoint,
    FileSourceSplit,
    StaticFileSplitEnumerator,
)
from strom.connectors.file_source import READ_BLOCK_BYTES, enumerate_files
from strom.datastream.connectors import Boundedness, InputStatus
from strom.datastream.connectors.file_system import FileSource, StreamFormat


def _write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return path


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A directory tree with visible and hidden files and directories."""
    root = tmp_path / "in"
    _write(root / "a.txt", "a1\na2\n")
    _write(root / "sub" / "b.txt", "b1\nb2\nb3")
    _write(root / "sub" / "deeper" / "c.txt", "c1\n")
    _write(root / ".hidden.txt", "no\n")
    _write(root / "_SUCCESS", "no\n")
    _write(root / ".dir" / "d.txt", "no\n")
    _write(root / "_tmp" / "e.txt", "no\n")
    _write(root / "sub" / ".f.txt.crc", "no\n")
    return root


def _source(*paths: object, charset: str = "UTF-8") -> FileSource:
    return FileSource.for_record_stream_format(
        StreamFormat.text_line_format(charset), *map(str, paths)
    ).build()


def test_enumeration_is_recursive_ordered_and_skips_hidden_entries(tree: Path) -> None:
    assert enumerate_files([str(tree)]) == [
        str(tree / "a.txt"),
        str(tree / "sub" / "b.txt"),
        str(tree / "sub" / "deeper" / "c.txt"),
    ]


def test_bounded_source_reads_each_file_once_with_one_reader(tree: Path) -> None:
    wiring = Wiring(_source(tree), parallelism=1)

    assert wiring.run_to_end() == [["a1", "a2", "b1", "b2", "b3", "c1"]]
    assert [split_id for _, _, split_id in wiring.outputs[0].batches] == ["0", "1", "2"]


def test_bounded_source_hands_files_to_whichever_reader_asks(tree: Path) -> None:
    wiring = Wiring(_source(tree), parallelism=2)
    out0, out1 = wiring.run_to_end()

    # Reader 0 asked first (file 0), reader 1 second (file 1); reader 0 finished first
    # and asked again (file 2).
    assert wiring.context.assignments == [("0", 0), ("1", 1), ("2", 0)]
    assert out0 == ["a1", "a2", "c1"]
    assert out1 == ["b1", "b2", "b3"]
    assert sorted(wiring.context.no_more_splits) == [0, 1]


def test_source_is_bounded_by_default_and_accepts_files_and_urls(tree: Path) -> None:
    source = FileSource.for_record_stream_format(
        StreamFormat.text_line_format(), (tree / "a.txt").as_uri(), f"file:{tree / 'sub'}"
    ).build()

    assert source.get_boundedness() is Boundedness.BOUNDED
    assert source.get_paths() == [str(tree / "a.txt"), str(tree / "sub")]
    assert Wiring(source, 1).run_to_end() == [["a1", "a2", "b1", "b2", "b3", "c1"]]


def test_missing_path_fails_at_build_naming_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(FileNotFoundError, match=f"FileSource path '{missing}' does not exist"):
        _source(missing)


def test_path_deleted_before_start_fails_at_enumerator_start(tmp_path: Path) -> None:
    path = _write(tmp_path / "x.txt", "1\n")
    source = _source(path)
    path.unlink()
    enumerator = source.create_enumerator(FakeEnumeratorContext(1))

    with pytest.raises(FileNotFoundError, match=f"'{path}' does not exist"):
        enumerator.start()


def test_builder_rejects_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown charset 'no-such-charset'"):
        StreamFormat.text_line_format("no-such-charset")
    with pytest.raises(ValueError, match="at least one path"):
        FileSource.for_record_stream_format(StreamFormat.text_line_format())
    with pytest.raises(TypeError, match="expects a StreamFormat first"):
        FileSource.for_record_stream_format(str(tmp_path))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="scheme 's3'"):
        FileSource.for_record_stream_format(StreamFormat.text_line_format(), "s3://b/k")
    builder = FileSource.for_record_stream_format(StreamFormat.text_line_format(), str(tmp_path))
    with pytest.raises(TypeError, match="expects a Duration"):
        builder.monitor_continuously(5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="positive discovery interval"):
        builder.monitor_continuously(Duration.of_millis(0))


def test_lines_split_like_java_readline(tmp_path: Path) -> None:
    path = _write(tmp_path / "x.txt", "a\r\nb\rc\n\nd\r\n\r\n")

    assert Wiring(_source(path), 1).run_to_end() == [["a", "b", "c", "", "d", ""]]


def test_charsets_decode_and_bad_bytes_become_replacement_chars(tmp_path: Path) -> None:
    latin = _write(tmp_path / "l" / "x.txt", "grüße\nçà\n", "latin-1")
    utf16 = _write(tmp_path / "u" / "x.txt", "grüße\r\n日本\nlast", "utf-16")
    broken = tmp_path / "b" / "x.txt"
    broken.parent.mkdir()
    broken.write_bytes(b"ok\n\xff\xfe\n")

    assert Wiring(_source(latin, charset="ISO-8859-1"), 1).run_to_end() == [["grüße", "çà"]]
    assert Wiring(_source(utf16, charset="UTF-16"), 1).run_to_end() == [["grüße", "日本", "last"]]
    assert Wiring(_source(broken), 1).run_to_end() == [["ok", "\ufffd\ufffd"]]


def test_compressed_files_are_decompressed_by_extension(tmp_path: Path) -> None:
    with gzip.open(tmp_path / "x.gz", "wt") as handle:
        handle.write("g1\ng2\n")
    (tmp_path / "y.bz2").write_bytes(bz2.compress(b"b1\n"))

    assert Wiring(_source(tmp_path), 1).run_to_end() == [["g1", "g2", "b1"]]


def test_long_lines_and_many_blocks(tmp_path: Path) -> None:
    long_line = "x" * (READ_BLOCK_BYTES * 2 + 17)
    lines = [f"line {i}" for i in range(30_000)] + [long_line, "tail"]
    path = _write(tmp_path / "big.txt", "\n".join(lines))

    wiring = Wiring(_source(path), 1)
    assert wiring.run_to_end() == [lines]
    assert len(wiring.outputs[0].batches) > 3


@pytest.mark.parametrize("charset", ["UTF-8", "UTF-16"])
def test_restore_mid_file_continues_exactly_after_the_emitted_lines(
    tmp_path: Path, charset: str
) -> None:
    lines = [f"line {i} ü" for i in range(40_000)]
    _write(tmp_path / "d" / "one.txt", "\n".join(lines) + "\n", charset.lower())
    _write(tmp_path / "d" / "two.txt", "x\ny\n", charset.lower())
    source = _source(tmp_path / "d", charset=charset)

    first = Wiring(source, 1)
    first.poll_round()
    first.poll_round()
    enumerator_state, reader_states = pickle.loads(pickle.dumps(first.snapshot()))
    before = first.outputs[0].values
    (split,) = reader_states[0]
    assert 0 < len(before) < len(lines)
    assert split.path == str(tmp_path / "d" / "one.txt")
    assert (split.offset > 0) if charset == "UTF-8" else (split.records_to_skip == len(before))
    first.readers[0].close()

    second = Wiring(source, 1, enumerator_state, reader_states)
    after = second.run_to_end()[0]
    assert before + after == [*lines, "x", "y"]


def test_restore_with_two_readers_reads_every_line_once(tree: Path) -> None:
    source = _source(tree)
    first = Wiring(source, 2)
    first.poll_round()  # each reader reads its whole (small) file and asks for the next
    state = pickle.loads(pickle.dumps(first.snapshot()))
    before = [value for out in first.outputs for value in out.values]

    second = Wiring(source, 2, *state)
    after = [value for values in second.run_to_end() for value in values]
    assert sorted(before + after) == ["a1", "a2", "b1", "b2", "b3", "c1"]


def test_static_enumerator_snapshot_holds_unassigned_splits(tree: Path) -> None:
    context = FakeEnumeratorContext(1)
    enumerator = _source(tree).create_enumerator(context)
    assert isinstance(enumerator, StaticFileSplitEnumerator)
    enumerator.start()

    state = enumerator.snapshot_state(1)
    assert state == FileEnumeratorCheckpoint(
        [
            FileSourceSplit("0", str(tree / "a.txt")),
            FileSourceSplit("1", str(tree / "sub" / "b.txt")),
            FileSourceSplit("2", str(tree / "sub" / "deeper" / "c.txt")),
        ],
        [],
        3,
    )


def test_restore_enumerator_rejects_foreign_state(tree: Path) -> None:
    with pytest.raises(TypeError, match="expects a FileEnumeratorCheckpoint"):
        _source(tree).restore_enumerator(FakeEnumeratorContext(1), [1, 2])


# ---- continuous monitoring ---------------------------------------------------------------


def _continuous(path: Path, interval_ms: int = 250) -> FileSource:
    return (
        FileSource.for_record_stream_format(StreamFormat.text_line_format(), str(path))
        .monitor_continuously(Duration.of_millis(interval_ms))
        .build()
    )


def test_continuous_source_picks_up_new_files_once(tmp_path: Path) -> None:
    _write(tmp_path / "1.txt", "one\n")
    source = _continuous(tmp_path)
    assert source.get_boundedness() is Boundedness.CONTINUOUS_UNBOUNDED
    wiring = Wiring(source, 2)
    enumerator = wiring.enumerator
    assert isinstance(enumerator, ContinuousFileSplitEnumerator)

    wiring.poll_until_idle()
    assert [out.values for out in wiring.outputs] == [["one"], []]
    assert wiring.poll_round() == [InputStatus.NOTHING_AVAILABLE] * 2

    _write(tmp_path / "2.txt", "two\n")
    _write(tmp_path / ".2.txt.tmp", "hidden\n")
    assert enumerator.discover_new_files() == 1
    assert enumerator.discover_new_files() == 0
    wiring.poll_until_idle()

    assert [out.values for out in wiring.outputs] == [["one"], ["two"]]
    assert wiring.context.no_more_splits == []
    assert sorted(split_id for split_id, _ in wiring.context.assignments) == ["0", "1"]


def test_continuous_discovery_is_registered_with_call_async(tmp_path: Path) -> None:
    _write(tmp_path / "1.txt", "one\n")
    context = FakeEnumeratorContextWithCallAsync(1)
    wiring = Wiring(_continuous(tmp_path, 750), 1, context=context)
    assert [(delay, period) for _, _, delay, period in context.async_calls] == [(750, 750)]
    wiring.poll_until_idle()

    _write(tmp_path / "2.txt", "two\n")
    context.fire_async_calls()
    wiring.poll_until_idle()
    assert wiring.outputs[0].values == ["one", "two"]

    (tmp_path / "1.txt").unlink()
    tmp_path.rename(tmp_path.with_name(tmp_path.name + "-moved"))
    with pytest.raises(RuntimeError, match="could not list"):
        context.fire_async_calls()


def test_continuous_enumerator_restore_skips_files_already_seen(tmp_path: Path) -> None:
    _write(tmp_path / "1.txt", "one\n")
    _write(tmp_path / "2.txt", "two\n")
    source = _continuous(tmp_path)
    context = FakeEnumeratorContext(1)
    enumerator = source.create_enumerator(context)
    enumerator.start()
    state = pickle.loads(pickle.dumps(enumerator.snapshot_state(1)))
    assert state.already_processed_paths == [str(tmp_path / "1.txt"), str(tmp_path / "2.txt")]
    assert len(state.pending_splits) == 2

    _write(tmp_path / "3.txt", "three\n")
    wiring = Wiring(source, 1, enumerator_state=state)
    wiring.poll_until_idle()
    assert wiring.outputs[0].values == ["one", "two"]  # a restored enumerator does not re-list

    assert wiring.enumerator.discover_new_files() == 1  # type: ignore[attr-defined]
    wiring.poll_until_idle()
    assert wiring.outputs[0].values == ["one", "two", "three"]
    assert wiring.enumerator.snapshot_state(2).next_split_id == 3


def test_continuous_enumerator_gives_returned_splits_to_the_next_asker(tmp_path: Path) -> None:
    _write(tmp_path / "1.txt", "one\n")
    wiring = Wiring(_continuous(tmp_path), 2, start=False)
    split = FileSourceSplit("9", str(tmp_path / "1.txt"), 0)
    wiring.enumerator.add_splits_back([split], 0)

    wiring.readers[1].start()
    assert wiring.context.assignments == [("9", 1)]
    wiring.readers[0].start()
    assert wiring.context.assignments == [("9", 1), ("0", 0)]


def test_reader_snapshot_and_close_without_splits(tmp_path: Path) -> None:
    wiring = Wiring(_continuous(tmp_path), 1)
    assert wiring.readers[0].snapshot_state(1) == []
    wiring.readers[0].close()
    assert os.listdir(tmp_path) == []


def test_continuous_request_from_an_unregistered_reader_waits(tmp_path: Path) -> None:
    _write(tmp_path / "1.txt", "one\n")
    wiring = Wiring(_continuous(tmp_path), 1, start=False)
    reader = wiring.context.readers.pop(0)
    wiring.enumerator.handle_split_request(0)
    assert wiring.context.assignments == []

    wiring.context.readers[0] = reader
    _write(tmp_path / "2.txt", "two\n")
    wiring.enumerator.discover_new_files()  # type: ignore[attr-defined]
    assert wiring.context.assignments == [("0", 0)]
