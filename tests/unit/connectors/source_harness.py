"""Drives real SourceOperators and their SourceCoordinator in one thread, with the events
between them queued, so tests decide when each event, poll and checkpoint happens."""

from __future__ import annotations

import pickle
import random
from collections import deque
from typing import Any

from strom.common.watermark_strategy import WatermarkStrategy
from strom.datastream.connectors.base import InputStatus, Source
from strom.jobmanager.source_coordinator import SourceCoordinator
from strom.runtime.operators.base import ChainOutput, OperatorContext
from strom.runtime.operators.source import SourceOperator
from strom.state.snapshots import OperatorStateSnapshot, RestoredOperatorState


def _copy(value: Any) -> Any:
    """What travels between processes or through checkpoint storage arrives as a copy."""
    return pickle.loads(pickle.dumps(value))


def redistribute(states: list[OperatorStateSnapshot | None], parallelism: int
                 ) -> list[OperatorStateSnapshot]:
    """Flink's operator state redistribution: list state split evenly, union state whole."""
    lists: dict[str, list[Any]] = {}
    unions: dict[str, list[Any]] = {}
    for state in states:
        if state is None:
            continue
        for name, items in state.list_states.items():
            lists.setdefault(name, []).extend(items)
        for name, items in state.union_states.items():
            unions.setdefault(name, []).extend(items)
    shares = []
    for index in range(parallelism):
        share = {}
        for name, items in lists.items():
            size = len(items)
            share[name] = items[index * size // parallelism:(index + 1) * size // parallelism]
        shares.append(OperatorStateSnapshot(list_states=share, union_states=dict(unions)))
    return shares


class SourceHarness:
    """A source's coordinator and ``parallelism`` source operators.

    Events each way wait in queues until :meth:`deliver_one` / :meth:`deliver_all`; each
    operator's emitted records are in :attr:`emitted`.
    """

    def __init__(self, source: Source[Any], parallelism: int,
                 coordinator_state: bytes | None = None,
                 operator_states: list[OperatorStateSnapshot] | None = None,
                 checkpoint_id: int = 0) -> None:
        self.source = source
        self.parallelism = parallelism
        self.to_readers: list[deque[Any]] = [deque() for _ in range(parallelism)]
        self.to_coordinator: deque[tuple[int, Any]] = deque()
        self.async_calls: list[tuple[Any, Any]] = []
        self.coordinator = SourceCoordinator(
            source, parallelism, self._send_to_reader, self._schedule_async, "test source")
        if coordinator_state is not None:
            self.coordinator.reset_to_checkpoint(checkpoint_id, coordinator_state)
        self.coordinator.start()
        self.operators: list[SourceOperator] = []
        self.emitted: list[list[Any]] = []
        for subtask in range(parallelism):
            restored = None
            if operator_states is not None:
                restored = RestoredOperatorState(checkpoint_id, (), operator_states[subtask])
            self.operators.append(self._operator(subtask, restored))
        self.finished = [False] * parallelism

    def _send_to_reader(self, subtask: int, event: Any) -> None:
        self.to_readers[subtask].append(_copy(event))

    def _schedule_async(self, callable: Any, handler: Any, initial_delay_ms: int,
                        period_ms: int) -> None:
        self.async_calls.append((callable, handler))

    def fire_async_calls(self) -> None:
        for callable, handler in list(self.async_calls):
            handler(callable(), None)

    def _operator(self, subtask: int, restored: RestoredOperatorState | None) -> SourceOperator:
        operator = SourceOperator("source", self.source, WatermarkStrategy.no_watermarks(),
                                  "op")
        ctx = OperatorContext(
            task_name="source", operator_name="source", subtask_index=subtask,
            parallelism=self.parallelism, max_parallelism=128, attempt_number=0,
            job_parameters={}, is_batch=False, clock=lambda: 0, auto_watermark_interval=200,
            restored=_copy(restored),
        )
        ctx.extra["send_operator_event"] = (
            lambda op_id, event: self.to_coordinator.append((subtask, _copy(event))))
        output = ChainOutput()
        records: list[Any] = []
        self.emitted.append(records)
        output.add_target(lambda values, ts: records.extend(values), lambda w: None,
                          lambda idle: None)
        operator.setup(ctx, output)
        operator.open()
        return operator

    # -- stepping -----------------------------------------------------------------------

    def pending_events(self) -> int:
        return len(self.to_coordinator) + sum(len(q) for q in self.to_readers)

    def deliver_one(self, rng: random.Random) -> bool:
        """Deliver one queued event (the oldest of a random queue); False when none."""
        queues = [i for i, q in enumerate(self.to_readers) if q]
        if self.to_coordinator:
            queues.append(-1)
        if not queues:
            return False
        choice = rng.choice(queues)
        if choice == -1:
            subtask, event = self.to_coordinator.popleft()
            self.coordinator.handle_event(subtask, event)
        else:
            self.operators[choice].handle_operator_event(self.to_readers[choice].popleft())
        return True

    def deliver_to_coordinator(self) -> None:
        """Deliver what the readers sent; what the coordinator sends stays queued."""
        while self.to_coordinator:
            subtask, event = self.to_coordinator.popleft()
            self.coordinator.handle_event(subtask, event)

    def deliver_to_reader(self, subtask: int) -> None:
        """Deliver the oldest event queued for ``subtask``."""
        self.operators[subtask].handle_operator_event(self.to_readers[subtask].popleft())

    def deliver_all(self) -> None:
        rng = random.Random(0)
        while self.deliver_one(rng):
            pass

    def poll(self, subtask: int) -> InputStatus | None:
        if self.finished[subtask]:
            return None
        status = self.operators[subtask].emit_next()
        if status is InputStatus.END_OF_INPUT:
            self.finished[subtask] = True
        return status

    def run_to_end(self, max_steps: int = 100_000) -> None:
        for _ in range(max_steps):
            self.deliver_all()
            if all(self.finished):
                return
            for subtask in range(self.parallelism):
                self.poll(subtask)
        raise AssertionError(f"the readers did not finish in {max_steps} steps")

    def snapshot(self, subtask: int, checkpoint_id: int) -> OperatorStateSnapshot | None:
        state = self.operators[subtask].snapshot_state(checkpoint_id)
        return _copy(state.operator)
