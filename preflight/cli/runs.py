"""``preflight runs``: list the training runs a manifest recorded; ``runs show RUN_ID``: one;
``runs cancel RUN_ID``: cancel a submitted run's Slurm job. Runs ``preflight submit`` queued show
their job's state (``squeue``/``sacct``; ``unknown`` when neither answers)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from preflight.cli._exit import exit_2_on_error
from preflight.cluster import slurm
from preflight.console import make_console
from preflight.errors import UsageError
from preflight.manifest.runs import RunRecord, RunStatus, get_run, list_runs, set_status
from preflight.manifest.store import DEFAULT_DIRNAME, DEFAULT_FILENAME, Manifest, default_path
from preflight.reports.runs import render_job, render_run, render_runs

_Opt = typer.Option
_Manifest = Annotated[
    Path | None,
    _Opt(help=f"Manifest file (default: ./{DEFAULT_DIRNAME}/{DEFAULT_FILENAME})."),
]
_Config = Annotated[Path | None, _Opt(help="A run config; its data section names the manifest.")]
_Json = Annotated[bool, _Opt("--json", help="Print JSON instead of a table.")]

runs_app = typer.Typer(
    help="List the training runs recorded in a manifest, or show one.",
    invoke_without_command=True,
    no_args_is_help=False,
)


def _manifest_path(manifest: Path | None, config: Path | None) -> Path:
    if manifest is not None:
        return manifest
    if config is not None:
        from preflight.run_config import load_run_config  # imports torch (the model registry)

        data = load_run_config(config).data
        return data.manifest or default_path(data.source)
    return Path(DEFAULT_DIRNAME) / DEFAULT_FILENAME


@runs_app.callback()
def runs(
    ctx: typer.Context,
    manifest: _Manifest = None,
    config: _Config = None,
    json_out: _Json = False,
) -> None:
    """List the training runs recorded in a manifest, oldest first."""
    if ctx.invoked_subcommand is not None:
        return
    with exit_2_on_error(), Manifest.open(_manifest_path(manifest, config), read_only=True) as m:
        records = list_runs(m)
    states = slurm.job_states(r.job_id for r in records if r.job_id)
    if json_out:
        rows = [r.model_dump(mode="json") | _state(r, states) for r in records]
        typer.echo(json.dumps(rows, indent=1))
    else:
        render_runs(records, make_console(), states)


def _state(run: RunRecord, states: dict[str, slurm.SchedulerState]) -> dict[str, str | None]:
    return {"scheduler_state": states.get(run.job_id) if run.job_id else None}


@runs_app.command("show")
def show(
    run_id: Annotated[str, typer.Argument(help="A run id, or a prefix matching one.")],
    manifest: _Manifest = None,
    config: _Config = None,
    json_out: _Json = False,
) -> None:
    """Show one run: status, per-epoch metrics, monitor decisions, checkpoints; for a submitted
    run also the Slurm job id and state, the log and the batch script."""
    with exit_2_on_error(), Manifest.open(_manifest_path(manifest, config), read_only=True) as m:
        record: RunRecord = get_run(m, run_id)
    states = slurm.job_states([record.job_id] if record.job_id else [])
    if json_out:
        typer.echo(json.dumps(record.model_dump(mode="json") | _state(record, states), indent=1))
    else:
        console = make_console()
        render_run(record, console)
        render_job(record, states.get(record.job_id or ""), console)


@runs_app.command("cancel")
def cancel(
    run_id: Annotated[str, typer.Argument(help="A run id, or a prefix matching one.")],
    manifest: _Manifest = None,
    config: _Config = None,
) -> None:
    """Cancel a submitted run's Slurm job (scancel). A queued run is marked cancelled; a
    running one records its own end (its job's state shows CANCELLED)."""
    path = _manifest_path(manifest, config)
    with exit_2_on_error():
        with Manifest.open(path, read_only=True) as m:
            record = get_run(m, run_id)
        if record.job_id is None:
            raise UsageError(
                f"run {record.run_id} has no scheduler job ({record.status}); only runs "
                "`preflight submit` queued can be cancelled", path=path,
            )  # fmt: skip
        slurm.cancel(record.job_id)
        if record.status is RunStatus.QUEUED:
            set_status(path, record.run_id, RunStatus.CANCELLED, f"job {record.job_id} cancelled")
    typer.echo(f"cancelled Slurm job {record.job_id} of run {record.run_id}")
