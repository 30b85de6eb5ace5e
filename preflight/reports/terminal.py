"""Rendering an audit report with rich: per-split table, failed checks, rejected inputs."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from preflight.manifest.store import ManifestKind
from preflight.reports.formatting import (
    follows,
    full_list,
    located,
    note_text,
    split_columns,
    split_legend,
    totals_as_split,
)
from preflight.reports.model import AuditReport
from preflight.results import Severity, Verdict

MAX_REJECTED_SHOWN = 20


def render_audit(
    report: AuditReport, console: Console, *, json_path: str | Path | None = None
) -> None:
    """Print ``report`` to ``console`` (``json_path``: the JSON report written beside, which
    holds the lists cut short here)."""
    console.print(_split_table(report))
    failed = [c for c in report.checks if not c.passed]
    for check in failed:
        style = "red" if check.severity is Severity.ERROR else "yellow"
        where = " " + escape(f"[{check.split}]") if check.split else ""
        console.print(
            f"[{style}]{check.severity.upper()}[/{style}] {check.name}{where}: "
            f"{escape(check.message)}"
        )
    if report.rejected:
        console.print(f"\nRejected inputs ({len(report.rejected)}):")
        for r in report.rejected[:MAX_REJECTED_SHOWN]:
            console.print(f"  {escape(located(r))}", overflow="fold")
            console.print(f"      [bold]{r.reason}[/bold]: {escape(r.message)}")
            if r.cause_path is not None:
                console.print(f"      {escape(follows(r))}", overflow="fold")
        if len(report.rejected) > MAX_REJECTED_SHOWN:
            more = len(report.rejected) - MAX_REJECTED_SHOWN
            console.print(f"  ... and {more} more ({escape(full_list(report, json_path))})")
    if report.notes:
        console.print(f"\nNotes ({len(report.notes)}): corrections applied, recordings kept:")
        for n in report.notes[:MAX_REJECTED_SHOWN]:
            console.print(f"  {escape(located(n))}", overflow="fold")
            console.print(f"      {escape(note_text(n))}")
        if len(report.notes) > MAX_REJECTED_SHOWN:
            more = len(report.notes) - MAX_REJECTED_SHOWN
            console.print(f"  ... and {more} more ({escape(full_list(report, json_path))})")
    ok = report.verdict is Verdict.PASS
    colour = "green" if ok else "red"
    console.print(
        f"\nVerdict: [bold {colour}]{report.verdict.upper()}[/bold {colour}]  "
        f"manifest {escape(report.manifest.path)}"
    )


def render_history(
    history: list[tuple[int, datetime, str]], shown: int, console: Console, most: int = 10
) -> None:
    """Which stored audit is shown, and the others a manifest holds (``--audit ID``)."""
    listed = ", ".join(f"{a} {verdict}" for a, _, verdict in history[-most:])
    earlier = f"{len(history) - most} earlier, " if len(history) > most else ""
    when = next((f" ({f:%Y-%m-%d %H:%M})" for a, f, _ in history if a == shown), "")
    latest = ", the latest" if history and shown == history[-1][0] else ""
    console.print(
        f"Audit {shown}{when}{latest}; this manifest holds {len(history)} audit(s): "
        f"{earlier}{listed} (--audit ID shows another)",
        highlight=False,
    )


def _split_table(report: AuditReport) -> Table:
    w = report.provenance
    title = (
        "Audit: Parquet tables, a row per sample"
        if report.kind is ManifestKind.TABLES
        else f"Audit: windows of {w.get('window_s')} s, stride {w.get('stride_s')} s"
    )
    legend = split_legend(report, short=True)
    table = Table(title=title, title_justify="left", caption=legend, caption_justify="left")
    columns = split_columns(report)
    table.add_column("split", justify="left", no_wrap=True)
    for column in columns:
        table.add_column(column.short, justify="right", no_wrap=True)
    for name, s in report.splits.items():
        table.add_row(escape(name), *(column.cell(s)[0] for column in columns))
    total = totals_as_split(report)
    table.add_row("[bold]total[/bold]", *(c.cell(total)[0] if c.in_total else "" for c in columns))
    return table
