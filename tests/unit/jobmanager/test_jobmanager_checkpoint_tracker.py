"""The checkpoint coordinator's decisions without an event loop: triggering with interval,
min-pause and max-concurrent, acknowledgements, finished tasks, timeouts, subsumption,
num-retained and the tolerable-failure threshold."""

from __future__ import annotations

from strom.common.checkpointing import CheckpointCoordinatorConfiguration
from strom.jobmanager.checkpoint.tracker import CheckpointTracker
from strom.network.elements import CheckpointType

CHECKPOINT = CheckpointType.CHECKPOINT


def _tracker(**settings: int) -> CheckpointTracker[str, str]:
    settings.setdefault("interval_ms", 100)
    return CheckpointTracker(CheckpointCoordinatorConfiguration(**settings))  # type: ignore[arg-type]


def test_the_first_trigger_is_due_at_once_then_every_interval() -> None:
    tracker = _tracker(interval_ms=100, max_concurrent=2)
    assert tracker.next_periodic_trigger(1000) == 1000
    tracker.begin(1000, CHECKPOINT, {"a"})
    assert tracker.next_periodic_trigger(1010) == 1100
    assert tracker.next_periodic_trigger(1500) == 1500  # late: due now


def test_max_concurrent_holds_the_next_trigger_back() -> None:
    tracker = _tracker(max_concurrent=1)
    pending = tracker.begin(0, CHECKPOINT, {"a"})
    assert tracker.next_periodic_trigger(500) is None
    assert tracker.acknowledge(pending.checkpoint_id, "a", {}) is pending
    tracker.complete(pending, 510, "chk-1")
    assert tracker.next_periodic_trigger(510) == 510


def test_min_pause_counts_from_the_end_of_the_last_checkpoint() -> None:
    tracker = _tracker(interval_ms=100, min_pause_ms=300)
    pending = tracker.begin(0, CHECKPOINT, {"a"})
    assert tracker.next_periodic_trigger(150) is None
    tracker.acknowledge(pending.checkpoint_id, "a", {})
    tracker.complete(pending, 250, "chk-1")
    assert tracker.next_periodic_trigger(260) == 550


def test_no_periodic_trigger_without_an_interval_or_after_shutdown() -> None:
    assert _tracker(interval_ms=0).next_periodic_trigger(0) is None
    tracker = _tracker()
    tracker.shutdown()
    assert tracker.next_periodic_trigger(0) is None


def test_a_checkpoint_completes_when_every_task_acknowledged_or_finished() -> None:
    tracker = _tracker()
    pending = tracker.begin(0, CHECKPOINT, {"a", "b", "c"})
    assert tracker.acknowledge(pending.checkpoint_id, "a", {"s": 1}) is None
    assert tracker.acknowledge(pending.checkpoint_id, "a", {"s": 1}) is None  # twice: once
    assert tracker.acknowledge(pending.checkpoint_id, "x", {}) is None  # not asked
    assert tracker.task_finished("b") == []
    assert tracker.acknowledge(pending.checkpoint_id, "c", {"s": 2}) is pending
    assert pending.acks == {"a": {"s": 1}, "c": {"s": 2}}


def test_completion_subsumes_older_pending_and_drops_beyond_num_retained() -> None:
    tracker = _tracker(max_concurrent=3, num_retained=2)
    first = tracker.begin(0, CHECKPOINT, {"a"})
    second = tracker.begin(10, CHECKPOINT, {"a"})
    third = tracker.begin(20, CHECKPOINT, {"a"})
    tracker.acknowledge(second.checkpoint_id, "a", {})
    dropped, subsumed = tracker.complete(second, 30, "chk-2")
    assert dropped == [] and subsumed == [first]
    assert list(tracker.pending) == [third.checkpoint_id]
    tracker.complete(third, 40, "chk-3")
    fourth = tracker.begin(50, CHECKPOINT, {"a"})
    dropped, _ = tracker.complete(fourth, 60, "chk-4")
    assert dropped == ["chk-2"] and tracker.latest_completed() == "chk-4"


def test_savepoints_are_not_retained_and_do_not_count_against_max_concurrent() -> None:
    tracker = _tracker(max_concurrent=1)
    savepoint = tracker.begin(0, CheckpointType.SAVEPOINT, {"a"})
    assert tracker.next_periodic_trigger(0) == 0
    assert tracker.complete(savepoint, 5, "sp") == ([], [])
    assert tracker.latest_completed() is None


def test_expired_checkpoints_are_the_ones_past_the_timeout() -> None:
    tracker = _tracker(timeout_ms=1000, max_concurrent=2)
    old = tracker.begin(0, CHECKPOINT, {"a"})
    tracker.begin(600, CHECKPOINT, {"a"})
    assert tracker.expired(999) == []
    assert tracker.expired(1000) == [old]


def test_failures_beyond_the_tolerable_number_fail_the_job_and_completion_resets() -> None:
    tracker = _tracker(tolerable_failures=1, max_concurrent=5)
    assert tracker.abort(tracker.begin(0, CHECKPOINT, {"a"}).checkpoint_id, 1, True) is False
    ok = tracker.begin(2, CHECKPOINT, {"a"})
    tracker.complete(ok, 3, "chk")
    assert tracker.consecutive_failures == 0
    assert tracker.abort(tracker.begin(4, CHECKPOINT, {"a"}).checkpoint_id, 5, True) is False
    # skipped checkpoints (task not ready, subsumed) do not count
    assert tracker.abort(tracker.begin(6, CHECKPOINT, {"a"}).checkpoint_id, 7, False) is False
    assert tracker.abort(tracker.begin(8, CHECKPOINT, {"a"}).checkpoint_id, 9, True) is True
    assert tracker.abort(12345, 10, True) is False  # unknown: nothing happens


def test_zero_tolerable_failures_fail_at_the_first() -> None:
    tracker = _tracker()
    assert tracker.abort(tracker.begin(0, CHECKPOINT, {"a"}).checkpoint_id, 1, True) is True


def test_a_trigger_waiting_for_its_id_counts_against_max_concurrent_and_min_pause() -> None:
    tracker = _tracker(max_concurrent=1)
    tracker.triggering = 1  # its id is on the way from the job's checkpoint id counter
    assert tracker.next_periodic_trigger(500) is None
    tracker.triggering = 0
    assert tracker.next_periodic_trigger(500) == 500
    paused = _tracker(max_concurrent=2, min_pause_ms=50)
    paused.triggering = 1
    assert paused.next_periodic_trigger(500) is None


def test_ids_from_the_checkpoint_id_counter_are_taken_as_given() -> None:
    tracker = _tracker()
    assert tracker.begin(0, CHECKPOINT, {"a"}, checkpoint_id=17).checkpoint_id == 17
    assert tracker.begin(1, CHECKPOINT, {"a"}).checkpoint_id == 18  # its own count follows


def test_recovered_checkpoints_become_the_retained_ones() -> None:
    tracker = _tracker(num_retained=2)
    dropped = tracker.restore_completed([(3, "chk-3"), (5, "chk-5"), (8, "chk-8")])
    assert dropped == ["chk-3"]  # beyond num-retained: the oldest goes
    assert tracker.latest_completed() == "chk-8"
    assert tracker.begin(0, CHECKPOINT, {"a"}).checkpoint_id == 9
    pending = tracker.begin(1, CHECKPOINT, {"a"}, checkpoint_id=10)
    tracker.acknowledge(10, "a", {})
    assert tracker.complete(pending, 2, "chk-10")[0] == ["chk-5"]  # subsumes a recovered one
