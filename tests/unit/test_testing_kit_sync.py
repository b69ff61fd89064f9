"""The test kit's latch: copies share one event, and dropped latches are not kept."""

from __future__ import annotations

import gc
import pickle

from strom.testing import Latch, sync


def test_a_pickled_copy_shares_the_latch() -> None:
    latch = Latch()
    copy = pickle.loads(pickle.dumps(latch))
    assert not copy.is_triggered()
    latch.trigger()
    assert copy.is_triggered() and copy.wait(0)


def test_dropped_latches_are_not_kept() -> None:
    gc.collect()
    before = len(sync._events)
    latches = [Latch() for _ in range(1000)]
    copies = [pickle.loads(pickle.dumps(latch)) for latch in latches]
    assert len(sync._events) == before + 1000
    del latches
    gc.collect()
    assert len(sync._events) == before + 1000, "copies still hold their events"
    del copies
    gc.collect()
    assert len(sync._events) == before
