"""Barrier alignment of a task with network inputs (Flink's ``SingleCheckpointBarrierHandler``
for aligned checkpoints and ``CheckpointBarrierTracker`` for at-least-once), without I/O.

The task feeds it what arrives on its channels — barriers, cancel markers, ends of partition —
and it answers with what to do: take the snapshot for a barrier (``on_barrier`` returns it
once barrier *n* is in from every channel that has not ended), or abort a checkpoint (the
returned id; the task tells its operators and forwards a cancel marker).

EXACTLY_ONCE: after barrier *n* arrives on a channel, that channel is blocked (``block``) until
*n* has arrived on every open channel; then all are unblocked (``unblock``), so records after
the barrier never reach the operators before the snapshot. AT_LEAST_ONCE blocks nothing (Flink's
``CheckpointBarrierTracker``): several checkpoints may be in flight on different channels; one
is taken when its last barrier arrives (records after its early barriers are in it), and the
older ones still incomplete then are aborted.

Unaligned barriers (EXACTLY_ONCE only, Flink's unaligned mode of
``SingleCheckpointBarrierHandler``) block nothing: the first one of checkpoint *n* on any
channel, usually its :class:`~strom.network.elements.PriorityBarrier` that overtook the
channel's data, starts the checkpoint at once (``on_priority_barrier``); the task snapshots and
then records each channel's data until that channel's in-order barrier (``finish_channel``)
or end. ``recording`` holds the channels still to finish. Savepoints are always aligned.

A barrier of a newer checkpoint, or a cancel marker, aborts the alignment of an older one. A
channel that ended counts as having delivered every later barrier (Flink keeps checkpointing
after tasks finish), so a finished producer never holds an alignment up.
"""

from __future__ import annotations

from collections.abc import Callable

from strom.network.elements import CheckpointBarrier

__all__ = ["BarrierHandler"]


def _ignore(_channel: int) -> None:
    return None


class BarrierHandler:
    """Alignment over ``num_channels`` channels; ``block``/``unblock`` stop and resume
    polling a channel (only called with ``exactly_once``)."""

    def __init__(self, num_channels: int, exactly_once: bool,
                 block: Callable[[int], None] = _ignore,
                 unblock: Callable[[int], None] = _ignore) -> None:
        self.num_channels = num_channels
        self.exactly_once = exactly_once
        self._block = block
        self._unblock = unblock
        #: the checkpoint being aligned, and the channels its barrier came in on
        self.pending: CheckpointBarrier | None = None
        self.arrived: set[int] = set()
        self.ended: set[int] = set()
        #: arrived | ended, kept as it changes (no union per barrier)
        self._counted: set[int] = set()
        #: the newest checkpoint id taken or aborted here: older barriers are stale
        self.latest_decided = -1
        #: AT_LEAST_ONCE: checkpoints in flight, oldest first, with the channels counted
        self._tracked: dict[int, tuple[CheckpointBarrier, set[int]]] = {}
        #: the unaligned checkpoint whose channel state is being recorded, and the channels
        #: whose in-order barrier is still to come
        self.unaligned: CheckpointBarrier | None = None
        self.recording: set[int] = set()

    @property
    def pending_id(self) -> int | None:
        return None if self.pending is None else self.pending.checkpoint_id

    def blocked_channels(self) -> set[int]:
        return set(self.arrived) if self.exactly_once and self.pending is not None else set()

    def on_barrier(self, channel: int, barrier: CheckpointBarrier
                   ) -> tuple[CheckpointBarrier | None, int | None]:
        """Barrier on ``channel``: returns (the barrier to snapshot for now, or None; the id
        of a checkpoint this barrier aborted, or None)."""
        checkpoint_id = barrier.checkpoint_id
        if checkpoint_id <= self.latest_decided:
            return None, None  # a checkpoint taken or aborted already
        if not self.exactly_once:
            return self._track(channel, barrier)
        aborted = self._abort_unaligned_before(checkpoint_id)
        pending = self.pending
        if pending is not None and checkpoint_id > pending.checkpoint_id:
            aborted = pending.checkpoint_id  # a newer checkpoint overtook it: give it up
            self._release()
            self.latest_decided = aborted
        if self.pending is None:
            self.pending = barrier
        self.arrived.add(channel)
        self._counted.add(channel)
        if self.exactly_once:
            self._block(channel)
        return self._complete_if_aligned(), aborted

    def on_priority_barrier(self, channel: int, barrier: CheckpointBarrier
                            ) -> tuple[CheckpointBarrier | None, int | None]:
        """The first barrier of an unaligned checkpoint on ``channel`` (its priority copy,
        or the barrier itself): returns (the barrier to snapshot for now, or None when the
        checkpoint started already or is over; the id of an older checkpoint it aborted,
        or None). Then :attr:`recording` holds every channel that has not ended."""
        checkpoint_id = barrier.checkpoint_id
        if checkpoint_id <= self.latest_decided:
            return None, None
        aborted = self._abort_unaligned_before(checkpoint_id)
        pending = self.pending
        if pending is not None:  # an older aligned checkpoint: the newer one wins
            aborted = pending.checkpoint_id
            self._release()
        self.latest_decided = checkpoint_id
        self.unaligned = barrier
        self.recording = set(range(self.num_channels)) - self.ended
        return barrier, aborted

    def finish_channel(self, channel: int, checkpoint_id: int) -> bool:
        """The in-order barrier of unaligned checkpoint ``checkpoint_id`` came on
        ``channel`` (or everything before it was captured): True when that completed the
        checkpoint's channel state (the checkpoint is then no longer tracked here)."""
        unaligned = self.unaligned
        if unaligned is None or unaligned.checkpoint_id != checkpoint_id:
            return False
        self.recording.discard(channel)
        if self.recording:
            return False
        self.unaligned = None
        return True

    def _abort_unaligned_before(self, checkpoint_id: int) -> int | None:
        """A newer checkpoint's barrier: an unaligned one still recording is given up."""
        unaligned = self.unaligned
        if unaligned is None or unaligned.checkpoint_id >= checkpoint_id:
            return None
        self.unaligned = None
        self.recording = set()
        return unaligned.checkpoint_id

    def _track(self, channel: int, barrier: CheckpointBarrier
               ) -> tuple[CheckpointBarrier | None, int | None]:
        checkpoint_id = barrier.checkpoint_id
        entry = self._tracked.get(checkpoint_id)
        if entry is None:
            entry = self._tracked[checkpoint_id] = (barrier, set(self.ended))
            self._tracked = dict(sorted(self._tracked.items()))
        entry[1].add(channel)
        return self._complete_tracked(), None

    def _complete_tracked(self) -> CheckpointBarrier | None:
        """The newest tracked checkpoint whose barriers are all in (older ones are dropped:
        a later complete checkpoint subsumes them), or None."""
        for checkpoint_id, (barrier, counted) in reversed(self._tracked.items()):
            if len(counted) >= self.num_channels:
                self._tracked = {c: e for c, e in self._tracked.items() if c > checkpoint_id}
                self.latest_decided = checkpoint_id
                return barrier
        return None

    def on_cancel(self, checkpoint_id: int) -> int | None:
        """A cancel marker: returns the id to abort (once per checkpoint), or None."""
        unaligned = self.unaligned
        if unaligned is not None and unaligned.checkpoint_id <= checkpoint_id:
            self.unaligned = None  # taken, but its channel state will never complete
            self.recording = set()
            self.latest_decided = max(self.latest_decided, checkpoint_id)
            return checkpoint_id
        if checkpoint_id <= self.latest_decided:
            return None
        if not self.exactly_once:
            self._tracked.pop(checkpoint_id, None)
            self.latest_decided = checkpoint_id
            self._tracked = {c: e for c, e in self._tracked.items() if c > checkpoint_id}
            return checkpoint_id
        pending = self.pending
        if pending is not None and pending.checkpoint_id <= checkpoint_id:
            self._release()
        self.latest_decided = max(self.latest_decided, checkpoint_id)
        return checkpoint_id

    def on_end_of_partition(self, channel: int) -> CheckpointBarrier | None:
        """``channel`` ended: it no longer holds an alignment up. Returns the barrier to
        snapshot for if that completed one."""
        self.ended.add(channel)
        self._counted.add(channel)
        if not self.exactly_once:
            for _, counted in self._tracked.values():
                counted.add(channel)
            return self._complete_tracked()
        if self.pending is None:
            return None
        return self._complete_if_aligned()

    def _complete_if_aligned(self) -> CheckpointBarrier | None:
        pending = self.pending
        assert pending is not None
        if len(self._counted) < self.num_channels:
            return None
        self._release()
        self.latest_decided = pending.checkpoint_id
        return pending

    def _release(self) -> None:
        if self.exactly_once:
            for channel in self.arrived:
                self._unblock(channel)
        self.pending = None
        self.arrived = set()
        self._counted = set(self.ended)
