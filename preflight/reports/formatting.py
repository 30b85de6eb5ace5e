"""Small pieces every file report shares: value formatting, check order and status words."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from preflight.manifest.store import ManifestKind
from preflight.reports.model import AuditReport, NoteRecord, RejectedInput, SplitStats
from preflight.results import CheckResult, Severity

CORPUS = "corpus"  # the place name of a check that looks at the whole corpus (split is None)


def format_value(value: Any) -> str:
    """An observed or expected value as short text (JSON for lists and dicts)."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return format(value, ".6g") if math.isfinite(value) else str(value)
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, default=str, ensure_ascii=False)
    except (TypeError, ValueError):
        return str(value)


def status(check: CheckResult) -> str:
    """``PASS``, ``FAIL`` (a failed error) or ``WARN`` (a failed warning)."""
    if check.passed:
        return "PASS"
    return "FAIL" if check.severity is Severity.ERROR else "WARN"


def place(check: CheckResult) -> str:
    """The split a check looked at, or ``corpus``."""
    return check.split if check.split is not None else CORPUS


def ordered_checks(checks: list[CheckResult]) -> list[CheckResult]:
    """Failed errors first, then failed warnings, then passed checks; stable otherwise."""
    rank = {"FAIL": 0, "WARN": 1, "PASS": 2}
    return sorted(checks, key=lambda c: rank[status(c)])


def counts(report: AuditReport) -> dict[str, int]:
    """How many checks failed (errors), warned and passed."""
    out = {"FAIL": 0, "WARN": 0, "PASS": 0}
    for check in report.checks:
        out[status(check)] += 1
    return out


def summary(report: AuditReport) -> str:
    """One line: ``3 errors, 1 warning, 12 passed; 2 rejected inputs``."""
    n = counts(report)
    parts = [
        _plural(n["FAIL"], "failed error check"),
        _plural(n["WARN"], "warning"),
        f"{n['PASS']} passed",
    ]
    text = ", ".join(parts)
    if report.rejected:
        text += f"; {_plural(len(report.rejected), 'rejected input')}"
    if report.notes:
        text += f"; {_plural(len(report.notes), 'note')}"
    return text


def located(item: RejectedInput | NoteRecord) -> str:
    """``path`` or ``path:line``."""
    return item.path if item.line is None else f"{item.path}:{item.line}"


def follows(r: RejectedInput) -> str:
    """For a follow-on rejection, the input it follows from; empty for a root cause."""
    if r.cause_path is None:
        return ""
    entry = f" ({r.cause_recording})" if r.cause_recording else ""
    return f"follows from {r.cause_path}{entry}"


def note_text(n: NoteRecord) -> str:
    """``code: message (source: origin)``."""
    source = f" (source: {n.origin})" if n.origin else ""
    return f"{n.code}: {n.message}{source}"


def split_method(report: AuditReport) -> str | None:
    """``stratified (seed 3)`` or ``declared`` from the provenance, or None when not recorded."""
    method = report.provenance.get("split_method")
    if method is None:
        return None
    seed = report.provenance.get("split_seed")
    return f"{method} (seed {seed})" if seed is not None else str(method)


def percent(part: int, whole: int) -> str:
    """``part / whole`` in percent with two decimals, ``-`` when ``whole`` is 0."""
    return "-" if whole == 0 else f"{100.0 * part / whole:.2f}"


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


@dataclass(frozen=True)
class SplitColumn:
    """One column of the per-split table, the same in every rendering.

    Attributes:
        header: the heading in Markdown and HTML.
        short: the heading on the terminal.
        cell: the cell of a split: its text, and whether it is a zero where positives are needed.
        in_total: shown in the total row (a count of positive recordings is not summed there).
    """

    header: str
    short: str
    cell: Callable[[SplitStats], tuple[str, bool]]
    in_total: bool = True


def split_columns(report: AuditReport) -> list[SplitColumn]:
    """The per-split columns: seizure recordings' (windows, hours, events), or tables' (files,
    groups, rows per class), which have no duration and no events to show as zeros."""
    c = SplitColumn
    ratio = c(
        "+windows %",
        "+%",
        lambda s: (percent(s.positive_windows, s.windows), s.positive_windows == 0),
    )
    if report.kind is ManifestKind.TABLES:
        return [
            c("files", "files", lambda s: (f"{s.recordings:,}", s.recordings == 0)),
            c(
                "+files",
                "+files",
                lambda s: (f"{s.positive_recordings:,}", s.positive_recordings == 0),
                False,
            ),
            c("groups", "groups", lambda s: (f"{s.patients:,}", False)),
            c("rows", "rows", lambda s: (f"{s.windows:,}", s.windows == 0)),
            c(
                "positive rows",
                "+rows",
                lambda s: (f"{s.positive_windows:,}", s.positive_windows == 0),
            ),
            c(
                "negative rows",
                "-rows",
                lambda s: (f"{s.windows - s.positive_windows:,}", s.windows == s.positive_windows),
            ),
            c("+rows %", "+%", ratio.cell),
        ]
    return [
        c("recordings", "rec", lambda s: (f"{s.recordings:,}", False)),
        c(
            "+recordings",
            "+rec",
            lambda s: (f"{s.positive_recordings:,}", s.positive_recordings == 0),
            False,
        ),
        c("patients", "pat", lambda s: (f"{s.patients:,}", False)),
        c(
            "+patients",
            "+pat",
            lambda s: (f"{s.positive_patients:,}", s.positive_patients == 0),
            False,
        ),
        c("seizures", "seiz", lambda s: (f"{s.events:,}", s.events == 0)),
        c("windows", "win", lambda s: (f"{s.windows:,}", s.windows == 0)),
        c("+windows", "+win", lambda s: (f"{s.positive_windows:,}", s.positive_windows == 0)),
        ratio,
        c("hours", "h", lambda s: (f"{s.hours:,.2f}", False)),
        c("seizure hours", "sz h", lambda s: (f"{s.positive_hours:,.3f}", s.positive_hours == 0)),
    ]


def full_list(report: AuditReport, json_path: str | Path | None = None) -> str:
    """Where a list cut short here is whole: the JSON report written, or how to write one."""
    if json_path is not None:
        return f"all of them in {json_path}"
    return f"all of them: preflight report {report.manifest.path} --json FILE"


def split_legend(report: AuditReport, *, short: bool) -> str:
    """What the columns mean."""
    if report.kind is ManifestKind.TABLES:
        return (
            "files: Parquet files (a file is a recording, a row a sample); +files: those holding "
            "positive rows; groups: distinct values of the group column (a file counts as its "
            "own group without one); +% the positive share of rows"
        )
    if short:
        return (
            "rec recordings, pat patients, seiz seizure events, win windows, h hours, sz h "
            "seizure hours; + marks those holding seizures, +% the positive share of windows"
        )
    return (
        "Columns marked + count what holds seizures; seizures counts seizure events (annotations "
        "that overlap merged into one; the event scoring after training also merges seizures "
        "less than 90 s apart, so it may count fewer)"
    )


def totals_as_split(report: AuditReport) -> SplitStats:
    """The totals in the shape of a split row (positive recordings and patients summed)."""
    t = report.totals
    splits = report.splits.values()
    return SplitStats(
        recordings=t.recordings, patients=t.patients,
        positive_recordings=sum(s.positive_recordings for s in splits),
        positive_patients=sum(s.positive_patients for s in splits),
        events=t.events, windows=t.windows, positive_windows=t.positive_windows,
        hours=t.hours, positive_hours=t.positive_hours,
    )  # fmt: skip
