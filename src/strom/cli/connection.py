"""What every CLI action that talks to a running cluster shares: the options that say where
its REST API is (``-m host:port``, else the leader ZooKeeper names with
``high-availability.type: zookeeper``, else ``rest.address``/``rest.port`` of ``-D``,
``--config`` or ``conf/config.yaml``), ``-v``, ``--json``, and how failures read.

A failure is one ``Error:`` line and exit code 1: the JobManager cannot be reached, it
answers with an error (unknown job id, ...), or the job id is malformed. Usage mistakes
stay click's (exit code 2). An unexpected exception prints its traceback only with ``-v``.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from strom.client.rest import RestClient, RestClientError
from strom.client.rest_cluster_client import RestClusterClient
from strom.common.config_options import REST_ADDRESS, REST_PORT
from strom.common.configuration import Configuration
from strom.common.job import JobID
from strom.ha.services import ha_enabled

__all__ = ["Connection", "cluster_command", "json_option", "parse_job_id", "print_json"]

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

#: the configuration file read when there is no --config (Flink reads conf/config.yaml)
DEFAULT_CONFIG = Path("conf") / "config.yaml"


class Connection:
    """Where the cluster's REST API is, from the command's options."""

    def __init__(self, jobmanager: str | None, dynamic: tuple[str, ...],
                 config_file: str | None) -> None:
        from strom.cli.main import _configuration

        if config_file is None and DEFAULT_CONFIG.is_file():
            config_file = str(DEFAULT_CONFIG)
        self.configuration: Configuration = _configuration(None, dynamic, config_file)
        #: the -m option, if given
        self.jobmanager = jobmanager
        host: str | None = self.configuration.get(REST_ADDRESS)
        port: int | None = self.configuration.get(REST_PORT)
        self.address = jobmanager or f"{host}:{port}"
        #: ask ZooKeeper for the leader (high availability and no -m)
        self.find_leader = jobmanager is None and ha_enabled(self.configuration)

    def cluster(self) -> RestClusterClient:
        from strom.cli.main import ConfigurationProblem

        try:
            return RestClusterClient(None if self.find_leader else self.address,
                                     configuration=self.configuration)
        except ValueError as e:
            raise ConfigurationProblem(f"-m/--jobmanager: {e}") from None
        except TimeoutError as e:  # no leader in ZooKeeper
            raise click.ClickException(str(e)) from None

    def rest(self) -> RestClient:
        return self.cluster().rest


def parse_job_id(text: str) -> JobID:
    """The job id ``text`` names; one ``Error:`` line (exit code 1) when malformed."""
    try:
        return JobID.from_hex_string(text)
    except ValueError as e:
        raise click.ClickException(
            f"The value for the Job ID is not a valid ID. {e}") from None


def print_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2))


json_option = click.option("--json", "as_json", is_flag=True,
                           help="Print the REST API's JSON instead of text (for scripts).")

_connection_options = [
    click.option("-m", "--jobmanager", default=None, metavar="host:port",
                 help="Address of the JobManager's REST API (default: the leader in "
                      "ZooKeeper with high-availability.type: zookeeper, else "
                      "rest.address:rest.port of the configuration, localhost:8081)."),
    click.option("-D", "dynamic", multiple=True, metavar="key=value",
                 help="A configuration key, e.g. -D rest.port=8082."),
    click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False),
                 help="A config.yaml with Flink-style keys (default: conf/config.yaml when "
                      "there is one)."),
    click.option("-v", "--verbose", is_flag=True,
                 help="On an unexpected failure, print the full traceback."),
]


def cluster_command(f: F) -> F:
    """Add the connection options; the command receives ``connection: Connection`` and
    ``verbose``, and its failures become one ``Error:`` line."""

    @functools.wraps(f)
    def command(jobmanager: str | None, dynamic: tuple[str, ...], config_file: str | None,
                verbose: bool, **kwargs: Any) -> Any:
        connection = Connection(jobmanager, dynamic, config_file)
        try:
            return f(connection=connection, **kwargs)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except RestClientError as e:
            log.debug("The REST call failed", exc_info=e)
            if verbose:
                raise
            message = str(e)
            if connection.find_leader and e.status in (None, 503):
                message += (" With high availability the leader may have just failed: a "
                            "standby takes over once its ZooKeeper session ends "
                            "(high-availability.zookeeper.client.session-timeout); try "
                            "again then.")
            raise click.ClickException(message) from None
        except Exception as e:
            log.debug("The command failed", exc_info=e)
            if verbose:
                raise
            raise click.ClickException(
                f"{type(e).__name__}: {e} (-v prints the traceback)") from None

    decorated: Any = command
    for option in reversed(_connection_options):
        decorated = option(decorated)
    return decorated  # type: ignore[no-any-return]
