from __future__ import annotations

import pickle

import pytest
from connector_fakes import CollectingOutput, FakeEnumeratorContext, FakeReaderContext, Wiring

from strom.connectors import CollectionSource, CollectionSplit, NumberSequenceSplit
from strom.connectors.collection import split_collection
from strom.connectors.sequence import split_number_range
from strom.datastream.connectors import Boundedness, InputStatus
from strom.datastream.connectors.number_seq import NumberSequenceSource

# ---- CollectionSource -------------------------------------------------------------------


def test_collection_emits_everything_in_batches_of_1024() -> None:
    elements = [f"e{i}" for i in range(2500)]
    wiring = Wiring(CollectionSource(elements), parallelism=1)

    assert wiring.run_to_end() == [elements]
    assert [len(batch) for batch, _, _ in wiring.outputs[0].batches] == [1024, 1024, 452]
    assert {split_id for _, _, split_id in wiring.outputs[0].batches} == {"0"}
    assert all(timestamps is None for _, timestamps, _ in wiring.outputs[0].batches)


def test_collection_is_bounded_and_non_parallel() -> None:
    source = CollectionSource([1, 2])
    assert source.max_parallelism() == 1
    assert source.get_boundedness() is Boundedness.BOUNDED


def test_collection_with_two_readers_gives_each_a_contiguous_share() -> None:
    wiring = Wiring(CollectionSource(range(11)), parallelism=2)

    assert wiring.run_to_end() == [list(range(5)), list(range(5, 11))]
    assert wiring.context.assignments == [("0", 0), ("1", 1)]


def test_a_pickled_split_carries_only_its_own_unread_share() -> None:
    elements = [f"element-{i}" for i in range(3000)]
    splits = split_collection(elements, 3)
    shares = [pickle.loads(pickle.dumps(s)) for s in splits]

    assert [s.remaining() for s in shares] == [elements[:1000], elements[1000:2000],
                                               elements[2000:]]
    assert all(len(s.elements) == 1000 for s in shares)  # not the whole collection
    partly_read = CollectionSplit(0, elements, start=2990)
    assert pickle.loads(pickle.dumps(partly_read)).elements == elements[2990:]


def test_in_process_a_split_refers_to_the_collection_without_copying_it() -> None:
    elements = list(range(5000))
    source = CollectionSource(elements)
    wiring = Wiring(source, parallelism=1)

    (split,) = wiring.readers[0].snapshot_state(0)  # assigned, not opened yet
    assert split.elements is elements is source.elements
    assert wiring.run_to_end() == [elements]


def test_the_tasks_copy_of_the_source_leaves_the_elements_out() -> None:
    import cloudpickle

    from strom.datastream.connectors._reader_pickling import pickling_for_readers

    elements = [f"element-{i}" for i in range(10_000)]
    source = CollectionSource(elements)
    with pickling_for_readers():
        for_readers = cloudpickle.dumps(source)
    whole = cloudpickle.dumps(source)

    assert len(for_readers) < 500 and len(whole) > 100_000
    copy = pickle.loads(for_readers)
    assert repr(copy) == "CollectionSource(<10000 elements>)"
    with pytest.raises(RuntimeError, match="reader tasks' copy of the source has no elements"):
        copy.create_enumerator(FakeEnumeratorContext(1))
    # a reader made from that copy reads what its split carries
    enumerator_context = FakeEnumeratorContext(1)
    enumerator = source.create_enumerator(enumerator_context)
    reader_context = FakeReaderContext(0, 1)
    reader_context.enumerator = enumerator
    reader = copy.create_reader(reader_context)
    enumerator_context.readers[0] = reader
    reader.start()
    out = CollectingOutput()
    while reader.poll_next(out) is not InputStatus.END_OF_INPUT:
        pass
    assert out.values == elements
    assert pickle.loads(whole).elements == elements


def test_empty_collection_ends_without_output() -> None:
    wiring = Wiring(CollectionSource([]), parallelism=1)

    assert wiring.poll_round() == [InputStatus.END_OF_INPUT]
    assert wiring.outputs[0].batches == []


def test_collection_reader_restores_after_what_it_emitted() -> None:
    elements = list(range(3000))
    source = CollectionSource(elements)
    first = Wiring(source, parallelism=1)
    first.poll_round()
    enumerator_state, reader_states = first.snapshot()

    assert reader_states == [[CollectionSplit(0, elements, start=1024)]]
    assert enumerator_state == []
    restored_states = pickle.loads(pickle.dumps((enumerator_state, reader_states)))
    assert len(restored_states[1][0][0].elements) == 3000 - 1024  # only what is left

    second = Wiring(source, 1, restored_states[0], restored_states[1])
    assert second.run_to_end() == [elements[1024:]]
    assert first.outputs[0].values + second.outputs[0].values == elements


def test_collection_restored_before_assignment_reads_everything() -> None:
    source = CollectionSource("abc")
    context = FakeEnumeratorContext(1)
    enumerator = source.create_enumerator(context)
    enumerator.start()
    state = enumerator.snapshot_state(1)

    assert Wiring(source, 1, enumerator_state=state).run_to_end() == [["a", "b", "c"]]


def test_collection_split_returned_by_a_failed_reader_is_read_again() -> None:
    source = CollectionSource(range(5))
    wiring = Wiring(source, 2)
    split = wiring.readers[0].snapshot_state(1)
    wiring.enumerator.add_splits_back(split, 0)

    # Reader 1 asks again (as a restarted reader would) and gets the split back.
    context = FakeReaderContext(1, 2)
    context.enumerator = wiring.enumerator
    reader = source.create_reader(context)
    wiring.context.readers[1] = reader
    reader.start()
    out = CollectingOutput()
    while reader.poll_next(out) is not InputStatus.END_OF_INPUT:
        pass
    assert out.values == [0, 1]  # reader 0's share


def test_collection_split_rejects_a_range_beyond_its_elements() -> None:
    with pytest.raises(ValueError, match=r"range 5\.\.2 does not fit its 2 elements"):
        CollectionSplit(0, [1, 2], start=5)
    with pytest.raises(ValueError, match=r"range 0\.\.3 does not fit its 2 elements"):
        CollectionSplit(0, [1, 2], end=3)


# ---- NumberSequenceSource ---------------------------------------------------------------


def test_split_number_range_spreads_the_remainder_over_the_first_splits() -> None:
    assert split_number_range(0, 9, 3) == [
        NumberSequenceSplit("0", 0, 3),
        NumberSequenceSplit("1", 4, 6),
        NumberSequenceSplit("2", 7, 9),
    ]
    assert split_number_range(1, 2, 5) == [
        NumberSequenceSplit("0", 1, 1),
        NumberSequenceSplit("1", 2, 2),
    ]
    assert split_number_range(-5, -5, 1) == [NumberSequenceSplit("0", -5, -5)]


def test_sequence_with_one_reader_is_in_order() -> None:
    wiring = Wiring(NumberSequenceSource(1, 5000), parallelism=1)

    assert wiring.run_to_end() == [list(range(1, 5001))]
    assert [len(batch) for batch, _, _ in wiring.outputs[0].batches] == [1024] * 4 + [904]


def test_sequence_with_two_readers_covers_the_range_exactly_once() -> None:
    wiring = Wiring(NumberSequenceSource(0, 2999), parallelism=2)
    out0, out1 = wiring.run_to_end()

    assert out0 == list(range(0, 1500))
    assert out1 == list(range(1500, 3000))
    assert wiring.context.assignments == [("0", 0), ("1", 1)]
    assert sorted(wiring.context.no_more_splits) == [0, 1]


def test_sequence_with_more_readers_than_numbers() -> None:
    wiring = Wiring(NumberSequenceSource(10, 11), parallelism=3)

    assert wiring.run_to_end() == [[10], [11], []]


@pytest.mark.parametrize("parallelism", [1, 2])
def test_sequence_restored_mid_way_emits_exactly_the_rest(parallelism: int) -> None:
    source = NumberSequenceSource(0, 9999)
    first = Wiring(source, parallelism)
    first.poll_round()
    first.poll_round()
    enumerator_state, reader_states = pickle.loads(pickle.dumps(first.snapshot()))
    before = [value for out in first.outputs for value in out.values]
    assert len(before) == 2048 * parallelism

    second = Wiring(source, parallelism, enumerator_state, reader_states)
    after = [value for values in second.run_to_end() for value in values]

    assert sorted(before + after) == list(range(10_000))
    assert len(before) + len(after) == 10_000


def test_sequence_restore_with_unassigned_splits() -> None:
    source = NumberSequenceSource(1, 100)
    context = FakeEnumeratorContext(4)
    enumerator = source.create_enumerator(context)
    enumerator.start()
    state = enumerator.snapshot_state(1)
    assert [split.split_id() for split in state] == ["0", "1", "2", "3"]

    values = Wiring(source, 2, enumerator_state=state).run_to_end()
    assert sorted(values[0] + values[1]) == list(range(1, 101))


def test_sequence_handles_values_beyond_64_bits() -> None:
    start = 2**64 - 3
    assert Wiring(NumberSequenceSource(start, start + 4), 1).run_to_end() == [
        [start, start + 1, start + 2, start + 3, start + 4]
    ]


def test_sequence_rejects_bad_bounds() -> None:
    with pytest.raises(ValueError, match="start <= end, got start=5, end=4"):
        NumberSequenceSource(5, 4)
    with pytest.raises(TypeError, match=r"end must be an int, got 2\.5"):
        NumberSequenceSource(1, 2.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="start must be an int"):
        NumberSequenceSource(True, 2)


def test_sequence_accessors_and_boundedness() -> None:
    source = NumberSequenceSource(3, 7)
    assert (source.get_start(), source.get_end()) == (3, 7)
    assert source.get_boundedness() is Boundedness.BOUNDED
    assert source.max_parallelism() is None
