"""``preflight runs [SOURCE]``: list the training runs a manifest recorded; ``runs show RUN_ID``:
one.

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
from preflight.console import make_console
from preflight.manifest.runs import RunRecord, get_run, list_runs
from preflight.manifest.store import Manifest
from preflight.reports.runs import render_run, render_runs

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
    if json_out:
        typer.echo(json.dumps([r.model_dump(mode="json") for r in records], indent=1))
    else:
        render_runs(records, make_console())


@runs_app.command("show", cls=Command)
def show(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(help="A run id, or a prefix matching one.")],
    source: Annotated[Path | None, typer.Argument(help=SOURCE_HELP, show_default=False)] = None,
    manifest: _Manifest = None,
    config: _Config = None,
    json_out: _Json = False,
) -> None:
    """Show one run: status, per-epoch metrics, monitor decisions, checkpoints."""
    above = ctx.obj or {}
    with exit_2_on_error():
        path = manifest_of(
            source or ctx.meta.get(_SOURCE),
            manifest=manifest or above.get("manifest"),
            config=config or above.get("config"),
        )
        with Manifest.open(path, read_only=True) as m:
            record: RunRecord = get_run(m, run_id)
    if json_out:
        typer.echo(json.dumps(record.model_dump(mode="json"), indent=1))
    else:
        render_run(record, make_console())
