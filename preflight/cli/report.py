"""``preflight report MANIFEST``: render a stored audit again, in any format, without rescanning."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from preflight.cli.audit import refuse_writing_over, write_reports
from preflight.errors import PreflightError
from preflight.manifest.store import Manifest
from preflight.pipelines.audit import last_report
from preflight.reports.terminal import render_audit
from preflight.validators.results import Verdict

_Opt = typer.Option


def report(
    manifest: Annotated[Path, typer.Argument(help="A manifest file (.preflight/manifest.duckdb).")],
    audit_id: Annotated[int | None, _Opt("--audit", help="Audit id [default: the latest].")] = None,
    json_out: Annotated[Path | None, _Opt("--json", help="Write the JSON report here.")] = None,
    junit: Annotated[Path | None, _Opt(help="Write a JUnit XML report here.")] = None,
    markdown: Annotated[Path | None, _Opt(help="Write a Markdown report here.")] = None,
    html: Annotated[Path | None, _Opt(help="Write a self-contained HTML report here.")] = None,
    quiet: Annotated[bool, _Opt("--quiet", "-q", help="No table on the terminal.")] = False,
) -> None:
    """Show or write the report of a manifest's latest audit (exit code as that audit's)."""
    try:
        refuse_writing_over(manifest, json_out, junit, markdown, html)
        with Manifest.open(manifest, read_only=True) as m:
            stored = last_report(m, audit_id)
        if not quiet:
            render_audit(stored, Console())
        write_reports(stored, json_out, junit, markdown, html)
    except PreflightError as exc:
        Console(stderr=True).print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from None
    raise typer.Exit(0 if stored.verdict is Verdict.PASS else 1)
