"""``preflight report [SOURCE]``: render a stored audit again, in any format, without rescanning."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from preflight.cli._exit import exit_2_on_error
from preflight.cli._help import flag
from preflight.cli._manifest import SOURCE_HELP, manifest_of
from preflight.console import make_console
from preflight.manifest.audits import audit_history
from preflight.manifest.store import Manifest
from preflight.pipelines.audit import last_report
from preflight.reports.files import refuse_writing_over, write_reports
from preflight.reports.terminal import render_audit, render_history
from preflight.results import Verdict

_Opt = typer.Option


def report(
    source: Annotated[Path | None, typer.Argument(help=SOURCE_HELP, show_default=False)] = None,
    audit_id: Annotated[
        int | None, _Opt("--audit", help="Audit id \\[default: the latest].")
    ] = None,
    config: Annotated[
        Path | None, _Opt(help="A run config; its data section names the manifest.")
    ] = None,
    json_out: Annotated[Path | None, _Opt("--json", help="Write the JSON report here.")] = None,
    junit: Annotated[Path | None, _Opt(help="Write a JUnit XML report here.")] = None,
    markdown: Annotated[Path | None, _Opt(help="Write a Markdown report here.")] = None,
    html: Annotated[Path | None, _Opt(help="Write a self-contained HTML report here.")] = None,
    quiet: Annotated[bool, flag("--quiet", "-q", help="No table on the terminal.")] = False,
) -> None:
    """Show or write the report of a stored audit (exit code as that audit's).

    Finds SOURCE/.preflight/manifest.duckdb itself; lists the audits the manifest holds.
    """
    with exit_2_on_error():
        path = manifest_of(source, config=config)
        refuse_writing_over(path, json_out, junit, markdown, html)
        with Manifest.open(path, read_only=True) as m:
            stored = last_report(m, audit_id)
            history = audit_history(m)
        if not quiet:
            console = make_console()
            render_history(history, audit_id or history[-1][0], console)
            render_audit(stored, console, json_path=json_out)
        write_reports(stored, json_out, junit, markdown, html)
    raise typer.Exit(0 if stored.verdict is Verdict.PASS else 1)
