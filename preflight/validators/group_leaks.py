"""``group_disjoint``: no group (sky region, source id) of a Parquet source in two splits.

A group that covers whole files becomes their recordings' ``patient``, so the gate's
``patient_disjoint`` already names its leaks. This check covers the rest, from the ``groups``
table (rec_idx, group_value, rows): a group value that also appears in a file holding several
groups. A leak ``patient_disjoint`` reports is not reported twice.
"""

from __future__ import annotations

from preflight.manifest import checks, queries
from preflight.manifest.store import Manifest
from preflight.results import CheckResult, Severity

__all__ = ["group_disjoint"]

EXAMPLES = 5  # leaked groups named in a message


def group_disjoint(m: Manifest) -> CheckResult | None:
    """The check's record, or None when the manifest has no groups (no group column).

    Args:
        m: an open manifest with derived tables.
    """
    if "groups" not in checks.table_names(m):
        return None
    n_groups = checks.group_count(m)
    if n_groups == 0:
        return None
    rows = checks.leaked_groups(m)
    leaks = [f"{group} in {', '.join(_ordered(splits))}" for group, splits in rows]
    if leaks:
        more = f"; and {len(leaks) - EXAMPLES} more" if len(leaks) > EXAMPLES else ""
        message = (
            f"{len(leaks)} group(s) in more than one split (allowed: 0): "
            f"{'; '.join(leaks[:EXAMPLES])}{more}"
        )
    else:
        message = f"no group in two splits ({n_groups} groups)"
    return CheckResult(
        name="group_disjoint",
        split=None,
        severity=Severity.ERROR,
        passed=not leaks,
        observed=len(leaks),
        expected=0,
        message=message,
        reason=None if not leaks else "group_disjoint",
    )


def _ordered(splits: list[str]) -> list[str]:
    order = queries.SPLIT_ORDER
    return sorted(splits, key=lambda s: (order.index(s) if s in order else len(order), s))
