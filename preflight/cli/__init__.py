"""The ``preflight`` command line: a thin typer app, one module per command.

Commands only parse arguments, call the Python API and render; exit codes follow the contract:
0 passed, 1 a gate or monitor said no, 2 usage or unreadable input.

Each command's module is imported when that command runs, and imports what it needs inside its
function: ``preflight --version`` loads typer alone, ``preflight audit`` never pays for torch or
the synthesizers, and ``preflight --help`` lists the commands from their modules' source
(``summary``) without importing them.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer
from typer.core import TyperCommand

from preflight._version import __version__
from preflight.cli._help import EXIT_CODES, Command, Group
from preflight.cli.interrupts import interruptible

# name -> (module, attribute): a function becomes a command, a ``typer.Typer`` a command group.
COMMANDS: dict[str, tuple[str, str]] = {
    "audit": ("preflight.cli.audit", "audit"),
    "synth": ("preflight.cli.synth", "synth"),
    "report": ("preflight.cli.report", "report"),
    "train": ("preflight.cli.train", "train"),
    "smoke": ("preflight.cli.train", "smoke"),
    "submit": ("preflight.cli.submit", "submit"),
    "demo": ("preflight.cli.demo", "demo"),
    "runs": ("preflight.cli.runs", "runs_app"),
}
# Commands whose help lists the exit codes (those that gate); every command but demo runs under
# the one interrupt handler (``cli.interrupts``: SIGINT exits 130, SIGTERM 143, in one line).
_GATING = frozenset({"audit", "report", "train", "smoke", "submit", "demo"})
_INTERRUPTIBLE = frozenset(set(COMMANDS) - {"demo", "runs"})


class LazyCommands(Group):
    """The root group: builds a command from ``COMMANDS`` on first use, in the listed order."""

    listing = False  # while the root help lists commands: summaries will do

    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            if self.listing and (brief := summary(cmd_name)) is not None:
                return brief
            self.add_command(_load(cmd_name), cmd_name)
        return super().get_command(ctx, cmd_name)

    def format_help(self, ctx: Any, formatter: Any) -> None:
        with self._listing():
            super().format_help(ctx, formatter)

    @contextmanager
    def _listing(self) -> Iterator[None]:
        self.listing = True
        try:
            yield
        finally:
            self.listing = False


def summary(name: str) -> Any:
    """A stand-in for listing command ``name`` in the root help: its name and help text, read
    from its module's source (the function's docstring, or a group's ``typer.Typer(help=...)``)
    without importing the module; None when the source does not say it plainly."""
    module, attribute = COMMANDS[name]
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
        return None  # no source to read (a frozen or bytecode-only install): import it
    try:
        with open(spec.origin, encoding="utf-8") as source:
            tree = ast.parse(source.read())
    except (OSError, SyntaxError, UnicodeDecodeError):
        return None
    text: object = None
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == attribute:
            text = ast.get_docstring(node)
        elif isinstance(node, ast.Assign) and [_name(t) for t in node.targets] == [attribute]:
            keywords = node.value.keywords if isinstance(node.value, ast.Call) else []
            found = [k.value for k in keywords if k.arg == "help"]
            text = found[0].value if found and isinstance(found[0], ast.Constant) else None
    return None if not isinstance(text, str) else TyperCommand(name, help=text)


def _name(target: ast.expr) -> str | None:
    return target.id if isinstance(target, ast.Name) else None


def _load(name: str) -> Any:
    module, attribute = COMMANDS[name]
    target = getattr(importlib.import_module(module), attribute)
    if isinstance(target, typer.Typer):
        holder = typer.Typer(add_completion=False)
        holder.add_typer(target, name=name)
        return typer.main.get_group(holder).commands[name]
    if name in _INTERRUPTIBLE:
        target = interruptible(target, name)
    holder = typer.Typer(add_completion=False)
    holder.command(name, cls=Command, epilog=EXIT_CODES if name in _GATING else None)(target)
    return typer.main.get_command(holder)


app = typer.Typer(
    name="preflight",
    help="Stop a training run before it spends accelerator time on data that cannot teach it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=LazyCommands,
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


def main() -> None:
    """Run the command line."""
    app()
