"""The runtime side of the built-in sources and sinks.

Users reach these through :mod:`strom.datastream.connectors` (``FileSource``,
``FileSink``, ``NumberSequenceSource``) and ``env.from_collection``
(:class:`CollectionSource`); the runtime and tests use the enumerators, readers,
writers and committers defined here.
"""

from __future__ import annotations

from strom.connectors.collection import CollectionSource, CollectionSplit
from strom.connectors.file_sink import (
    FileCommitter,
    FileSinkCommittable,
    FileWriter,
    FileWriterBucketState,
    FileWriterIdentity,
    InProgressFileState,
)
from strom.connectors.file_source import (
    ContinuousFileSplitEnumerator,
    FileEnumeratorCheckpoint,
    FileSourceReader,
    FileSourceSplit,
    StaticFileSplitEnumerator,
    SupportsCallAsync,
    TextLineFormat,
)
from strom.connectors.sequence import NumberSequenceSource, NumberSequenceSplit

__all__ = [
    "CollectionSource",
    "CollectionSplit",
    "ContinuousFileSplitEnumerator",
    "FileCommitter",
    "FileEnumeratorCheckpoint",
    "FileSinkCommittable",
    "FileSourceReader",
    "FileSourceSplit",
    "FileWriter",
    "FileWriterBucketState",
    "FileWriterIdentity",
    "InProgressFileState",
    "NumberSequenceSource",
    "NumberSequenceSplit",
    "StaticFileSplitEnumerator",
    "SupportsCallAsync",
    "TextLineFormat",
]
