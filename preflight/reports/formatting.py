"""Small pieces every file report shares: value formatting, check order and status words."""

from __future__ import annotations

import json
import math
from typing import Any

from preflight.reports.model import AuditReport
from preflight.validators.results import CheckResult, Severity

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
    return text


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
