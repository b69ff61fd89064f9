"""``RuntimeExecutionMode``: how a job's operators run (PyFlink's
``pyflink.datastream.execution_mode``)."""

from __future__ import annotations

from enum import Enum

__all__ = ["RuntimeExecutionMode"]


class RuntimeExecutionMode(Enum):
    """STREAMING emits results continuously; BATCH runs bounded jobs stage by stage and
    emits final results; AUTOMATIC picks BATCH when every source is bounded.

    The configuration key ``execution.runtime-mode`` takes the member names, in any case.
    """

    STREAMING = 0
    BATCH = 1
    AUTOMATIC = 2
