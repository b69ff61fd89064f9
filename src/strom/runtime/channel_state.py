"""Channel state of unaligned checkpoints: the in-flight data a checkpoint persists next to
the operators' state, and its replay on restore (Flink's ``ChannelStateWriter`` and
``SequentialChannelStateReader``).

A task takes an unaligned checkpoint at the first barrier on any input channel. What it
persists besides its operators' state:

* **input channel state**, per input channel (its index in the task's input gate): every
  element read from that channel after the snapshot and before the channel's own barrier
  (:meth:`ChannelStateWriter.record`), plus what was still queued in the channel before that
  barrier when the task looked (:meth:`ChannelStateWriter.capture`, so a back-pressured task
  need not process its input to finish the checkpoint). These elements are still processed
  normally; the copy is what a restore replays.
* **output channel state**, per (record writer, subchannel): what the barrier overtook in the
  task's output buffers (records not yet sent for lack of credit).

On restore, the task re-sends its output channel state before anything it emits, and feeds
its input channel state to its operators (channel by channel, in the order it arrived)
before it reads its channels, so nothing is lost or doubled.

Each element is pickled when it is recorded: the task goes on processing the same objects,
and a user function that changes a record in place must not change the checkpoint.
"""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from strom.common import _pickling
from strom.network.elements import (
    CheckpointBarrier,
    RecordBatch,
    WatermarkEvent,
    WatermarkStatusEvent,
)
from strom.state.checkpoint_metadata import CheckpointMetadata, StateHandle
from strom.state.snapshots import RestoredOperatorState

__all__ = ["ChannelState", "ChannelStateWriter", "UnalignedRescaleError",
           "assign_channel_state", "check_channel_state_parallelism", "freeze_element", "thaw_element"]

#: the elements that are channel state (barriers and cancel markers of a checkpoint that is
#: restored from are over; an end of partition never precedes a barrier)
_PERSISTED = (RecordBatch, WatermarkEvent, WatermarkStatusEvent)


def freeze_element(element: Any) -> bytes:
    """``element`` pickled (user types of the job script by value, as the wire does)."""
    try:
        return pickle.dumps(element, protocol=5)
    except (pickle.PicklingError, AttributeError, TypeError):
        return _pickling.dumps(element)


def thaw_element(data: bytes) -> Any:
    return pickle.loads(data)


@dataclass
class ChannelState:
    """One subtask's channel state: pickled elements (:func:`freeze_element`) per input
    channel index and per (writer index, subchannel)."""

    inputs: dict[int, list[bytes]] = field(default_factory=dict)
    outputs: dict[tuple[int, int], list[bytes]] = field(default_factory=dict)

    def is_empty(self) -> bool:
        return not any(self.inputs.values()) and not any(self.outputs.values())

    def input_elements(self) -> list[tuple[int, Any]]:
        """``(channel, element)`` to replay, channel by channel in channel order."""
        return [(channel, thaw_element(data)) for channel in sorted(self.inputs)
                for data in self.inputs[channel]]

    def output_elements(self, writer: int, subchannel: int) -> list[Any]:
        return [thaw_element(data) for data in self.outputs.get((writer, subchannel), ())]


class ChannelStateWriter:
    """Collects the channel state of one unaligned checkpoint while its barriers come in.

    ``recording`` are the input channels whose barrier is still to come (the barrier
    handler's own set, not a copy); the checkpoint's channel state is complete when it is
    empty (:attr:`complete`)."""

    def __init__(self, barrier: CheckpointBarrier, states: dict[str, Any],
                 recording: set[int]) -> None:
        self.barrier = barrier
        #: the operators' snapshots, handed on when the channel state is complete
        self.states = states
        #: shared with the barrier handler, which removes a channel when its barrier came
        self.recording = recording
        self.state = ChannelState()

    @property
    def checkpoint_id(self) -> int:
        return self.barrier.checkpoint_id

    @property
    def complete(self) -> bool:
        return not self.recording

    def add_outputs(self, writer: int, overtaken: Sequence[Sequence[Any]]) -> None:
        """What the barrier overtook in writer ``writer``'s subchannels."""
        for subchannel, elements in enumerate(overtaken):
            kept = [freeze_element(e) for e in elements if type(e) in _PERSISTED]
            if kept:
                self.state.outputs[(writer, subchannel)] = kept

    def record(self, channel: int, element: Any) -> None:
        """``element`` was read from ``channel`` before the channel's barrier."""
        if channel in self.recording and type(element) in _PERSISTED:
            self.state.inputs.setdefault(channel, []).append(freeze_element(element))

    def capture(self, channel: int, queued: Sequence[Any]) -> None:
        """``queued`` is everything left in ``channel`` before its barrier: the channel's
        state is complete (what the task reads from it later is not recorded again)."""
        for element in queued:
            self.record(channel, element)
        self.recording.discard(channel)

    def finish_channel(self, channel: int) -> None:
        """The channel's barrier arrived (or the channel ended)."""
        self.recording.discard(channel)


class UnalignedRescaleError(ValueError):
    """A checkpoint with channel state cannot be restored at another parallelism."""


def check_channel_state_parallelism(
    metadata: CheckpointMetadata, vertices: Sequence[tuple[Any, int, Sequence[str]]]
) -> None:
    """Raises :class:`UnalignedRescaleError` when ``metadata`` holds channel state and an
    operator of the new program (``vertices``: vertex id, parallelism, chain state ids) runs
    at another parallelism than it did: channel state is restored at the same parallelism
    only, upstream and downstream of it alike (its channel indexes are the old subtasks').
    Savepoints have no channel state, so a job rescales through a savepoint."""
    owner = next((entry for entry in metadata.operators
                  if any(s.channel_state is not None for s in entry.subtasks.values())), None)
    if owner is None:
        return
    for _, parallelism, state_ids in vertices:
        for state_id in state_ids:
            entry = metadata.operator(state_id)
            if entry is not None and entry.parallelism != parallelism:
                raise UnalignedRescaleError(
                    f"Checkpoint {metadata.checkpoint_id} of job {metadata.job_id} is an "
                    f"unaligned checkpoint: operator {owner.state_id} ({owner.name!r}) "
                    "persisted in-flight data (channel state), and strom restores channel "
                    "state only at the parallelism it was taken with, but operator "
                    f"{entry.state_id} ({entry.name!r}) ran at parallelism "
                    f"{entry.parallelism} and is to restore at {parallelism}. Restore with "
                    "the old parallelism, or take a savepoint (always aligned, without "
                    "channel state) and rescale from that.")


def assign_channel_state(
    metadata: CheckpointMetadata,
    vertices: Sequence[tuple[Any, int, Sequence[str]]],
    assigned: dict[tuple[Any, int], dict[str, RestoredOperatorState]],
) -> dict[tuple[Any, int], dict[str, RestoredOperatorState]]:
    """``assigned`` with each subtask's channel state handle on its head operator's restored
    state (``vertices``: vertex id, parallelism and chain state ids, head first); checks the
    parallelism first (:func:`check_channel_state_parallelism`)."""
    check_channel_state_parallelism(metadata, vertices)
    out = dict(assigned)
    for vertex_id, parallelism, state_ids in vertices:
        entry = metadata.operator(state_ids[0]) if state_ids else None
        if entry is None:
            continue
        head = state_ids[0]
        for subtask, sub in entry.subtasks.items():
            handle: StateHandle | None = sub.channel_state
            if handle is None or subtask >= parallelism:
                continue
            states = dict(out.get((vertex_id, subtask), {}))
            restored = states.get(head) or RestoredOperatorState(metadata.checkpoint_id)
            states[head] = replace(restored, channel_state=handle)
            out[(vertex_id, subtask)] = states
    return out
