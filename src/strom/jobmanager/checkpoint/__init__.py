"""Checkpoint coordination in the JobMaster: the decisions (:mod:`.tracker`, no I/O) and the
coordinator that carries them out on the JobMaster's loop (:mod:`.coordinator`)."""

from strom.jobmanager.checkpoint.coordinator import (
    CheckpointAbortedError,
    CheckpointCoordinator,
    CompletedCheckpoint,
    TolerableCheckpointFailuresExceededError,
)
from strom.jobmanager.checkpoint.tracker import TOLERABLE_FAILURES_EXCEEDED, CheckpointTracker

__all__ = ["TOLERABLE_FAILURES_EXCEEDED", "CheckpointAbortedError", "CheckpointCoordinator",
           "CheckpointTracker", "CompletedCheckpoint",
           "TolerableCheckpointFailuresExceededError"]
