"""``strom run-application``: application mode. This process becomes the JobManager: it
starts a cluster with the REST API on ``rest.port``, runs the program itself (its jobs go to
that cluster), and stops once the program and every job it started have ended.

Its TaskManagers are chosen as for a local job (``execution.local.taskmanagers``): with
``auto``, one TaskManager process of one slot per unit of ``parallelism.default`` when that is
above 1, else ``minicluster.number-of-taskmanagers`` in this process with enough slots.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable

import click

from strom.common import config_options as opts
from strom.common.configuration import Configuration
from strom.datastream.stream_execution_environment import _local_taskmanager_mode
from strom.minicluster import MiniCluster

__all__ = ["run_application"]

#: how often the JobManager looks whether the program's jobs have ended
_POLL_S = 0.05


def _application_cluster(configuration: Configuration) -> MiniCluster:
    task_managers = configuration.get(opts.MINICLUSTER_NUM_TASKMANAGERS) or 1
    parallelism = configuration.get(opts.PARALLELISM_DEFAULT) or -1
    if parallelism < 1:
        parallelism = os.cpu_count() or 1
    mode = _local_taskmanager_mode(configuration, parallelism, collect=False)
    if mode == "process":
        # one slot per process: each slot gets its own interpreter, so its own core
        task_managers, slots = max(task_managers, parallelism), 1
    else:
        slots = max(configuration.get(opts.NUM_TASK_SLOTS) or 1,
                    math.ceil(parallelism / task_managers))
    rest_port = configuration.get(opts.REST_PORT)
    try:
        return MiniCluster(task_managers, slots, taskmanagers=mode,
                           rest_port=8081 if rest_port is None else rest_port,
                           configuration=configuration,
                           rest_configuration=configuration).start()
    except OSError as e:
        raise click.ClickException(str(e)) from None


def _wait_for_jobs(cluster: MiniCluster) -> None:
    """Until every job the program submitted (e.g. with execute_async) has ended."""
    rpc = cluster.rpc
    assert rpc is not None
    gateway = cluster.dispatcher_gateway
    while True:
        jobs = rpc.run_sync(gateway.list_jobs(), timeout=30)
        if all(job.status.is_globally_terminal_state() for job in jobs):
            return
        time.sleep(_POLL_S)


def run_application(configuration: Configuration, run_program: Callable[[], None]) -> None:
    """Start the application's JobManager, run the program against it, wait for its jobs,
    stop. The REST address goes to stderr first, so tools can wait for it."""
    from strom.datastream import stream_execution_environment as see

    cluster = _application_cluster(configuration)
    try:
        click.echo(f"strom: JobManager REST API at {cluster.rest_url}", err=True)
        previous = getattr(see._context, "cluster", None)
        see._context.cluster = cluster
        see._context.configuration = configuration
        try:
            run_program()
        finally:
            see._context.cluster = previous
            see._context.configuration = None
        _wait_for_jobs(cluster)
    finally:
        cluster.stop()
