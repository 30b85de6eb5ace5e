"""One batch of label counts into per-file statistics, problems and group counts.

A ``Batch`` holds the counts per (file, label code) (``LABELS``, with the value when it is
outside the mapping) and per (file, value) of the group and split columns (``GROUPS``: rows and
positive rows). Label counts per file come from one NumPy ``bincount`` over (file, class) weighted
by the counts; group and split summaries from pyarrow's group-by over their counts (a handful of
rows per file, or one per row for a per-row source id, which then stays in Arrow). A file is
rejected for null labels, labels outside the mapping, null groups, null or several split values;
only such a file is read again, for the first offending row a message names.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from preflight.sources import parquet as pqs
from preflight.sources.parquet import LabelClass, ParquetOptions, Problem

__all__ = [
    "COUNTS", "GROUPS", "LABELS", "LABEL_CODE", "Batch", "FileRead", "Found", "ReadResult",
    "ident", "judge", "label_column", "label_params",
]  # fmt: skip

# What the aggregate query returns: rows per (file, label code, outside value, group, split).
COUNTS = pa.schema(
    [("f", pa.int32()), ("code", pa.int8()), ("other", pa.string()),
     ("grp", pa.string()), ("split", pa.string()), ("rows", pa.int64())]
)  # fmt: skip
LABELS = pa.schema(
    [("f", pa.int32()), ("code", pa.int8()), ("other", pa.string()), ("rows", pa.int64())]
)
GROUPS = pa.schema(
    [("f", pa.int32()), ("value", pa.string()), ("rows", pa.int64()), ("positive", pa.int64())]
)
_CODES = 4  # label classes counted per file: negative, positive, outside the mapping, null
_SHOWN = 5  # values outside the mapping a message names
# The label code of column ``lab``: 1 positive, 0 negative, -1 outside the mapping, NULL null
# (parameters ``$positive`` and ``$negative``: see ``label_params``).
LABEL_CODE = (
    "CAST(CASE WHEN lab IS NULL THEN NULL WHEN list_contains($positive, lab) THEN 1"
    " WHEN list_contains($negative, lab) THEN 0 ELSE -1 END AS TINYINT)"
)


@dataclass(frozen=True, slots=True)
class Found:
    """A Parquet file under the root: its root-relative posix path, size and mtime."""

    rel: str
    size: int
    mtime_ns: int


@dataclass(slots=True)
class FileRead:
    """One file as read: its hash, column types and statistics, or why it is rejected."""

    found: Found
    index: int  # position in the list read: ``f`` in the batches and the group counts
    content_hash: str | None = None  # None until the framing is checked, or when it is not Parquet
    types: dict[str, str] = field(default_factory=dict)  # top-level column -> Arrow type name
    problems: list[Problem] = field(default_factory=list)
    n_rows: int = 0  # from the footer
    n_positive: int = 0  # counted
    group_value: str | None = None  # the file's one group, when the group column is constant
    split_value: str | None = None  # the file's split, from the split column

    @property
    def ok(self) -> bool:
        """True when the file becomes a recording."""
        return self.content_hash is not None and not self.problems


@dataclass(frozen=True, slots=True)
class Batch:
    """What a batch of files holds: label counts (``LABELS``), group and split counts
    (``GROUPS``)."""

    labels: pa.Table
    groups: pa.Table
    splits: pa.Table


@dataclass(slots=True)
class ReadResult:
    """The files read, in the order given, and the usable files' (f, value, rows) groups."""

    files: list[FileRead]
    groups: pa.Table


def ident(name: str) -> str:
    """A column name as a quoted SQL identifier (column names cannot be bound parameters)."""
    return '"' + name.replace('"', '""') + '"'


def label_params(options: ParquetOptions) -> dict[str, Any]:
    """The parameters of ``LABEL_CODE``."""
    return {
        "positive": options.values(LabelClass.POSITIVE),
        "negative": options.values(LabelClass.NEGATIVE),
    }


def label_column(options: ParquetOptions) -> str:
    """SQL of the label column cast to the mapping's key type, as ``lab``."""
    sql_type = "BIGINT" if options.numeric_labels() else "VARCHAR"
    return f"CAST({ident(options.label_column)} AS {sql_type}) AS lab"


Summary = tuple[int, str | None, int]  # (distinct non-null values, the smallest, null rows)


def judge(
    con: duckdb.DuckDBPyConnection,
    root: str,
    batch: list[FileRead],
    read: Batch,
    options: ParquetOptions,
) -> pa.Table:
    """Fill in the batch's statistics and problems; return its usable files' group counts."""
    slot = np.full(max(fr.index for fr in batch) + 1, -1, dtype=np.int64)
    slot[[fr.index for fr in batch]] = np.arange(len(batch))
    where = slot[read.labels.column("f").to_numpy()]  # (C,) each count's file, 0..B-1
    code = read.labels.column("code")
    null = pc.is_null(code).to_numpy(zero_copy_only=False)  # (C,)
    value = pc.fill_null(code, 0).to_numpy(zero_copy_only=False)  # (C,) -1, 0 or 1
    kind = np.where(null, 3, np.where(value == -1, 2, value))  # (C,) 0 neg, 1 pos, 2 out, 3 null
    rows = read.labels.column("rows").to_numpy()  # (C,)
    counts = np.bincount(where * _CODES + kind, weights=rows, minlength=len(batch) * _CODES)
    counts = counts.astype(np.int64).reshape(len(batch), _CODES)  # (B, 4)
    groups, splits = _summaries(read.groups), _summaries(read.splits)
    for i, fr in enumerate(batch):
        if not fr.ok:
            continue  # its pages were unreadable
        negative, positive, outside, nulls = (int(c) for c in counts[i])
        agg = {"n_rows": negative + positive + outside + nulls, "nulls": nulls,
               "outside": outside, "n_positive": positive}  # fmt: skip
        first = _first_rows(con, root, fr, options) if nulls + outside else {}
        fr.problems += _label_problems(agg, fr, options, first)
        if outside:
            fr.problems.append(_outside(read.labels, fr, agg, first, options))
        fr.problems += _value_problems(groups.get(fr.index), splits.get(fr.index), agg, options)
        fr.n_positive = positive
        fr.group_value = _constant(groups.get(fr.index))
        fr.split_value = _constant(splits.get(fr.index))
    usable = pa.array([fr.index for fr in batch if fr.ok], pa.int32())
    kept = pc.and_(
        pc.is_in(read.groups.column("f"), usable), pc.is_valid(read.groups.column("value"))
    )
    return read.groups.filter(kept).cast(GROUPS)


def _summaries(counts: pa.Table) -> dict[int, Summary]:
    """Per file: distinct non-null values, the smallest, and null rows, from (f, value, rows)."""
    if counts.num_rows == 0:
        return {}
    valid = counts.filter(pc.is_valid(counts.column("value")))
    per_file = valid.group_by("f").aggregate([("value", "count"), ("value", "min")])
    nulls = (
        counts.filter(pc.is_null(counts.column("value"))).group_by("f").aggregate([("rows", "sum")])
    )
    out: dict[int, Summary] = {
        f: (n, first, 0)
        for f, n, first in zip(
            per_file.column("f").to_pylist(),
            per_file.column("value_count").to_pylist(),
            per_file.column("value_min").to_pylist(),
            strict=True,
        )
    }
    for f, rows in zip(
        nulls.column("f").to_pylist(), nulls.column("rows_sum").to_pylist(), strict=True
    ):
        n, first, _ = out.get(f, (0, None, 0))
        out[f] = (n, first, rows)
    return out


def _constant(summary: Summary | None) -> str | None:
    """The value when one value covers the whole file, else None."""
    if summary is None:
        return None
    n_values, first, nulls = summary
    return first if n_values == 1 and nulls == 0 else None


def _first_rows(
    con: duckdb.DuckDBPyConnection, root: str, fr: FileRead, options: ParquetOptions
) -> dict[str, int]:
    """The first null row and the first row outside the mapping of one failing file (read
    again: the counts hold no row numbers)."""
    row = con.execute(
        "SELECT min(file_row_number) FILTER (WHERE code IS NULL),"
        " min(file_row_number) FILTER (WHERE code = -1)"
        f" FROM (SELECT file_row_number, {LABEL_CODE} AS code"
        f"       FROM (SELECT file_row_number, {label_column(options)}"
        "              FROM read_parquet($paths, file_row_number = true)))",
        {
            **label_params(options),
            "paths": [pqs.literal_path(os.path.join(root, fr.found.rel))],
        },
    ).fetchone() or (None, None)
    return {name: int(r) for name, r in zip(("null", "outside"), row, strict=True) if r is not None}


def _label_problems(
    agg: dict[str, int], fr: FileRead, options: ParquetOptions, first: dict[str, int]
) -> list[Problem]:
    """Row count against the footer, and null labels."""
    n = agg["n_rows"]
    out: list[Problem] = []
    if n != fr.n_rows:
        out.append(Problem(pqs.NOT_PARQUET, f"read {n} rows where its footer declares {fr.n_rows}"))
    if agg["nulls"]:
        out.append(
            Problem(
                pqs.NULL_VALUES,
                f"label column {options.label_column!r} is null in {agg['nulls']} of {n} rows "
                f"(first at row {first.get('null')}); every row needs a label "
                f"({options.describe_mapping()})",
            )
        )
    return out


def _value_problems(
    groups: Summary | None,
    splits: Summary | None,
    agg: dict[str, int],
    options: ParquetOptions,
) -> list[Problem]:
    """Null groups; null split values, or several in one file."""
    n = agg["n_rows"]
    out: list[Problem] = []
    if options.group_column is not None and groups is not None and groups[2]:
        out.append(
            Problem(
                pqs.NULL_VALUES,
                f"group column {options.group_column!r} is null in {groups[2]} of {n} rows; "
                "the leak check needs each row's group",
            )
        )
    column = options.split_column
    if column is not None and splits is not None and splits[2]:
        out.append(
            Problem(pqs.NULL_VALUES, f"split column {column!r} is null in {splits[2]} of {n} rows")
        )
    elif column is not None and splits is not None and splits[0] > 1:
        out.append(
            Problem(
                pqs.MIXED_SPLIT,
                f"split column {column!r} holds {splits[0]} values (first {splits[1]!r}); a "
                "file is one recording and lies in one split",
            )
        )
    return out


def _outside(
    labels: pa.Table,
    fr: FileRead,
    agg: dict[str, int],
    first: dict[str, int],
    options: ParquetOptions,
) -> Problem:
    """The problem of labels outside the mapping, naming up to five of them (from the counts)."""
    mine = labels.filter(pc.equal(labels.column("f"), fr.index))
    found = {v for v in mine.column("other").to_pylist() if v is not None}
    values: list[int | str] = sorted(int(v) for v in found) if options.numeric_labels() else (
        sorted(found)
    )  # fmt: skip
    shown = ", ".join(repr(v) if isinstance(v, str) else str(v) for v in values[:_SHOWN])
    return Problem(
        pqs.OUTSIDE_MAPPING,
        f"label column {options.label_column!r} holds values outside the mapping in "
        f"{agg['outside']} of {agg['n_rows']} rows ({shown}; first at row "
        f"{first.get('outside')}); the mapping knows {options.describe_mapping()}",
    )
