import pickle

import pytest

from strom.common import Duration, Instant, Time


def test_duration_factories_and_conversions() -> None:
    assert Duration.of_millis(200).to_milliseconds() == 200
    assert Duration.of_seconds(10).to_milliseconds() == 10_000
    assert Duration.of_minutes(2).to_milliseconds() == 120_000
    assert Duration.of_hours(1).to_milliseconds() == 3_600_000
    assert Duration.of_days(1).to_milliseconds() == 86_400_000
    assert Duration.of_nanos(1_500_000).to_milliseconds() == 1
    assert Duration.of_nanos(-1).to_milliseconds() == -1  # floored, like Java's toMillis
    assert Duration.of_millis(3).to_nanos() == 3_000_000


def test_duration_equality_ordering_hash() -> None:
    assert Duration.of_seconds(1) == Duration.of_millis(1000)
    assert hash(Duration.of_seconds(1)) == hash(Duration.of_millis(1000))
    assert Duration.of_millis(1) < Duration.of_seconds(1) <= Duration.of_seconds(1)
    assert sorted([Duration.of_minutes(1), Duration.of_millis(5)]) == [
        Duration.of_millis(5),
        Duration.of_minutes(1),
    ]
    assert Duration.of_millis(1) != 1_000_000


def test_duration_repr_and_java_string() -> None:
    assert repr(Duration.of_seconds(5)) == "Duration.of_millis(5000)"
    assert repr(Duration.of_nanos(5)) == "Duration.of_nanos(5)"
    assert str(Duration.of_millis(200)) == "PT0.2S"
    assert str(Duration.of_seconds(10)) == "PT10S"
    assert str(Duration.of_millis(61_001)) == "PT1M1.001S"
    assert str(Duration.of_days(1)) == "PT24H"
    assert str(Duration.of_millis(0)) == "PT0S"
    assert str(Duration.of_millis(-1500)) == "PT-1.5S"
    assert str(Duration.of_millis(-200)) == "PT-0.2S"


def test_duration_rejects_non_int() -> None:
    with pytest.raises(TypeError, match="millis must be an int"):
        Duration.of_millis(1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Duration.of_seconds(True)


def test_time() -> None:
    assert Time.milliseconds(5).to_milliseconds() == 5
    assert Time.seconds(5).to_milliseconds() == 5000
    assert Time.minutes(1).to_milliseconds() == 60_000
    assert Time.hours(1).to_milliseconds() == 3_600_000
    assert Time.days(2).to_milliseconds() == 172_800_000
    assert Time.seconds(1) == Time.milliseconds(1000)
    assert Time.seconds(1) < Time.minutes(1)
    assert repr(Time.seconds(1)) == "Time.milliseconds(1000)"
    assert str(Time.seconds(1)) == "1000 ms"
    assert Time.seconds(2).to_duration() == Duration.of_seconds(2)


def test_instant() -> None:
    instant = Instant.of_epoch_milli(1_610_193_600_011)
    assert instant.to_epoch_milli() == 1_610_193_600_011
    assert (instant.seconds, instant.nanos) == (1_610_193_600, 11_000_000)
    assert str(instant) == "2021-01-09T12:00:00.011Z"
    assert str(Instant.of_epoch_milli(0)) == "1970-01-01T00:00:00Z"
    assert str(Instant(0, 1)) == "1970-01-01T00:00:00.000000001Z"
    assert Instant.of_epoch_milli(-1).to_epoch_milli() == -1
    assert str(Instant.of_epoch_milli(-1)) == "1969-12-31T23:59:59.999Z"
    assert Instant.of_epoch_milli(5) == Instant(0, 5_000_000)
    assert Instant.of_epoch_milli(5) < Instant.of_epoch_milli(6)
    assert repr(Instant(1, 2)) == "Instant<1, 2>"


def test_pickling() -> None:
    for value in (Duration.of_millis(7), Time.seconds(3), Instant(4, 5)):
        assert pickle.loads(pickle.dumps(value)) == value
