"""Jobs as the client sees them: ``JobID``, ``JobStatus``, ``JobExecutionResult``, ``JobClient``.

Names and semantics follow PyFlink's ``pyflink.common.job_id``, ``job_status``,
``job_execution_result`` and ``job_client``; ``JobClient`` methods return
``concurrent.futures.Future`` where PyFlink returns a ``CompletableFuture`` (both have
``.result()``).
"""

from __future__ import annotations

import os
import re
from abc import ABC, abstractmethod
from collections.abc import Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from enum import Enum
from typing import Any

__all__ = ["JobClient", "JobExecutionResult", "JobID", "JobStatus", "SavepointRestoreSettings"]

_HEX32 = re.compile(r"[0-9a-fA-F]{32}")


class JobID:
    """The 16-byte id of a job, written as 32 lowercase hex digits (Flink's ``JobID``).

    >>> JobID.from_hex_string("00000000000000000000000000000001")
    JobID('00000000000000000000000000000001')
    """

    __slots__ = ("_hex",)

    def __init__(self, hex_string: str) -> None:
        if not isinstance(hex_string, str) or not _HEX32.fullmatch(hex_string):
            raise ValueError(
                f"A JobID is 32 hexadecimal digits (16 bytes), got {hex_string!r}"
                + (f" ({len(hex_string)} characters)" if isinstance(hex_string, str) else "")
                + ". Copy the id from `strom list` or the REST API's /jobs."
            )
        self._hex = hex_string.lower()

    @staticmethod
    def generate() -> JobID:
        """A new random id."""
        return JobID(os.urandom(16).hex())

    @staticmethod
    def from_hex_string(hex_string: str) -> JobID:
        """Parse 32 hex digits (either case); raises ``ValueError`` naming the input."""
        return JobID(hex_string)

    @staticmethod
    def from_bytes(data: bytes) -> JobID:
        if len(data) != 16:
            raise ValueError(f"A JobID is 16 bytes, got {len(data)} bytes: {data!r}")
        return JobID(bytes(data).hex())

    def to_hex_string(self) -> str:
        return self._hex

    def to_bytes(self) -> bytes:
        return bytes.fromhex(self._hex)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, JobID):
            return self._hex == other._hex
        return NotImplemented

    def __lt__(self, other: JobID) -> bool:
        return self._hex < other._hex

    def __hash__(self) -> int:
        return hash(("JobID", self._hex))

    def __reduce__(self) -> tuple[Any, ...]:
        return (JobID, (self._hex,))

    def __str__(self) -> str:
        return self._hex

    def __repr__(self) -> str:
        return f"JobID({self._hex!r})"


class JobStatus(Enum):
    """The status of a job (Flink's ``JobStatus``; the value is the REST name)."""

    INITIALIZING = "INITIALIZING"
    CREATED = "CREATED"
    RUNNING = "RUNNING"
    FAILING = "FAILING"
    FAILED = "FAILED"
    CANCELLING = "CANCELLING"
    CANCELED = "CANCELED"
    FINISHED = "FINISHED"
    RESTARTING = "RESTARTING"
    SUSPENDED = "SUSPENDED"
    RECONCILING = "RECONCILING"

    def is_globally_terminal_state(self) -> bool:
        """FINISHED, CANCELED or FAILED: the job is over for the whole cluster."""
        return self in _GLOBALLY_TERMINAL

    def is_terminal_state(self) -> bool:
        """Globally terminal, or SUSPENDED (over for this JobManager, e.g. on HA fail-over)."""
        return self in _GLOBALLY_TERMINAL or self is JobStatus.SUSPENDED


_GLOBALLY_TERMINAL = frozenset({JobStatus.FINISHED, JobStatus.CANCELED, JobStatus.FAILED})


@dataclass(frozen=True)
class SavepointRestoreSettings:
    """Where a job's state starts from (Flink's ``SavepointRestoreSettings``): the path of a
    savepoint or retained checkpoint, and whether state of operators the job no longer has
    may be dropped. The JobGraph carries them; the JobMaster restores from them when it
    first deploys the job. strom never deletes the savepoint it restores from (Flink's
    default NO_CLAIM mode).

    >>> SavepointRestoreSettings.none().restore_savepoint()
    False
    >>> SavepointRestoreSettings("file:/tmp/savepoint-1a2b3c-0123456789ab", True)
    SavepointRestoreSettings(restore_path='file:/tmp/savepoint-1a2b3c-0123456789ab', \
allow_non_restored_state=True)
    """

    restore_path: str | None = None
    allow_non_restored_state: bool = False

    @staticmethod
    def none() -> SavepointRestoreSettings:
        """Start from empty state."""
        return SavepointRestoreSettings()

    def restore_savepoint(self) -> bool:
        return bool(self.restore_path)

    @staticmethod
    def from_configuration(configuration: Any) -> SavepointRestoreSettings:
        """From ``execution.state-recovery.path`` (1.x ``execution.savepoint.path``) and
        ``execution.state-recovery.ignore-unclaimed-state``."""
        from strom.common.config_options import (
            STATE_RECOVERY_IGNORE_UNCLAIMED_STATE,
            STATE_RECOVERY_PATH,
        )

        path = configuration.get(STATE_RECOVERY_PATH)
        if not path:
            return SavepointRestoreSettings.none()
        return SavepointRestoreSettings(
            str(path), bool(configuration.get(STATE_RECOVERY_IGNORE_UNCLAIMED_STATE)))


class JobExecutionResult:
    """The result of a finished job: its id, net runtime and accumulator values.

    >>> r = JobExecutionResult(JobID("0" * 32), 1500, {"count": 3})
    >>> r.get_net_runtime(), r.get_accumulator_result("count")
    (1500, 3)
    """

    __slots__ = ("_accumulators", "_job_id", "_net_runtime_ms")

    def __init__(
        self,
        job_id: JobID,
        net_runtime_ms: int,
        accumulators: Mapping[str, Any] | None = None,
    ) -> None:
        self._job_id = job_id
        self._net_runtime_ms = int(net_runtime_ms)
        self._accumulators = dict(accumulators or {})

    def get_job_id(self) -> JobID:
        return self._job_id

    def get_net_runtime(self) -> int:
        """Milliseconds the job ran."""
        return self._net_runtime_ms

    def get_accumulator_result(self, accumulator_name: str) -> Any:
        """The accumulator's final value, or ``None`` when there is none of that name."""
        return self._accumulators.get(accumulator_name)

    def get_all_accumulator_results(self) -> dict[str, Any]:
        return dict(self._accumulators)

    def is_job_execution_result(self) -> bool:
        return True

    def get_job_execution_result(self) -> JobExecutionResult:
        return self

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, JobExecutionResult):
            return NotImplemented
        return (
            self._job_id == other._job_id
            and self._net_runtime_ms == other._net_runtime_ms
            and self._accumulators == other._accumulators
        )

    __hash__ = None  # type: ignore[assignment]

    def __reduce__(self) -> tuple[Any, ...]:
        return (JobExecutionResult, (self._job_id, self._net_runtime_ms, self._accumulators))

    def __str__(self) -> str:
        return (
            f"JobExecutionResult(job_id={self._job_id}, net_runtime={self._net_runtime_ms} ms, "
            f"accumulators={self._accumulators})"
        )

    __repr__ = __str__


class JobClient(ABC):
    """A handle on a submitted job (PyFlink's ``JobClient``). Every method but
    :meth:`get_job_id` works asynchronously and returns a ``Future``."""

    @abstractmethod
    def get_job_id(self) -> JobID:
        """The job's id."""

    @abstractmethod
    def get_job_status(self) -> Future[JobStatus]:
        """The job's current status."""

    @abstractmethod
    def cancel(self) -> Future[None]:
        """Cancel the job; completes when the cancellation was accepted."""

    @abstractmethod
    def stop_with_savepoint(
        self, advance_to_end_of_event_time: bool, savepoint_directory: str | None = None
    ) -> Future[str]:
        """Stop the job with a final savepoint; the future gives the savepoint's path.
        With ``advance_to_end_of_event_time`` the sources emit the maximum watermark first,
        so that all event-time timers fire."""

    @abstractmethod
    def trigger_savepoint(self, savepoint_directory: str | None = None) -> Future[str]:
        """Take a savepoint of the running job; the future gives its path."""

    @abstractmethod
    def get_accumulators(self) -> Future[dict[str, Any]]:
        """Current accumulator values by name."""

    @abstractmethod
    def get_job_execution_result(self) -> Future[JobExecutionResult]:
        """Completes when the job finishes; fails with the job's error when it fails."""
