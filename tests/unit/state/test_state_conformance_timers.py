"""Conformance: event-time and processing-time timers of the keyed backend."""

from __future__ import annotations

from typing import Any

from strom.state.namespaces import VOID_NAMESPACE
from strom.state.timers import LONG_MIN, Timer, TimerQueue

V = VOID_NAMESPACE


def register(backend: Any, service: Any, key: Any, ts: int, ns: Any = V, *, event: bool = True):
    backend.set_current_key(key)
    if event:
        service.register_event_time_timer(ns, ts)
    else:
        service.register_processing_time_timer(ns, ts)


def test_event_timers_fire_in_order_up_to_the_watermark(backend: Any) -> None:
    timers = backend.get_timer_service("user")
    assert backend.get_timer_service("user") is timers
    assert timers.current_watermark() == LONG_MIN
    for key, ts in [("a", 30), ("b", 10), ("c", 20), ("d", 10), ("e", 31)]:
        register(backend, timers, key, ts)
    assert timers.num_event_time_timers() == 5
    fired = list(timers.advance_watermark(30))
    assert fired == [Timer(10, "b", V), Timer(10, "d", V), Timer(20, "c", V), Timer(30, "a", V)]
    assert timers.current_watermark() == 30
    assert timers.num_event_time_timers() == 1
    assert list(timers.advance_watermark(30)) == []
    assert list(timers.advance_watermark(100)) == [Timer(31, "e", V)]


def test_timers_are_deduplicated_per_key_namespace_and_timestamp(backend: Any) -> None:
    timers = backend.get_timer_service("user")
    register(backend, timers, "a", 5)
    register(backend, timers, "a", 5)
    register(backend, timers, "a", 5, "w")
    register(backend, timers, "b", 5)
    assert timers.num_event_time_timers() == 3
    assert sorted(map(tuple, timers.advance_watermark(5)), key=repr) == sorted(
        [(5, "a", V), (5, "a", "w"), (5, "b", V)], key=repr
    )


def test_delete_timers(backend: Any) -> None:
    timers = backend.get_timer_service("user")
    register(backend, timers, "a", 5)
    register(backend, timers, "a", 6)
    register(backend, timers, "b", 5)
    backend.set_current_key("a")
    timers.delete_event_time_timer(V, 5)
    timers.delete_event_time_timer(V, 99)  # not registered: no error
    timers.delete_event_time_timer("other-ns", 6)
    assert timers.num_event_time_timers() == 2
    assert timers.next_event_time() == 5
    assert list(timers.advance_watermark(10)) == [Timer(5, "b", V), Timer(6, "a", V)]


def test_reregistered_timer_fires_once(backend: Any) -> None:
    timers = backend.get_timer_service("user")
    register(backend, timers, "a", 5)
    timers.delete_event_time_timer(V, 5)
    timers.register_event_time_timer(V, 5)
    timers.delete_event_time_timer(V, 5)
    timers.register_event_time_timer(V, 5)
    assert timers.num_event_time_timers() == 1
    assert list(timers.advance_watermark(5)) == [Timer(5, "a", V)]
    assert timers.num_event_time_timers() == 0


def test_timers_registered_while_firing_fire_in_the_same_pass(backend: Any) -> None:
    timers = backend.get_timer_service("user")
    register(backend, timers, "a", 10)
    register(backend, timers, "a", 50)
    fired = []
    for timer in timers.advance_watermark(20):
        fired.append(timer)
        backend.set_current_key(timer.key)
        if timer.timestamp == 10:
            timers.register_event_time_timer(V, 15)  # due: fires in this pass
            timers.register_event_time_timer(V, 5)  # in the past: fires too
            timers.register_event_time_timer(V, 21)  # not due
            timers.delete_event_time_timer(V, 50)
    assert fired == [Timer(10, "a", V), Timer(5, "a", V), Timer(15, "a", V)]
    assert timers.event_time_timers() == [Timer(21, "a", V)]


def test_partial_iteration_keeps_the_rest(backend: Any) -> None:
    timers = backend.get_timer_service("user")
    for ts in (1, 2, 3):
        register(backend, timers, "k", ts)
    it = timers.advance_watermark(3)
    assert next(it) == Timer(1, "k", V)
    assert timers.num_event_time_timers() == 2
    assert list(timers.advance_watermark(3)) == [Timer(2, "k", V), Timer(3, "k", V)]


def test_processing_time_timers(backend: Any) -> None:
    timers = backend.get_timer_service("user")
    assert timers.next_processing_time() is None
    register(backend, timers, "a", 100, event=False)
    register(backend, timers, "b", 50, event=False)
    register(backend, timers, "b", 50, event=False)
    register(backend, timers, "c", 70, "w", event=False)
    assert timers.num_processing_time_timers() == 3
    assert timers.num_event_time_timers() == 0
    assert timers.next_processing_time() == 50
    backend.set_current_key("b")
    timers.delete_processing_time_timer(V, 50)
    assert timers.next_processing_time() == 70
    assert list(timers.advance_processing_time(99)) == [Timer(70, "c", "w")]
    assert list(timers.advance_processing_time(100)) == [Timer(100, "a", V)]
    assert timers.next_processing_time() is None
    assert timers.current_watermark() == LONG_MIN  # processing time leaves it alone


def test_timer_services_are_separate(backend: Any) -> None:
    first = backend.get_timer_service("one")
    second = backend.get_timer_service("two")
    register(backend, first, "k", 1)
    assert second.num_event_time_timers() == 0
    assert list(second.advance_watermark(10)) == []
    assert list(first.advance_watermark(10)) == [Timer(1, "k", V)]


def test_many_deletes_compact_and_stay_correct(backend: Any) -> None:
    timers = backend.get_timer_service("user")
    backend.set_current_key("k")
    for ts in range(1000):
        timers.register_event_time_timer(V, ts)
    for ts in range(1000):
        if ts % 10:
            timers.delete_event_time_timer(V, ts)
    assert timers.num_event_time_timers() == 100
    assert [t.timestamp for t in timers.advance_watermark(10**6)] == list(range(0, 1000, 10))


def test_timer_queue_ties_fire_in_registration_order() -> None:
    queue = TimerQueue()
    for key in ["z", "a", "m"]:
        queue.add(Timer(7, key, V))
    assert queue.add(Timer(7, "a", V)) is False
    assert Timer(7, "a", V) in queue
    assert [t.key for t in queue.pop_until(7)] == ["z", "a", "m"]
    assert queue.remove(Timer(7, "a", V)) is False
    assert len(queue) == 0


def test_timers_of_the_timestamp_being_fired_can_be_deleted_reregistered_and_added() -> None:
    # Timers of one timestamp are fired as a group (a window's keys share one timestamp):
    # while that group fires, deleting a member that has not fired yet keeps it from firing,
    # registering a pending member again keeps one, and a new member fires after the group.
    queue = TimerQueue()
    for key in "abcd":
        queue.add(Timer(5, key, V))
    fired = []
    for timer in queue.pop_until(5):
        fired.append(timer.key)
        if fired == ["a"]:
            assert queue.remove(Timer(5, "c", V)) is True
            assert queue.add(Timer(5, "b", V)) is False  # still pending
            assert queue.add(Timer(5, "a", V)) is True  # fired already: a new timer
            assert queue.add(Timer(5, "e", V)) is True
            assert len(queue) == 4 and Timer(5, "d", V) in queue
            assert queue.timers() == [Timer(5, k, V) for k in "bdae"]
            assert queue.peek_timestamp() == 5
    assert fired == ["a", "b", "d", "a", "e"]
    assert len(queue) == 0 and queue.peek_timestamp() is None


def test_an_earlier_timer_registered_while_a_timestamp_fires_goes_first() -> None:
    queue = TimerQueue()
    for key in "abc":
        queue.add(Timer(5, key, V))
    fired = []
    for timer in queue.pop_until(5):
        fired.append((timer.timestamp, timer.key))
        if len(fired) == 1:
            queue.add(Timer(3, "x", V))
            queue.add(Timer(5, "y", V))
    assert fired == [(5, "a"), (3, "x"), (5, "b"), (5, "c"), (5, "y")]


def test_abandoning_a_timestamp_midway_keeps_its_rest_before_newer_timers() -> None:
    queue = TimerQueue()
    for key in "abc":
        queue.add(Timer(5, key, V))
    it = queue.pop_until(5)
    assert next(it) == Timer(5, "a", V)
    queue.add(Timer(5, "z", V))
    it.close()
    assert len(queue) == 3
    assert [t.key for t in queue.pop_until(5)] == ["b", "c", "z"]


def test_a_large_timestamp_group_fires_in_registration_order_and_empties() -> None:
    queue = TimerQueue()
    keys = [f"k{i}" for i in range(5000)]
    for key in reversed(keys):
        queue.add(Timer(9, key, V))
    for key in keys[::2]:
        queue.remove(Timer(9, key, V))
    assert [t.key for t in queue.pop_until(9)] == list(reversed(keys[1::2]))
    assert len(queue) == 0 and queue.timers() == []
