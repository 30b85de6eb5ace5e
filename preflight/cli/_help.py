"""What every command's ``--help`` shares: the exit codes, and flags shown as flags."""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup

__all__ = ["EXIT_CODES", "Command", "Group", "flag"]

# Shown under `preflight --help` and the help of every command that gates (epilog).
EXIT_CODES = (
    "Exit codes: 0 passed; 1 the gate (or a training monitor) said no; 2 usage error, "
    "unreadable input or nothing usable; 130 or 143 stopped by SIGINT or SIGTERM."
)


def flag(*names: str, help: str) -> Any:
    """A boolean option that takes no value (typer would show it as taking ``<bool>``)."""
    return typer.Option(*names, help=help, metavar="")


class Command(TyperCommand):
    """A command whose ``--help`` option is shown as a flag, not as taking ``<bool>``."""

    def get_help_option(self, ctx: Any) -> Any:
        option = super().get_help_option(ctx)
        if option is not None:
            option.metavar = ""
        return option


class Group(TyperGroup):
    """A command group whose ``--help`` option is shown as a flag (see ``Command``)."""

    def get_help_option(self, ctx: Any) -> Any:
        option = super().get_help_option(ctx)
        if option is not None:
            option.metavar = ""
        return option
