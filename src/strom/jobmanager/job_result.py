"""What a finished job leaves behind."""

from __future__ import annotations

from typing import Any

import msgspec

from strom.common.job import JobID, JobStatus
from strom.rpc.errors import SerializedError

__all__ = ["JobResult"]


class JobResult(msgspec.Struct, frozen=True):
    job_id: JobID
    job_name: str
    #: a globally terminal status: FINISHED, FAILED or CANCELED
    status: JobStatus
    start_time: int
    end_time: int
    #: the root cause of a FAILED job: the user's own exception, with its traceback
    error: SerializedError | None = None
    #: accumulator values by name (msgpack primitives: counters, histograms)
    accumulators: dict[str, Any] = {}

    @property
    def net_runtime(self) -> int:
        return self.end_time - self.start_time
