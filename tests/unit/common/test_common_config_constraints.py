"""Every option's range and choices are checked when a value is stored, whichever way it
comes in (setters, ``from_dict``, ``config.yaml``, typed ``set``), with a message that names
the key, the value and what is allowed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from strom.common import ConfigError, Configuration, Duration
from strom.common import config_options as co
from strom.common.config_options import ConfigOption
from strom.datastream import StreamExecutionEnvironment

# option -> (accepted texts, rejected texts, what the message says is allowed)
CONSTRAINED: dict[ConfigOption[Any], tuple[list[str], list[str], str]] = {
    co.PARALLELISM_DEFAULT: (
        ["1", "4", "-1"],
        ["0", "-2"],
        "expected an integer >= 1, or -1 (the system default: the number of CPU cores "
        "locally).",
    ),
    co.MAX_PARALLELISM: (
        ["1", "128", "32768", "-1"],
        ["0", "-5", "32769"],
        "expected an integer from 1 to 32768, or -1 (derive it from the parallelism).",
    ),
    co.NUM_TASK_SLOTS: (["1", "8"], ["0", "-1"], "expected an integer >= 1."),
    co.MINICLUSTER_NUM_TASKMANAGERS: (["1", "3"], ["0", "-1"], "expected an integer >= 1."),
    co.ASK_TIMEOUT: (["10 s", "1 ms", "500"], ["0"], "expected an integer >= 1."),
    co.SEGMENT_SIZE: (
        ["4 kb", "32 kb", "1 mb"],
        ["1 kb", "4095", "48 kb", "0"],
        "expected a power of two >= 4 kb.",
    ),
    co.BUFFERS_PER_CHANNEL: (["0", "2"], ["-1"], "expected an integer >= 0."),
    co.FLOATING_BUFFERS_PER_GATE: (["0", "8"], ["-3"], "expected an integer >= 0."),
    co.REST_PORT: (["0", "8081", "65535"], ["-1", "65536"], "expected an integer from 0 to 65535."),
    co.WEB_CHECKPOINTS_HISTORY: (["0", "10"], ["-1"], "expected an integer >= 0."),
    co.JOBMANAGER_RPC_PORT: (["0", "6123"], ["-1", "70000"],
                             "expected an integer from 0 to 65535."),
    co.TASKMANAGER_RPC_PORT: (["0", "6122"], ["-1", "65536"],
                              "expected an integer from 0 to 65535."),
    co.HEARTBEAT_INTERVAL: (["10 s", "200 ms"], ["0"], "expected an integer >= 1."),
    co.HEARTBEAT_TIMEOUT: (["50 s", "2 s"], ["0 ms"], "expected an integer >= 1."),
    co.HEARTBEAT_RPC_FAILURE_THRESHOLD: (
        ["2", "1", "-1"], ["0", "-2"],
        "expected an integer >= 1, or -1 (failed RPCs never declare a peer lost).",
    ),
    co.REGISTRATION_INITIAL_TIMEOUT: (["100 ms"], ["0"], "expected an integer >= 1."),
    co.REGISTRATION_MAX_TIMEOUT: (["30 s"], ["0"], "expected an integer >= 1."),
    co.REGISTRATION_ERROR_DELAY: (["10 s", "50 ms"], ["0"], "expected an integer >= 1."),
    co.TASKMANAGER_REGISTRATION_TIMEOUT: (["5 min", "1 s"], ["0"], "expected an integer >= 1."),
    co.TASKMANAGER_DATA_PORT: (["0", "6121"], ["-1", "65536"],
                               "expected an integer from 0 to 65535."),
    co.ROCKSDB_MEMORY_FIXED_PER_SLOT: (
        ["8 mb", "1 gb"], ["1 kb"], "expected an integer >= 1048576."),
    co.CHECKPOINTING_TOLERABLE_FAILURES: (["0", "3"], ["-1"], "expected an integer >= 0."),
    co.CHECKPOINTING_MAX_CONCURRENT: (["1", "3"], ["0"], "expected an integer >= 1."),
    co.CHECKPOINTING_NUM_RETAINED: (["1", "5"], ["0"], "expected an integer >= 1."),
    co.CHECKPOINTING_TIMEOUT: (["10 min"], ["0"], "expected an integer >= 1."),
    co.RESTART_FIXED_DELAY_ATTEMPTS: (["0", "3"], ["-1"], "expected an integer >= 0."),
    co.RESTART_FAILURE_RATE_MAX_FAILURES: (["1", "5"], ["0"], "expected an integer >= 1."),
    co.RESTART_FAILURE_RATE_INTERVAL: (["1 min"], ["0 ms"], "expected an integer >= 1."),
    co.RESTART_EXPONENTIAL_INITIAL_BACKOFF: (["1 ms", "1 s"], ["0 ms"],
                                             "expected an integer >= 1."),
    co.RESTART_EXPONENTIAL_MAX_BACKOFF: (["5 min"], ["0 ms"], "expected an integer >= 1."),
    co.RESTART_EXPONENTIAL_BACKOFF_MULTIPLIER: (["1.5", "2"], ["1.0", "0.5"],
                                                "expected a number > 1.0."),
    co.RESTART_EXPONENTIAL_RESET_BACKOFF_THRESHOLD: (["1 h"], ["0 ms"],
                                                     "expected an integer >= 1."),
    co.RESTART_EXPONENTIAL_JITTER_FACTOR: (["0", "0.1", "1"], ["1.5", "-0.1"],
                                           "expected a number from 0.0 to 1.0."),
    co.RESTART_EXPONENTIAL_ATTEMPTS: (["1", "10"], ["0"], "expected an integer >= 1."),
    # ---- metrics
    co.METRICS_FETCHER_UPDATE_INTERVAL: (["10 s", "200 ms"], ["0 ms"],
                                         "expected an integer >= 1."),
}

# ---- flame graphs
CONSTRAINED.update({
    co.FLAMEGRAPH_NUM_SAMPLES: (["1", "100"], ["0"], "expected an integer >= 1."),
    co.FLAMEGRAPH_STACK_DEPTH: (["1", "100"], ["0"], "expected an integer >= 1."),
    co.FLAMEGRAPH_REFRESH_INTERVAL: (["1 min"], ["0 ms"], "expected an integer >= 1."),
    co.FLAMEGRAPH_CLEANUP_INTERVAL: (["10 min"], ["0 ms"], "expected an integer >= 1."),
})

# enumerated options: an unknown name is an error listing the names
ENUMERATED: dict[ConfigOption[Any], tuple[str, str]] = {
    co.RUNTIME_MODE: ("realtime", "expected one of STREAMING, BATCH, AUTOMATIC."),
    co.STATE_BACKEND_TYPE: ("memory", "expected one of hashmap, rocksdb."),
    co.RESTART_STRATEGY_TYPE: ("sometimes", "expected one of none, off, disable, fixed-delay"),
    co.FAILOVER_STRATEGY: ("partial", "expected one of full, region."),
}


def test_every_constrained_option_is_tested_here() -> None:
    constrained = {o.key for o in co.all_options() if o.constraint is not None}
    assert constrained == {o.key for o in CONSTRAINED}


@pytest.mark.parametrize("option", list(CONSTRAINED), ids=lambda o: o.key)
def test_constraint_accepts_and_rejects(option: ConfigOption[Any]) -> None:
    accepted, rejected, allowed = CONSTRAINED[option]
    for text in accepted:
        assert Configuration().set_string(option.key, text).get(option) == option.parse(text)
    for text in rejected:
        with pytest.raises(ConfigError) as info:
            Configuration().set_string(option.key, text)
        message = str(info.value)
        assert message.startswith(f"Invalid value for '{option.key}': got {text!r}; "), message
        assert message.endswith(allowed), message


@pytest.mark.parametrize("option", list(CONSTRAINED), ids=lambda o: o.key)
def test_every_way_in_checks_the_constraint(option: ConfigOption[Any], tmp_path: Path) -> None:
    text = CONSTRAINED[option][1][0]
    with pytest.raises(ConfigError, match=f"^Invalid value for '{option.key}'"):
        Configuration.from_dict({option.key: text})
    with pytest.raises(ConfigError, match=f"^Invalid value for '{option.key}'"):
        option.parse(text)
    yaml_file = tmp_path / "config.yaml"
    yaml_file.write_text(f"{option.key}: '{text}'\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        Configuration.from_yaml_file(yaml_file)
    assert str(info.value).startswith(
        f"In configuration file '{yaml_file}': Invalid value for '{option.key}': got {text!r}; "
    )
    typed = option.type.parse(text)  # the same value given in code, not as text
    with pytest.raises(ConfigError, match=f"^Invalid value for '{option.key}': got {typed!r};"):
        Configuration().set(option, typed)


@pytest.mark.parametrize("option", list(ENUMERATED), ids=lambda o: o.key)
def test_unknown_names_of_enumerated_options(option: ConfigOption[Any]) -> None:
    name, allowed = ENUMERATED[option]
    with pytest.raises(ConfigError) as info:
        Configuration().set_string(option.key, name)
    assert str(info.value).startswith(f"Invalid value for '{option.key}': got {name!r}; ")
    assert allowed in str(info.value)


def test_typed_setters_are_checked_too() -> None:
    with pytest.raises(ConfigError, match=r"'parallelism\.default': got '0'"):
        Configuration().set_integer("parallelism.default", 0)
    with pytest.raises(ConfigError, match=r"'minicluster\.number-of-taskmanagers': got '0'"):
        Configuration().set_integer("minicluster.number-of-taskmanagers", 0)
    with pytest.raises(ConfigError, match=r"'taskmanager\.numberOfTaskSlots': got '2\.0'"):
        Configuration().set_float("taskmanager.numberOfTaskSlots", 2.0)
    with pytest.raises(ConfigError, match=r"'pipeline\.object-reuse': got 'x'"):
        Configuration().set_string("pipeline.object-reuse", "x")
    with pytest.raises(ConfigError, match=r"'pipeline\.max-parallelism': got '0'"):
        Configuration().add_all(Configuration().set_string("max-parallelism", "0"), "pipeline.")
    with pytest.raises(ConfigError, match=r"got -5 \(int\); expected a non-negative number"):
        Configuration().set(co.AUTO_WATERMARK_INTERVAL, -5)
    with pytest.raises(ConfigError, match=r"got Duration.of_millis\(-1\) \(Duration\); expected a non-negative"):
        Configuration().set(co.BUFFER_TIMEOUT_INTERVAL, Duration.of_millis(-1))
    # keys strom does not know stay unchecked, as in Flink
    assert Configuration().set_string("my.own.parallelism", "0").get_string(
        "my.own.parallelism", ""
    ) == "0"


def test_a_failed_set_leaves_the_configuration_unchanged() -> None:
    config = Configuration().set_string("parallelism.default", "2")
    with pytest.raises(ConfigError):
        config.set_string("parallelism.default", "0")
    assert config.get(co.PARALLELISM_DEFAULT) == 2


def test_parallelism_minus_one_means_the_system_default() -> None:
    env = StreamExecutionEnvironment.get_execution_environment(
        Configuration().set_string("parallelism.default", "-1")
    )
    assert env.get_parallelism() == StreamExecutionEnvironment.get_default_local_parallelism()
    with env.from_collection([1, 2, 3]).map(lambda x: x * 2).execute_and_collect() as results:
        assert sorted(results) == [2, 4, 6]
