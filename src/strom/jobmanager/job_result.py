"""What a finished job leaves behind."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["JobResult"]


@dataclass
class JobResult:
    job_id: str
    job_name: str
    status: str  # a terminal JobStatus name
    start_time: int
    end_time: int
    #: the root cause of a FAILED job: the user's own exception, with its traceback
    error: BaseException | None = None
    accumulators: dict[str, Any] = field(default_factory=dict)

    @property
    def net_runtime(self) -> int:
        return self.end_time - self.start_time
