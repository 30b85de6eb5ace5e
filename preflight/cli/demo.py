"""``preflight demo``: synthesize, audit, see the gate say no, train gated, write the report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from preflight.cli._exit import exit_2_on_error
from preflight.console import make_console


def demo(
    directory: Annotated[
        Path, typer.Argument(help="Where the demo writes its corpora, runs and report.")
    ] = Path(".demo"),
) -> None:
    """Run the main job end to end on built-in synthetic data (about two minutes on a CPU)."""
    from preflight.pipelines.demo import run_demo  # torch: only for this command

    with exit_2_on_error():
        result = run_demo(directory, make_console())
    raise typer.Exit(result.exit_code)
