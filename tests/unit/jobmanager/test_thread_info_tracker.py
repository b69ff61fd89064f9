"""When a flame graph request gets samples and when it starts new ones: the first answers
"not ready" while one sample runs, cached samples answer until the refresh interval, a
vertex's samples fill its subtasks', unused entries are cleaned up."""

from __future__ import annotations

from strom.graph.ids import ExecutionAttemptID
from strom.jobmanager.flame_graph import FlameGraphSettings
from strom.jobmanager.thread_info_tracker import VertexThreadInfoStats, VertexThreadInfoTracker
from strom.rpc.messages import ThreadInfoSample


class Clock:
    def __init__(self) -> None:
        self.now = 1_000

    def __call__(self) -> int:
        return self.now


def _tracker() -> tuple[VertexThreadInfoTracker, Clock]:
    clock = Clock()
    settings = FlameGraphSettings(refresh_interval_ms=60_000, cleanup_interval_ms=600_000)
    return VertexThreadInfoTracker(settings, clock), clock


def _stats(request_id: int, end: int, subtasks: tuple[int, ...] = (0, 1)
           ) -> VertexThreadInfoStats:
    samples = {i: [ThreadInfoSample(ExecutionAttemptID(), [f"f{i} (a.py:1)"], True)]
               for i in subtasks}
    return VertexThreadInfoStats(request_id, end - 100, end, samples)


def test_first_request_starts_one_sample_and_answers_none_until_it_completes() -> None:
    tracker, clock = _tracker()
    stats, request_id = tracker.lookup(("v", None))
    assert stats is None and request_id is not None
    # asked again while it runs: still nothing, and no second sample
    assert tracker.lookup(("v", None)) == (None, None)
    done = _stats(request_id, clock.now)
    tracker.completed(("v", None), done)
    assert tracker.lookup(("v", None)) == (done, None)


def test_samples_answer_until_the_refresh_interval_then_a_new_sample_starts() -> None:
    tracker, clock = _tracker()
    _, first = tracker.lookup(("v", None))
    assert first is not None
    old = _stats(first, clock.now)
    tracker.completed(("v", None), old)
    clock.now += 59_999
    assert tracker.lookup(("v", None)) == (old, None)
    clock.now += 1
    stats, second = tracker.lookup(("v", None))
    assert stats is old and second is not None and second > first
    assert tracker.lookup(("v", None)) == (old, None)  # one at a time


def test_a_vertex_sample_fills_its_subtasks_and_blocks_their_own() -> None:
    tracker, clock = _tracker()
    _, request_id = tracker.lookup(("v", None))
    assert request_id is not None
    # the vertex's sample runs: a subtask's request waits for it instead of sampling again
    assert tracker.lookup(("v", 1)) == (None, None)
    tracker.completed(("v", None), _stats(request_id, clock.now))
    stats, again = tracker.lookup(("v", 1))
    assert again is None and stats is not None
    assert list(stats.samples_by_subtask) == [1] and stats.request_id == request_id


def test_an_older_vertex_sample_does_not_replace_a_newer_subtask_sample() -> None:
    tracker, clock = _tracker()
    _, subtask_request = tracker.lookup(("v", 0))
    assert subtask_request is not None
    _, vertex_request = tracker.lookup(("v", None))
    assert vertex_request is not None and vertex_request > subtask_request
    newer = _stats(vertex_request + 1, clock.now, (0,))
    tracker.completed(("v", 0), newer)
    tracker.completed(("v", None), _stats(vertex_request, clock.now))
    assert tracker.lookup(("v", 0))[0] is newer


def test_a_failed_sample_is_tried_again_by_the_next_request() -> None:
    tracker, _ = _tracker()
    _, request_id = tracker.lookup(("v", None))
    tracker.failed(("v", None))
    stats, retry = tracker.lookup(("v", None))
    assert stats is None and retry is not None and retry != request_id


def test_entries_nobody_asked_for_within_the_cleanup_interval_are_dropped() -> None:
    tracker, clock = _tracker()
    _, a = tracker.lookup(("a", None))
    _, b = tracker.lookup(("b", None))
    assert a is not None and b is not None
    tracker.completed(("a", None), _stats(a, clock.now, ()))
    tracker.completed(("b", None), _stats(b, clock.now, ()))
    clock.now += 300_000
    tracker.lookup(("b", None))  # b is used, a is not
    clock.now += 300_000
    tracker.lookup(("b", None))
    assert tracker.cached_keys() == [("b", None)]
