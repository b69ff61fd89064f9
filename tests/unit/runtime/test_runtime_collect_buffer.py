"""CollectBuffer: the bounded hand-over between collect sinks and the client."""

from __future__ import annotations

import threading

from strom.runtime.collect import CollectBuffer
from strom.testing import wait_until


def test_take_hands_over_every_waiting_batch_at_once() -> None:
    buffer = CollectBuffer(capacity=8)
    for i in range(5):
        buffer.put_batch([i])

    batches, ended = buffer.take(timeout=0)

    assert list(batches) == [[0], [1], [2], [3], [4]] and not ended
    assert list(buffer.take(timeout=0)[0]) == []


def test_take_reports_the_end_once_every_producer_ended_and_nothing_is_left() -> None:
    buffer = CollectBuffer(producers=2)
    buffer.put_batch(["a"])
    buffer.end()
    batches, ended = buffer.take(timeout=0)
    assert list(batches) == [["a"]] and not ended  # the second producer may send more
    buffer.put_batch(["b"])
    buffer.end()

    batches, ended = buffer.take(timeout=0)

    assert list(batches) == [["b"]] and ended


def test_a_full_buffer_blocks_the_producer_until_the_client_takes() -> None:
    buffer = CollectBuffer(capacity=2)
    buffer.put_batch([1])
    buffer.put_batch([2])
    put = threading.Event()
    producer = threading.Thread(target=lambda: (buffer.put_batch([3]), put.set()))
    producer.start()
    try:
        assert not put.wait(0.05)  # blocked: two batches wait already

        first, _ = buffer.take(timeout=1)
        assert list(first) == [[1], [2]]
        wait_until(put.is_set, what="the blocked producer to put its batch")
        assert list(buffer.take(timeout=1)[0]) == [[3]]
    finally:
        buffer.close()
        producer.join(5)


def test_take_waits_for_a_batch_and_wakes_when_one_arrives() -> None:
    buffer = CollectBuffer()
    timer = threading.Timer(0.02, buffer.put_batch, args=([7],))
    timer.start()
    try:
        batches, _ = buffer.take(timeout=10)
    finally:
        timer.join(5)
    assert list(batches) == [[7]]


def test_closing_unblocks_a_producer_and_drops_what_it_puts() -> None:
    buffer = CollectBuffer(capacity=1)
    buffer.put_batch([1])
    producer = threading.Thread(target=buffer.put_batch, args=([2],))
    producer.start()

    buffer.close()
    producer.join(5)

    assert not producer.is_alive()
    buffer.put_batch([3])
    assert buffer.closed and list(buffer.take(timeout=0)[0]) == []


def test_a_cancelled_producer_stops_waiting_for_room_and_drops_its_batch() -> None:
    buffer = CollectBuffer(capacity=1)
    buffer.put_batch([0])
    cancelled = threading.Event()
    producer = threading.Thread(target=buffer.put_batch, args=([1], cancelled))
    producer.start()
    wait_until(lambda: buffer._producers_waiting == 1, what="the producer to wait for room")
    cancelled.set()
    buffer.wake_producers()
    producer.join(timeout=1.0)  # woken at once, not by its 0.1 s poll at best
    assert not producer.is_alive()
    assert list(buffer.take(timeout=0)[0]) == [[0]]  # the cancelled batch was dropped
