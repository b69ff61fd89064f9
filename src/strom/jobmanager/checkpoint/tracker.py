"""The checkpoint coordinator's decisions, without I/O or an event loop: when to trigger,
which checkpoints are pending, what an acknowledgement, a decline, a finished task or the
passing of time does to them, which completed checkpoints are subsumed, and when failures
exceed ``tolerable-failed-checkpoints``.

The :class:`~strom.jobmanager.checkpoint.coordinator.CheckpointCoordinator` feeds it events
with the time (epoch ms from an injected clock) and carries out what it answers.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from strom.common.checkpointing import CheckpointCoordinatorConfiguration
from strom.network.elements import CheckpointType

__all__ = ["CheckpointTracker", "PendingCheckpoint", "TOLERABLE_FAILURES_EXCEEDED"]

#: Flink's message when consecutive checkpoint failures exceed the tolerable number
TOLERABLE_FAILURES_EXCEEDED = "Exceeded checkpoint tolerable failure threshold."

K = TypeVar("K")
C = TypeVar("C")


@dataclass
class PendingCheckpoint(Generic[K]):
    """A triggered checkpoint waiting for the acknowledgements of ``waiting``."""

    checkpoint_id: int
    timestamp_ms: int
    kind: CheckpointType
    waiting: set[K]
    #: the target directory's URL (empty: job-manager storage)
    location: str = ""
    #: per acknowledging task, what it sent (its ``dict[state_id, SubtaskStateEntry]``)
    acks: dict[K, Any] = field(default_factory=dict)
    #: anything the shell keeps with it (its storage location, a future for the caller)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def fully_acknowledged(self) -> bool:
        return not self.waiting


class CheckpointTracker(Generic[K, C]):
    """Bookkeeping of one job's checkpoints; ``K`` identifies a task (its execution id),
    ``C`` is whatever the shell records as a completed checkpoint."""

    def __init__(self, config: CheckpointCoordinatorConfiguration, next_id: int = 1) -> None:
        self.config = config
        self.next_id = next_id
        self.pending: dict[int, PendingCheckpoint[K]] = {}
        #: completed checkpoints, oldest first (at most ``num_retained``; savepoints are not
        #: kept here: they belong to the user)
        self.completed: deque[tuple[int, C]] = deque()
        self.consecutive_failures = 0
        #: when the last checkpoint ended (completed or aborted), for min-pause
        self.last_end_ms: int | None = None
        self.last_trigger_ms: int | None = None
        self.shut_down = False
        #: periodic checkpoints being triggered: waiting for their id from the job's
        #: checkpoint id counter (they count as pending for ``max_concurrent``)
        self.triggering = 0

    # ------------------------------------------------------------------ triggering
    def next_periodic_trigger(self, now_ms: int) -> int | None:
        """When the next periodic checkpoint may be triggered (epoch ms; ``now_ms`` or
        later), or None while ``max_concurrent`` checkpoints are pending or periodic
        checkpoints are off."""
        interval = self.config.interval_ms
        if not interval or self.shut_down:
            return None
        if self._periodic_pending() >= self.config.max_concurrent:
            return None
        due = now_ms if self.last_trigger_ms is None else self.last_trigger_ms + interval
        if self.last_end_ms is not None:
            due = max(due, self.last_end_ms + self.config.min_pause_ms)
        if self.config.min_pause_ms and (self.pending or self.triggering):
            return None  # min-pause counts from the end of the checkpoint in flight
        return max(due, now_ms)

    def _periodic_pending(self) -> int:
        return self.triggering + sum(1 for p in self.pending.values()
                                     if not p.kind.is_savepoint)

    def begin(self, now_ms: int, kind: CheckpointType, waiting: set[K],
              location: str = "", checkpoint_id: int | None = None) -> PendingCheckpoint[K]:
        """Start a checkpoint that ``waiting`` must acknowledge; returns it with its id (the
        next of its own, or ``checkpoint_id`` from the job's checkpoint id counter)."""
        if checkpoint_id is None:
            checkpoint_id = self.next_id
        self.next_id = max(self.next_id, checkpoint_id + 1)
        pending = PendingCheckpoint(checkpoint_id, now_ms, kind, set(waiting), location)
        self.pending[checkpoint_id] = pending
        if not kind.is_savepoint:
            self.last_trigger_ms = now_ms
        return pending

    # ------------------------------------------------------------------ task events
    def acknowledge(self, checkpoint_id: int, task: K, state: Any
                    ) -> PendingCheckpoint[K] | None:
        """A task's acknowledgement; returns the checkpoint when it is now fully
        acknowledged (the shell then completes it), else None. Late or unknown
        acknowledgements (of an aborted checkpoint) are ignored."""
        pending = self.pending.get(checkpoint_id)
        if pending is None or task not in pending.waiting:
            return None
        pending.waiting.discard(task)
        pending.acks[task] = state
        return pending if pending.fully_acknowledged else None

    def task_finished(self, task: K) -> list[PendingCheckpoint[K]]:
        """A task finished: pending checkpoints no longer wait for it (it has no more state
        to contribute; Flink's checkpoints after tasks finish). Returns the checkpoints that
        became fully acknowledged."""
        ready = []
        for pending in self.pending.values():
            if task in pending.waiting:
                pending.waiting.discard(task)
                if pending.fully_acknowledged:
                    ready.append(pending)
        return ready

    def expired(self, now_ms: int) -> list[PendingCheckpoint[K]]:
        """Pending checkpoints older than the timeout (the shell aborts them)."""
        timeout = self.config.timeout_ms
        return [p for p in self.pending.values() if now_ms - p.timestamp_ms >= timeout]

    # ------------------------------------------------------------------ outcomes
    def complete(self, pending: PendingCheckpoint[K], now_ms: int, completed: C
                 ) -> tuple[list[C], list[PendingCheckpoint[K]]]:
        """``pending`` completed as ``completed``. Returns (completed checkpoints that are
        no longer retained: discard them; older pending checkpoints it subsumes: abort
        them without counting a failure)."""
        self.pending.pop(pending.checkpoint_id, None)
        self.consecutive_failures = 0
        if not pending.kind.is_savepoint:
            self.last_end_ms = now_ms
        if pending.kind.is_savepoint:
            return [], []
        self.completed.append((pending.checkpoint_id, completed))
        dropped = []
        while len(self.completed) > self.config.num_retained:
            dropped.append(self.completed.popleft()[1])
        subsumed = [p for p in self.pending.values()
                    if p.checkpoint_id < pending.checkpoint_id and not p.kind.is_savepoint]
        for p in subsumed:
            del self.pending[p.checkpoint_id]
        return dropped, subsumed

    def abort(self, checkpoint_id: int, now_ms: int, counts_as_failure: bool) -> bool:
        """Drop a pending checkpoint. Returns True when this failure exceeds the tolerable
        number of consecutive failures (the job must fail with
        :data:`TOLERABLE_FAILURES_EXCEEDED`)."""
        pending = self.pending.pop(checkpoint_id, None)
        if pending is None:
            return False
        if not pending.kind.is_savepoint:
            self.last_end_ms = now_ms
        if not counts_as_failure:
            return False
        self.consecutive_failures += 1
        return self.consecutive_failures > self.config.tolerable_failures

    def restore_completed(self, checkpoints: list[tuple[int, C]]) -> list[C]:
        """Checkpoints a new leader recovered (oldest first) become the retained ones; returns
        those beyond ``num_retained`` (the oldest: discard them)."""
        self.completed.extend(checkpoints)
        if checkpoints:
            self.next_id = max(self.next_id, checkpoints[-1][0] + 1)
        dropped = []
        while len(self.completed) > self.config.num_retained:
            dropped.append(self.completed.popleft()[1])
        return dropped

    def latest_completed(self) -> C | None:
        return self.completed[-1][1] if self.completed else None

    def shutdown(self) -> list[PendingCheckpoint[K]]:
        """Stop: returns the pending checkpoints to abort."""
        self.shut_down = True
        pending = list(self.pending.values())
        self.pending.clear()
        return pending
