"""The cluster files shipped in conf/, and how `strom cluster` reads conf/workers."""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from strom.cli.cluster import _workers
from strom.common import config_options as co
from strom.common.configuration import Configuration
from strom.heartbeat import HeartbeatSettings
from strom.metrics.prometheus import FLINK_FACTORY_CLASS, parse_ports

ROOT = Path(__file__).resolve().parents[3]


def test_the_shipped_config_has_flinks_defaults_and_binds_loopback() -> None:
    configuration = Configuration.from_yaml_file(ROOT / "conf" / "config.yaml")
    co.validate(configuration)
    assert configuration.get(co.JOBMANAGER_RPC_PORT) == 6123
    assert configuration.get(co.REST_PORT) == 8081
    assert configuration.get(co.NUM_TASK_SLOTS) == 1
    assert configuration.get(co.JOBMANAGER_BIND_HOST) == "127.0.0.1"
    assert configuration.get(co.TASKMANAGER_BIND_HOST) == "127.0.0.1"
    assert HeartbeatSettings.from_configuration(configuration) == HeartbeatSettings(
        10_000, 50_000, 2)
    assert _workers(ROOT / "conf") == ["localhost", "localhost"]  # two one-slot TaskManagers
    # Prometheus, on loopback, one port each for the JobManager and TaskManagers of a host
    assert configuration.get(co.METRICS_REPORTERS) == "prom"
    assert configuration.get(co.PROMETHEUS_FACTORY_CLASS) == FLINK_FACTORY_CLASS
    assert configuration.get(co.PROMETHEUS_HOST) == "127.0.0.1"
    assert parse_ports(configuration.get(co.PROMETHEUS_PORT) or "")[:1] == [9249]


def test_workers_lists_one_task_manager_per_line_without_comments(tmp_path: Path) -> None:
    (tmp_path / "workers").write_text("# TaskManagers\nlocalhost\n\n127.0.0.1  # second\n")
    assert _workers(tmp_path) == ["localhost", "127.0.0.1"]
    assert _workers(tmp_path / "missing") == ["localhost"]


def test_workers_on_other_hosts_are_refused_with_what_to_do_instead(tmp_path: Path) -> None:
    (tmp_path / "workers").write_text("localhost\nnode-2\n")
    with pytest.raises(click.ClickException, match=r"node-2.*strom taskmanager"):
        _workers(tmp_path)
