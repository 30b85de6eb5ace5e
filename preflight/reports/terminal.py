"""Rendering an audit report with rich: per-split table, failed checks, rejected inputs."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from preflight.reports.model import AuditReport
from preflight.validators.results import Severity, Verdict

MAX_REJECTED_SHOWN = 20
_LEGEND = (
    "rec recordings, pat patients, seiz seizure events, win windows, h hours, sz h seizure "
    "hours; + marks those holding seizures, +% the positive share of windows"
)


def render_audit(report: AuditReport, console: Console) -> None:
    """Print ``report`` to ``console``."""
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
            where = r.path if r.line is None else f"{r.path}:{r.line}"
            console.print(f"  {escape(where)}", overflow="fold")
            console.print(f"      [bold]{r.reason}[/bold]: {escape(r.message)}")
        if len(report.rejected) > MAX_REJECTED_SHOWN:
            more = len(report.rejected) - MAX_REJECTED_SHOWN
            console.print(f"  ... and {more} more (see the JSON report)")
    ok = report.verdict is Verdict.PASS
    colour = "green" if ok else "red"
    console.print(
        f"\nVerdict: [bold {colour}]{report.verdict.upper()}[/bold {colour}]  "
        f"manifest {escape(report.manifest.path)}"
    )


def _split_table(report: AuditReport) -> Table:
    w = report.provenance
    title = f"Audit: windows of {w.get('window_s')} s, stride {w.get('stride_s')} s"
    table = Table(title=title, title_justify="left", caption=_LEGEND, caption_justify="left")
    for name in (
        "split",
        "rec",
        "+rec",
        "pat",
        "+pat",
        "seiz",
        "win",
        "+win",
        "+%",
        "h",
        "sz h",
    ):
        table.add_column(name, justify="left" if name == "split" else "right", no_wrap=True)
    for name, s in report.splits.items():
        table.add_row(
            escape(name), str(s.recordings), str(s.positive_recordings), str(s.patients),
            str(s.positive_patients), str(s.events), f"{s.windows:,}", f"{s.positive_windows:,}",
            _pct(s.positive_windows, s.windows), f"{s.hours:.2f}", f"{s.positive_hours:.3f}",
        )  # fmt: skip
    t = report.totals
    table.add_row(
        "[bold]total[/bold]", str(t.recordings), "", str(t.patients), "", str(t.events),
        f"{t.windows:,}", f"{t.positive_windows:,}", _pct(t.positive_windows, t.windows),
        f"{t.hours:.2f}", f"{t.positive_hours:.3f}",
    )  # fmt: skip
    return table


def _pct(part: int, whole: int) -> str:
    return "-" if whole == 0 else f"{100.0 * part / whole:.2f}"
