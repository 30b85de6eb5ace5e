"""The audit report as GitHub-flavoured Markdown, for a CI job summary.

Every string that comes from the data (paths, split names, messages, values) goes through
``escape_markdown``: HTML-significant characters become entities and Markdown punctuation is
backslash-escaped, so a file called ``<script>`` or ``a|b`` neither runs nor breaks a table.
"""

from __future__ import annotations

import re

from preflight.reports.formatting import (
    follows,
    format_value,
    full_list,
    located,
    ordered_checks,
    place,
    split_columns,
    split_legend,
    split_method,
    status,
    summary,
    totals_as_split,
)
from preflight.reports.model import AuditReport
from preflight.results import CheckResult

MAX_REJECTED_SHOWN = 50

_PUNCTUATION = re.compile(r"([\\`*_\[\]|~$])")
_LINE_BREAKS = re.compile(r"\s*[\r\n]+\s*")


def escape_markdown(text: str) -> str:
    """Make ``text`` literal inside GitHub-flavoured Markdown (also inside a table cell)."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _PUNCTUATION.sub(r"\\\1", text)
    return _LINE_BREAKS.sub(" ", text).strip()


def render_markdown(report: AuditReport) -> str:
    """Render ``report`` as Markdown.

    Sections: verdict, splits, failed checks, warnings, rejected inputs (the first 50),
    provenance.
    """
    word = report.verdict.value.upper()
    where = [
        f"Manifest {escape_markdown(report.manifest.path)}",
        f"fingerprint {escape_markdown(report.manifest.fingerprint[:16])}",
    ]
    method = split_method(report)
    if method is not None:
        where.append(f"split {escape_markdown(method)}")
    parts = [
        f"## preflight audit: {word}",
        f"**{word}**: {summary(report)}.  \n" + ", ".join(where) + ".",
        _splits(report),
    ]
    failed = [c for c in ordered_checks(report.checks) if status(c) == "FAIL"]
    warned = [c for c in ordered_checks(report.checks) if status(c) == "WARN"]
    if failed:
        parts.append("### Failed checks\n\n" + _checks_table(failed))
    if warned:
        parts.append("### Warnings\n\n" + _checks_table(warned))
    if not failed and not warned:
        parts.append(f"All {len(report.checks)} checks passed.")
    if report.rejected:
        parts.append(_rejected(report))
    if report.notes:
        parts.append(_notes(report))
    parts.append(_provenance(report))
    return "\n\n".join(parts) + "\n"


def _table(header: list[str], rows: list[list[str]], align: str) -> str:
    """A pipe table; ``align`` has one letter per column: l(eft) or r(ight)."""
    rule = ["---:" if a == "r" else ":---" for a in align]
    lines = [header, rule, *rows]
    return "\n".join("| " + " | ".join(cells) + " |" for cells in lines)


def _splits(report: AuditReport) -> str:
    columns = split_columns(report)
    header = ["split", *(c.header for c in columns)]
    rows = [
        [escape_markdown(name), *(c.cell(s)[0] for c in columns)]
        for name, s in report.splits.items()
    ]
    total = totals_as_split(report)
    rows.append(["**total**", *(c.cell(total)[0] if c.in_total else "" for c in columns)])
    legend = split_legend(report, short=False)
    align = "l" + "r" * len(columns)
    return "### Splits\n\n" + _table(header, rows, align) + f"\n\n{legend}"


def _checks_table(checks: list[CheckResult]) -> str:
    rows = [
        [
            escape_markdown(c.name),
            escape_markdown(place(c)),
            escape_markdown(format_value(c.observed)),
            escape_markdown(format_value(c.expected)),
            escape_markdown(c.message),
        ]
        for c in checks
    ]
    return _table(["check", "split", "observed", "expected", "message"], rows, "llrrl")


def _rejected(report: AuditReport) -> str:
    shown = report.rejected[:MAX_REJECTED_SHOWN]
    rows = [
        [
            escape_markdown(located(r)),
            escape_markdown(r.reason),
            escape_markdown(r.message + (f" ({follows(r)})" if r.cause_path else "")),
        ]
        for r in shown
    ]
    text = f"### Rejected inputs ({len(report.rejected)})\n\n"
    text += _table(["file", "reason", "message"], rows, "lll")
    if len(report.rejected) > len(shown):
        text += f"\n\n... and {len(report.rejected) - len(shown)} more ({full_list(report)})."
    return text


def _notes(report: AuditReport) -> str:
    shown = report.notes[:MAX_REJECTED_SHOWN]
    rows = [
        [
            escape_markdown(located(n)),
            escape_markdown(n.code),
            escape_markdown(n.message),
            escape_markdown(n.origin or ""),
        ]
        for n in shown
    ]
    text = f"### Notes ({len(report.notes)}): corrections applied, recordings kept\n\n"
    text += _table(["file", "code", "message", "source"], rows, "llll")
    if len(report.notes) > len(shown):
        text += f"\n\n... and {len(report.notes) - len(shown)} more ({full_list(report)})."
    return text


def _provenance(report: AuditReport) -> str:
    values = {k: format_value(v) for k, v in report.provenance.items()}
    if report.scan is not None:
        s = report.scan
        values["scan"] = (
            f"{s.files} files, {s.read} read, {s.reused} reused, {s.deleted} deleted, "
            f"{s.ignored} ignored, {s.seconds:.2f} s"
        )
    values["manifest fingerprint"] = report.manifest.fingerprint
    rows = [[escape_markdown(k), escape_markdown(v)] for k, v in values.items()]
    return "### Provenance\n\n" + _table(["key", "value"], rows, "ll")
