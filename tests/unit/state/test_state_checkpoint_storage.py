"""Checkpoint storage: Flink's directory layout, inlined small state, the versioned
``_metadata`` format, and clear errors for paths that are not checkpoints."""

from __future__ import annotations

import pickle
import re
import uuid

import fsspec
import pytest

from strom.state.checkpoint_metadata import (
    METADATA_MAGIC,
    ByteStreamStateHandle,
    CheckpointMetadata,
    FileStateHandle,
    MetadataFormatError,
    OperatorStateEntry,
    SubtaskStateEntry,
    decode_metadata,
    encode_metadata,
)
from strom.state.checkpoint_storage import (
    CheckpointStorage,
    dispose_savepoint,
    read_metadata,
    read_state,
)

JOB = "0123456789abcdef0123456789abcdef"


def _metadata(handle: object) -> CheckpointMetadata:
    entry = OperatorStateEntry(
        "uid-1", "Keyed", 2, 128,
        {0: SubtaskStateEntry(keyed=handle, key_group_start=0, key_group_end=63)},  # type: ignore[arg-type]
    )
    return CheckpointMetadata(7, JOB, 1_700_000_000_000, operators=[entry])


def test_checkpoint_layout_on_local_files(tmp_path):
    storage = CheckpointStorage(str(tmp_path), JOB)
    storage.initialize()
    location = storage.checkpoint_location(7)
    small = location.write_state("op-0", b"x" * 10)
    big = location.write_state("op-0", b"y" * 100_000)
    assert isinstance(small, ByteStreamStateHandle)
    assert isinstance(big, FileStateHandle) and big.size == 100_000
    pointer = location.write_metadata(_metadata(big))
    chk = tmp_path / JOB / "chk-7"
    assert (chk / "_metadata").read_bytes().startswith(METADATA_MAGIC)
    assert (tmp_path / JOB / "shared").is_dir() and (tmp_path / JOB / "taskowned").is_dir()
    assert pointer == f"file://{chk}"
    for path in (str(chk), str(chk / "_metadata"), pointer, f"file:{chk}"):
        restored = read_metadata(path)
        assert restored == _metadata(big)
    assert read_state(restored.operators[0].subtasks[0].keyed) == b"y" * 100_000  # type: ignore[arg-type]
    location.discard()
    assert not chk.exists()


def test_savepoint_directory_is_named_as_flink_names_it(tmp_path):
    location = CheckpointStorage(None, JOB).savepoint_location(str(tmp_path))
    location.write_metadata(_metadata(ByteStreamStateHandle(b"s")))
    (name,) = [p.name for p in tmp_path.iterdir()]
    assert re.fullmatch(r"savepoint-012345-[0-9a-f]{12}", name)
    dispose_savepoint(str(tmp_path / name))
    assert not list(tmp_path.iterdir())


def test_any_fsspec_url_works():
    base = f"memory://strom-test-{uuid.uuid4().hex}"
    location = CheckpointStorage(base, JOB).checkpoint_location(1)
    handle = location.write_state("state", pickle.dumps(list(range(10_000))))
    assert isinstance(handle, FileStateHandle) and handle.url.startswith("memory://")
    location.write_metadata(_metadata(handle))
    assert pickle.loads(read_state(read_metadata(location.url).operators[0].subtasks[0].keyed))[-1] == 9999  # type: ignore[arg-type]
    fsspec.filesystem("memory").rm(base.removeprefix("memory://"), recursive=True)


def test_jobmanager_storage_keeps_everything_inline():
    location = CheckpointStorage(None, JOB).checkpoint_location(3)
    assert isinstance(location.write_state("big", b"z" * 1_000_000), ByteStreamStateHandle)
    assert location.write_metadata(_metadata(None)).startswith("<jobmanager>")


def test_paths_that_are_not_checkpoints_get_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_metadata(str(tmp_path / "nope"))
    (tmp_path / "dir").mkdir()
    with pytest.raises(FileNotFoundError, match="not a completed checkpoint"):
        read_metadata(str(tmp_path / "dir"))
    (tmp_path / "dir" / "_metadata").write_bytes(b"hello")
    with pytest.raises(MetadataFormatError, match="not a strom checkpoint"):
        read_metadata(str(tmp_path / "dir"))
    with pytest.raises(MetadataFormatError, match="not a strom checkpoint"):
        dispose_savepoint(str(tmp_path / "dir"))
    assert (tmp_path / "dir").exists()  # a wrong path deletes nothing


def test_unknown_versions_and_damage_are_refused():
    data = encode_metadata(_metadata(None))
    future = data[:8] + (99).to_bytes(4, "big") + data[12:]
    with pytest.raises(MetadataFormatError, match="version 99"):
        decode_metadata(future)
    with pytest.raises(MetadataFormatError, match="damaged"):
        decode_metadata(data[:20])
