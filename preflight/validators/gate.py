"""The gate: one entry point that says whether a manifest's splits are worth a training run.

``run_gate`` yields result records, never a verdict by itself (``GateResult.verdict`` applies the
one rule in ``results.verdict``). Its checks come from three places:

* pandera schemas over the manifest tables (``schemas``): ``schema_<table>``;
* the expectation suite over per-split aggregates (``suites``): ``both_classes``,
  ``min_positive_windows``, ``min_positive_events``, ``min_positive_patients``,
  ``positive_fraction_bounds``, ``balanced_sampling_needed``, ``auroc_defined``,
  ``sampler_feasible`` (the packaged seizure suite's names);
* plain SQL (``manifest.checks``), because they compare splits or look at the whole corpus:
  ``splits_present``,
  ``patient_disjoint``, ``recording_disjoint``, ``group_disjoint`` (Parquet tables with a group
  column: ``group_leaks``), ``split_fraction_ratio``, ``rejected_fraction``.

A corpus with the single split ``all`` trains on it and has no cross-split checks.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from preflight.config import GateConfig
from preflight.errors import ConfigError, ManifestError
from preflight.manifest import checks as manifest_checks
from preflight.manifest import queries
from preflight.manifest.store import Manifest, ManifestKind
from preflight.results import CheckResult, Severity, Verdict, verdict
from preflight.validators import floor
from preflight.validators.expected_splits import expected_splits, why_missing
from preflight.validators.group_leaks import group_disjoint
from preflight.validators.schemas import SCHEMA_TABLES, check_schemas
from preflight.validators.suites import (
    AGGREGATE_COLUMNS,
    PACKAGED_SUITES,
    Role,
    Suite,
    load_suite,
    run_suite,
)

__all__ = ["BUILTIN_CHECKS", "GateResult", "aggregate_frame", "run_gate", "split_roles"]

UNSPLIT = "all"  # the split name of a corpus without one (queries.SPLIT_ORDER)
EXAMPLES = 5  # leaked patients or recordings named in a message
BUILTIN_CHECKS = (
    "splits_present", "patient_disjoint", "recording_disjoint", "group_disjoint",
    "split_fraction_ratio", "rejected_fraction", *(f"schema_{t}" for t in SCHEMA_TABLES),
)  # fmt: skip
_REQUIRED_TABLES = (*SCHEMA_TABLES, "rejected", "files", "meta")


@dataclass(frozen=True)
class GateResult:
    """What the gate found.

    Attributes:
        checks: one record per check (and per split for per-split checks), in a stable order:
            schemas, splits_present, suite checks split by split, cross-split, rejected.
        suite_name: the suite's ``name``.
        suite_hash: sha256 of the suite file's bytes, for reports and checkpoints.
        suite_path: where the suite was read from.
    """

    checks: list[CheckResult]
    suite_name: str
    suite_hash: str
    suite_path: str

    @property
    def verdict(self) -> Verdict:
        """FAIL when any error-severity check failed."""
        return verdict(self.checks)


def run_gate(
    manifest: Manifest, config: GateConfig, *, suite: str | Path | None = None
) -> GateResult:
    """Check a manifest's tables and splits before any training.

    Args:
        manifest: an open manifest (read-only is enough) with derived tables.
        config: thresholds and policy.
        suite: a packaged suite name or a suite file path; default ``config.suite``, else
            ``binary_table`` for Parquet corpora and ``seizure`` for the rest.

    Returns:
        The checks and the suite's provenance.

    Raises:
        ConfigError: the suite is unknown or invalid, or ``config.severities`` names an unknown
            check.
        ManifestError: the manifest lacks derived tables or cannot be read.
    """
    chosen = _with_packaged(load_suite(suite or config.suite or _default_suite(manifest)), manifest)
    _check_severity_names(config, chosen)
    with _reading(manifest):
        _require_tables(manifest)
        frame = aggregate_frame(queries.split_stats(manifest), config)
        checks = check_schemas(manifest)
        checks.append(_splits_present(manifest, list(frame["split"]), config))
        checks += run_suite(chosen, frame, config)
        if len(frame) > 1:
            checks += [_patient_disjoint(manifest), _recording_disjoint(manifest)]
            groups = group_disjoint(manifest) if manifest.kind is ManifestKind.TABLES else None
            checks += [groups] if groups is not None else []
            checks.append(_split_fraction_ratio(frame, config))
        checks.append(_rejected_fraction(manifest, config))
        tables = manifest.kind is ManifestKind.TABLES
    overrides = config.severities
    checks = [
        c.model_copy(update={"severity": overrides[c.name]}) if c.name in overrides else c
        for c in checks
    ]
    checks = floor.enforce(checks, floor.floor_checks(frame, tables=tables))
    return GateResult(checks, chosen.name, chosen.sha256, chosen.path)


def _with_packaged(chosen: Suite, m: Manifest) -> Suite:
    """A user's suite file adds to the packaged suite of the corpus kind: its expectations run
    beside the packaged ones, and one with a packaged check's name replaces that one (the floor
    still holds: ``floor.enforce``). Name, path and hash stay the user file's."""
    if chosen.path in {load_suite(name).path for name in PACKAGED_SUITES}:
        return chosen
    packaged = load_suite(_default_suite(m))
    names = chosen.check_names()
    kept = tuple(e for e in packaged.expectations if e.check_name() not in names)
    return replace(chosen, expectations=kept + chosen.expectations)


def split_roles(splits: list[str], config: GateConfig) -> dict[str, Role]:
    """Each split's role: the train split, evaluation splits, or other (neither)."""
    if splits == [UNSPLIT]:
        return {UNSPLIT: Role.TRAIN}
    evaluation = (
        set(splits) - {config.train_split}
        if config.evaluation_splits is None
        else set(config.evaluation_splits)
    )
    roles = {s: Role.EVALUATION if s in evaluation else Role.OTHER for s in splits}
    if config.train_split in roles:
        roles[config.train_split] = Role.TRAIN
    return roles


def aggregate_frame(stats: dict[str, dict[str, Any]], config: GateConfig) -> pd.DataFrame:
    """One row per split with ``suites.AGGREGATE_COLUMNS``, from ``queries.split_stats``."""
    roles = split_roles(list(stats), config)
    rows = []
    for split, s in stats.items():
        windows, positive = int(s["windows"]), int(s["positive_windows"])
        rows.append(
            {
                **s,
                "split": split,
                "role": roles[split].value,
                "positive_events": s["events"],
                "negative_windows": windows - positive,
                "positive_fraction": positive / windows if windows else 0.0,
                "classes": int(positive > 0) + int(windows - positive > 0),
                "class_mix": _class_mix(positive, windows - positive),
            }
        )
    return pd.DataFrame(rows, columns=list(AGGREGATE_COLUMNS))


def _class_mix(positive: int, negative: int) -> str:
    """The classes a split holds, in words for messages: ``one class (positive only)``."""
    if positive and negative:
        return "both classes"
    if positive or negative:
        return f"one class ({'positive' if positive else 'negative'} only)"
    return "no rows"


def _default_suite(m: Manifest) -> str:
    return "binary_table" if m.kind is ManifestKind.TABLES else "seizure"


def _check_severity_names(config: GateConfig, suite: Suite) -> None:
    known = set(BUILTIN_CHECKS) | suite.check_names()
    unknown = sorted(set(config.severities) - known)
    if unknown:
        raise ConfigError(
            f"gate.severities: unknown check {unknown[0]!r} (suite {suite.name!r} and the "
            f"built-in checks know: {', '.join(sorted(known))})"
        )


@contextmanager
def _reading(m: Manifest) -> Iterator[None]:
    """DuckDB errors while the gate reads become one ``ManifestError``."""
    try:
        yield
    except duckdb.Error as exc:
        raise ManifestError(
            f"cannot read the manifest for the gate ({exc}); re-run `preflight audit`",
            path=m.path,
        ) from None


def _require_tables(m: Manifest) -> None:
    tables = manifest_checks.table_names(m)
    counts = m.kind is ManifestKind.TABLES  # window counts per file, no row per window
    required = [("window_counts" if counts and t == "windows" else t) for t in _REQUIRED_TABLES]
    required += ["groups"] if counts else []
    missing = [t for t in required if t not in tables]
    if missing:
        raise ManifestError(
            f"the manifest has no {', '.join(missing)} table; run `preflight audit SOURCE` first",
            path=m.path,
        )


def _check(
    name: str,
    passed: bool,
    observed: Any,
    expected: Any,
    message: str,
    severity: Severity = Severity.ERROR,
) -> CheckResult:
    return CheckResult(
        name=name, split=None, severity=severity, passed=passed, observed=observed,
        expected=expected, message=message, reason=None if passed else name,
    )  # fmt: skip


def _listing(items: list[str]) -> str:
    more = f"; and {len(items) - EXAMPLES} more" if len(items) > EXAMPLES else ""
    return "; ".join(items[:EXAMPLES]) + more


def _splits_present(m: Manifest, splits: list[str], config: GateConfig) -> CheckResult:
    roles = split_roles(splits, config)
    train = [s for s, r in roles.items() if r is Role.TRAIN]
    wanted = expected_splits(m, config, splits)
    missing = [s for s in wanted if s not in splits]
    evaluation = [s for s, r in roles.items() if r is Role.EVALUATION]
    found = ", ".join(splits) or "none"
    if missing:
        why = "; ".join(f"{s}: {why_missing(m, s)}" for s in missing)
        message = f"missing split(s) {', '.join(missing)} (the corpus has: {found}): {why}"
    elif evaluation:
        message = f"train split: {train[0]}; evaluation split(s): {', '.join(evaluation)}"
    else:
        message = (
            f"{train[0]} split trains; no evaluation split (split.method: stratified builds one)"
        )
    return _check("splits_present", not missing, splits, wanted, message)


def _patient_disjoint(m: Manifest) -> CheckResult:
    rows = manifest_checks.patients_in_several_splits(m)
    n_patients = manifest_checks.patient_count(m)
    leaks = [f"{patient} in {', '.join(_ordered(splits))}" for patient, splits in rows]
    if leaks:
        message = f"{len(leaks)} patient(s) in more than one split (allowed: 0): {_listing(leaks)}"
    else:
        message = f"no patient in two splits ({n_patients} patients)"
    return _check("patient_disjoint", not leaks, len(leaks), 0, message)


def _recording_disjoint(m: Manifest) -> CheckResult:
    rows = manifest_checks.recordings_in_several_splits(m)
    dups = [
        " = ".join(f"{path} ({split})" for path, split in zip(paths, splits, strict=True))
        for paths, splits in rows
    ]
    if dups:
        message = (
            f"{len(dups)} recording(s) in more than one split by content hash (allowed: 0): "
            f"{_listing(dups)}"
        )
    else:
        message = "no recording in two splits (by content hash)"
    return _check("recording_disjoint", not dups, len(dups), 0, message)


def _split_fraction_ratio(frame: pd.DataFrame, config: GateConfig) -> CheckResult:
    limit = config.max_fraction_ratio
    some = frame[frame["positive_fraction"] > 0]
    expected = f"<= {limit:g}"
    if len(some) < 2:
        message = "fewer than two splits with positive windows: no fractions to compare"
        return _check("split_fraction_ratio", True, None, expected, message, Severity.WARNING)
    high = some.loc[some["positive_fraction"].idxmax()]
    low = some.loc[some["positive_fraction"].idxmin()]
    ratio = float(high["positive_fraction"] / low["positive_fraction"])
    message = (
        f"positive-window fractions differ {ratio:.1f}x across splits: {high['split']} "
        f"{high['positive_fraction']:.3%} vs {low['split']} {low['positive_fraction']:.3%} "
        f"(allowed <= {limit:g}x)"
    )
    return _check(
        "split_fraction_ratio", ratio <= limit, round(ratio, 3), expected, message, Severity.WARNING
    )


def _rejected_fraction(m: Manifest, config: GateConfig) -> CheckResult:
    # Inputs rejected for a problem of their own: files, and entries of CHB-MIT / Siena lists
    # one by one; a follow-on rejection (an EDF whose annotation was rejected) is its cause's.
    rejected, inputs = queries.rejected_units(m)
    fraction = rejected / inputs if inputs else 0.0
    limit = config.max_rejected_fraction
    message = (
        f"{rejected} of {inputs} input(s) rejected ({fraction:.1%}, allowed <= {limit:.1%})"
        + ("; see the rejected list" if rejected else "")
    )
    return _check(
        "rejected_fraction", fraction <= limit, round(fraction, 6), f"<= {limit:g}", message
    )


def _ordered(splits: list[str]) -> list[str]:
    """Splits in report order: train, dev, eval, test, all, then others by name."""
    order = queries.SPLIT_ORDER
    return sorted(splits, key=lambda s: (order.index(s) if s in order else len(order), s))
