"""Window types: :class:`TimeWindow`, :class:`CountWindow`, :class:`GlobalWindow`.

Windows are the namespaces of window state and timers, so they are small immutable values
with cheap, stable equality and hashing.
"""

from __future__ import annotations

import struct
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from typing import IO, Any, ClassVar

from strom.common.watermark_strategy import LONG_MAX

__all__ = [
    "CountWindow",
    "CountWindowSerializer",
    "GlobalWindow",
    "GlobalWindowSerializer",
    "TimeWindow",
    "TimeWindowSerializer",
    "Window",
]

_TWO_LONGS = struct.Struct(">qq")
_ONE_LONG = struct.Struct(">q")


class Window(ABC):
    """A finite bucket of elements. Every element of a window has arrived once time passes
    :meth:`max_timestamp`."""

    __slots__ = ()

    @abstractmethod
    def max_timestamp(self) -> int:
        """The largest timestamp (epoch ms) that still belongs to this window."""


class TimeWindow(Window):
    """The time interval ``[start, end)`` in epoch milliseconds.

    >>> TimeWindow(0, 5).max_timestamp()
    4
    """

    __slots__ = ("_hash", "end", "start")

    start: int
    end: int

    def __init__(self, start: int, end: int) -> None:
        self.start = start
        self.end = end
        # windows are state namespaces, hashed several times per element
        self._hash = hash((start, end))

    def max_timestamp(self) -> int:
        return self.end - 1

    def intersects(self, other: TimeWindow) -> bool:
        """True if the windows overlap or touch (``[0, 5)`` and ``[5, 9)`` intersect), which is
        when session windows merge."""
        return self.start <= other.end and self.end >= other.start

    def cover(self, other: TimeWindow) -> TimeWindow:
        """The smallest window that contains both windows."""
        return TimeWindow(min(self.start, other.start), max(self.end, other.end))

    @staticmethod
    def get_window_start_with_offset(timestamp: int, offset: int, window_size: int) -> int:
        """The start of the window of size ``window_size`` (shifted by ``offset``) that holds
        ``timestamp``: ``timestamp - (timestamp - offset + window_size) % window_size``."""
        return timestamp - (timestamp - offset + window_size) % window_size

    @staticmethod
    def merge_windows(
        windows: Iterable[TimeWindow], callback: Any
    ) -> None:
        """Group intersecting windows and report each group of two or more to
        ``callback.merge(windows_of_the_group, covering_window)``.

        ``callback`` is a :class:`MergingWindowAssigner.MergeCallback` or a plain callable
        ``(to_be_merged, merge_result)``.
        """
        report: Callable[[set[TimeWindow], TimeWindow], Any] = (
            callback.merge if hasattr(callback, "merge") else callback
        )
        current: TimeWindow | None = None
        group: set[TimeWindow] = set()
        for candidate in sorted(windows):
            if current is None:
                current = candidate
                group = {candidate}
            elif current.intersects(candidate):
                current = current.cover(candidate)
                group.add(candidate)
            else:
                if len(group) > 1:
                    report(group, current)
                current = candidate
                group = {candidate}
        if current is not None and len(group) > 1:
            report(group, current)

    def __eq__(self, other: object) -> bool:
        return (
            type(other) is TimeWindow and self.start == other.start and self.end == other.end
        )

    def __hash__(self) -> int:
        return self._hash

    def __lt__(self, other: TimeWindow) -> bool:
        if not isinstance(other, TimeWindow):
            return NotImplemented
        return (self.start, self.end) < (other.start, other.end)

    def __le__(self, other: TimeWindow) -> bool:
        if not isinstance(other, TimeWindow):
            return NotImplemented
        return (self.start, self.end) <= (other.start, other.end)

    def __gt__(self, other: TimeWindow) -> bool:
        if not isinstance(other, TimeWindow):
            return NotImplemented
        return (self.start, self.end) > (other.start, other.end)

    def __ge__(self, other: TimeWindow) -> bool:
        if not isinstance(other, TimeWindow):
            return NotImplemented
        return (self.start, self.end) >= (other.start, other.end)

    def __reduce__(self) -> tuple[Any, ...]:
        return (TimeWindow, (self.start, self.end))

    def __repr__(self) -> str:
        return f"TimeWindow(start={self.start}, end={self.end})"


class CountWindow(Window):
    """A count window, identified by a per-key sequence number ``id``. It never ends in time:
    ``max_timestamp()`` is ``LONG_MAX``."""

    __slots__ = ("id",)

    id: int

    def __init__(self, id: int) -> None:
        self.id = id

    def max_timestamp(self) -> int:
        return LONG_MAX

    def __eq__(self, other: object) -> bool:
        return type(other) is CountWindow and self.id == other.id

    def __hash__(self) -> int:
        return hash(("CountWindow", self.id))

    def __lt__(self, other: CountWindow) -> bool:
        if not isinstance(other, CountWindow):
            return NotImplemented
        return self.id < other.id

    def __reduce__(self) -> tuple[Any, ...]:
        return (CountWindow, (self.id,))

    def __repr__(self) -> str:
        return f"CountWindow(id={self.id})"


class GlobalWindow(Window):
    """The single window that :class:`GlobalWindows` puts every element into. All instances are
    equal; :meth:`get` returns the shared one."""

    __slots__ = ()

    _INSTANCE: ClassVar[GlobalWindow]

    @staticmethod
    def get() -> GlobalWindow:
        return GlobalWindow._INSTANCE

    def max_timestamp(self) -> int:
        return LONG_MAX

    def __eq__(self, other: object) -> bool:
        return type(other) is GlobalWindow

    def __hash__(self) -> int:
        return 0

    def __reduce__(self) -> tuple[Any, ...]:
        return (GlobalWindow.get, ())

    def __repr__(self) -> str:
        return "GlobalWindow"


GlobalWindow._INSTANCE = GlobalWindow()


class TimeWindowSerializer:
    """Writes a :class:`TimeWindow` as two big-endian signed 64-bit integers (16 bytes)."""

    def serialize(self, element: TimeWindow, stream: IO[bytes]) -> None:
        stream.write(_TWO_LONGS.pack(element.start, element.end))

    def deserialize(self, stream: IO[bytes]) -> TimeWindow:
        data = stream.read(_TWO_LONGS.size)
        if len(data) != _TWO_LONGS.size:
            raise EOFError(
                f"a TimeWindow needs {_TWO_LONGS.size} bytes, the stream had {len(data)}"
            )
        start, end = _TWO_LONGS.unpack(data)
        return TimeWindow(start, end)


class CountWindowSerializer:
    """Writes a :class:`CountWindow` as its id, a big-endian signed 64-bit integer."""

    def serialize(self, element: CountWindow, stream: IO[bytes]) -> None:
        stream.write(_ONE_LONG.pack(element.id))

    def deserialize(self, stream: IO[bytes]) -> CountWindow:
        data = stream.read(_ONE_LONG.size)
        if len(data) != _ONE_LONG.size:
            raise EOFError(
                f"a CountWindow needs {_ONE_LONG.size} bytes, the stream had {len(data)}"
            )
        return CountWindow(_ONE_LONG.unpack(data)[0])


class GlobalWindowSerializer:
    """Writes the :class:`GlobalWindow` as a single zero byte."""

    def serialize(self, element: GlobalWindow, stream: IO[bytes]) -> None:
        stream.write(b"\x00")

    def deserialize(self, stream: IO[bytes]) -> GlobalWindow:
        if stream.read(1) != b"\x00":
            raise ValueError("not a serialized GlobalWindow: expected one zero byte")
        return GlobalWindow.get()
