import enum

import pytest

from strom.common import ConfigError, ConfigOption, Configuration, Duration, Time
from strom.common import config_options as co
from strom.common.config_options import (
    DURATION,
    INT,
    MAP,
    MEMORY_SIZE,
    format_duration_ms,
    format_map,
    format_memory_size,
    parse_bool,
    parse_duration_ms,
    parse_int,
    parse_map,
    parse_memory_size,
    validate,
)


@pytest.mark.parametrize(
    ("text", "millis"),
    [
        ("200 ms", 200),
        ("200ms", 200),
        ("10 s", 10_000),
        ("10s", 10_000),
        ("1 min", 60_000),
        ("1m", 60_000),
        ("2 h", 7_200_000),
        ("1 d", 86_400_000),
        ("3 days", 259_200_000),
        ("5 seconds", 5_000),
        ("7 MS", 7),
        ("150", 150),
        (" 42 ", 42),
        ("1500 µs", 1),
        ("999999 ns", 0),
    ],
)
def test_parse_duration(text: str, millis: int) -> None:
    assert parse_duration_ms(text) == millis


@pytest.mark.parametrize("text", ["soon", "", "-5 ms", "1.5 s", "10 parsecs", "ms"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration_ms(text)


def test_format_duration_uses_highest_exact_unit() -> None:
    assert format_duration_ms(200) == "200 ms"
    assert format_duration_ms(10_000) == "10 s"
    assert format_duration_ms(60_000) == "1 min"
    assert format_duration_ms(7_200_000) == "2 h"
    assert format_duration_ms(86_400_000) == "1 d"
    assert format_duration_ms(1_500) == "1500 ms"
    assert format_duration_ms(0) == "0 ms"


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("32 kb", 32_768),
        ("128mb", 134_217_728),
        ("1 gb", 1_073_741_824),
        ("1t", 1 << 40),
        ("100", 100),
        ("100 bytes", 100),
        ("64 KB", 65_536),
    ],
)
def test_parse_memory_size(text: str, size: int) -> None:
    assert parse_memory_size(text) == size


def test_memory_size_errors_and_format() -> None:
    with pytest.raises(ValueError):
        parse_memory_size("lots")
    with pytest.raises(ValueError):
        parse_memory_size("3 pb")
    assert format_memory_size(32_768) == "32 kb"
    assert format_memory_size(1 << 30) == "1 gb"
    assert format_memory_size(100) == "100 bytes"


def test_bool_and_int_parsers() -> None:
    assert parse_bool("TRUE") is True
    assert parse_bool(" false ") is False
    with pytest.raises(ValueError):
        parse_bool("yes")
    assert parse_int(" -3 ") == -3
    for bad in ("1.0", "1_000", "", "2147483648"):
        with pytest.raises(ValueError):
            parse_int(bad)


def test_map_parse_and_format_round_trip() -> None:
    assert parse_map("k1:v1,k2:v2") == {"k1": "v1", "k2": "v2"}
    assert parse_map(" k1 : v1 , k2:v2 ") == {"k1": "v1", "k2": "v2"}
    assert parse_map("") == {}
    assert parse_map("'a,b':'c:d','it''s':x") == {"a,b": "c:d", "it's": "x"}
    original = {"a,b": "c:d", "plain": "v", "q'uote": " padded "}
    assert parse_map(format_map(original)) == original
    with pytest.raises(ValueError):
        parse_map("novalue")
    with pytest.raises(ValueError):
        parse_map("'unterminated:x")


def test_option_parse_error_message() -> None:
    with pytest.raises(ConfigError) as info:
        co.AUTO_WATERMARK_INTERVAL.parse("soon")
    assert str(info.value) == (
        "Invalid value for 'pipeline.auto-watermark-interval': got 'soon'; "
        "expected a duration such as '200 ms' or '10 s'."
    )
    assert isinstance(info.value, ValueError)
    with pytest.raises(ConfigError, match=r"'parallelism.default': got 'two'; expected an integer"):
        co.PARALLELISM_DEFAULT.parse("two")
    with pytest.raises(ConfigError, match=r"expected one of STREAMING, BATCH, AUTOMATIC\.$"):
        co.RUNTIME_MODE.parse("realtime")


def test_option_to_string() -> None:
    assert co.AUTO_WATERMARK_INTERVAL.to_string(1000) == "1 s"
    assert co.AUTO_WATERMARK_INTERVAL.to_string(Duration.of_millis(250)) == "250 ms"
    assert co.AUTO_WATERMARK_INTERVAL.to_string(Time.minutes(1)) == "1 min"
    assert co.AUTO_WATERMARK_INTERVAL.to_string("3 s") == "3 s"
    assert co.OPERATOR_CHAINING.to_string(False) == "false"
    assert co.SEGMENT_SIZE.to_string(65_536) == "64 kb"
    assert co.GLOBAL_JOB_PARAMETERS.to_string({"a": "1", "b": "2"}) == "a:1,b:2"
    assert co.RUNTIME_MODE.to_string("batch") == "batch"  # text is checked, stored as given
    assert co.RUNTIME_MODE.to_string(co.RUNTIME_MODE.parse("batch")) == "BATCH"
    with pytest.raises(ConfigError, match=r"got 'x' \(str\)|got 'x';"):
        co.PARALLELISM_DEFAULT.to_string("x")
    with pytest.raises(ConfigError, match=r"got 1\.5 \(float\); expected an int\."):
        co.PARALLELISM_DEFAULT.to_string(1.5)


def test_enum_class_option() -> None:
    class Color(enum.Enum):
        RED = 1
        GREEN = 2

    option = ConfigOption("my.color", co.enum_type(Color), Color.RED)
    assert option.parse("green") is Color.GREEN
    assert option.to_string(Color.GREEN) == "GREEN"
    with pytest.raises(ConfigError, match="expected one of RED, GREEN"):
        option.parse("blue")


def test_defaults_match_flink() -> None:
    expected = {
        "parallelism.default": 1,
        "pipeline.max-parallelism": -1,
        "execution.runtime-mode": "STREAMING",
        "pipeline.auto-watermark-interval": 200,
        "execution.buffer-timeout.enabled": True,
        "execution.buffer-timeout.interval": 100,
        "pipeline.operator-chaining.enabled": True,
        "pipeline.name": None,
        "pipeline.global-job-parameters": None,
        "taskmanager.numberOfTaskSlots": 1,
        "minicluster.number-of-taskmanagers": 1,
        "pekko.ask.timeout": 10_000,
        "taskmanager.memory.segment-size": 32 * 1024,
        "taskmanager.network.memory.buffers-per-channel": 2,
        "taskmanager.network.memory.floating-buffers-per-gate": 8,
        "state.backend.type": "hashmap",
        "rest.port": 8081,
        "rest.address": "localhost",
        "execution.checkpointing.interval": None,
        "restart-strategy.type": None,
    }
    defaults = {o.key: o.default for o in co.all_options()}
    for key, default in expected.items():
        assert defaults[key] == default, key
    assert co.all_options()[0] is co.PARALLELISM_DEFAULT


def test_validate_accepts_good_and_unknown_keys() -> None:
    config = Configuration.from_dict(
        {
            "parallelism.default": "4",
            "pipeline.auto-watermark-interval": "1 s",
            "state.backend": "hashmap",  # Flink 1.x fallback key
            "pipeline.global-job-parameters.region": "eu",
            "python.execution-mode": "thread",  # a Flink key strom ignores
            "rest.bind-address": "0.0.0.0",
            "execution.checkpointing.timeout": "10 min",
            "my.own.setting": "x",
        }
    )
    validate(config)


def test_bad_values_are_rejected_when_stored() -> None:
    with pytest.raises(ConfigError) as info:
        Configuration.from_dict({"taskmanager.memory.segment-size": "huge"})
    assert str(info.value) == (
        "Invalid value for 'taskmanager.memory.segment-size': got 'huge'; "
        "expected a memory size such as '32 kb' or '128 mb'."
    )
    with pytest.raises(ConfigError) as info:
        Configuration.from_dict({"my.own": "x", "rest.port": "eighty"})
    assert str(info.value) == (
        "Invalid value for 'rest.port': got 'eighty'; expected an integer such as '4'."
    )


def test_validate_rejects_a_bad_value_stored_around_the_checks() -> None:
    config = Configuration()
    config._data["rest.port"] = "eighty"  # as an older pickle or a direct write could hold
    with pytest.raises(ConfigError, match=r"^Invalid value for 'rest\.port': got 'eighty'"):
        validate(config)


@pytest.mark.parametrize(
    ("typo", "meant"),
    [
        ("parallelism.defualt", "parallelism.default"),
        ("rest.prot", "rest.port"),
        ("taskmanager.numberOfTaskslots", "taskmanager.numberOfTaskSlots"),
        ("Parallelism.Default", "parallelism.default"),
        ("pipeline.auto-watermark-intervall", "pipeline.auto-watermark-interval"),
    ],
)
def test_validate_reports_near_misses(typo: str, meant: str) -> None:
    with pytest.raises(ConfigError) as info:
        validate(Configuration.from_dict({typo: "1"}))
    assert str(info.value) == f"Unknown configuration key '{typo}'; did you mean '{meant}'?"


def test_validate_extra_options() -> None:
    extra = ConfigOption("my.interval", DURATION, 5)
    with pytest.raises(ConfigError, match=r"did you mean 'my\.interval'"):
        validate(Configuration.from_dict({"my.intreval": "1 s"}), [extra])
    with pytest.raises(ConfigError, match=r"Invalid value for 'my\.interval'"):
        validate(Configuration.from_dict({"my.interval": "x"}), [extra])


def test_option_types_are_exposed() -> None:
    assert ConfigOption("a", INT, 1).parser("5") == 5
    assert MAP.parse("a:b") == {"a": "b"}
    assert MEMORY_SIZE.parse("1k") == 1024
