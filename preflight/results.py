"""Check results are data: one record per check, one function turns records into a verdict."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict


class Severity(StrEnum):
    """An ``error`` fails the verdict; a ``warning`` is reported and lets the run go on."""

    ERROR = "error"
    WARNING = "warning"


class Verdict(StrEnum):
    """The outcome of an audit or gate."""

    PASS = "pass"
    FAIL = "fail"


class CheckResult(BaseModel):
    """The record one check yields.

    Attributes:
        name: a stable check name (``both_classes``, ``no_rejected_inputs`` ...).
        split: the split the check looked at, or None for the whole corpus.
        severity: error or warning.
        passed: whether the check passed.
        observed: what was measured.
        expected: the threshold or condition, as data.
        message: one sentence naming the split, the observed value and the threshold.
        reason: a stable reason code for a failure, for machines.
    """

    model_config = ConfigDict(frozen=True)

    name: str
    split: str | None
    severity: Severity
    passed: bool
    observed: Any
    expected: Any
    message: str
    reason: str | None = None


def verdict(checks: list[CheckResult]) -> Verdict:
    """FAIL when any error-severity check failed, else PASS."""
    failed = any(not c.passed and c.severity is Severity.ERROR for c in checks)
    return Verdict.FAIL if failed else Verdict.PASS
