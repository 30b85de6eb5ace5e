"""The audit report as one self-contained HTML page.

No network and no other file: CSS is inline, plots are SVG ``data:`` URIs drawn by matplotlib,
and a Content-Security-Policy forbids scripts and any load that is not inline. Jinja2 renders
``templates/report.html.j2`` with autoescaping on, so every string from the data (paths, split
names, messages, values) is escaped. Later parts of the report (training curves, evaluation)
come in as ``Section`` objects.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from preflight.manifest.store import ManifestKind
from preflight.reports.formatting import (
    SplitColumn,
    counts,
    follows,
    format_value,
    full_list,
    located,
    ordered_checks,
    percent,
    place,
    split_columns,
    split_legend,
    split_method,
    status,
    summary,
    totals_as_split,
)
from preflight.reports.model import AuditReport, SplitStats
from preflight.reports.plots import Figure, PlotData, audit_figures
from preflight.results import CheckResult

if TYPE_CHECKING:
    import jinja2

__all__ = ["Section", "audit_section", "render_html"]

MAX_REJECTED_SHOWN = 500
TEMPLATE = "report.html.j2"


@dataclass(frozen=True, slots=True)
class Section:
    """A part of the report after the audit (training curves, evaluation ...).

    Attributes:
        title: the section heading.
        paragraphs: plain-text paragraphs (escaped like everything else).
        columns: header of an optional table.
        rows: the table's rows, as text, one cell per column.
        figures: images, each a ``data:image/...`` URI (see ``plots.figure_data_uri``).
    """

    title: str
    paragraphs: tuple[str, ...] = ()
    columns: tuple[str, ...] = ()
    rows: tuple[tuple[str, ...], ...] = ()
    figures: tuple[Figure, ...] = ()


def audit_section(report: AuditReport, title: str) -> Section:
    """Another audit on the same page (the demo's broken copy): its verdict, its splits and
    the checks that did not pass."""
    columns = split_columns(report)
    failed = [c for c in ordered_checks(report.checks) if not c.passed]
    rows = [
        (status(c), c.name, place(c), format_value(c.observed), format_value(c.expected),
         c.message)
        for c in failed
    ]  # fmt: skip
    splits = ", ".join(
        f"{name}: " + ", ".join(f"{c.cell(s)[0]} {c.header}" for c in columns)
        for name, s in report.splits.items()
    )
    return Section(
        title=title,
        paragraphs=(
            f"Verdict: {report.verdict.upper()} ({summary(report)}); manifest "
            f"{report.manifest.path}.",
            f"Splits: {splits}.",
        ),
        columns=("status", "check", "split", "observed", "expected", "message"),
        rows=tuple(rows),
    )


def render_html(
    report: AuditReport,
    extras: PlotData | None = None,
    *,
    sections: Sequence[Section] = (),
    title: str = "preflight audit",
) -> str:
    """Render ``report`` as a self-contained HTML page.

    Args:
        report: the audit report.
        extras: what the plots need (``plots.collect_plot_data(manifest)``); without it the
            page says where the plots would be and why they are missing.
        sections: later parts of the report, shown after the audit in this order.
        title: the page title.

    Returns:
        The HTML document.
    """
    from preflight._version import __version__

    columns = split_columns(report)
    context = {
        "title": title,
        "version": __version__,
        "verdict": report.verdict.value,
        "summary": summary(report),
        "counts": counts(report),
        "manifest": report.manifest,
        "split_method": split_method(report),
        "totals": _totals(report),
        "columns": [c.header for c in columns],
        "legend": split_legend(report, short=False),
        "splits": [_split_row(name, s, columns) for name, s in report.splits.items()],
        "total_row": _split_row("total", totals_as_split(report), columns),
        "checks": [_check_row(c) for c in ordered_checks(report.checks)],
        "rejected": [
            {
                "where": located(r),
                "reason": r.reason,
                "message": r.message + (f" ({follows(r)})" if r.cause_path else ""),
            }
            for r in report.rejected[:MAX_REJECTED_SHOWN]
        ],
        "rejected_total": len(report.rejected),
        "notes": [
            {"where": located(n), "code": n.code, "message": n.message, "origin": n.origin or ""}
            for n in report.notes[:MAX_REJECTED_SHOWN]
        ],
        "notes_total": len(report.notes),
        "full_list": full_list(report),
        "figures": audit_figures(extras) if extras is not None else None,
        "provenance": _provenance(report),
        "sections": list(sections),
    }
    return _environment().get_template(TEMPLATE).render(context)


@functools.cache
def _environment() -> jinja2.Environment:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("preflight.reports", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _totals(report: AuditReport) -> list[tuple[str, str, bool]]:
    """(label, value, alarming) cards for the corpus totals."""
    t = report.totals
    if report.kind is ManifestKind.TABLES:
        negative = t.windows - t.positive_windows
        return [
            ("files", f"{t.recordings:,}", t.recordings == 0),
            ("groups", f"{t.patients:,}", t.patients == 0),
            ("rows", f"{t.windows:,}", t.windows == 0),
            ("positive rows", f"{t.positive_windows:,}", t.positive_windows == 0),
            ("negative rows", f"{negative:,}", negative == 0),
            ("positive %", percent(t.positive_windows, t.windows), t.positive_windows == 0),
            ("rejected inputs", f"{t.rejected:,}", t.rejected > 0),
        ]
    return [
        ("recordings", f"{t.recordings:,}", t.recordings == 0),
        ("patients", f"{t.patients:,}", t.patients == 0),
        ("seizure events", f"{t.events:,}", t.events == 0),
        ("windows", f"{t.windows:,}", t.windows == 0),
        ("positive windows", f"{t.positive_windows:,}", t.positive_windows == 0),
        ("positive %", percent(t.positive_windows, t.windows), t.positive_windows == 0),
        ("hours", f"{t.hours:,.2f}", False),
        ("rejected inputs", f"{t.rejected:,}", t.rejected > 0),
    ]


def _split_row(name: str, s: SplitStats, columns: list[SplitColumn]) -> dict[str, Any]:
    return {"name": name, "cells": [c.cell(s) for c in columns]}


def _check_row(check: CheckResult) -> dict[str, str]:
    return {
        "status": status(check),
        "name": check.name,
        "place": place(check),
        "severity": check.severity.value,
        "observed": format_value(check.observed),
        "expected": format_value(check.expected),
        "message": check.message,
    }


def _provenance(report: AuditReport) -> list[tuple[str, str]]:
    items = [(k, format_value(v)) for k, v in report.provenance.items()]
    items.append(("manifest", report.manifest.path))
    items.append(("manifest fingerprint", report.manifest.fingerprint))
    if report.scan is not None:
        s = report.scan
        items.append((
            "scan",
            f"{s.files} files: {s.read} read, {s.reused} reused, {s.deleted} deleted, "
            f"{s.ignored} ignored; derived tables {'rebuilt' if s.rebuilt else 'reused'}; "
            f"{s.seconds:.2f} s",
        ))  # fmt: skip
    return items
