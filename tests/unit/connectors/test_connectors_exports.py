from __future__ import annotations

import strom.connectors
import strom.datastream.connectors
from strom.datastream.connectors import file_system, number_seq


def test_datastream_connectors_public_surface() -> None:
    assert sorted(strom.datastream.connectors.__all__) == [
        "Boundedness",
        "BucketAssigner",
        "Committer",
        "DefaultRollingPolicy",
        "DeliveryGuarantee",
        "FileSink",
        "FileSource",
        "FileSourceBuilder",
        "InputStatus",
        "NumberSequenceSource",
        "OnCheckpointRollingPolicy",
        "OutputFileConfig",
        "ReaderOutput",
        "RollingPolicy",
        "Sink",
        "SinkWriter",
        "SinkWriterContext",
        "Source",
        "SourceReader",
        "SourceReaderContext",
        "SourceSplit",
        "SplitEnumerator",
        "SplitEnumeratorContext",
        "StreamFormat",
    ]
    for name in strom.datastream.connectors.__all__:
        assert getattr(strom.datastream.connectors, name) is not None
    assert strom.datastream.connectors.FileSink is file_system.FileSink
    assert strom.datastream.connectors.NumberSequenceSource is number_seq.NumberSequenceSource


def test_runtime_connectors_public_surface() -> None:
    for name in strom.connectors.__all__:
        assert getattr(strom.connectors, name) is not None
    assert set(file_system.__all__) <= set(strom.datastream.connectors.__all__)
