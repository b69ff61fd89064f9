"""conf/masters (Flink's ``host:webui-port`` per JobManager) and how `strom cluster start`
uses it: one JobManager per line, each with its rest.port; several only with high
availability."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from strom.cli.cluster import _jobmanagers, _with_before_dynamic, read_masters
from strom.cli.main import main

ROOT = Path(__file__).resolve().parents[3]


def test_the_shipped_masters_file_names_one_jobmanager_on_8081() -> None:
    assert read_masters(ROOT / "conf") == [("localhost", 8081)]


def test_masters_lists_host_and_web_ui_port_per_line_without_comments(tmp_path: Path) -> None:
    (tmp_path / "masters").write_text(
        "# JobManagers\nlocalhost:8081\n\n127.0.0.1:8082  # the standby\n")
    assert read_masters(tmp_path) == [("localhost", 8081), ("127.0.0.1", 8082)]
    assert read_masters(tmp_path / "missing") is None


@pytest.mark.parametrize("line", ["localhost", "localhost:http", ":8081", "localhost:70000"])
def test_a_malformed_masters_line_is_refused_with_its_line_number(tmp_path: Path,
                                                                  line: str) -> None:
    (tmp_path / "masters").write_text(f"localhost:8081\n{line}\n")
    with pytest.raises(click.ClickException,
                       match=rf"masters, line 2: '{line}' is not host:webui-port"):
        read_masters(tmp_path)


def test_masters_on_other_hosts_empty_or_with_one_port_twice_are_refused(
        tmp_path: Path) -> None:
    masters = tmp_path / "masters"
    masters.write_text("localhost:8081\nnode-2:8081\n")
    with pytest.raises(click.ClickException, match=r"node-2.*strom jobmanager"):
        read_masters(tmp_path)
    masters.write_text("# nobody\n")
    with pytest.raises(click.ClickException, match="lists no JobManager"):
        read_masters(tmp_path)
    masters.write_text("localhost:8081\n127.0.0.1:8081\n")
    with pytest.raises(click.ClickException, match="the same port"):
        read_masters(tmp_path)
    masters.write_text("localhost:0\n127.0.0.1:0\n")  # any free port each: fine
    assert read_masters(tmp_path) == [("localhost", 0), ("127.0.0.1", 0)]


def test_each_jobmanager_gets_its_lines_port_before_the_command_lines_keys() -> None:
    assert _jobmanagers(None) == [("jobmanager", [])]
    assert _jobmanagers([("localhost", 8081)]) == [("jobmanager", ["-D", "rest.port=8081"])]
    assert _jobmanagers([("localhost", 8081), ("localhost", 8082)]) == [
        ("jobmanager-0", ["-D", "rest.port=8081"]), ("jobmanager-1", ["-D", "rest.port=8082"])]
    extra = ["-D", "rest.port=8081"]
    assert _with_before_dynamic(["--config", "c.yaml", "-D", "a=1"], extra) == [
        "--config", "c.yaml", "-D", "rest.port=8081", "-D", "a=1"]
    assert _with_before_dynamic(["-D", "a=1"], extra) == [*extra, "-D", "a=1"]


def test_several_masters_without_high_availability_fail_before_anything_starts(
        tmp_path: Path) -> None:
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "masters").write_text("localhost:8081\nlocalhost:8082\n")
    (conf / "config.yaml").write_text("rest.port: 0\n")
    result = CliRunner().invoke(main, ["cluster", "start", "--conf-dir", str(conf),
                                       "--log-dir", str(tmp_path / "log")])
    assert result.exit_code == 1
    assert ("lists 2 JobManagers (localhost:8081, localhost:8082), but several JobManagers "
            "need high-availability.type: zookeeper") in result.output
    assert not (tmp_path / "log").exists()
