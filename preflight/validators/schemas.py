"""pandera schemas for the manifest tables, and one ``CheckResult`` per table.

What each schema declares (column kinds, bounds, row rules) is kept apart from how it runs
(``check_schemas``: load with DuckDB, validate lazily so every failing row is reported, turn
pandera's failure cases into a result record). pandera's exception never leaves this module.

``recordings``, ``events`` and ``seizures`` are validated row by row (events and seizures joined
to their recording's duration, events to the reader of their annotation file). ``windows`` can
hold millions of rows, so DuckDB first folds it into one row per recording (count, first and last
index, distinct indices, and counts of rows breaking a per-window rule) and pandera validates
those rows: every window is still looked at, but in SQL, and a failure names the recording. A
Parquet source stores no row per window but exact counts per file (``window_counts``, and
``groups`` per group value); its ``schema_windows`` validates those counts instead: one row per
recording, as many windows as the file's rows (its ``duration_s``), positives between 0 and the
windows, and group rows adding up to the file's rows. The queries loading each frame are in
``manifest.checks``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import pandera.pandas as pa
from pandas.api import types as pdt
from pandera.errors import SchemaErrors

from preflight.manifest import checks as manifest_checks
from preflight.manifest.store import Manifest, ManifestKind
from preflight.manifest.windows import END_TOLERANCE_S
from preflight.results import CheckResult, Severity
from preflight.validators.vocabulary import labels_match

__all__ = ["SCHEMA_TABLES", "TableSchema", "check_schemas", "table_schemas"]

SCHEMA_TABLES = ("recordings", "events", "seizures", "windows")
EXAMPLES = 5  # failing rows named in a message
_EPS = 1e-6  # float slack (seconds) for overlaps and the window count of a duration

# Column kinds rather than exact dtypes: DuckDB gives ``int32`` or ``Int32``, ``str`` or
# ``object``, as NULLs come and go. A column of NULLs only (a labels-only audit) is of any kind.
_KINDS: dict[str, Callable[[pd.Series], bool]] = {
    "string": pdt.is_string_dtype,
    "integer": lambda s: pdt.is_integer_dtype(s) and not pdt.is_bool_dtype(s),
    "number": lambda s: pdt.is_numeric_dtype(s) and not pdt.is_bool_dtype(s),
    "boolean": pdt.is_bool_dtype,
}


@dataclass(frozen=True)
class TableSchema:
    """A schema for one manifest table and what its failure messages show.

    Attributes:
        table: the manifest table; the check is named ``schema_<table>``.
        frame: the frame to validate, as ``manifest.checks.schema_frame`` names it.
        schema: the pandera schema.
        place: names each row in messages (``path:line``, a recording id ...).
        shown: for each row rule, the columns whose values a message shows.
        unit: what one validated row is, for messages.
    """

    table: str
    frame: str
    schema: pa.DataFrameSchema
    place: Callable[[pd.DataFrame], pd.Series]
    shown: dict[str, tuple[str, ...]] = field(default_factory=dict)
    unit: str = "rows"


def _col(kind: str, *checks: pa.Check, nullable: bool = False, unique: bool = False) -> pa.Column:
    """A column of a kind, with more checks."""
    test = _KINDS[kind]
    is_kind = pa.Check(
        lambda s: bool(s.isna().all()) or bool(test(s)), name=f"type is {kind}", element_wise=False
    )
    return pa.Column(None, [is_kind, *checks], nullable=nullable, unique=unique)


def _rules(rules: dict[str, tuple[tuple[str, ...], Callable[[pd.DataFrame], Any]]]) -> tuple[
    list[pa.Check], dict[str, tuple[str, ...]]
]:  # fmt: skip
    """Row rules as dataframe checks, and the columns each one's message shows."""
    checks = [pa.Check(fn, name=name) for name, (_, fn) in rules.items()]
    return checks, {name: cols for name, (cols, _) in rules.items()}


def _le(a: pd.Series, b: pd.Series) -> pd.Series:
    """``a <= b`` where ``b`` is known; unknown ``b`` passes (another rule reports it)."""
    return b.isna() | (a <= b)


def _recordings() -> TableSchema:
    string = _col("string")
    checks, shown = _rules(
        {
            "rec_idx dense in recording_id order": (
                ("rec_idx", "rank"),
                lambda df: df["rec_idx"] == df["rank"],
            ),
        }
    )
    schema = pa.DataFrameSchema(
        {
            "recording_id": _col("string", unique=True),
            "rec_idx": _col("integer", pa.Check.ge(0), unique=True),
            "path": _col("string", nullable=True),
            "patient": _col("string", pa.Check.str_length(min_value=1)),
            "split": _col("string", pa.Check.str_length(min_value=1)),
            "declared_split": string,
            "label_source": string,
            "sampling_rate": _col("number", pa.Check.gt(0), nullable=True),
            "n_channels": _col("integer", pa.Check.ge(1), nullable=True),
            "duration_s": _col("number", pa.Check.gt(0)),
            "content_hash": _col("string", nullable=True),
        },
        checks=checks,
        name="recordings",
    )
    return TableSchema(
        "recordings", "recordings", schema, lambda df: df["recording_id"].astype(str), shown
    )


def _events() -> TableSchema:
    checks, shown = _rules(
        {
            "recording in recordings": (("recording_id",), lambda df: df["duration_s"].notna()),
            "start_s < stop_s": (("start_s", "stop_s"), lambda df: df["start_s"] < df["stop_s"]),
            "stop_s <= duration_s": (
                ("stop_s", "duration_s"),
                lambda df: _le(df["stop_s"], df["duration_s"] + END_TOLERANCE_S),
            ),
            "label in the reader's vocabulary": (
                ("label", "positive", "reader"),
                lambda df: labels_match(df["label"], df["positive"], df["reader"]),
            ),
        }
    )
    schema = pa.DataFrameSchema(
        {
            "recording_id": _col("string"),
            "event_idx": _col("integer", pa.Check.ge(0)),
            "source_path": _col("string"),
            "start_s": _col("number", pa.Check.ge(0)),
            "stop_s": _col("number"),
            "label": _col("string", pa.Check.str_length(min_value=1)),
            "positive": _col("boolean"),
        },
        checks=checks,
        unique=["recording_id", "source_path", "event_idx"],
        report_duplicates="all",
        name="events",
    )
    return TableSchema("events", "events", schema, _event_place, shown)


def _event_place(df: pd.DataFrame) -> pd.Series:
    """``path:line``, or ``path event <idx>`` for sources without lines (EDF+ annotations)."""
    line = ":" + df["line"].astype("Int64").astype(str)
    by_idx = " event " + df["event_idx"].astype(str)
    return df["source_path"].astype(str) + line.where(df["line"].notna(), by_idx)


def _seizures() -> TableSchema:
    checks, shown = _rules(
        {
            "recording in recordings": (("recording_id",), lambda df: df["duration_s"].notna()),
            "rec_idx matches recordings": (
                ("rec_idx", "recording_rec_idx"),
                lambda df: (
                    df["recording_rec_idx"].isna() | (df["rec_idx"] == df["recording_rec_idx"])
                ),
            ),
            "start_s < stop_s": (("start_s", "stop_s"), lambda df: df["start_s"] < df["stop_s"]),
            "stop_s <= duration_s": (
                ("stop_s", "duration_s"),
                lambda df: _le(df["stop_s"], df["duration_s"] + END_TOLERANCE_S),
            ),
            "seizures disjoint, in order": (
                ("start_s", "previous_stop_s"),
                lambda df: df["previous_stop_s"].isna() | (df["start_s"] > df["previous_stop_s"]),
            ),
            "seizure_idx contiguous from 0": (
                ("seizure_idx", "rank"),
                lambda df: df["seizure_idx"] == df["rank"],
            ),
        }
    )
    schema = pa.DataFrameSchema(
        {
            "recording_id": _col("string"),
            "rec_idx": _col("integer"),
            "seizure_idx": _col("integer", pa.Check.ge(0)),
            "start_s": _col("number", pa.Check.ge(0)),
            "stop_s": _col("number"),
        },
        checks=checks,
        unique=["recording_id", "seizure_idx"],
        report_duplicates="all",
        name="seizures",
    )
    place = lambda df: df["recording_id"].astype(str) + " seizure " + df["seizure_idx"].astype(str)  # noqa: E731
    return TableSchema("seizures", "seizures", schema, place, shown)


_WINDOW_RULES = {
    "null_rows": "no NULL in a window row",
    "bad_overlap": "0 <= overlap_s <= window",
    "bad_label": "positive follows the overlap rule",
}


def _windows() -> TableSchema:
    n, first, last = "windows", "first_idx", "last_idx"
    checks, shown = _rules(
        {
            "recording in recordings": (("windows",), lambda df: df["known"]),
            "window_idx contiguous from 0": (
                (n, first, last),
                lambda df: (df[n] == 0) | ((df[first] == 0) & (df[last] == df[n] - 1)),
            ),
            "one row per (recording, window_idx)": (
                (n, "distinct_idx"),
                lambda df: df["distinct_idx"] == df[n],
            ),
            "window count fits the duration": (
                (n, "expected_windows"),
                lambda df: df["expected_windows"].isna() | (df[n] == df["expected_windows"]),
            ),
        }
    )
    # Each counts the recording's window rows breaking a per-window rule.
    zero = {c: _col("integer", pa.Check.eq(0, error=rule)) for c, rule in _WINDOW_RULES.items()}
    schema = pa.DataFrameSchema(
        {"recording_id": _col("string", unique=True), **zero},
        checks=checks,
        name="windows",
    )
    return TableSchema(
        "windows", "windows", schema, lambda df: df["recording_id"].astype(str), shown,
        unit="recordings",
    )  # fmt: skip


def _window_counts() -> TableSchema:
    """``schema_windows`` of a Parquet source: its per-file counts (``window_counts``)."""
    n, p = "windows", "positive_windows"
    checks, shown = _rules(
        {
            "recording in recordings": ((n,), lambda df: df["known"]),
            "one count row per recording": (("copies",), lambda df: df["copies"] == 1),
            "window count fits the duration": (
                (n, "expected_windows"),
                lambda df: df["expected_windows"].isna() | (df[n] == df["expected_windows"]),
            ),
            "0 <= positive_windows <= windows": (
                (n, p),
                lambda df: (df[p] >= 0) & (df[p] <= df[n]),
            ),
            "group rows add up to the windows": (
                (n, p, "group_rows", "group_positive"),
                lambda df: (
                    df["group_rows"].isna()
                    | ((df["group_rows"] == df[n]) & (df["group_positive"] == df[p]))
                ),
            ),
        }
    )
    schema = pa.DataFrameSchema(
        {"recording_id": _col("string", unique=True), n: _col("integer"), p: _col("integer")},
        checks=checks,
        name="windows",
    )
    return TableSchema(
        "windows", "window_counts", schema, lambda df: df["recording_id"].astype(str), shown,
        unit="recordings",
    )  # fmt: skip


def table_schemas(*, counts: bool = False) -> list[TableSchema]:
    """The schemas of ``recordings``, ``events``, ``seizures`` and ``windows``, in that order.

    Args:
        counts: windows are stored as counts per recording (``window_counts``, a Parquet
            source), not a row per window.
    """
    return [_recordings(), _events(), _seizures(), _window_counts() if counts else _windows()]


def check_schemas(m: Manifest) -> list[CheckResult]:
    """Validate the manifest tables; one result per table, never an exception from pandera.

    Args:
        m: an open manifest with derived tables.

    Returns:
        ``schema_recordings``, ``schema_events``, ``schema_seizures``, ``schema_windows``:
        error severity; ``observed`` is the number of failing rows (for ``windows``: failing
        recordings), ``expected`` 0, and a failing message names the first failing rows.
    """
    params = _window_params(m)
    results = []
    for spec in table_schemas(counts=m.kind is ManifestKind.TABLES):
        frame = manifest_checks.schema_frame(m, spec.frame, params)
        results.append(_validate(spec, frame))
    return results


def _window_params(m: Manifest) -> dict[str, float | None]:
    """The windowing parameters the manifest records (None when absent: rules using them pass)."""

    def number(key: str) -> float | None:
        value = m.meta(key)
        return None if value in (None, "", "None") else float(value)

    return {
        "window": number("window_s"),
        "stride": number("stride_s"),
        "min_overlap": number("min_overlap_s"),
        "eps": _EPS,
    }


def _validate(spec: TableSchema, frame: pd.DataFrame) -> CheckResult:
    name = f"schema_{spec.table}"
    try:
        spec.schema.validate(frame, lazy=True)
    except SchemaErrors as exc:
        failing, examples = _describe(spec, frame, exc.failure_cases)
        shown = "; ".join(examples[:EXAMPLES])
        more = f"; and {len(examples) - EXAMPLES} more" if len(examples) > EXAMPLES else ""
        return CheckResult(
            name=name, split=None, severity=Severity.ERROR, passed=False, observed=failing,
            expected=0, reason="schema_violation",
            message=f"{spec.table}: {failing} failing {spec.unit} of {len(frame)} (needs 0): "
            f"{shown}{more}",
        )  # fmt: skip
    return CheckResult(
        name=name, split=None, severity=Severity.ERROR, passed=True, observed=0, expected=0,
        message=f"{spec.table}: {len(frame)} {spec.unit} match the schema",
    )  # fmt: skip


_UNIQUE = "multiple_fields_uniqueness"  # pandera's name for a failed ``unique=[...]``
_UNIQUE_LABEL = "duplicate key"


def _show(value: Any) -> str:
    """A cell for a message: strings quoted, numbers short, NULL spelt out."""
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return "NULL"
    if hasattr(value, "item"):
        value = value.item()  # numpy scalar -> Python
    if isinstance(value, float):
        return f"{value:g}"
    return repr(value)


def _describe(spec: TableSchema, frame: pd.DataFrame, cases: pd.DataFrame) -> tuple[int, list[str]]:
    """The number of failing rows and one line per failure, column-wide failures first."""
    lines = []
    whole = cases[cases["index"].isna()]
    for column, check, value in whole[["column", "check", "failure_case"]].itertuples(index=False):
        found = f"dtype {frame[column].dtype}" if column in frame else f"found {value}"
        lines.append(f"column {column}: {check} ({found})")
    rows = cases[cases["index"].notna()]
    shown = {_UNIQUE: tuple(spec.schema.unique or ()), **spec.shown}
    indices = sorted(set(rows["index"]))
    places = spec.place(frame.loc[indices]) if indices else pd.Series(dtype=str)
    for idx, group in rows.groupby("index", sort=True):
        checks: dict[str, list[str]] = {}
        for column, check in group[["column", "check"]].itertuples(index=False):
            cols = shown.get(check) or (column,)
            label = _UNIQUE_LABEL if check == _UNIQUE else check
            checks.setdefault(label, [f"{c}={_show(frame.at[idx, c])}" for c in cols if c in frame])
        failed = " and ".join(f"{check} ({', '.join(vals)})" for check, vals in checks.items())
        lines.append(f"{places.loc[idx]}: {failed}")
    failing = len(frame) if len(whole) else len(indices)
    return failing, lines
