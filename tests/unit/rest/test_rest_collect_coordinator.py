"""The collect coordinator's decisions, without a loop: batches in, credit and drain out."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from strom.common import _pickling
from strom.jobmanager.collect_coordinator import CollectCoordinator
from strom.runtime.collect_protocol import (
    CollectBatch,
    CollectCredit,
    CollectDrained,
    CollectEnd,
    CollectRelease,
    CollectRequest,
    CollectResponse,
)


def fetch(coordinator: CollectCoordinator, offset: int) -> tuple[int, list[Any], bool]:
    answer = msgspec.msgpack.decode(
        coordinator.handle_request(msgspec.msgpack.encode(CollectRequest(offset))),
        type=CollectResponse)
    return answer.offset, _pickling.loads(answer.batches), answer.ended


def test_fetched_batches_are_dropped_and_given_back_as_credit() -> None:
    sent: list[tuple[int, Any]] = []
    coordinator = CollectCoordinator(lambda subtask, event: sent.append((subtask, event)))
    coordinator.handle_event(0, CollectBatch([1, 2]))
    coordinator.handle_event(0, CollectBatch([3]))
    assert fetch(coordinator, 0) == (0, [[1, 2], [3]], False)
    assert sent == []  # nothing acknowledged yet
    assert fetch(coordinator, 0) == (0, [[1, 2], [3]], False)  # a retry gets the same
    coordinator.handle_event(0, CollectBatch([4]))
    assert fetch(coordinator, 2) == (2, [[4]], False)
    assert sent == [(0, CollectCredit(2))] and len(coordinator) == 1
    coordinator.handle_event(0, CollectEnd())
    assert fetch(coordinator, 2) == (2, [[4]], False)
    assert fetch(coordinator, 3) == (3, [], True)
    assert sent[1:] == [(0, CollectCredit(1)), (0, CollectDrained())]
    assert fetch(coordinator, 3) == (3, [], True)
    assert sent[3:] == []  # drained is sent once


def test_an_offset_out_of_order_is_refused_with_what_is_held() -> None:
    coordinator = CollectCoordinator(lambda subtask, event: None)
    coordinator.handle_event(0, CollectBatch([1]))
    with pytest.raises(ValueError, match="from batch 5, but the coordinator holds batches 0"):
        fetch(coordinator, 5)


def test_release_lets_the_sink_finish_and_drops_the_batches() -> None:
    sent: list[Any] = []
    coordinator = CollectCoordinator(lambda subtask, event: sent.append(event))
    coordinator.handle_event(0, CollectBatch([1]))
    coordinator.release()
    assert sent == [CollectRelease()] and len(coordinator) == 0
    # a client that had fetched more than the coordinator still counts gets nothing, no error
    assert fetch(coordinator, 1) == (1, [], False)
    coordinator.handle_event(0, CollectBatch([2]))  # in flight when the job began to end
    assert len(coordinator) == 0 and fetch(coordinator, 1) == (1, [], False)
    with pytest.raises(TypeError, match="unknown event"):
        coordinator.handle_event(0, "something else")
