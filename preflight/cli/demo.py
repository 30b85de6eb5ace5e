"""``preflight demo``: synthesize, audit, see the gate say no, train gated, write the report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from preflight.console import make_console
from preflight.errors import PreflightError


def demo(
    directory: Annotated[
        Path, typer.Argument(help="Where the demo writes its corpora, runs and report.")
    ] = Path(".demo"),
) -> None:
    """Run the main job end to end on built-in synthetic data (about two minutes on a CPU)."""
    from preflight.pipelines.demo import run_demo  # torch: only for this command

    console = make_console()
    try:
        result = run_demo(directory, console)
    except PreflightError as exc:
        make_console(stderr=True).print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from None
    raise typer.Exit(result.exit_code)
