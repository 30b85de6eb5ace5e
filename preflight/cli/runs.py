"""``preflight runs [SOURCE]``: list the training runs a manifest recorded; ``runs show RUN_ID``:
one; ``runs cancel RUN_ID``: cancel a submitted run's Slurm job. Runs ``preflight submit`` queued
show their job's state (``squeue``/``sacct``; ``unknown`` when neither answers).

SOURCE is a corpus folder, a run config or a manifest file (``cli._manifest``); ``--manifest``
and ``--config`` given before the subcommand apply to it too (``runs --manifest M show ID``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from preflight.cli._exit import exit_2_on_error
from preflight.cli._help import Command, Group, flag
from preflight.cli._manifest import SOURCE_HELP, manifest_of
from preflight.cluster import slurm
from preflight.console import make_console
from preflight.errors import UsageError
from preflight.manifest.runs import RunRecord, RunStatus, get_run, list_runs, set_status
from preflight.manifest.store import Manifest
from preflight.reports.runs import render_job, render_run, render_runs

_Opt = typer.Option
_Manifest = Annotated[Path | None, _Opt(help="Manifest file (as SOURCE, named).")]
_Config = Annotated[Path | None, _Opt(help="A run config; its data section names the manifest.")]
_Json = Annotated[bool, flag("--json", help="Print JSON instead of a table.")]
_SOURCE = "runs_source"  # ctx.meta key: the SOURCE given before the subcommand


class _RunsGroup(Group):
    """``runs [SOURCE] [COMMAND]``: a first word that names no subcommand is the SOURCE.

    click would take any first word for the name of a subcommand; this takes it out of the
    arguments (options and their values are skipped to find it) and keeps it for the callback.
    """

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        valued = {o for p in self.params if not getattr(p, "is_flag", True) for o in p.opts}
        i = 0
        while i < len(args) and args[i] != "--":
            word = args[i]
            if word.startswith("-"):
                i += 2 if word in valued else 1
                continue
            if word not in self.commands:
                ctx.meta[_SOURCE] = Path(word)
                args = args[:i] + args[i + 1 :]
            break
        return super().parse_args(ctx, args)


runs_app = typer.Typer(
    help="List the training runs recorded in a manifest, or show one. SOURCE: a corpus folder, "
    "a run config (.yaml) or a manifest file \\[default: the current folder]; "
    "SOURCE/.preflight/manifest.duckdb is found by itself.",
    invoke_without_command=True,
    no_args_is_help=False,
    cls=_RunsGroup,
    subcommand_metavar="[SOURCE] [COMMAND [ARGS]...]",
)


@runs_app.callback()
def runs(
    ctx: typer.Context,
    manifest: _Manifest = None,
    config: _Config = None,
    json_out: _Json = False,
) -> None:
    """List the training runs recorded in a manifest, oldest first."""
    ctx.obj = {"manifest": manifest, "config": config}
    if ctx.invoked_subcommand is not None:
        return
    with exit_2_on_error():
        path = manifest_of(ctx.meta.get(_SOURCE), manifest=manifest, config=config)
        with Manifest.open(path, read_only=True) as m:
            records = list_runs(m)
    states = slurm.job_states(r.job_id for r in records if r.job_id)
    if json_out:
        rows = [r.model_dump(mode="json") | _state(r, states) for r in records]
        typer.echo(json.dumps(rows, indent=1))
    else:
        render_runs(records, make_console(), states)


def _state(run: RunRecord, states: dict[str, slurm.SchedulerState]) -> dict[str, str | None]:
    return {"scheduler_state": states.get(run.job_id) if run.job_id else None}


def _path(
    ctx: typer.Context, source: Path | None, manifest: Path | None, config: Path | None
) -> Path:
    """The manifest a subcommand reads: its own SOURCE or options, else the group's."""
    above = ctx.obj or {}
    return manifest_of(
        source or ctx.meta.get(_SOURCE),
        manifest=manifest or above.get("manifest"),
        config=config or above.get("config"),
    )


@runs_app.command("show", cls=Command)
def show(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(help="A run id, or a prefix matching one.")],
    source: Annotated[Path | None, typer.Argument(help=SOURCE_HELP, show_default=False)] = None,
    manifest: _Manifest = None,
    config: _Config = None,
    json_out: _Json = False,
) -> None:
    """Show one run: status, per-epoch metrics, monitor decisions, checkpoints; for a submitted
    run also the Slurm job id and state, the log and the batch script."""
    with exit_2_on_error():
        path = _path(ctx, source, manifest, config)
        with Manifest.open(path, read_only=True) as m:
            record: RunRecord = get_run(m, run_id)
    states = slurm.job_states([record.job_id] if record.job_id else [])
    if json_out:
        typer.echo(json.dumps(record.model_dump(mode="json") | _state(record, states), indent=1))
    else:
        console = make_console()
        render_run(record, console)
        render_job(record, states.get(record.job_id or ""), console)


@runs_app.command("cancel", cls=Command)
def cancel(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(help="A run id, or a prefix matching one.")],
    source: Annotated[Path | None, typer.Argument(help=SOURCE_HELP, show_default=False)] = None,
    manifest: _Manifest = None,
    config: _Config = None,
) -> None:
    """Cancel a submitted run's Slurm job (scancel). A queued run is marked cancelled; a
    running one records its own end (its job's state shows CANCELLED)."""
    with exit_2_on_error():
        path = _path(ctx, source, manifest, config)
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
