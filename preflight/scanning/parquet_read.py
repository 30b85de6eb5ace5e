"""Reading Parquet tables for the scan: footers, then label counts from one aggregate query.

Two steps, none touching a sample:

1. every file's end, read once (``sources.parquet.read_footer``): the framing checked, the content
   hashed and the footer parsed by pyarrow for its rows and column types; a file that is not
   Parquet, holds no rows or whose columns do not fit the options is rejected here. From
   ``PARALLEL_MIN_FILES`` files on, in forked worker processes (one per core, contiguous chunks):
   the reads and parses are per file and independent, and DuckDB's ``parquet_schema`` over the
   same list took twice as long on one core;
2. DuckDB reads the label (and group, split) columns of the remaining files, a batch of about
   ``BATCH_ROWS`` rows per ``read_parquet`` call, and **aggregates them in the same query**: one
   row per (file, label code, group, split) with its count, never one row per sample. The label
   code is 1 positive, 0 negative, -1 outside the mapping, NULL null; a value outside the mapping
   is kept in the row so that the rejection can name it. ``parquet_judge`` turns each batch's
   counts into per-file statistics or problems.

Why aggregates: the manifest stores exact counts per file, per (file, group) and per split, which
is all the statistics and the gate need; per-row labels are read from the files again only for
training (``parquet_rows``). Materializing a row per sample (file, row number, label) cost more
than reading the files.

Reading uses a private in-memory DuckDB connection. A call that fails (undecodable pages, a
footer pyarrow parses and DuckDB does not) is repeated file by file to reject just the bad files,
and no failed statement ever touches the manifest's transaction. Memory is bounded by one batch's
counts whatever the corpus size (a few rows per file; one per row for a per-row group value).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Hashable, Sequence
from typing import Any, TypeVar

import duckdb
import pyarrow as pa

from preflight.errors import InputError, Reason
from preflight.scanning.parquet_judge import (
    COUNTS,
    GROUPS,
    LABEL_CODE,
    LABELS,
    Batch,
    FileRead,
    Found,
    ReadResult,
    ident,
    judge,
    label_column,
    label_params,
)
from preflight.scanning.parse import forked_pool
from preflight.sources import parquet as pqs
from preflight.sources.parquet import ParquetOptions, Problem

__all__ = ["BATCH_ROWS", "PARALLEL_MIN_FILES", "FileRead", "Found", "ReadResult", "read_tables"]

T = TypeVar("T")
BATCH_ROWS = 4_000_000  # rows per read_parquet call: bounds one call's aggregate state
PARALLEL_MIN_FILES = 512  # fewer footers are read in the calling process (a fork costs ~50 ms)

# A footer as a worker returns it: (content hash, rows, column -> Arrow type name, column ->
# kind), or the rejection's (reason, message); plain values, since exceptions with keyword-only
# context do not cross a process boundary.
_Footer = tuple[str, int, dict[str, str], dict[str, pqs.ColumnKind]] | tuple[Reason, str]


def read_tables(root: str, found: list[Found], options: ParquetOptions) -> ReadResult:
    """Check ``found`` (under ``root``) and count the values of their label, group and split
    columns.

    Args:
        root: the data root folder.
        found: the files to read.
        options: the source options.

    Returns:
        One ``FileRead`` per file, in order, and the group counts of the usable ones.
    """
    files = [FileRead(f, i) for i, f in enumerate(found)]
    for fr, footer in zip(files, _footers(root, found), strict=True):
        _judge_footer(fr, footer, options)
    groups: list[pa.Table] = [_empty(GROUPS)]
    con = duckdb.connect()
    try:
        for batch in _batches([fr for fr in files if fr.ok], options):
            groups.append(judge(con, root, batch, _load(con, root, batch, options), options))
    finally:
        con.close()
    return ReadResult(files, pa.concat_tables(groups))


def _footers(root: str, found: list[Found]) -> list[_Footer]:
    """Every file's footer, in order; in forked workers when there are many files."""
    paths = [os.path.join(root, f.rel) for f in found]
    n = min(os.cpu_count() or 1, 8)
    if n <= 1 or len(paths) < PARALLEL_MIN_FILES:
        return _footer_chunk(paths)
    size = -(-len(paths) // n)
    chunks = [paths[i : i + size] for i in range(0, len(paths), size)]
    with forked_pool(n) as pool:  # as the EEG scan's: workers inherit pyarrow
        return [footer for chunk in pool.map(_footer_chunk, chunks) for footer in chunk]


def _footer_chunk(paths: list[str]) -> list[_Footer]:
    out: list[_Footer] = []
    for path in paths:
        try:
            footer = pqs.read_footer(path)
        except InputError as exc:
            out.append((exc.reason, exc.message))
            continue
        types = {name: str(t) for name, t in footer.types.items()}
        out.append((footer.content_hash, footer.n_rows, types, footer.kinds()))
    return out


def _judge_footer(fr: FileRead, footer: _Footer, options: ParquetOptions) -> None:
    """The file's hash, rows and column types, and the problems of a file that does not fit."""
    if len(footer) == 2:
        fr.problems.append(Problem(footer[0], footer[1]))
        return
    fr.content_hash, fr.n_rows, fr.types, kinds = footer
    if fr.n_rows == 0:
        fr.problems.append(Problem(pqs.NO_ROWS, "holds no rows"))
        return
    fr.problems += pqs.column_problems(kinds, options)


def _batches(files: list[FileRead], options: ParquetOptions) -> list[list[FileRead]]:
    """Files whose label, group and split columns have the same types, about ``BATCH_ROWS`` rows
    per batch: one ``read_parquet`` call needs one schema (unifying them by name costs a second
    pass over every footer)."""
    names = [c for c in options.columns()[:3] if c is not None]
    return pack(files, lambda fr: tuple(fr.types.get(c) for c in names), lambda fr: fr.n_rows)


def pack(
    items: Sequence[T], key: Callable[[T], Hashable], rows: Callable[[T], int]
) -> list[list[T]]:
    """``items`` grouped by ``key``, each group cut in order into batches of about
    ``BATCH_ROWS`` rows (a batch closes once it holds that many)."""
    groups: dict[Hashable, list[T]] = {}
    for item in items:
        groups.setdefault(key(item), []).append(item)
    out: list[list[T]] = []
    for same in groups.values():
        size = BATCH_ROWS
        for item in same:
            if size >= BATCH_ROWS:
                out.append([])
                size = 0
            out[-1].append(item)
            size += rows(item)
    return out


def _query(options: ParquetOptions) -> str:
    """SQL of a batch's counts per (file, label code, group, split); the label itself is kept
    only when it is outside the mapping (to name it)."""

    def column(name: str | None, alias: str) -> str:
        return f"CAST(NULL AS VARCHAR) AS {alias}" if name is None else (
            f"CAST({ident(name)} AS VARCHAR) AS {alias}"
        )  # fmt: skip

    other = "CAST(lab AS VARCHAR)" if options.numeric_labels() else "lab"
    return f"""
        SELECT f, code, CASE WHEN code = -1 THEN {other} END AS other, grp, split,
               count(*) AS rows
        FROM (SELECT CAST($files[CAST(file_index AS BIGINT) + 1] AS INTEGER) AS f,
                     {LABEL_CODE} AS code, lab, grp, split
              FROM (SELECT file_index, {label_column(options)},
                           {column(options.group_column, "grp")},
                           {column(options.split_column, "split")}
                    FROM read_parquet($paths)))
        GROUP BY ALL
    """


def _load(
    con: duckdb.DuckDBPyConnection, root: str, batch: list[FileRead], options: ParquetOptions
) -> Batch:
    """A batch's counts; on failure, file by file, rejecting the bad ones.

    One pass over the files (their count, not their rows, dominates a table of many small files);
    the counts are then summed per (file, code), per (file, group) and per (file, split) by
    DuckDB over the Arrow result.
    """
    sql = _query(options)
    params = label_params(options)
    paths = [pqs.literal_path(os.path.join(root, fr.found.rel)) for fr in batch]
    try:
        every = {**params, "paths": paths, "files": [fr.index for fr in batch]}
        counts = con.sql(sql, params=every).to_arrow_table().cast(COUNTS)
    except duckdb.Error:
        counts = _load_one_by_one(con, sql, params, batch, paths)
    con.register("_pq_batch", counts)
    try:
        labels = con.sql(
            "SELECT f, code, other, sum(rows) AS rows FROM _pq_batch GROUP BY ALL"
        ).to_arrow_table()
        groups, splits = (
            con.sql(
                f"SELECT f, {c} AS value, sum(rows) AS rows,"
                " coalesce(sum(rows) FILTER (WHERE code = 1), 0) AS positive"
                " FROM _pq_batch GROUP BY ALL"
            )
            .to_arrow_table()
            .cast(GROUPS)
            if configured
            else _empty(GROUPS)
            for c, configured in (("grp", options.group_column), ("split", options.split_column))
        )
    finally:
        con.unregister("_pq_batch")
    return Batch(labels.cast(LABELS), groups, splits)


def _load_one_by_one(
    con: duckdb.DuckDBPyConnection,
    sql: str,
    params: dict[str, Any],
    batch: list[FileRead],
    paths: list[str],
) -> pa.Table:
    """The batch's counts file by file: a file whose pages do not decode is rejected alone."""
    tables = [_empty(COUNTS)]
    for fr, path in zip(batch, paths, strict=True):
        try:
            one = {**params, "paths": [path], "files": [fr.index]}
            tables.append(con.sql(sql, params=one).to_arrow_table().cast(COUNTS))
        except duckdb.Error as exc:
            why = str(exc).strip().splitlines()[0]
            message = f"not a readable Parquet file: its label columns do not decode ({why})"
            fr.problems.append(Problem(pqs.NOT_PARQUET, message))
    return pa.concat_tables(tables)


def _empty(schema: pa.Schema) -> pa.Table:
    """A table of no rows (``Schema.empty_table`` imports pandas: a third of a second)."""
    return pa.Table.from_batches([], schema=schema)
