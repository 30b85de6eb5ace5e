"""How every command ends on bad input: one line on standard error, then exit code 2."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.markup import escape

from preflight.console import make_console
from preflight.errors import PreflightError

__all__ = ["exit_2_on_error", "print_error", "print_warning"]


def print_error(message: str) -> None:
    """``error: MESSAGE`` on standard error, the message printed as text (no markup)."""
    make_console(stderr=True).print(f"[bold red]error:[/] {escape(message)}", highlight=False)


def print_warning(message: str) -> None:
    """``warning: MESSAGE`` on standard error: the command goes on."""
    make_console(stderr=True).print(f"[yellow]warning:[/] {escape(message)}", highlight=False)


@contextmanager
def exit_2_on_error() -> Iterator[None]:
    """Turn a ``PreflightError`` raised inside the block into its message and exit code 2."""
    try:
        yield
    except PreflightError as exc:
        print_error(str(exc))
        raise typer.Exit(2) from None
