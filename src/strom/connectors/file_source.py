"""The runtime side of ``FileSource``: file discovery, split assignment and line reading.

One split per file (files are never cut into several splits). Discovery walks the given
paths recursively in name order and skips hidden entries (names starting with ``.`` or
``_``, like Flink's default filter). The bounded enumerator assigns the splits found at
start; the continuous one re-lists the paths every discovery interval and turns files it
has not seen before into new splits.

Readers read text lines a block at a time and record their position in the split they
snapshot: a byte offset for charsets where ``\\n`` is the byte ``0x0A`` (UTF-8, Latin-1,
ASCII and the like), and the count of lines already emitted for other charsets (UTF-16),
which are re-read and skipped on restore, as Flink's ``TextLineInputFormat`` does.
"""

from __future__ import annotations

import bz2
import codecs
import gzip
import io
import lzma
import os
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Protocol, TypeVar, cast

from strom.connectors._paths import is_hidden
from strom.connectors._split_queue import QueueSplitEnumerator, SplitCursor, SplitQueueReader
from strom.datastream.connectors.base import (
    SourceReaderContext,
    SourceSplit,
    SplitEnumerator,
    SplitEnumeratorContext,
)

__all__ = [
    "ContinuousFileSplitEnumerator",
    "FileEnumeratorCheckpoint",
    "FileSourceReader",
    "FileSourceSplit",
    "StaticFileSplitEnumerator",
    "StreamFormat",
    "SupportsCallAsync",
    "TextLineFormat",
    "enumerate_files",
]

READ_BLOCK_BYTES = 64 * 1024
"""Bytes read per ``poll_next`` (the batch is the complete lines in them)."""

T = TypeVar("T")

_DECOMPRESSORS: dict[str, Callable[[str], Any]] = {
    ".gz": gzip.GzipFile,
    ".gzip": gzip.GzipFile,
    ".bz2": bz2.BZ2File,
    ".xz": lzma.LZMAFile,
}
_LINE_BREAK = re.compile("\r\n|\r|\n")


@dataclass(frozen=True)
class FileSourceSplit(SourceSplit):
    """One file, from a position on.

    ``offset`` is the byte offset (in the decompressed stream) of the first line not yet
    emitted; ``records_to_skip`` is the number of lines after ``offset`` already emitted
    (used by charsets whose line breaks cannot be found in the raw bytes).
    """

    id: str
    path: str
    offset: int = 0
    records_to_skip: int = 0

    def split_id(self) -> str:
        return self.id


@dataclass(frozen=True)
class FileEnumeratorCheckpoint:
    """A file enumerator's snapshot: splits not assigned yet, and (continuous mode) the
    files already turned into splits, so re-listing does not read them twice."""

    pending_splits: list[FileSourceSplit]
    already_processed_paths: list[str] = field(default_factory=list)
    next_split_id: int = 0


def enumerate_files(paths: Sequence[str]) -> list[str]:
    """All non-hidden files under ``paths`` (files, or directories walked recursively).

    Entries whose name starts with ``.`` or ``_`` are skipped, directories included (and a
    given path itself too, as in Flink). Directory entries come in name order.

    Raises :class:`FileNotFoundError` naming the first path that does not exist.
    """
    found: list[str] = []
    for root in paths:
        if not os.path.exists(root):
            raise FileNotFoundError(
                f"FileSource path {root!r} does not exist; check the path given to "
                "FileSource.for_record_stream_format"
            )
        _collect_files(root, found)
    return found


def _collect_files(path: str, found: list[str]) -> None:
    if is_hidden(os.path.basename(path)):
        return
    if not os.path.isdir(path):
        found.append(path)
        return
    with os.scandir(path) as entries:
        children = sorted(entry.path for entry in entries)
    for child in children:
        _collect_files(child, found)


def _open_binary(path: str) -> BinaryIO:
    """The file's bytes, decompressed when its extension names a compression format."""
    opener = _DECOMPRESSORS.get(os.path.splitext(path)[1].lower())
    if opener is not None:
        return cast(BinaryIO, opener(path))
    return open(path, "rb")


# ---- formats ------------------------------------------------------------------------


class StreamFormat(ABC):
    """A reader format that turns a file's byte stream into records.

    Create the built-in one with :meth:`text_line_format`.
    """

    @staticmethod
    def text_line_format(charset_name: str = "UTF-8") -> StreamFormat:
        """Lines of text decoded with ``charset_name``, without their line break.

        Lines end at ``\\n``, ``\\r\\n`` or ``\\r`` (as Java's ``BufferedReader``);
        undecodable bytes become U+FFFD. Files ending in ``.gz``, ``.gzip``, ``.bz2`` or
        ``.xz`` are decompressed first.
        """
        return TextLineFormat(charset_name)

    @abstractmethod
    def open_split(self, split: FileSourceSplit) -> SplitCursor[FileSourceSplit]:
        """Open ``split`` for reading from the position it records."""


class TextLineFormat(StreamFormat):
    """The text-line :class:`StreamFormat` (Flink's ``TextLineInputFormat``)."""

    def __init__(self, charset_name: str = "UTF-8") -> None:
        try:
            codec = codecs.lookup(charset_name)
        except (LookupError, TypeError) as error:
            raise ValueError(
                f"StreamFormat.text_line_format got an unknown charset {charset_name!r}; "
                "use a name Python's codecs know, such as 'UTF-8' or 'ISO-8859-1'"
            ) from error
        self._charset_name = charset_name
        self._codec_name = codec.name
        # Where "\n" and "\r" are the plain bytes 0x0A/0x0D, lines can be cut in the raw
        # bytes and byte offsets are exact positions.
        try:
            self._byte_lines = "\n\r".encode(codec.name) == b"\n\r"
        except UnicodeError:
            self._byte_lines = False

    def get_charset_name(self) -> str:
        return self._charset_name

    def open_split(self, split: FileSourceSplit) -> SplitCursor[FileSourceSplit]:
        if self._byte_lines:
            return _ByteLineCursor(split, self._codec_name)
        return _DecodedLineCursor(split, self._codec_name)

    def __repr__(self) -> str:
        return f"StreamFormat.text_line_format({self._charset_name!r})"


class _ByteLineCursor:
    """Lines cut at ``\\n`` bytes; the position is the byte offset of the first unread line."""

    __slots__ = ("_charset", "_file", "_offset", "_rest", "_skip", "_split")

    def __init__(self, split: FileSourceSplit, charset: str) -> None:
        self._split = split
        self._charset = charset
        self._file = _open_binary(split.path)
        if split.offset:
            self._file.seek(split.offset)
        self._offset = split.offset
        self._rest = b""
        # Only a split snapshotted by the line-counting cursor has lines to skip.
        self._skip = split.records_to_skip

    @property
    def split_id(self) -> str:
        return self._split.id

    def next_batch(self) -> tuple[list[Any], bool]:
        chunks = [self._rest] if self._rest else []
        exhausted = False
        while True:
            block = self._file.read(READ_BLOCK_BYTES)
            if len(block) < READ_BLOCK_BYTES:  # a short read: the end of the file
                chunks.append(block)
                exhausted = True
                self._rest = b""
                break
            cut = block.rfind(b"\n")
            if cut >= 0:
                chunks.append(block[: cut + 1])
                self._rest = block[cut + 1 :]
                break
            chunks.append(block)  # a line longer than one block: keep reading
        data = b"".join(chunks)
        self._offset += len(data)
        if not data:
            return [], exhausted
        text = data.decode(self._charset, "replace")
        lines = _LINE_BREAK.split(text) if "\r" in text else text.split("\n")
        if lines[-1] == "":
            lines.pop()  # the text ended with a line break
        if self._skip:
            dropped = min(self._skip, len(lines))
            self._skip -= dropped
            del lines[:dropped]
        return lines, exhausted

    def snapshot(self) -> FileSourceSplit:
        return FileSourceSplit(self._split.id, self._split.path, self._offset, self._skip)

    def close(self) -> None:
        self._file.close()


class _DecodedLineCursor:
    """Lines read through a text decoder; the position is the count of lines emitted."""

    __slots__ = ("_emitted", "_split", "_text")

    def __init__(self, split: FileSourceSplit, charset: str) -> None:
        self._split = split
        raw = _open_binary(split.path)
        if split.offset:
            raw.seek(split.offset)
        self._text = io.TextIOWrapper(raw, encoding=charset, errors="replace", newline=None)
        self._emitted = split.records_to_skip
        for _ in range(split.records_to_skip):
            if not self._text.readline():
                break

    @property
    def split_id(self) -> str:
        return self._split.id

    def next_batch(self) -> tuple[list[Any], bool]:
        lines = self._text.readlines(READ_BLOCK_BYTES)
        if not lines:
            return [], True
        self._emitted += len(lines)
        return [line[:-1] if line.endswith("\n") else line for line in lines], False

    def snapshot(self) -> FileSourceSplit:
        return FileSourceSplit(self._split.id, self._split.path, self._split.offset, self._emitted)

    def close(self) -> None:
        self._text.close()


# ---- enumerators --------------------------------------------------------------------


def _make_splits(paths: Iterable[str], first_id: int) -> list[FileSourceSplit]:
    return [FileSourceSplit(str(first_id + i), path) for i, path in enumerate(paths)]


class StaticFileSplitEnumerator(QueueSplitEnumerator[FileSourceSplit]):
    """Bounded mode: lists the paths once at :meth:`start` and assigns one file per request.

    A restored enumerator does not list again; it assigns the splits of its checkpoint.
    """

    def __init__(
        self,
        context: SplitEnumeratorContext[FileSourceSplit],
        paths: Sequence[str],
        checkpoint: FileEnumeratorCheckpoint | None = None,
    ) -> None:
        super().__init__(context, checkpoint.pending_splits if checkpoint else ())
        self._paths = list(paths)
        self._restored = checkpoint is not None
        self._next_id = checkpoint.next_split_id if checkpoint else 0

    def start(self) -> None:
        if self._restored:
            return
        splits = _make_splits(enumerate_files(self._paths), self._next_id)
        self._next_id += len(splits)
        self._pending.extend(splits)

    def snapshot_state(self, checkpoint_id: int) -> FileEnumeratorCheckpoint:
        return FileEnumeratorCheckpoint(list(self._pending), [], self._next_id)


class SupportsCallAsync(Protocol):
    """An enumerator context that can run work periodically (Flink's ``callAsync``).

    ``callable`` runs off the enumerator's thread (it may block on I/O); ``handler`` then
    runs on the enumerator's thread with the result, or with the exception it raised.
    """

    def call_async(
        self,
        callable: Callable[[], T],
        handler: Callable[[T | None, BaseException | None], None],
        initial_delay_ms: int,
        period_ms: int,
    ) -> None: ...


class ContinuousFileSplitEnumerator(SplitEnumerator[FileSourceSplit]):
    """Unbounded mode: lists the paths at start and again every discovery interval.

    Files seen before are skipped, so each file becomes one split, once. Readers asking
    when no split is pending wait until a later listing finds a new file; readers never
    receive ``signal_no_more_splits``.

    Periodic discovery runs through the context's ``call_async`` when the context has
    one (see :class:`SupportsCallAsync`); :meth:`discover_new_files` runs one listing
    synchronously and is what the periodic call does.
    """

    def __init__(
        self,
        context: SplitEnumeratorContext[FileSourceSplit],
        paths: Sequence[str],
        discovery_interval_ms: int,
        checkpoint: FileEnumeratorCheckpoint | None = None,
    ) -> None:
        if discovery_interval_ms <= 0:
            raise ValueError(
                f"the discovery interval must be positive, got {discovery_interval_ms} ms"
            )
        self._context = context
        self._paths = list(paths)
        self._interval_ms = discovery_interval_ms
        self._restored = checkpoint is not None
        self._pending: list[FileSourceSplit] = list(checkpoint.pending_splits) if checkpoint else []
        self._processed: set[str] = set(checkpoint.already_processed_paths) if checkpoint else set()
        self._next_id = checkpoint.next_split_id if checkpoint else 0
        self._awaiting: dict[int, None] = {}  # readers waiting for a split, in request order

    def start(self) -> None:
        if not self._restored:
            self.discover_new_files()
        call_async = getattr(self._context, "call_async", None)
        if call_async is not None:
            call_async(
                self._list_files, self._on_files_listed, self._interval_ms, self._interval_ms
            )

    def discovery_interval_ms(self) -> int:
        """How often the paths are listed again, in milliseconds."""
        return self._interval_ms

    def discover_new_files(self) -> int:
        """List the paths now, turn unseen files into splits, hand them to waiting readers.

        Returns how many new files were found.
        """
        return self._add_new_files(self._list_files())

    def _list_files(self) -> list[str]:
        return enumerate_files(self._paths)

    def _on_files_listed(self, files: list[str] | None, error: BaseException | None) -> None:
        if error is not None:
            raise RuntimeError(
                f"FileSource could not list {self._paths!r} for new files: {error}"
            ) from error
        self._add_new_files(files or [])

    def _add_new_files(self, files: Iterable[str]) -> int:
        new = [path for path in files if path not in self._processed]
        self._processed.update(new)
        self._pending.extend(_make_splits(new, self._next_id))
        self._next_id += len(new)
        self._assign_pending()
        return len(new)

    def _assign_pending(self) -> None:
        if not self._awaiting or not self._pending:
            return
        registered = set(self._context.registered_readers())
        for subtask_id in list(self._awaiting):
            if not self._pending:
                break
            # A reader not registered (yet, or any more) keeps waiting without a split.
            if subtask_id in registered:
                del self._awaiting[subtask_id]
                self._context.assign_split(self._pending.pop(0), subtask_id)

    def handle_split_request(self, subtask_id: int) -> None:
        self._awaiting[subtask_id] = None
        self._assign_pending()

    def add_splits_back(self, splits: list[FileSourceSplit], subtask_id: int) -> None:
        self._pending[:0] = splits
        self._assign_pending()

    def snapshot_state(self, checkpoint_id: int) -> FileEnumeratorCheckpoint:
        return FileEnumeratorCheckpoint(list(self._pending), sorted(self._processed), self._next_id)

    def pending_splits(self) -> list[FileSourceSplit]:
        """The splits found but not assigned yet, in assignment order."""
        return list(self._pending)


class FileSourceReader(SplitQueueReader[FileSourceSplit]):
    """Reads the files assigned to one subtask, one after the other, with a format."""

    def __init__(self, context: SourceReaderContext, stream_format: StreamFormat) -> None:
        super().__init__(context)
        self._format = stream_format

    def open_split(self, split: FileSourceSplit) -> SplitCursor[FileSourceSplit]:
        return self._format.open_split(split)
