"""The rich consoles every command prints to: wrapped for a person, unwrapped for a log.

On a terminal, rich's own behaviour is kept (the terminal's width, words wrapped). Anywhere else
(a CI log, a pipe, a file, typer's ``CliRunner``) rich would hard-wrap every message at 80
columns and squeeze tables until numbers truncate (``17,9…``), which makes logs unsearchable and
tests depend on the length of a temporary path. There a console prints each message on one line
and each table at its natural width, capped by ``COLUMNS`` when the user set it.
"""

from __future__ import annotations

import os

from rich.console import Console

__all__ = ["UNWRAPPED_WIDTH", "make_console"]

# Width given to rich off a terminal when COLUMNS is not set: wide enough that no table the
# reports draw is squeezed (tables still render at their natural width, never padded to this).
UNWRAPPED_WIDTH = 1000


def make_console(*, stderr: bool = False) -> Console:
    """A console for standard output (or standard error) that wraps only on a terminal.

    Args:
        stderr: print to standard error instead of standard output.

    Returns:
        rich's default console on a terminal; off a terminal, one whose messages never wrap
        (``soft_wrap``) and whose tables are as wide as their content, or ``COLUMNS`` if set.
    """
    console = Console(stderr=stderr)
    if console.is_terminal:
        return console
    columns = os.environ.get("COLUMNS", "")
    width = int(columns) if columns.isdigit() and int(columns) > 0 else UNWRAPPED_WIDTH
    return Console(stderr=stderr, width=width, soft_wrap=True)
