"""env.enable_checkpointing / get_checkpoint_config write the execution.checkpointing.* keys
with Flink's defaults, and the JobGraph carries them to the JobMaster."""

from __future__ import annotations

import pytest

from strom.common import Configuration, Duration
from strom.common.checkpointing import CheckpointCoordinatorConfiguration
from strom.common.config_options import ConfigError
from strom.datastream import (
    CheckpointingMode,
    ExternalizedCheckpointRetention,
    StreamExecutionEnvironment,
)


def test_defaults_are_flinks() -> None:
    config = StreamExecutionEnvironment(Configuration()).get_checkpoint_config()
    assert not config.is_checkpointing_enabled()
    assert config.get_checkpoint_interval() == -1
    assert config.get_checkpointing_mode() is CheckpointingMode.EXACTLY_ONCE
    assert config.get_checkpoint_timeout() == 600_000
    assert config.get_min_pause_between_checkpoints() == 0
    assert config.get_max_concurrent_checkpoints() == 1
    assert config.get_tolerable_checkpoint_failure_number() == 0
    assert config.is_fail_on_checkpointing_errors()
    assert not config.is_unaligned_checkpoints_enabled()
    assert config.get_aligned_checkpoint_timeout() == Duration.of_millis(0)
    assert (config.get_externalized_checkpoint_retention()
            is ExternalizedCheckpointRetention.NO_EXTERNALIZED_CHECKPOINTS)
    assert not config.is_externalized_checkpoints_enabled()


def test_enable_checkpointing_and_setters_reach_the_job_graph() -> None:
    env = StreamExecutionEnvironment(Configuration())
    env.enable_checkpointing(500, CheckpointingMode.AT_LEAST_ONCE)
    config = env.get_checkpoint_config()
    (config.set_checkpoint_timeout(2000).set_min_pause_between_checkpoints(100)
     .set_max_concurrent_checkpoints(2).set_tolerable_checkpoint_failure_number(3)
     .set_externalized_checkpoint_retention(
         ExternalizedCheckpointRetention.RETAIN_ON_CANCELLATION)
     .set_checkpoint_storage_dir("memory://ckpts"))
    assert env.get_checkpoint_interval() == 500
    assert env.get_checkpointing_mode() is CheckpointingMode.AT_LEAST_ONCE
    assert config.is_externalized_checkpoints_enabled()
    env.from_collection([1, 2]).print()
    settings = env._job_graph("j").checkpoint_config
    assert settings == CheckpointCoordinatorConfiguration(
        interval_ms=500, exactly_once=False, timeout_ms=2000, min_pause_ms=100,
        max_concurrent=2, tolerable_failures=3,
        externalized_retention="RETAIN_ON_CANCELLATION", checkpoint_dir="memory://ckpts")


def test_flink_1x_keys_are_aliases() -> None:
    settings = CheckpointCoordinatorConfiguration.from_configuration(Configuration.from_dict({
        "execution.checkpointing.interval": "2 s",
        "state.checkpoints.dir": "file:///tmp/x", "state.savepoints.dir": "/tmp/sp",
        "state.checkpoints.num-retained": "3", "state.backend.incremental": "true",
    }))
    assert settings.interval_ms == 2000 and settings.checkpoint_dir == "file:///tmp/x"
    assert settings.savepoint_dir == "/tmp/sp" and settings.num_retained == 3
    assert settings.incremental


def test_bad_values_fail_early_with_what_to_do() -> None:
    config = StreamExecutionEnvironment(Configuration()).get_checkpoint_config()
    with pytest.raises(ValueError, match=r"checkpoint interval .* >= 10, got 5"):
        config.set_checkpoint_interval(5)
    with pytest.raises(ValueError, match=r"concurrent checkpoints must be an integer >= 1"):
        config.set_max_concurrent_checkpoints(0)
    with pytest.raises(TypeError, match="takes a CheckpointingMode"):
        config.set_checkpointing_mode("EXACTLY_ONCE")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"Unaligned checkpoints need .* AT_LEAST_ONCE"):
        CheckpointCoordinatorConfiguration.from_configuration(Configuration.from_dict({
            "execution.checkpointing.unaligned.enabled": "true",
            "execution.checkpointing.mode": "AT_LEAST_ONCE"}))
    with pytest.raises(ConfigError, match=r"no execution.checkpointing.dir is set"):
        CheckpointCoordinatorConfiguration.from_configuration(Configuration.from_dict({
            "execution.checkpointing.storage": "filesystem"}))


def test_default_savepoint_directory_and_unaligned_getters_on_the_environment() -> None:
    from strom.common import config_options as opts

    env = StreamExecutionEnvironment.get_execution_environment()
    assert env.get_default_savepoint_directory() is None
    assert env.set_default_savepoint_directory("/tmp/savepoints") is env
    assert env.get_default_savepoint_directory() == "/tmp/savepoints"
    assert env.get_config().configuration.get(opts.SAVEPOINT_DIRECTORY) == "/tmp/savepoints"
    assert not env.is_unaligned_checkpoints_enabled()
    env.get_checkpoint_config().enable_unaligned_checkpoints()
    assert env.is_unaligned_checkpoints_enabled()
    assert not env.is_force_unaligned_checkpoints()
