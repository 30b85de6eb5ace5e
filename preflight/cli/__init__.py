"""The ``preflight`` command line: a thin typer app, one module per command.

Commands only parse arguments, call the Python API and render; exit codes follow the contract:
0 passed, 1 a gate or monitor said no, 2 usage or unreadable input.

Each command's module is imported when that command runs (or when ``--help`` lists it), and
imports what it needs inside its function: ``preflight --version`` loads typer alone, and
``preflight audit`` never pays for torch or the synthesizers.
"""

from __future__ import annotations

import importlib
from typing import Any

import typer
from typer.core import TyperGroup

from preflight._version import __version__

# name -> (module, attribute): a function becomes a command, a ``typer.Typer`` a command group.
COMMANDS: dict[str, tuple[str, str]] = {
    "audit": ("preflight.cli.audit", "audit"),
    "synth": ("preflight.cli.synth", "synth"),
    "report": ("preflight.cli.report", "report"),
    "train": ("preflight.cli.train", "train"),
    "smoke": ("preflight.cli.train", "smoke"),
    "demo": ("preflight.cli.demo", "demo"),
    "runs": ("preflight.cli.runs", "runs_app"),
}


class LazyCommands(TyperGroup):
    """The root group: builds a command from ``COMMANDS`` on first use, in the listed order."""

    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            self.add_command(_load(cmd_name), cmd_name)
        return super().get_command(ctx, cmd_name)


def _load(name: str) -> Any:
    module, attribute = COMMANDS[name]
    target = getattr(importlib.import_module(module), attribute)
    if isinstance(target, typer.Typer):
        holder = typer.Typer(add_completion=False)
        holder.add_typer(target, name=name)
        return typer.main.get_group(holder).commands[name]
    holder = typer.Typer(add_completion=False)
    holder.command(name)(target)
    return typer.main.get_command(holder)


app = typer.Typer(
    name="preflight",
    help="Stop a training run before it spends accelerator time on data that cannot teach it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=LazyCommands,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"preflight {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Stop a training run before it spends accelerator time on data that cannot teach it."""


def main() -> None:
    """Run the command line."""
    app()
