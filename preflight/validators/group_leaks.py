"""``group_disjoint``: no group (sky region, source id) of a Parquet source in two splits.

A group that covers whole files becomes their recordings' ``patient``, so the gate's
``patient_disjoint`` already names its leaks. This check covers the rest, from the ``groups``
table (rec_idx, group_value, rows): a group value that also appears in a file holding several
groups. A leak ``patient_disjoint`` reports is not reported twice.
"""

from __future__ import annotations

from preflight.manifest import queries
from preflight.manifest.store import Manifest
from preflight.results import CheckResult, Severity

__all__ = ["group_disjoint"]

EXAMPLES = 5  # leaked groups named in a message

_LEAKS = """
SELECT g.group_value, list(DISTINCT r.split) AS splits
FROM groups g JOIN recordings r USING (rec_idx)
GROUP BY g.group_value
HAVING count(DISTINCT r.split) > 1
   AND count(DISTINCT r.split) FILTER (WHERE r.patient = g.group_value) < 2
ORDER BY g.group_value
"""


def group_disjoint(m: Manifest) -> CheckResult | None:
    """The check's record, or None when the manifest has no groups (no group column).

    Args:
        m: an open manifest with derived tables.
    """
    tables = {r[0] for r in m.query("SELECT table_name FROM information_schema.tables")}
    if "groups" not in tables:
        return None
    n_groups = m.query("SELECT count(DISTINCT group_value) FROM groups")[0][0]
    if n_groups == 0:
        return None
    rows = m.query(_LEAKS)
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
