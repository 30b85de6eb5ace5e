"""Writing the audit report's renderings to the files a user asked for."""

from __future__ import annotations

from pathlib import Path

from preflight.manifest.store import Manifest
from preflight.reports.json_report import write_text_atomic
from preflight.reports.model import AuditReport

__all__ = ["write_reports"]


def write_reports(
    report: AuditReport,
    json_out: Path | None,
    junit: Path | None,
    markdown: Path | None,
    html: Path | None,
) -> None:
    """Render the one report into each file asked for (imports only what is needed)."""
    if json_out is not None:
        write_text_atomic(json_out, report.to_json())
    if junit is not None:
        from preflight.reports.junit import render_junit

        write_text_atomic(junit, render_junit(report))
    if markdown is not None:
        from preflight.reports.markdown import render_markdown

        write_text_atomic(markdown, render_markdown(report))
    if html is not None:
        from preflight.reports.html import render_html
        from preflight.reports.plots import collect_plot_data

        with Manifest.open(report.manifest.path, read_only=True) as m:
            extras = collect_plot_data(m)
        write_text_atomic(html, render_html(report, extras))
