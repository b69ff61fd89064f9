"""Reading and writing files: ``FileSource`` and ``FileSink`` (PyFlink's ``file_system``).

Reading text files, bounded::

    source = FileSource.for_record_stream_format(
        StreamFormat.text_line_format(), "/data/in").build()
    env.from_source(source, WatermarkStrategy.no_watermarks(), "files")

Add ``.monitor_continuously(Duration.of_seconds(10))`` before ``build()`` to keep watching
the directories for new files. Writing rows, exactly once with checkpoints::

    sink = (FileSink.for_row_format("/data/out", Encoder.simple_string_encoder())
            .with_rolling_policy(RollingPolicy.on_checkpoint_rolling_policy())
            .build())
    stream.sink_to(sink)

Paths are local paths or ``file://`` URLs.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from strom.connectors._paths import to_local_path
from strom.connectors.file_sink import (
    DEFAULT_BUCKET_CHECK_INTERVAL_MS,
    FileCommitter,
    FileSinkCommittable,
    FileWriter,
    RowEncoder,
)
from strom.connectors.file_sink_config import (
    BucketAssigner,
    DefaultRollingPolicy,
    OnCheckpointRollingPolicy,
    OutputFileConfig,
    RollingPolicy,
)
from strom.connectors.file_source import (
    ContinuousFileSplitEnumerator,
    FileEnumeratorCheckpoint,
    FileSourceReader,
    FileSourceSplit,
    StaticFileSplitEnumerator,
    StreamFormat,
    enumerate_files,
)
from strom.datastream.connectors.base import (
    Boundedness,
    Committer,
    DeliveryGuarantee,
    Sink,
    SinkWriter,
    SinkWriterContext,
    Source,
    SourceReaderContext,
    SplitEnumerator,
    SplitEnumeratorContext,
)

if TYPE_CHECKING:
    from strom.common.time import Duration

__all__ = [
    "BucketAssigner",
    "DefaultRollingPolicy",
    "FileSink",
    "FileSource",
    "FileSourceBuilder",
    "OnCheckpointRollingPolicy",
    "OutputFileConfig",
    "RollingPolicy",
    "StreamFormat",
]


def _interval_ms(discovery_interval: Duration) -> int:
    to_ms = getattr(discovery_interval, "to_milliseconds", None)
    if to_ms is None:
        raise TypeError(
            "monitor_continuously expects a Duration (e.g. Duration.of_seconds(10)), got "
            f"{discovery_interval!r}"
        )
    millis = int(to_ms())
    if millis <= 0:
        raise ValueError(
            f"monitor_continuously needs a positive discovery interval, got {discovery_interval!r}"
        )
    return millis


# ---- FileSource -------------------------------------------------------------------------


class FileSourceBuilder:
    """Configures a :class:`FileSource`; start with ``FileSource.for_record_stream_format``."""

    def __init__(self, stream_format: StreamFormat, paths: list[str]) -> None:
        self._format = stream_format
        self._paths = paths
        self._discovery_interval_ms: int | None = None

    def monitor_continuously(self, discovery_interval: Duration) -> FileSourceBuilder:
        """Streaming mode: keep running and read files that appear under the paths.

        The paths are listed again every ``discovery_interval``; each new file is read
        once. Shorter intervals find files sooner and list the directories more often.
        """
        self._discovery_interval_ms = _interval_ms(discovery_interval)
        return self

    def process_static_file_set(self) -> FileSourceBuilder:
        """Bounded mode (the default): read the files present at start, then finish."""
        self._discovery_interval_ms = None
        return self

    def build(self) -> FileSource:
        """The source. Raises :class:`FileNotFoundError` naming a path that does not exist."""
        for path in self._paths:
            if not os.path.exists(path):
                raise FileNotFoundError(
                    f"FileSource path {path!r} does not exist; create it or fix the path "
                    "given to FileSource.for_record_stream_format"
                )
        return FileSource(self._format, self._paths, self._discovery_interval_ms)


class FileSource(Source[FileSourceSplit]):
    """Reads files, bounded (a static file set) or continuously (watching for new files).

    Each file is one split, handed to whichever reader asks next; directories are read
    recursively, skipping entries whose name starts with ``.`` or ``_``. Build it with
    :meth:`for_record_stream_format`.
    """

    def __init__(
        self,
        stream_format: StreamFormat,
        paths: list[str],
        discovery_interval_ms: int | None = None,
    ) -> None:
        self._format = stream_format
        self._paths = list(paths)
        self._discovery_interval_ms = discovery_interval_ms

    @staticmethod
    def for_record_stream_format(stream_format: StreamFormat, *paths: str) -> FileSourceBuilder:
        """A builder for a source reading ``paths`` (files or directories) with ``stream_format``."""
        if not isinstance(stream_format, StreamFormat):
            raise TypeError(
                "FileSource.for_record_stream_format expects a StreamFormat first (e.g. "
                f"StreamFormat.text_line_format()), got {stream_format!r}"
            )
        if not paths:
            raise ValueError(
                "FileSource.for_record_stream_format needs at least one path after the format"
            )
        local = [to_local_path(path, "FileSource path") for path in paths]
        return FileSourceBuilder(stream_format, local)

    def get_paths(self) -> list[str]:
        """The absolute local paths this source reads."""
        return list(self._paths)

    def get_discovery_interval_ms(self) -> int | None:
        """The re-listing interval in continuous mode; None when bounded."""
        return self._discovery_interval_ms

    def get_boundedness(self) -> Boundedness:
        if self._discovery_interval_ms is None:
            return Boundedness.BOUNDED
        return Boundedness.CONTINUOUS_UNBOUNDED

    def create_enumerator(
        self, context: SplitEnumeratorContext[FileSourceSplit]
    ) -> SplitEnumerator[FileSourceSplit]:
        return self._enumerator(context, None)

    def restore_enumerator(
        self, context: SplitEnumeratorContext[FileSourceSplit], checkpoint: Any
    ) -> SplitEnumerator[FileSourceSplit]:
        if not isinstance(checkpoint, FileEnumeratorCheckpoint):
            raise TypeError(
                "FileSource.restore_enumerator expects a FileEnumeratorCheckpoint (what its "
                f"enumerator's snapshot_state returns), got {checkpoint!r}"
            )
        return self._enumerator(context, checkpoint)

    def _enumerator(
        self,
        context: SplitEnumeratorContext[FileSourceSplit],
        checkpoint: FileEnumeratorCheckpoint | None,
    ) -> SplitEnumerator[FileSourceSplit]:
        if self._discovery_interval_ms is None:
            return StaticFileSplitEnumerator(context, self._paths, checkpoint)
        return ContinuousFileSplitEnumerator(
            context, self._paths, self._discovery_interval_ms, checkpoint
        )

    def create_reader(self, context: SourceReaderContext) -> FileSourceReader:
        return FileSourceReader(context, self._format)

    def list_files(self) -> list[str]:
        """The files the source would read now (for inspection and tests)."""
        return enumerate_files(self._paths)

    def __repr__(self) -> str:
        mode = (
            "static"
            if self._discovery_interval_ms is None
            else f"monitoring every {self._discovery_interval_ms} ms"
        )
        return f"FileSource({self._format!r}, {self._paths!r}, {mode})"


# ---- FileSink -----------------------------------------------------------------------


class FileSink(Sink[FileSinkCommittable]):
    """Writes records into part files in bucket directories under a base path, exactly once.

    Part files are in-progress while written (``.part-<uuid>-<n>.inprogress.<uuid>``),
    pending once the rolling policy closes them, and finished (``part-<uuid>-<n>``) when
    the checkpoint after that completes, or at the end of a bounded input. On restore,
    the checkpoint's pending files are committed, in-progress files are rolled back to
    their checkpointed length and each bucket's part counter continues, so the finished
    files are those of a run without failures. Without checkpoints in an unbounded job,
    files stay in-progress or pending: enable checkpointing.

    Defaults as in Flink: hourly ``yyyy-MM-dd--HH`` buckets in the local time zone,
    ``RollingPolicy.default_rolling_policy()``, prefix ``part``, no suffix, and a bucket
    check (time-based rolling) every 60 s.
    """

    def __init__(
        self,
        base_path: str,
        encoder: RowEncoder,
        bucket_assigner: BucketAssigner | None = None,
        rolling_policy: RollingPolicy | None = None,
        output_file_config: OutputFileConfig | None = None,
        bucket_check_interval_ms: int = DEFAULT_BUCKET_CHECK_INTERVAL_MS,
    ) -> None:
        self._base_path = base_path
        self._encoder = encoder
        self._bucket_assigner = bucket_assigner or BucketAssigner.date_time_bucket_assigner()
        self._rolling_policy = rolling_policy or RollingPolicy.default_rolling_policy()
        self._output_file_config = output_file_config or OutputFileConfig()
        self._bucket_check_interval_ms = bucket_check_interval_ms
        self._type_info: Any = None

    class RowFormatBuilder:
        """Configures a row-format :class:`FileSink`; start with ``FileSink.for_row_format``."""

        def __init__(self, base_path: str, encoder: RowEncoder) -> None:
            self._base_path = base_path
            self._encoder = encoder
            self._bucket_assigner: BucketAssigner | None = None
            self._rolling_policy: RollingPolicy | None = None
            self._output_file_config: OutputFileConfig | None = None
            self._bucket_check_interval_ms = DEFAULT_BUCKET_CHECK_INTERVAL_MS

        def with_bucket_check_interval(self, interval: int) -> FileSink.RowFormatBuilder:
            """How often (milliseconds) time-based rolling policies are checked."""
            if isinstance(interval, bool) or not isinstance(interval, int) or interval <= 0:
                raise ValueError(
                    "with_bucket_check_interval expects a positive int of milliseconds, got "
                    f"{interval!r}"
                )
            self._bucket_check_interval_ms = interval
            return self

        def with_bucket_assigner(
            self, bucket_assigner: BucketAssigner
        ) -> FileSink.RowFormatBuilder:
            if not isinstance(bucket_assigner, BucketAssigner):
                raise TypeError(
                    "with_bucket_assigner expects a BucketAssigner (e.g. "
                    f"BucketAssigner.base_path_bucket_assigner()), got {bucket_assigner!r}"
                )
            self._bucket_assigner = bucket_assigner
            return self

        def with_rolling_policy(self, rolling_policy: RollingPolicy) -> FileSink.RowFormatBuilder:
            if not isinstance(rolling_policy, RollingPolicy):
                raise TypeError(
                    "with_rolling_policy expects a RollingPolicy (e.g. "
                    f"RollingPolicy.on_checkpoint_rolling_policy()), got {rolling_policy!r}"
                )
            self._rolling_policy = rolling_policy
            return self

        def with_output_file_config(
            self, output_file_config: OutputFileConfig
        ) -> FileSink.RowFormatBuilder:
            if not isinstance(output_file_config, OutputFileConfig):
                raise TypeError(
                    "with_output_file_config expects an OutputFileConfig (from "
                    f"OutputFileConfig.builder()...build()), got {output_file_config!r}"
                )
            self._output_file_config = output_file_config
            return self

        def build(self) -> FileSink:
            return FileSink(
                self._base_path,
                self._encoder,
                self._bucket_assigner,
                self._rolling_policy,
                self._output_file_config,
                self._bucket_check_interval_ms,
            )

    @staticmethod
    def for_row_format(base_path: str, encoder: RowEncoder) -> FileSink.RowFormatBuilder:
        """A builder for a sink that writes each record as ``encoder.encode`` bytes.

        ``base_path`` is a local directory or ``file://`` URL; it is created if missing.
        """
        if isinstance(encoder, (str, bytes)) or not callable(getattr(encoder, "encode", None)):
            raise TypeError(
                "FileSink.for_row_format expects an Encoder (e.g. "
                f"Encoder.simple_string_encoder()) as second argument, got {encoder!r}"
            )
        return FileSink.RowFormatBuilder(to_local_path(base_path, "FileSink base_path"), encoder)

    def set_input_type(self, type_info: Any) -> None:
        """The type of the stream written (given to the encoder); the runtime calls this
        before ``create_writer``. None (the default) means pickled Python objects."""
        self._type_info = type_info

    def get_base_path(self) -> str:
        return self._base_path

    def get_bucket_assigner(self) -> BucketAssigner:
        return self._bucket_assigner

    def get_rolling_policy(self) -> RollingPolicy:
        return self._rolling_policy

    def get_output_file_config(self) -> OutputFileConfig:
        return self._output_file_config

    def get_bucket_check_interval(self) -> int:
        return self._bucket_check_interval_ms

    def create_writer(self, context: SinkWriterContext) -> SinkWriter[FileSinkCommittable]:
        return self._new_writer(context)

    def restore_writer(
        self, context: SinkWriterContext, state: list[Any]
    ) -> SinkWriter[FileSinkCommittable]:
        writer = self._new_writer(context)
        writer.restore(state)
        return writer

    def _new_writer(self, context: SinkWriterContext) -> FileWriter:
        return FileWriter(
            context,
            self._base_path,
            self._encoder,
            self._type_info,
            self._bucket_assigner,
            self._rolling_policy,
            self._output_file_config,
            self._bucket_check_interval_ms,
        )

    def create_committer(self) -> Committer[FileSinkCommittable]:
        return FileCommitter()

    def delivery_guarantee(self) -> DeliveryGuarantee:
        return DeliveryGuarantee.EXACTLY_ONCE

    def __repr__(self) -> str:
        return f"FileSink({self._base_path!r})"
