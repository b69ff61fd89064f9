"""Sources and sinks (PyFlink's ``pyflink.datastream.connectors``).

The interfaces every connector builds on (:class:`Source`, :class:`Sink` and their
parts) and the built-in connectors: files (:class:`FileSource`, :class:`FileSink`) and
number sequences (:class:`NumberSequenceSource`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from strom.datastream.connectors.base import (
    Boundedness,
    Committer,
    DeliveryGuarantee,
    InputStatus,
    ReaderOutput,
    Sink,
    SinkWriter,
    SinkWriterContext,
    Source,
    SourceReader,
    SourceReaderContext,
    SourceSplit,
    SplitEnumerator,
    SplitEnumeratorContext,
)

if TYPE_CHECKING:
    from strom.datastream.connectors.file_system import (
        BucketAssigner,
        DefaultRollingPolicy,
        FileSink,
        FileSource,
        FileSourceBuilder,
        OnCheckpointRollingPolicy,
        OutputFileConfig,
        RollingPolicy,
        StreamFormat,
    )
    from strom.datastream.connectors.number_seq import NumberSequenceSource

# The built-in connectors load on first use: their runtime halves (strom.connectors)
# import .base, so importing them here eagerly would make the two packages import each
# other while half-initialised.
_LAZY_EXPORTS = {
    "BucketAssigner": "file_system",
    "DefaultRollingPolicy": "file_system",
    "FileSink": "file_system",
    "FileSource": "file_system",
    "FileSourceBuilder": "file_system",
    "OnCheckpointRollingPolicy": "file_system",
    "OutputFileConfig": "file_system",
    "RollingPolicy": "file_system",
    "StreamFormat": "file_system",
    "NumberSequenceSource": "number_seq",
}


def __getattr__(name: str) -> Any:
    module_name = _LAZY_EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module_name}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY_EXPORTS))


__all__ = [
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
