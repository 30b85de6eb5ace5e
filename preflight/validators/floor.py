"""The floor: what every gate demands, whatever the config or suite says.

A training run needs something to learn from and something to measure with. So, for the
training split and for every evaluation split, the gate always checks, as errors:

* ``both_classes``: positive and negative windows (rows);
* ``min_positive_events``: at least one seizure event (``min_positive_windows``, at least one
  positive row, for Parquet tables);
* ``auroc_defined``: evaluation splits only, both classes (else AUROC is undefined);

and ``splits_present`` (in ``gate``, with ``expected_splits``): every expected split exists with
something usable in it. A suite or config may ask for more than the floor (higher thresholds,
more expectations, warnings above it) but never less: ``gate.severities`` cannot make these
warnings (``config.FLOOR_CHECKS``), thresholds cannot go below 1, and a user suite adds to the
packaged one. ``enforce`` merges the floor's records into the suite's: a floor failure is always
an error record, and a floor check the suite did not run is added.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from preflight.results import CheckResult, Severity
from preflight.validators.suites import Role

__all__ = ["enforce", "floor_checks"]


def floor_checks(frame: pd.DataFrame, *, tables: bool) -> list[CheckResult]:
    """The floor's records for each training and evaluation split of ``frame``.

    Args:
        frame: one row per split with ``suites.AGGREGATE_COLUMNS``.
        tables: a Parquet source (a positive row is the unit), else EEG (a seizure event).
    """
    out: list[CheckResult] = []
    for row in frame.to_dict("records"):
        role = Role(row["role"])
        if role is Role.OTHER:
            continue
        out.append(_both_classes(row))
        out.append(_positive_rows(row) if tables else _positive_events(row))
        if role is Role.EVALUATION:
            out.append(_auroc(row))
    return out


def enforce(checks: list[CheckResult], floor: list[CheckResult]) -> list[CheckResult]:
    """``checks`` with the floor held: a failed floor record replaces a record of the same name
    and split that passed or was a warning; a floor record with no counterpart is added after
    the others. A passing floor leaves the suite's record (which may ask more) as it is."""
    by_key = {(f.name, f.split): f for f in floor}
    seen: set[tuple[str, str | None]] = set()
    out = []
    for check in checks:
        key = (check.name, check.split)
        f = by_key.get(key)
        if f is not None:
            seen.add(key)
            weaker = check.passed or check.severity is not Severity.ERROR
            out.append(f if not f.passed and weaker else check)
        else:
            out.append(check)
    out += [f for f in floor if (f.name, f.split) not in seen]
    return out


def _record(
    name: str, row: dict[str, Any], passed: bool, observed: Any, expected: Any, message: str
) -> CheckResult:
    return CheckResult(
        name=name, split=str(row["split"]), severity=Severity.ERROR, passed=passed,
        observed=observed, expected=expected, message=message + " [floor]",
        reason=None if passed else name,
    )  # fmt: skip


def _both_classes(row: dict[str, Any]) -> CheckResult:
    positive, negative = int(row["positive_windows"]), int(row["negative_windows"])
    return _record(
        "both_classes", row, positive > 0 and negative > 0, int(row["classes"]), ">= 2",
        f"{row['split']} split has {positive} positive and {negative} negative windows "
        "(needs >= 1 of each class)",
    )  # fmt: skip


def _positive_events(row: dict[str, Any]) -> CheckResult:
    events = int(row["positive_events"])
    return _record(
        "min_positive_events", row, events >= 1, events, ">= 1",
        f"{row['split']} split has {events} seizure events (needs >= 1)",
    )  # fmt: skip


def _positive_rows(row: dict[str, Any]) -> CheckResult:
    positive = int(row["positive_windows"])
    return _record(
        "min_positive_windows", row, positive >= 1, positive, ">= 1",
        f"{row['split']} split has {positive} positive rows (needs >= 1)",
    )  # fmt: skip


def _auroc(row: dict[str, Any]) -> CheckResult:
    positive, negative = int(row["positive_windows"]), int(row["negative_windows"])
    return _record(
        "auroc_defined", row, positive > 0 and negative > 0, int(row["classes"]), ">= 2",
        f"{row['split']} split has {positive} positive and {negative} negative windows "
        "(AUROC needs >= 1 of each)",
    )  # fmt: skip
