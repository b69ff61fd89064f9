"""``strom``: run a program on the embedded local cluster, or print its dataflow plan;
run cluster processes (see :mod:`strom.cli.cluster`).

    strom run [-m host:port [-d]] [-q] [-pyfs files] [-p N] [-D key=value]... [--config FILE]
              [-v] job.py [args...]
    strom info [--json] [-p N] [-D key=value]... [--config FILE] [-v] job.py [args...]
    strom jobmanager | taskmanager [-D key=value]... [--config FILE]
    strom cluster start | stop | status [-m host:port] [--json]
    strom run-application [-p N] [-D rest.port=8081]... job.py [args...]
    strom list [-m host:port] [-r] [-s] [-a] [--json]
    strom cancel [-m host:port] <jobid>
    strom savepoint [-m host:port] <jobid> [targetDirectory] | -d <savepointPath>
    strom stop [-m host:port] [-p/--savepointPath dir] [-d/--drain] <jobid>
    strom checkpoint [-m host:port] [--full] <jobid>

The actions on a running cluster find its REST API at -m, else at rest.address:rest.port
(see :mod:`strom.cli.connection`); ``strom run`` shows its jobs' progress on stderr (see
:mod:`strom.cli.run_progress`).

``strom run -s <savepointPath> [-n]`` starts the program's jobs from a savepoint.

Options go before the program; everything after it is the program's own arguments
(``sys.argv[1:]``), as with ``python job.py``. A configuration mistake is one ``Error:``
line (exit code 2). A program that fails prints its own frames, the exception and its notes
(exit code 1); ``-v`` prints the full traceback, which is also logged at DEBUG level.
"""

from __future__ import annotations

import contextlib
import logging
import runpy
import sys
import traceback
from collections.abc import Callable
from pathlib import Path

import click

from strom import __version__
from strom.cli import jobs, savepoints
from strom.cli._tracebacks import user_traceback
from strom.common.config_options import ConfigError, validate
from strom.common.configuration import Configuration

__all__ = ["main"]

log = logging.getLogger(__name__)


class ConfigurationProblem(click.ClickException):
    """A configuration mistake (``-D``, ``--config``, ``-p``): one ``Error:`` line and exit
    code 2, as click reports other usage errors."""

    exit_code = 2


def _configuration(parallelism: int | None, dynamic: tuple[str, ...],
                   config_file: str | None) -> Configuration:
    try:
        configuration = (Configuration.from_yaml_file(config_file) if config_file
                         else Configuration())
        for item in dynamic:
            key, sep, value = item.partition("=")
            if not sep or not key.strip():
                raise ConfigurationProblem(f"-D expects key=value, got {item!r}.")
            configuration.set_string(key.strip(), value.strip())
        if parallelism is not None:
            if parallelism < 1:
                raise ConfigurationProblem(
                    f"-p/--parallelism must be at least 1, got {parallelism}.")
            configuration.set_string("parallelism.default", str(parallelism))
        validate(configuration)
    except ConfigError as e:
        raise ConfigurationProblem(str(e)) from e
    return configuration


def _program_path(script: str) -> Path:
    path = Path(script)
    if not path.is_file():
        raise click.ClickException(f"No such program: {script}")
    return path.resolve()


def _run_program(script: str, path: Path, args: tuple[str, ...], verbose: bool,
                 before_report: Callable[[], None] | None = None) -> None:
    """Run ``path`` as ``__main__`` with ``sys.argv`` as ``python script args...`` sets it.
    Its code is compiled from the absolute path (as Python does since 3.9), so its frames
    name the file wherever its functions run. ``before_report`` runs before a failure is
    printed (progress ends first, so the failure is the last thing printed)."""
    sys.argv = [script, *args]
    sys.path.insert(0, str(path.parent))
    try:
        runpy.run_path(str(path), run_name="__main__")
    except Exception as error:
        if _is_plan_printed(error):
            raise
        if before_report is not None:
            before_report()
        _report_failure(error, str(path), verbose)


def _is_plan_printed(error: BaseException) -> bool:
    from strom.datastream.stream_execution_environment import PlanPrinted

    return isinstance(error, PlanPrinted)


def _report_failure(error: Exception, program: str, verbose: bool) -> None:
    log.debug("The program %s failed", program, exc_info=error)
    if verbose:
        text = "".join(traceback.format_exception(error))
    else:
        text, hidden = user_traceback(error, program)
        if hidden:
            text += (f"({hidden} frames of strom and its launcher hidden; "
                     "strom run -v shows the full traceback)\n")
    click.echo(text, err=True, nl=False)
    sys.exit(1)


_common = [
    click.option("-p", "--parallelism", type=int, default=None,
                 help="Default parallelism of the program's operators."),
    click.option("-D", "dynamic", multiple=True, metavar="key=value",
                 help="A configuration key, e.g. -D pipeline.auto-watermark-interval=1s."),
    click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False),
                 help="A config.yaml with Flink-style keys."),
    click.option("-v", "--verbose", is_flag=True,
                 help="On failure, print the full traceback (strom's frames too)."),
    click.argument("script", type=click.Path()),
    click.argument("args", nargs=-1, type=click.UNPROCESSED),
]

# Options end at the program: what follows it (even --help) is the program's.
_PROGRAM_COMMAND = {"allow_interspersed_args": False}


def _with_common(f):  # type: ignore[no-untyped-def]
    for decorator in reversed(_common):
        f = decorator(f)
    return f


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="strom")
def main() -> None:
    """strom — a stream processor with Apache Flink's architecture, in Python."""


@main.command(context_settings=_PROGRAM_COMMAND)
@click.option("-m", "--jobmanager", default=None, metavar="host:port",
              help="Run the jobs on the cluster whose REST API is at host:port "
                   "(default: the leader in ZooKeeper with high-availability.type: "
                   "zookeeper, else the embedded local cluster).")
@click.option("-d", "--detached", is_flag=True,
              help="With -m: return once the job is submitted, without waiting for it.")
@click.option("-pyfs", "--pyFiles", "py_files", default=None, metavar="file,...",
              help="Python files, packages or directories the job's functions import "
                   "(python.files; shipped with the job to a remote cluster).")
@click.option("-s", "--fromSavepoint", "from_savepoint", default=None, metavar="savepointPath",
              help="Start the jobs from this savepoint (execution.state-recovery.path).")
@click.option("-n", "--allowNonRestoredState", "allow_non_restored_state", is_flag=True,
              help="With -s: drop the savepoint's state of operators the program no longer "
                   "has (execution.state-recovery.ignore-unclaimed-state).")
@click.option("-q", "--quiet", is_flag=True,
              help="Show no progress of the jobs on stderr (status, records, checkpoints).")
@_with_common
def run(jobmanager: str | None, detached: bool, py_files: str | None,
        from_savepoint: str | None, allow_non_restored_state: bool, quiet: bool,
        parallelism: int | None, dynamic: tuple[str, ...], config_file: str | None,
        verbose: bool, script: str, args: tuple[str, ...]) -> None:
    """Run a strom program on the embedded local cluster, or with -m on a remote one.

    SCRIPT is the program; ARGS after it are the program's own (sys.argv[1:]).
    """
    from strom.cli.progress import JobProgress
    from strom.cli.remote import client_python_path, remote_cluster, report_finished_jobs
    from strom.cli.run_progress import RunProgress
    from strom.client.rest import RestClient
    from strom.datastream import stream_execution_environment as see

    if py_files:
        dynamic = (*dynamic, f"python.files={py_files}")
    if from_savepoint:
        dynamic = (*dynamic, f"execution.state-recovery.path={from_savepoint}")
    if allow_non_restored_state:
        dynamic = (*dynamic, "execution.state-recovery.ignore-unclaimed-state=true")
    configuration = _configuration(parallelism, dynamic, config_file)
    # with high availability the jobs go to the leader ZooKeeper names, as in Flink
    remote = jobmanager is not None or _ha_enabled(configuration)
    if detached and not remote:
        raise click.UsageError("-d/--detached needs -m host:port (a remote cluster).")
    path = _program_path(script)
    progress = RunProgress(quiet, detached, remote=remote)
    cluster = (remote_cluster(jobmanager, path, detached, progress, configuration)
               if remote else None)
    previous_cluster = getattr(see._context, "cluster", None)
    see._context.configuration = configuration
    if cluster is not None:
        see._context.cluster = cluster
    elif progress.mode is not None:
        # a local job's cluster (and its REST API) stops with the job: its last status
        # comes from the job's client then
        see._context.on_local_submit = lambda client, name, rest_url: progress.follow(
            RestClient(rest_url, configuration), client.get_job_id(),
            lambda: JobProgress(str(client.get_job_id()), name,
                                client.get_job_status().result(timeout=5).name))
    try:
        with client_python_path(configuration):
            _run_program(script, path, args, verbose, before_report=progress.stop)
    except KeyboardInterrupt:
        # execute() has cancelled the job and said so; exit as an interrupted program does
        raise SystemExit(130) from None
    finally:
        progress.stop()
        see._context.configuration = None
        see._context.cluster = previous_cluster
        see._context.on_local_submit = None
    if cluster is not None:
        report_finished_jobs(cluster)


def _ha_enabled(configuration: Configuration) -> bool:
    from strom.ha.services import ha_enabled

    try:
        return ha_enabled(configuration)
    except ValueError as e:
        raise ConfigurationProblem(str(e)) from None


@main.command("run-application", context_settings=_PROGRAM_COMMAND)
@_with_common
def run_application(parallelism: int | None, dynamic: tuple[str, ...],
                    config_file: str | None, verbose: bool, script: str,
                    args: tuple[str, ...]) -> None:
    """Application mode: this process is the JobManager (REST API on rest.port) and runs
    the program itself; it ends when the program and its jobs have ended.

    SCRIPT is the program; ARGS after it are the program's own (sys.argv[1:]).
    """
    from strom.cli.application import run_application as run_in_application_cluster

    configuration = _configuration(parallelism, dynamic, config_file)
    path = _program_path(script)
    try:
        run_in_application_cluster(configuration,
                                   lambda: _run_program(script, path, args, verbose))
    except KeyboardInterrupt:
        raise SystemExit(130) from None


_PLAN_TITLE = "----------------------- Execution Plan -----------------------"


@main.command(context_settings=_PROGRAM_COMMAND)
@click.option("--json", "as_json", is_flag=True,
              help="Print only the plan's JSON (the program's own prints go to stderr).")
@_with_common
def info(as_json: bool, parallelism: int | None, dynamic: tuple[str, ...],
         config_file: str | None, verbose: bool, script: str, args: tuple[str, ...]) -> None:
    """Print the program's execution plan (JSON) without running it, as Flink's info does.

    SCRIPT is the program; ARGS after it are the program's own (sys.argv[1:]).
    """
    from strom.datastream import stream_execution_environment as see

    configuration = _configuration(parallelism, dynamic, config_file)
    path = _program_path(script)
    see._context.configuration = configuration
    see._context.plan_only = True
    see._context.plan = None
    try:
        # with --json, stdout is the plan alone: the program's own prints go to stderr
        with contextlib.redirect_stdout(sys.stderr) if as_json else contextlib.nullcontext():
            _run_program(script, path, args, verbose)
    except see.PlanPrinted:
        plan = see._context.plan
        if as_json:
            click.echo(plan)
        else:
            click.echo(_PLAN_TITLE)
            click.echo(plan)
            click.echo("-" * len(_PLAN_TITLE))
        return
    finally:
        see._context.configuration = None
        see._context.plan_only = False
        see._context.plan = None
    raise click.ClickException(f"{script} never called execute(): there is no plan to print.")


main.add_command(jobs.list_jobs)
main.add_command(jobs.cancel)
main.add_command(savepoints.savepoint)
main.add_command(savepoints.stop)
main.add_command(savepoints.checkpoint)


def _add_cluster_commands() -> None:
    from strom.cli.cluster import cluster, jobmanager, taskmanager

    for command in (jobmanager, taskmanager, cluster):
        main.add_command(command)


_add_cluster_commands()

if __name__ == "__main__":
    main(prog_name="strom")
