"""What a ``FileSink`` is configured with: part-file names, rolling policies, bucket assigners.

These are PyFlink's ``OutputFileConfig``, ``RollingPolicy`` and ``BucketAssigner``, with
Flink's defaults and rules (see the FileSink docs). They are plain picklable values; the
writer in :mod:`strom.connectors.file_sink` applies them.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

__all__ = [
    "BasePathBucketAssigner",
    "BucketAssigner",
    "DateTimeBucketAssigner",
    "DefaultRollingPolicy",
    "OnCheckpointRollingPolicy",
    "OutputFileConfig",
    "RollingPolicy",
    "compile_date_time_pattern",
]

# ---- part-file names ----------------------------------------------------------------


class OutputFileConfig:
    """Part-file name prefix (default ``"part"``) and suffix (default ``""``).

    A finished part file is named ``<prefix>-<uuid>-<counter><suffix>``.
    """

    def __init__(self, part_prefix: str = "part", part_suffix: str = "") -> None:
        for name, value in (("part_prefix", part_prefix), ("part_suffix", part_suffix)):
            if not isinstance(value, str):
                raise TypeError(f"OutputFileConfig {name} must be a str, got {value!r}")
            if "/" in value or "\\" in value:
                raise ValueError(
                    f"OutputFileConfig {name} must not contain a path separator, got {value!r}"
                )
        self._part_prefix = part_prefix
        self._part_suffix = part_suffix

    @staticmethod
    def builder() -> OutputFileConfig.OutputFileConfigBuilder:
        return OutputFileConfig.OutputFileConfigBuilder()

    def get_part_prefix(self) -> str:
        return self._part_prefix

    def get_part_suffix(self) -> str:
        return self._part_suffix

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, OutputFileConfig):
            return NotImplemented
        return (self._part_prefix, self._part_suffix) == (other._part_prefix, other._part_suffix)

    def __hash__(self) -> int:
        return hash((self._part_prefix, self._part_suffix))

    def __repr__(self) -> str:
        return f"OutputFileConfig({self._part_prefix!r}, {self._part_suffix!r})"

    class OutputFileConfigBuilder:
        """Builds an :class:`OutputFileConfig`."""

        def __init__(self) -> None:
            self.part_prefix = "part"
            self.part_suffix = ""

        def with_part_prefix(self, prefix: str) -> OutputFileConfig.OutputFileConfigBuilder:
            self.part_prefix = prefix
            return self

        def with_part_suffix(self, suffix: str) -> OutputFileConfig.OutputFileConfigBuilder:
            self.part_suffix = suffix
            return self

        def build(self) -> OutputFileConfig:
            return OutputFileConfig(self.part_prefix, self.part_suffix)


# ---- rolling policies -------------------------------------------------------------------


class RollingPolicy(ABC):
    """When an in-progress part file is closed (becomes pending) and a new one begins.

    The writer asks at three moments: before writing each record (:meth:`max_part_size`:
    roll when the file is already larger), at each checkpoint
    (:meth:`should_roll_on_checkpoint`) and on the periodic bucket check
    (:meth:`should_roll_on_processing_time`). Times are epoch milliseconds.
    """

    @staticmethod
    def default_rolling_policy(
        part_size: int = 1024 * 1024 * 128,
        rollover_interval: int = 60 * 1000,
        inactivity_interval: int = 60 * 1000,
    ) -> DefaultRollingPolicy:
        """Roll when the file is larger than ``part_size`` bytes, older than
        ``rollover_interval`` ms, or not written for ``inactivity_interval`` ms."""
        return DefaultRollingPolicy(part_size, rollover_interval, inactivity_interval)

    @staticmethod
    def on_checkpoint_rolling_policy() -> OnCheckpointRollingPolicy:
        """Roll on every checkpoint, and only then."""
        return OnCheckpointRollingPolicy()

    @abstractmethod
    def max_part_size(self) -> int | None:
        """Roll before a record when the file holds more bytes than this; None: never."""

    @abstractmethod
    def should_roll_on_checkpoint(self, size: int) -> bool:
        """Whether a checkpoint closes an in-progress file of ``size`` bytes."""

    @abstractmethod
    def should_roll_on_processing_time(
        self, creation_time: int, last_update_time: int, now: int
    ) -> bool:
        """Whether the periodic check at ``now`` closes a file created/last written then."""


class DefaultRollingPolicy(RollingPolicy):
    """Flink's ``DefaultRollingPolicy``: size, rollover interval and inactivity."""

    def __init__(self, part_size: int, rollover_interval: int, inactivity_interval: int) -> None:
        for name, value in (
            ("part_size", part_size),
            ("rollover_interval", rollover_interval),
            ("inactivity_interval", inactivity_interval),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(
                    f"RollingPolicy.default_rolling_policy {name} must be a positive int "
                    f"(bytes for part_size, milliseconds otherwise), got {value!r}"
                )
        self._part_size = part_size
        self._rollover_interval = rollover_interval
        self._inactivity_interval = inactivity_interval

    def get_max_part_size(self) -> int:
        return self._part_size

    def get_rollover_interval(self) -> int:
        return self._rollover_interval

    def get_inactivity_interval(self) -> int:
        return self._inactivity_interval

    def max_part_size(self) -> int | None:
        return self._part_size

    def should_roll_on_checkpoint(self, size: int) -> bool:
        return size > self._part_size

    def should_roll_on_processing_time(
        self, creation_time: int, last_update_time: int, now: int
    ) -> bool:
        return (
            now - creation_time >= self._rollover_interval
            or now - last_update_time >= self._inactivity_interval
        )

    def __repr__(self) -> str:
        return (
            f"RollingPolicy.default_rolling_policy(part_size={self._part_size}, "
            f"rollover_interval={self._rollover_interval}, "
            f"inactivity_interval={self._inactivity_interval})"
        )


class OnCheckpointRollingPolicy(RollingPolicy):
    """Flink's ``OnCheckpointRollingPolicy``: every checkpoint closes the file, nothing else."""

    def max_part_size(self) -> int | None:
        return None

    def should_roll_on_checkpoint(self, size: int) -> bool:
        return True

    def should_roll_on_processing_time(
        self, creation_time: int, last_update_time: int, now: int
    ) -> bool:
        return False

    def __repr__(self) -> str:
        return "RollingPolicy.on_checkpoint_rolling_policy()"


# ---- bucket assigners ---------------------------------------------------------------


class BucketAssigner(ABC):
    """Chooses the bucket (sub-directory of the base path) part files are written to.

    Both built-in assigners depend only on the processing time, so the writer asks once
    per batch: :meth:`get_bucket_id` receives the current time in epoch milliseconds.
    """

    @staticmethod
    def base_path_bucket_assigner() -> BasePathBucketAssigner:
        """All part files directly in the base path (one global bucket)."""
        return BasePathBucketAssigner()

    @staticmethod
    def date_time_bucket_assigner(
        format_str: str = "yyyy-MM-dd--HH", timezone_id: str | None = None
    ) -> DateTimeBucketAssigner:
        """Buckets named by the current time in a Java date-time pattern (hourly by default).

        ``timezone_id`` is an IANA name (``"Europe/Berlin"``), ``"UTC"``, or an offset
        (``"GMT-08:00"``, ``"+05:30"``); None uses the system's local time zone.
        """
        return DateTimeBucketAssigner(format_str, timezone_id)

    @abstractmethod
    def get_bucket_id(self, now_ms: int) -> str:
        """The bucket for records written at ``now_ms``: a relative path, "" for the base."""


class BasePathBucketAssigner(BucketAssigner):
    """Flink's ``BasePathBucketAssigner``: the bucket id is always ``""``."""

    def get_bucket_id(self, now_ms: int) -> str:
        return ""

    def __repr__(self) -> str:
        return "BucketAssigner.base_path_bucket_assigner()"


class DateTimeBucketAssigner(BucketAssigner):
    """Flink's ``DateTimeBucketAssigner``: the processing time formatted with a pattern."""

    def __init__(self, format_str: str = "yyyy-MM-dd--HH", timezone_id: str | None = None) -> None:
        self._format_str = format_str
        self._timezone_id = timezone_id
        self._formatter = compile_date_time_pattern(format_str)
        self._tz = _parse_timezone(timezone_id)

    def get_format_str(self) -> str:
        return self._format_str

    def get_timezone_id(self) -> str | None:
        return self._timezone_id

    def get_bucket_id(self, now_ms: int) -> str:
        moment = dt.datetime.fromtimestamp(now_ms / 1000, tz=self._tz)
        if self._tz is None:
            moment = moment.astimezone()  # attach the local zone for z/Z letters
        return self._formatter(moment)

    def __getstate__(self) -> dict[str, Any]:
        # The compiled formatter holds lambdas; ship the pattern and rebuild it.
        return {"format_str": self._format_str, "timezone_id": self._timezone_id}

    def __setstate__(self, state: dict[str, Any]) -> None:
        DateTimeBucketAssigner.__init__(self, state["format_str"], state["timezone_id"])

    def __repr__(self) -> str:
        return (
            f"BucketAssigner.date_time_bucket_assigner({self._format_str!r}, {self._timezone_id!r})"
        )


_OFFSET_ZONE = re.compile(r"^(?:GMT|UTC|UT)?([+-])(\d{1,2})(?::?(\d{2}))?$")


def _parse_timezone(timezone_id: str | None) -> dt.tzinfo | None:
    if timezone_id is None:
        return None
    if timezone_id in ("Z", "UTC", "GMT", "UT"):
        return dt.UTC
    match = _OFFSET_ZONE.match(timezone_id)
    if match:
        sign, hours, minutes = match.groups()
        offset = dt.timedelta(hours=int(hours), minutes=int(minutes or 0))
        return dt.timezone(-offset if sign == "-" else offset)
    try:
        return zoneinfo.ZoneInfo(timezone_id)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError(
            f"unknown timezone_id {timezone_id!r}; give an IANA zone name such as "
            "'America/Los_Angeles', 'UTC', or an offset such as 'GMT-08:00'"
        ) from error


# ---- Java date-time patterns ----------------------------------------------------------

_Field = Callable[[dt.datetime], str]


def _padded(value: Callable[[dt.datetime], int], width: int) -> _Field:
    return lambda moment: str(value(moment)).zfill(width)


def _field(letter: str, count: int, pattern: str) -> _Field:
    if letter in "yu":
        if count == 2:
            return lambda m: str(m.year % 100).zfill(2)
        return _padded(lambda m: m.year, count)
    if letter in "ML":
        if count == 3:
            return lambda m: m.strftime("%b")
        if count >= 4:
            return lambda m: m.strftime("%B")
        return _padded(lambda m: m.month, count)
    simple: dict[str, Callable[[dt.datetime], int]] = {
        "d": lambda m: m.day,
        "D": lambda m: m.timetuple().tm_yday,
        "H": lambda m: m.hour,
        "k": lambda m: m.hour or 24,
        "K": lambda m: m.hour % 12,
        "h": lambda m: m.hour % 12 or 12,
        "m": lambda m: m.minute,
        "s": lambda m: m.second,
    }
    if letter in simple:
        return _padded(simple[letter], count)
    if letter == "S":
        return lambda m: f"{m.microsecond:06d}{'0' * max(0, count - 6)}"[:count]
    if letter == "E":
        return (lambda m: m.strftime("%A")) if count >= 4 else (lambda m: m.strftime("%a"))
    if letter == "a":
        return lambda m: m.strftime("%p")
    if letter == "Z":
        return lambda m: m.strftime("%z")
    if letter == "z":
        return lambda m: m.strftime("%Z")
    raise ValueError(
        f"the date-time pattern {pattern!r} uses the letter {letter!r}, which the bucket "
        "assigner does not support; use letters from y u M L d D H k K h m s S E a z Z and "
        "quote literal text in single quotes"
    )


def compile_date_time_pattern(pattern: str) -> Callable[[dt.datetime], str]:
    """A formatter for a Java ``DateTimeFormatter``/``SimpleDateFormat`` pattern.

    Letters repeated give the field width (``yyyy-MM-dd--HH``); text in single quotes is
    literal (``''`` is a quote); other non-letters are copied.

    >>> compile_date_time_pattern("yyyy-MM-dd--HH")(dt.datetime(2024, 3, 5, 7))
    '2024-03-05--07'
    """
    if not isinstance(pattern, str) or not pattern:
        raise ValueError(f"the date-time pattern must be a non-empty str, got {pattern!r}")
    parts: list[str | _Field] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "'":
            end = i + 1
            literal = []
            while True:
                if end >= len(pattern):
                    raise ValueError(f"the date-time pattern {pattern!r} has an unclosed quote")
                if pattern[end] == "'":
                    if end + 1 < len(pattern) and pattern[end + 1] == "'":
                        literal.append("'")
                        end += 2
                        continue
                    break
                literal.append(pattern[end])
                end += 1
            parts.append("".join(literal) if end > i + 1 else "'")
            i = end + 1
        elif char.isascii() and char.isalpha():
            end = i
            while end < len(pattern) and pattern[end] == char:
                end += 1
            parts.append(_field(char, end - i, pattern))
            i = end
        else:
            parts.append(char)
            i += 1
    frozen = tuple(parts)

    def format_moment(moment: dt.datetime) -> str:
        return "".join(part if isinstance(part, str) else part(moment) for part in frozen)

    return format_moment
