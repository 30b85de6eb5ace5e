"""``preflight train CONFIG``: audit and gate the corpus, then train only if the gate passed."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from preflight.errors import PreflightError

_Opt = typer.Option


def train(
    config: Annotated[
        Path, typer.Argument(help="Run config (YAML): data, model, train, optim ... sections.")
    ],
    resume: Annotated[
        bool, _Opt("--resume", help="Continue the newest interrupted run of this config.")
    ] = False,
    quiet: Annotated[
        bool, _Opt("--quiet", "-q", help="No progress bars, audit table or epoch lines.")
    ] = False,
) -> None:
    """Audit, gate and train: exit 0 completed, 1 the gate or a monitor said no, 2 bad input.

    Works under `torchrun --standalone --nproc_per_node N -m preflight train CONFIG` (rank 0
    reports). An interrupted run (exit 130) continues with --resume.
    """
    from preflight.pipelines.runs import RunStatus
    from preflight.pipelines.train import train as run_train  # torch: only for this command
    from preflight.reports.runs import render_epoch, render_result
    from preflight.reports.terminal import render_audit
    from preflight.run_config import load_run_config

    console, errors = Console(), Console(stderr=True)
    talk = not quiet and int(os.environ.get("RANK", "0")) == 0
    try:
        cfg = load_run_config(config)
        result = run_train(
            cfg,
            resume=resume,
            progress=talk,
            on_epoch=(lambda s: render_epoch(s, cfg.train.epochs, console)) if talk else None,
        )
    except PreflightError as exc:
        errors.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        errors.print(
            "[yellow]interrupted[/yellow]: continue from the last checkpoint with "
            f"`preflight train {escape(str(config))} --resume`"
        )
        raise typer.Exit(130) from None
    if result.rank == 0:
        gate_failed = result.status is RunStatus.GATE_FAILED
        if talk and gate_failed and result.audit is not None:
            render_audit(result.audit, console)  # the gate said no: show why, split by split
        render_result(result, console)
    raise typer.Exit(result.exit_code)
