"""Expectation suites: Great Expectations 1.x JSON files run over per-split aggregates.

A suite is the JSON an ``ExpectationSuite`` serializes to. It runs once per split, over a
one-row table of that split's aggregates (``AGGREGATE_COLUMNS``), never over the windows table:
every default expectation is answered by an aggregate, and a one-row batch costs the same for
1,000 windows as for 1.5 million. Thresholds are GX suite parameters, ``{"$PARAMETER":
"min_positive_windows"}``; their values come from ``GateConfig`` per split role (``PARAMETERS``).

preflight reads an expectation's ``meta``:

* ``check``: the result's stable name (default: ``<type>:<column>``);
* ``severity``: ``error`` or ``warning`` (default: GX's ``severity``, critical = error);
* ``applies_to``: ``every`` split (default), the ``train`` split, or ``evaluation`` splits;
* ``message``: a ``str.format`` template over the split's aggregates, the parameters, ``split``,
  ``observed``, ``expected``, ``min_value``, ``max_value``, ``column`` and ``check``.

The packaged suites' expectation kind is evaluated directly on the aggregates (``direct``, with
GX's results, checked against GX in the tests); Great Expectations is imported, inside
``run_suite`` and once per process, only for a split with an expectation ``direct`` declines.
"""

from __future__ import annotations

import hashlib
import json
import string
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, ValidationError

from preflight.config import GateConfig
from preflight.errors import ConfigError
from preflight.results import CheckResult, Severity
from preflight.validators import direct

__all__ = [
    "AGGREGATE_COLUMNS",
    "PACKAGED_SUITES",
    "PARAMETERS",
    "Role",
    "Suite",
    "load_suite",
    "parameters",
    "run_suite",
]

PACKAGED_SUITES = ("seizure", "binary_table")

# The one-row table a suite sees for each split.
AGGREGATE_COLUMNS = (
    "split", "role", "recordings", "patients", "positive_recordings", "positive_patients",
    "positive_events", "windows", "positive_windows", "negative_windows", "positive_fraction",
    "classes", "class_mix", "hours", "positive_hours",
)  # fmt: skip

PARAMETERS = (
    "min_positive_windows", "min_positive_events", "min_positive_patients",
    "min_positive_fraction", "max_positive_fraction", "balanced_sampling_below", "batch_size",
    "target_positive_fraction", "sampler_min_positive_windows",
)  # fmt: skip

_TEMPLATE_FIELDS = frozenset(AGGREGATE_COLUMNS) | frozenset(PARAMETERS) | {
    "observed", "expected", "min_value", "max_value", "column", "check",
}  # fmt: skip
_COLUMN_KWARGS = ("column", "column_A", "column_B")


class Role(StrEnum):
    """What a split is for; decides which thresholds and expectations apply to it."""

    TRAIN = "train"
    EVALUATION = "evaluation"
    OTHER = "other"  # neither (evaluation_splits configured without it): every-split checks only


class Scope(StrEnum):
    """``meta.applies_to``: the splits an expectation runs on."""

    EVERY = "every"
    TRAIN = "train"
    EVALUATION = "evaluation"


class CheckMeta(BaseModel):
    """What preflight reads from an expectation's ``meta`` (other keys are kept, unread)."""

    model_config = ConfigDict(extra="allow")

    check: str | None = None
    severity: Severity | None = None
    applies_to: Scope = Scope.EVERY
    message: str | None = None


class ExpectationSpec(BaseModel):
    """One serialized expectation; GX's other fields (id, notes ...) are passed through."""

    model_config = ConfigDict(extra="allow")

    type: str
    kwargs: dict[str, Any] = {}
    meta: CheckMeta = CheckMeta()
    severity: Literal["critical", "warning", "info"] = "critical"  # GX's own FailureSeverity

    def check_name(self) -> str:
        """The result's name: ``meta.check``, or the type and column."""
        column = self.kwargs.get("column")
        return self.meta.check or (self.type if column is None else f"{self.type}:{column}")

    def result_severity(self) -> Severity:
        """``meta.severity``, else GX's severity (critical is an error, the rest warnings)."""
        if self.meta.severity is not None:
            return self.meta.severity
        return Severity.ERROR if self.severity == "critical" else Severity.WARNING

    def applies(self, role: Role) -> bool:
        """Whether this expectation runs on a split of ``role``."""
        return self.meta.applies_to is Scope.EVERY or self.meta.applies_to.value == role.value


class _SuiteFile(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: str
    expectations: list[ExpectationSpec]


@dataclass(frozen=True)
class Suite:
    """A loaded suite file.

    Attributes:
        name: the suite's ``name``.
        path: where it was read from.
        sha256: hex digest of the file's bytes (provenance for reports and checkpoints).
        expectations: its expectations, validated for preflight's use.
    """

    name: str
    path: str
    sha256: str
    expectations: tuple[ExpectationSpec, ...]

    def check_names(self) -> frozenset[str]:
        """Every check name the suite can yield."""
        return frozenset(e.check_name() for e in self.expectations)


def load_suite(suite: str | Path) -> Suite:
    """Read a suite: a packaged name (``seizure``, ``binary_table``) or a JSON file path.

    Checked without importing Great Expectations: structure, columns against
    ``AGGREGATE_COLUMNS``, ``$PARAMETER`` names against ``PARAMETERS``, message fields.

    Raises:
        ConfigError: unknown name, unreadable or invalid file, unknown column or parameter.
    """
    path = _suite_path(suite)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read suite: {exc.strerror}", path=path) from None
    try:
        parsed = _SuiteFile.model_validate(json.loads(data))
    except json.JSONDecodeError as exc:
        raise ConfigError(f"not valid JSON: {exc.msg}", path=path, line=exc.lineno) from None
    except (ValidationError, UnicodeDecodeError) as exc:
        raise ConfigError(f"not an expectation suite: {_pydantic_errors(exc)}", path=path) from None
    for index, spec in enumerate(parsed.expectations):
        _check_references(spec, index, path)
    return Suite(
        parsed.name, str(path), hashlib.sha256(data).hexdigest(), tuple(parsed.expectations)
    )


def _suite_path(suite: str | Path) -> Path:
    text = str(suite)
    if isinstance(suite, Path) or text.endswith(".json") or "/" in text or "\\" in text:
        path = Path(suite)
        if not path.is_file():
            raise ConfigError("suite file not found", path=path)
        return path
    if text not in PACKAGED_SUITES:
        raise ConfigError(
            f"unknown suite {text!r}: packaged suites are {', '.join(PACKAGED_SUITES)}; "
            "or give the path of a .json suite file"
        )
    return Path(str(resources.files("preflight") / "expectations" / f"{text}.json"))


def _pydantic_errors(exc: ValidationError | UnicodeDecodeError) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return "not UTF-8 text"
    return "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:5])


def _check_references(spec: ExpectationSpec, index: int, path: Path) -> None:
    where = f"expectations.{index} ({spec.type})"
    columns = [spec.kwargs[k] for k in _COLUMN_KWARGS if k in spec.kwargs]
    columns += list(spec.kwargs.get("column_list") or [])
    unknown = [c for c in columns if c not in AGGREGATE_COLUMNS]
    if unknown:
        raise ConfigError(
            f"{where}: unknown column {unknown[0]!r}; a suite runs over one row per split "
            f"with columns {', '.join(AGGREGATE_COLUMNS)}",
            path=path,
        )
    for name in _parameter_names(spec.kwargs):
        if name not in PARAMETERS:
            raise ConfigError(
                f"{where}: unknown $PARAMETER {name!r}; known: {', '.join(PARAMETERS)}", path=path
            )
    for field in _template_fields(spec.meta.message or "", where, path):
        if field not in _TEMPLATE_FIELDS:
            raise ConfigError(f"{where}: meta.message uses unknown field {field!r}", path=path)


def _parameter_names(value: Any) -> list[str]:
    if isinstance(value, dict):
        if set(value) == {"$PARAMETER"}:
            return [str(value["$PARAMETER"])]
        return [n for v in value.values() for n in _parameter_names(v)]
    if isinstance(value, list):
        return [n for v in value for n in _parameter_names(v)]
    return []


def _template_fields(template: str, where: str, path: Path) -> list[str]:
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ConfigError(f"{where}: meta.message is not a template: {exc}", path=path) from None
    return [f.split(".")[0].split("[")[0] for _, f, _, _ in parsed if f]


def parameters(config: GateConfig, role: Role) -> dict[str, float | int]:
    """The ``$PARAMETER`` values for a split of ``role`` (train thresholds or evaluation ones)."""
    t = config.train if role is Role.TRAIN else config.evaluation
    return {
        "min_positive_windows": t.min_positive_windows,
        "min_positive_events": t.min_positive_events,
        "min_positive_patients": t.min_positive_patients,
        "min_positive_fraction": t.min_positive_fraction,
        "max_positive_fraction": t.max_positive_fraction,
        "balanced_sampling_below": config.balanced_sampling_below,
        "batch_size": config.batch_size,
        "target_positive_fraction": config.target_positive_fraction,
        "sampler_min_positive_windows": config.sampler_min_positive_windows(),
    }


def run_suite(
    suite: Suite, frame: pd.DataFrame, config: GateConfig, *, great_expectations: bool = False
) -> list[CheckResult]:
    """Validate each split's row of ``frame`` against the expectations for its role.

    Expectations of the packaged suites' kind are evaluated directly (``direct``), with GX's
    results; a split with any other expectation is validated by Great Expectations.

    Args:
        suite: the loaded suite.
        frame: one row per split with ``AGGREGATE_COLUMNS`` (``role`` holds a ``Role``).
        config: thresholds, as suite parameters.
        great_expectations: validate every split with GX, even what ``direct`` evaluates
            (the oracle the tests compare the direct results with).

    Returns:
        One result per (expectation, split), splits in the frame's order.

    Raises:
        ConfigError: GX rejects an expectation or raises while evaluating it.
    """
    if frame.empty or not suite.expectations:
        return []
    gx_suites: dict[Role, Any] = {}
    results: list[CheckResult] = []
    for position in range(len(frame)):
        row = frame.iloc[[position]].reset_index(drop=True)
        values = _python(row.iloc[0].to_dict())
        role = Role(values["role"])
        indices = [i for i, e in enumerate(suite.expectations) if e.applies(role)]
        if not indices:
            continue
        params = parameters(config, role)
        specs = {i: suite.expectations[i] for i in indices}
        outcomes = None if great_expectations else direct.outcomes(specs, values, params)
        if outcomes is None:
            outcomes = _validate_with_gx(suite, indices, gx_suites, role, row, params)
        results += [_result(suite.expectations[i], outcomes[i], values, params) for i in indices]
    return results


def _validate_with_gx(
    suite: Suite,
    indices: list[int],
    gx_suites: dict[Role, Any],
    role: Role,
    row: pd.DataFrame,
    params: dict[str, Any],
) -> dict[int, tuple[bool, Any]]:
    """One split's row validated by Great Expectations (imported here, once per process)."""
    from preflight.validators import _gx

    if role not in gx_suites:
        gx_suites[role] = _gx.build_suite(suite, indices)
    return _gx.validate(_gx.batch_definition(), gx_suites[role], row, params, suite)


def _result(
    spec: ExpectationSpec, outcome: tuple[bool, Any], row: dict[str, Any], params: dict[str, Any]
) -> CheckResult:
    success, observed = outcome
    kwargs = {k: _resolve(v, params) for k, v in spec.kwargs.items()}
    column = kwargs.get("column")
    observed = row[column] if observed is None and column in row else _plain(observed)
    expected = _expected(kwargs)
    name = spec.check_name()
    context = {
        **row, **params, "observed": observed, "expected": expected, "check": name,
        "min_value": kwargs.get("min_value"), "max_value": kwargs.get("max_value"),
        "column": column,
    }  # fmt: skip
    return CheckResult(
        name=name,
        split=row["split"],
        severity=spec.result_severity(),
        passed=success,
        observed=observed,
        expected=expected,
        message=_message(spec.meta.message, context),
        reason=None if success else name,
    )


def _resolve(value: Any, params: dict[str, Any]) -> Any:
    if isinstance(value, dict) and set(value) == {"$PARAMETER"}:
        return params[value["$PARAMETER"]]
    return value


def _expected(kwargs: dict[str, Any]) -> Any:
    """The threshold as data: ``>= 1``, ``<= 0.9``, ``>= 0.0001 and <= 0.9``, or the kwargs."""
    low, high = kwargs.get("min_value"), kwargs.get("max_value")
    if low is None and high is None:
        return {k: v for k, v in kwargs.items() if k not in ("column", "batch_id")} or None
    parts = []
    if low is not None:
        parts.append(f"{'>' if kwargs.get('strict_min') else '>='} {_short(low)}")
    if high is not None:
        parts.append(f"{'<' if kwargs.get('strict_max') else '<='} {_short(high)}")
    return " and ".join(parts)


def _short(value: Any) -> str:
    return f"{value:g}" if isinstance(value, int | float) else str(value)


def _message(template: str | None, context: dict[str, Any]) -> str:
    generic = "{split} split: {check} observed {observed} (expected {expected})"
    try:
        return (template or generic).format_map(context)
    except (KeyError, ValueError, TypeError, IndexError, AttributeError):
        return generic.format_map(context)


def _python(values: dict[str, Any]) -> dict[str, Any]:
    """A frame row with Python values, so results serialize to JSON."""
    return {k: _plain(v) for k, v in values.items()}


def _plain(value: Any) -> Any:
    """numpy scalars (also inside lists and dicts, as GX returns them) to Python ones."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value.item() if hasattr(value, "item") else value
