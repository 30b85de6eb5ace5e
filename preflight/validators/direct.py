"""The packaged suites' expectation kind, evaluated on a split's aggregates without GX.

Every expectation of the packaged suites is ``expect_column_values_to_be_between`` over one
numeric aggregate of one split: a comparison of two or three numbers. Importing Great
Expectations to make it costs 2-4 s, most of a first audit; so ``suites.run_suite`` asks here
first and runs GX only for what this module declines. GX stays the suite format and the validator
of record: what is evaluated here is exactly what GX decides, which a hypothesis test checks with
GX as the oracle on random aggregates, bounds and strictness (``tests/unit/test_direct.py``).

Declined, so left to GX (which may then reject the expectation, or run it): any other expectation
type; a keyword other than the column, the bounds and the strict flags (``mostly``,
``row_condition`` ...); fields GX would read beyond type, kwargs, meta and severity; no bound at
all; a bound or value that is not a finite number (a bool, a string, None, NaN); a strict flag
that is not a bool.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from preflight.validators.suites import ExpectationSpec

__all__ = ["BETWEEN", "evaluable", "outcomes"]

BETWEEN = "expect_column_values_to_be_between"
_KWARGS = frozenset({"column", "min_value", "max_value", "strict_min", "strict_max"})


def evaluable(spec: ExpectationSpec) -> bool:
    """Whether ``spec`` is of the kind evaluated here, whatever the aggregates' values."""
    kwargs = spec.kwargs
    if spec.type != BETWEEN or spec.model_extra or not set(kwargs) <= _KWARGS:
        return False
    if not isinstance(kwargs.get("column"), str):
        return False
    if any(not isinstance(kwargs.get(k, False), bool) for k in ("strict_min", "strict_max")):
        return False
    bounds = [kwargs.get("min_value"), kwargs.get("max_value")]
    if all(b is None for b in bounds):
        return False  # GX rejects it when it builds the suite: let it say so
    return all(b is None or _number(b) or _parameter(b) for b in bounds)


def outcomes(
    specs: Mapping[int, ExpectationSpec], row: Mapping[str, Any], params: Mapping[str, Any]
) -> dict[int, tuple[bool, Any]] | None:
    """(success, observed value) by index, as ``_gx.validate`` gives them; None to ask GX.

    Args:
        specs: the expectations to evaluate, by their index in the suite file.
        row: one split's aggregates.
        params: the ``$PARAMETER`` values for the split's role.

    Returns:
        The outcomes, or None when any expectation or value falls outside what is evaluated
        here (then GX validates the whole row, as before).
    """
    out: dict[int, tuple[bool, Any]] = {}
    for index, spec in specs.items():
        if not evaluable(spec):
            return None
        kwargs = spec.kwargs
        value: Any = row.get(kwargs["column"])
        low = _resolve(kwargs.get("min_value"), params)
        high = _resolve(kwargs.get("max_value"), params)
        if not _number(value) or not all(b is None or _number(b) for b in (low, high)):
            return None
        if low is None and high is None:
            return None  # both parameters None: GX raises; keep its behaviour
        passed = _between(value, low, high, kwargs.get("strict_min"), kwargs.get("strict_max"))
        out[index] = (passed, None)  # GX's SUMMARY format reports no observed value here
    return out


def _between(
    value: float, low: float | None, high: float | None, strict_min: Any, strict_max: Any
) -> bool:
    above = low is None or (value > low if strict_min else value >= low)
    below = high is None or (value < high if strict_max else value <= high)
    return above and below


def _resolve(value: Any, params: Mapping[str, Any]) -> Any:
    if _parameter(value):
        return params.get(value["$PARAMETER"])
    return value


def _parameter(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"$PARAMETER"}


def _number(value: Any) -> bool:
    """A finite int or float (not a bool): what the aggregates and thresholds are."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return isinstance(value, int) or math.isfinite(value)
