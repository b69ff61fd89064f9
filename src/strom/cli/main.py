"""``strom``: run a program on the embedded local cluster, or print its dataflow plan.

    strom run [-p N] [-D key=value]... [--config FILE] job.py [args...]
    strom info [-p N] job.py [args...]
"""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

import click

from strom import __version__
from strom.common.config_options import ConfigError, validate
from strom.common.configuration import Configuration

__all__ = ["main"]


def _configuration(parallelism: int | None, dynamic: tuple[str, ...],
                   config_file: str | None) -> Configuration:
    configuration = (Configuration.from_yaml_file(config_file) if config_file
                     else Configuration())
    for item in dynamic:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"expected key=value, got {item!r}", param_hint="-D")
        configuration.set_string(key.strip(), value.strip())
    if parallelism is not None:
        if parallelism < 1:
            raise click.BadParameter(f"must be >= 1, got {parallelism}",
                                     param_hint="-p/--parallelism")
        configuration.set_string("parallelism.default", str(parallelism))
    try:
        validate(configuration)
    except ConfigError as e:
        raise click.ClickException(str(e)) from e
    return configuration


def _run_program(script: str, args: tuple[str, ...]) -> None:
    path = Path(script)
    if not path.is_file():
        raise click.ClickException(f"No such program: {script}")
    sys.argv = [str(path), *args]
    sys.path.insert(0, str(path.resolve().parent))
    runpy.run_path(str(path), run_name="__main__")


_common = [
    click.option("-p", "--parallelism", type=int, default=None,
                 help="Default parallelism of the program's operators."),
    click.option("-D", "dynamic", multiple=True, metavar="key=value",
                 help="A configuration key, e.g. -D pipeline.auto-watermark-interval=1s."),
    click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False),
                 help="A config.yaml with Flink-style keys."),
    click.argument("script", type=click.Path()),
    click.argument("args", nargs=-1, type=click.UNPROCESSED),
]


def _with_common(f):  # type: ignore[no-untyped-def]
    for decorator in reversed(_common):
        f = decorator(f)
    return f


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="strom")
def main() -> None:
    """strom — a stream processor with Apache Flink's architecture, in Python."""


@main.command(context_settings={"ignore_unknown_options": True})
@_with_common
def run(parallelism: int | None, dynamic: tuple[str, ...], config_file: str | None,
        script: str, args: tuple[str, ...]) -> None:
    """Run a strom program on the embedded local cluster."""
    from strom.datastream import stream_execution_environment as see

    see._context.configuration = _configuration(parallelism, dynamic, config_file)
    try:
        _run_program(script, args)
    except KeyboardInterrupt:
        # execute() has cancelled the job and said so; exit as an interrupted program does
        raise SystemExit(130) from None
    finally:
        see._context.configuration = None


@main.command(context_settings={"ignore_unknown_options": True})
@_with_common
def info(parallelism: int | None, dynamic: tuple[str, ...], config_file: str | None,
         script: str, args: tuple[str, ...]) -> None:
    """Print the program's dataflow plan (JSON) without running it."""
    from strom.datastream import stream_execution_environment as see

    see._context.configuration = _configuration(parallelism, dynamic, config_file)
    see._context.plan_only = True
    try:
        _run_program(script, args)
    except see.PlanPrinted:
        return
    finally:
        see._context.configuration = None
        see._context.plan_only = False
    raise click.ClickException(f"{script} never called execute(): there is no plan to print.")


if __name__ == "__main__":
    main()
