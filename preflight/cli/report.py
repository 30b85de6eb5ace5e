"""``preflight report MANIFEST``: render a stored audit again, in any format, without rescanning."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

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
    from preflight.cli._exit import exit_2_on_error  # here: `preflight --help` stays light
    from preflight.console import make_console
    from preflight.manifest.store import Manifest
    from preflight.pipelines.audit import last_report
    from preflight.reports.files import write_reports
    from preflight.reports.terminal import render_audit
    from preflight.results import Verdict

    with exit_2_on_error():
        with Manifest.open(manifest, read_only=True) as m:
            stored = last_report(m, audit_id)
        if not quiet:
            render_audit(stored, make_console())
        write_reports(stored, json_out, junit, markdown, html)
    raise typer.Exit(0 if stored.verdict is Verdict.PASS else 1)
