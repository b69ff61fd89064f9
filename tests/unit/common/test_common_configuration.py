import pickle
from pathlib import Path

import pytest

from strom.common import ConfigError, Configuration, Duration
from strom.common import config_options as co


def test_string_and_typed_setters_getters() -> None:
    config = Configuration()
    assert config.set_string("a", "x") is config
    config.set_integer("i", 42).set_boolean("b", True).set_float("f", 0.5)
    config.set_bytearray("bytes", b"\x00\xff")
    assert config.get_string("a", "d") == "x"
    assert config.get_string("missing", "d") == "d"
    assert config.get_integer("i", 0) == 42
    assert config.get_integer("missing", 7) == 7
    assert config.get_boolean("b", False) is True
    assert config.get_float("f", 0.0) == 0.5
    assert config.get_bytearray("bytes", b"") == bytearray(b"\x00\xff")
    assert config.get_bytearray("missing", b"z") == bytearray(b"z")
    assert config.to_dict() == {
        "a": "x",
        "i": "42",
        "b": "true",
        "f": "0.5",
        "bytes": "AP8=",
    }
    assert config.key_set() == {"a", "i", "b", "f", "bytes"}
    assert config.contains_key("a") and "a" in config and "zzz" not in config
    assert config.remove_config("a") is True
    assert config.remove_config("a") is False


def test_getters_raise_config_error_naming_the_key() -> None:
    config = Configuration.from_dict({"n": "many", "b": "yes", "f": "half", "x": "!!"})
    with pytest.raises(
        ConfigError, match=r"^Invalid value for 'n': got 'many'; expected an integer"
    ):
        config.get_integer("n", 0)
    with pytest.raises(ConfigError, match=r"'b': got 'yes'; expected 'true' or 'false'\."):
        config.get_boolean("b", False)
    with pytest.raises(ConfigError, match=r"'f': got 'half'"):
        config.get_float("f", 0.0)
    with pytest.raises(ConfigError, match=r"'x': got '!!'; expected base64"):
        config.get_bytearray("x", b"")
    with pytest.raises(ConfigError, match="needs an int"):
        config.set_integer("n", "3")  # type: ignore[arg-type]


def test_copy_constructor_equality_and_repr() -> None:
    original = Configuration().set_string("k", "v")
    copy = Configuration(original)
    assert copy == original
    copy.set_string("k", "w")
    assert original.get_string("k", "") == "v"
    assert copy != original
    assert repr(original) == "Configuration({'k': 'v'})"
    assert str(original) == "{k=v}"


def test_add_all() -> None:
    a = Configuration().set_string("x", "1")
    b = Configuration().set_string("y", "2")
    a.add_all(b)
    a.add_all(b, prefix="p.")
    assert a.to_dict() == {"x": "1", "y": "2", "p.y": "2"}
    target: dict[str, str] = {"z": "0"}
    a.add_all_to_dict(target)
    assert target == {"z": "0", "x": "1", "y": "2", "p.y": "2"}


def test_typed_get_set() -> None:
    config = Configuration()
    assert config.get(co.PARALLELISM_DEFAULT) == 1
    assert config.get(co.PIPELINE_NAME) is None
    config.set(co.PARALLELISM_DEFAULT, 4)
    config.set(co.AUTO_WATERMARK_INTERVAL, Duration.of_seconds(2))
    config.set(co.RUNTIME_MODE, "batch")
    assert config.get_string("parallelism.default", "") == "4"
    assert config.get_string("pipeline.auto-watermark-interval", "") == "2 s"
    assert config.get(co.AUTO_WATERMARK_INTERVAL) == 2000
    assert config.get(co.RUNTIME_MODE) == "BATCH"
    config.set(co.PARALLELISM_DEFAULT, None)
    assert not config.contains(co.PARALLELISM_DEFAULT)
    with pytest.raises(ConfigError, match=r"'rest\.port': got 'http'"):
        config.set(co.REST_PORT, "http")
    with pytest.raises(ConfigError, match=r"'rest\.port': got 'http'"):
        config.set_string("rest.port", "http")
    assert not config.contains(co.REST_PORT)


def test_get_required_and_pickling() -> None:
    config = Configuration().set(co.REST_PORT, 9000)
    assert config.get_required(co.REST_PORT) == 9000
    assert config.get_required(co.PARALLELISM_DEFAULT) == 1
    with pytest.raises(ConfigError) as info:
        config.get_required(co.CHECKPOINTING_INTERVAL)
    assert str(info.value) == (
        "Configuration 'execution.checkpointing.interval' is not set and has no default; set "
        "it in config.yaml or with -Dexecution.checkpointing.interval=<value>."
    )
    assert pickle.loads(pickle.dumps(config)) == config


def test_fallback_keys() -> None:
    config = Configuration.from_dict({"restart-strategy": "off"})
    assert config.get(co.RESTART_STRATEGY_TYPE) == "off"
    assert config.contains(co.RESTART_STRATEGY_TYPE)
    config.set(co.RESTART_STRATEGY_TYPE, "NONE")
    assert config.get(co.RESTART_STRATEGY_TYPE) == "none"
    legacy = Configuration.from_dict({"state.backend": "HashMap"})
    assert legacy.get(co.STATE_BACKEND_TYPE) == "hashmap"
    assert Configuration().set_string("state.backend", "RocksDB").get(
        co.STATE_BACKEND_TYPE) == "rocksdb"
    with pytest.raises(ConfigError, match=r"^Invalid value for 'state\.backend': got 'leveldb'"):
        Configuration().set_string("state.backend", "leveldb")


def test_map_option_from_string_and_prefixed_keys() -> None:
    config = Configuration.from_dict({"pipeline.global-job-parameters": "k1:v1,k2:v2"})
    assert config.get(co.GLOBAL_JOB_PARAMETERS) == {"k1": "v1", "k2": "v2"}
    prefixed = Configuration.from_dict(
        {"pipeline.global-job-parameters.a": "1", "pipeline.global-job-parameters.b": "2"}
    )
    assert prefixed.get(co.GLOBAL_JOB_PARAMETERS) == {"a": "1", "b": "2"}
    assert prefixed.contains(co.GLOBAL_JOB_PARAMETERS)


def test_from_dict_converts_python_values() -> None:
    config = Configuration.from_dict(
        {
            "a": True,
            "b": 3,
            "c": Duration.of_millis(1500),
            "d": {"x": "1"},
            "e": ["p", "q"],
            "f": None,
        }
    )
    assert config.to_dict() == {"a": "true", "b": "3", "c": "1500 ms", "d": "x:1", "e": "p;q"}


def test_from_yaml_file_flattens(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(
        "parallelism:\n"
        "  default: 2\n"
        "rest.port: 9091\n"
        "execution:\n"
        "  buffer-timeout:\n"
        "    interval: 5 s\n"
        "pipeline:\n"
        "  operator-chaining.enabled: false\n"
        "  global-job-parameters:\n"
        "    region: eu\n"
        "    tier: gold\n"
        "state.backend.type: hashmap\n"
        "empty:\n"
        "list: [a, b]\n",
        encoding="utf-8",
    )
    config = Configuration.from_yaml_file(path)
    assert config.to_dict() == {
        "parallelism.default": "2",
        "rest.port": "9091",
        "execution.buffer-timeout.interval": "5 s",
        "pipeline.operator-chaining.enabled": "false",
        "pipeline.global-job-parameters.region": "eu",
        "pipeline.global-job-parameters.tier": "gold",
        "state.backend.type": "hashmap",
        "list": "a;b",
    }
    assert config.get(co.PARALLELISM_DEFAULT) == 2
    assert config.get(co.BUFFER_TIMEOUT_INTERVAL) == 5000
    assert config.get(co.OPERATOR_CHAINING) is False
    assert config.get(co.GLOBAL_JOB_PARAMETERS) == {"region": "eu", "tier": "gold"}
    co.validate(config)


def test_from_yaml_file_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("rest.port: 8081\nparallelism.default: [1, 2\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        Configuration.from_yaml_file(bad)
    message = str(info.value)
    assert f"'{bad}'" in message and "line 3" in message

    scalar = tmp_path / "scalar.yaml"
    scalar.write_text("just a string\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="must hold a mapping of keys to values, got a str"):
        Configuration.from_yaml_file(scalar)

    with pytest.raises(ConfigError, match="Cannot read configuration file"):
        Configuration.from_yaml_file(tmp_path / "missing.yaml")

    empty = tmp_path / "empty.yaml"
    empty.write_text("", encoding="utf-8")
    assert Configuration.from_yaml_file(empty).to_dict() == {}
