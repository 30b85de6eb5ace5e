"""``preflight runs``: list the training runs a manifest recorded; ``runs show RUN_ID``: one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from preflight.cli._exit import exit_2_on_error
from preflight.console import make_console
from preflight.manifest.store import DEFAULT_DIRNAME, DEFAULT_FILENAME, Manifest, default_path

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
    from preflight.manifest.runs import list_runs  # here: `preflight --help` stays light
    from preflight.reports.runs import render_runs

    with exit_2_on_error(), Manifest.open(_manifest_path(manifest, config), read_only=True) as m:
        records = list_runs(m)
    if json_out:
        typer.echo(json.dumps([r.model_dump(mode="json") for r in records], indent=1))
    else:
        render_runs(records, make_console())


@runs_app.command("show")
def show(
    run_id: Annotated[str, typer.Argument(help="A run id, or a prefix matching one.")],
    manifest: _Manifest = None,
    config: _Config = None,
    json_out: _Json = False,
) -> None:
    """Show one run: status, per-epoch metrics, monitor decisions, checkpoints."""
    from preflight.manifest.runs import RunRecord, get_run
    from preflight.reports.runs import render_run

    with exit_2_on_error(), Manifest.open(_manifest_path(manifest, config), read_only=True) as m:
        record: RunRecord = get_run(m, run_id)
    if json_out:
        typer.echo(json.dumps(record.model_dump(mode="json"), indent=1))
    else:
        render_run(record, make_console())
