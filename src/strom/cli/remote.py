"""``strom run -m host:port``: run the program here, execute its jobs on a remote cluster
(with ``high-availability.type: zookeeper`` and no ``-m``: on the leader ZooKeeper names).

The program runs in this process as with ``python job.py``; each ``execute()`` ships the
JobGraph with the program file and its ``--pyFiles`` to the cluster's REST API and, unless
``-d``, follows the job to its end: a failed job re-raises the user's exception here.
Output follows Flink's CLI (``Job has been submitted with JobID ...``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from strom.cli.run_progress import RunProgress
from strom.client.rest_cluster_client import RestClusterClient
from strom.common.configuration import Configuration
from strom.common.job import JobID, JobStatus
from strom.graph.python_dependencies import PythonDependencies
from strom.runtime.python_path import acquire_python_path, release_python_path

__all__ = ["client_python_path", "remote_cluster", "report_finished_jobs"]


@contextmanager
def client_python_path(configuration: Configuration) -> Iterator[None]:
    """The job's ``python.files`` (``--pyFiles``) on ``sys.path`` while the program runs, as
    Flink's Python driver puts them on the client's PYTHONPATH: the program imports them."""
    try:
        entries = PythonDependencies.from_configuration(configuration).python_path()
    except (OSError, ValueError, TypeError) as e:
        raise click.ClickException(str(e)) from None
    acquired = acquire_python_path(entries)
    try:
        yield
    finally:
        release_python_path(acquired)


def remote_cluster(jobmanager: str | None, program: Path, detached: bool,
                   progress: RunProgress | None = None,
                   configuration: Configuration | None = None) -> RestClusterClient:
    cluster: RestClusterClient | None = None

    def submitted(job_id: JobID) -> None:
        click.echo(f"Job has been submitted with JobID {job_id}")
        if progress is not None and cluster is not None:
            progress.follow(cluster.rest, job_id)

    try:
        cluster = RestClusterClient(jobmanager, program=str(program), detached=detached,
                                    on_submitted=submitted, configuration=configuration)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="-m/--jobmanager") from None
    except TimeoutError as e:  # no leader in ZooKeeper
        raise click.ClickException(str(e)) from None
    return cluster


def report_finished_jobs(cluster: RestClusterClient) -> None:
    """What Flink's CLI prints after an attached program: each job's end and runtime."""
    waited = [c for c in cluster.submitted if c.result is not None]
    if not waited:
        return
    click.echo("Program execution finished")
    for client in waited:
        result = client.result
        assert result is not None
        if result.status is JobStatus.FINISHED:
            click.echo(f"Job with JobID {result.job_id} has finished.")
            click.echo(f"Job Runtime: {result.net_runtime} ms")
