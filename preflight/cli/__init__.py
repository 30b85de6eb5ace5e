"""The ``preflight`` command line: a thin typer app, one module per command.

Commands only parse arguments, call the Python API and render; exit codes follow the contract:
0 passed, 1 a gate or monitor said no, 2 usage or unreadable input.
"""

from __future__ import annotations

import typer

from preflight._version import __version__
from preflight.cli._help import EXIT_CODES, Command, Group
from preflight.cli.audit import audit
from preflight.cli.demo import demo
from preflight.cli.interrupts import interruptible
from preflight.cli.report import report
from preflight.cli.runs import runs_app
from preflight.cli.submit import submit
from preflight.cli.synth import synth
from preflight.cli.train import smoke, train

app = typer.Typer(
    name="preflight",
    help="Stop a training run before it spends accelerator time on data that cannot teach it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=Group,
    epilog=EXIT_CODES,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"preflight {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: bool = typer.Option(
        False,
        "--version",
        callback=_version,
        is_eager=True,
        help="Print the version and exit.",
        metavar="",
    ),
) -> None:
    """Stop a training run before it spends accelerator time on data that cannot teach it."""


app.command("audit", cls=Command, epilog=EXIT_CODES)(interruptible(audit, "audit"))
app.command("synth", cls=Command)(interruptible(synth, "synth"))
app.command("report", cls=Command, epilog=EXIT_CODES)(interruptible(report, "report"))
app.command("train", cls=Command, epilog=EXIT_CODES)(interruptible(train, "train"))
app.command("smoke", cls=Command, epilog=EXIT_CODES)(interruptible(smoke, "smoke"))
app.command("submit", cls=Command, epilog=EXIT_CODES)(interruptible(submit, "submit"))
app.add_typer(runs_app, name="runs")
app.command("demo", cls=Command, epilog=EXIT_CODES)(demo)


def main() -> None:
    """Run the command line."""
    app()
