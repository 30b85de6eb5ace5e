"""Reading Parquet tables for the scan: framing, schemas, then the label, group and split columns.

Three steps, none touching a sample:

1. every file's framing and content hash (``sources.parquet.content_hash``: a few kilobytes);
2. every remaining file's schema, through DuckDB's ``parquet_schema`` in one call; a file whose
   footer does not parse, or whose columns do not fit the options, is rejected here;
3. DuckDB reads the label (and group, split) columns of the remaining files, a batch of about
   ``BATCH_ROWS`` rows per ``read_parquet`` call, straight into Arrow: per row its file, row
   number, a label code (1 positive, 0 negative, -1 outside the mapping, NULL null) and its group
   and split. ``parquet_judge`` turns each batch into per-file statistics or problems.

Reading uses a private in-memory DuckDB connection whose Parquet metadata cache lets step 3 reuse
the footers step 2 parsed. A call that fails (a corrupt footer, undecodable pages) is repeated
file by file to reject just the bad files, and no failed statement ever touches the manifest's
transaction. Memory is bounded by one batch whatever the corpus size.
"""

from __future__ import annotations

import os
from collections import defaultdict
from typing import Any

import duckdb
import pyarrow as pa

from preflight.errors import InputError
from preflight.pipelines.parquet_judge import (
    COUNTS,
    ROWS,
    Batch,
    FileRead,
    Found,
    ReadResult,
    ident,
    judge,
)
from preflight.sources import parquet as pqs
from preflight.sources.parquet import LabelClass, ParquetOptions, Problem

__all__ = ["BATCH_ROWS", "FileRead", "Found", "ReadResult", "read_tables"]

_ROWS = pa.schema([*ROWS, ("grp", pa.string()), ("split", pa.string())])
BATCH_ROWS = 2_000_000  # rows per read_parquet call; a batch in Arrow is ~20-40 bytes per row
_SCHEMA = """
SELECT s.file_name, s.name, s.duckdb_type, s.num_children, m.num_rows
FROM parquet_schema($paths) s JOIN parquet_file_metadata($paths) m USING (file_name)
"""


def read_tables(root: str, found: list[Found], options: ParquetOptions) -> ReadResult:
    """Check and read the label, group and split columns of ``found`` (under ``root``).

    Args:
        root: the data root folder.
        found: the files to read.
        options: the source options.

    Returns:
        One ``FileRead`` per file, in order, and the group counts of the usable ones.
    """
    files = [FileRead(f, i) for i, f in enumerate(found)]
    for fr in files:
        try:
            fr.content_hash = pqs.content_hash(os.path.join(root, fr.found.rel))
        except InputError as exc:
            fr.problems.append(Problem(exc.reason, exc.message))
    groups: list[pa.Table] = [COUNTS.empty_table()]
    con = duckdb.connect()
    try:
        con.execute("SET parquet_metadata_cache = true")
        _read_schemas(con, root, [fr for fr in files if fr.ok], options)
        for batch in _batches([fr for fr in files if fr.ok], options):
            groups.append(judge(con, root, batch, _load(con, root, batch, options), options))
    finally:
        con.close()
    return ReadResult(files, pa.concat_tables(groups))


def _read_schemas(
    con: duckdb.DuckDBPyConnection, root: str, files: list[FileRead], options: ParquetOptions
) -> None:
    """Each file's top-level column types, and the problems of those that do not fit."""
    paths = {os.path.join(root, fr.found.rel): fr for fr in files}
    try:
        rows = con.execute(_SCHEMA, {"paths": [pqs.literal_path(p) for p in paths]}).fetchall()
    except duckdb.Error:  # some footer does not parse: find which, file by file
        rows = []
        for path, fr in paths.items():
            try:
                rows += con.execute(_SCHEMA, {"paths": [pqs.literal_path(path)]}).fetchall()
            except duckdb.Error as exc:
                why = f"its footer does not parse ({str(exc).strip().splitlines()[0]})"
                fr.problems.append(Problem(pqs.NOT_PARQUET, pqs.not_parquet(path, why).message))
    schemas: dict[str, list[tuple[str, str | None, int | None]]] = defaultdict(list)
    for file_name, name, duckdb_type, children, n_rows in rows:
        schemas[file_name].append((name, duckdb_type, children))
        paths[file_name].n_rows = int(n_rows)
    for path, fr in paths.items():
        if fr.problems:
            continue
        if fr.n_rows == 0:
            fr.problems.append(Problem(pqs.NO_ROWS, "holds no rows"))
            continue
        fr.types = pqs.top_level_columns(schemas.get(path, []))
        kinds = {name: pqs.column_kind(t) for name, t in fr.types.items()}
        fr.problems += pqs.column_problems(kinds, options)


def _batches(files: list[FileRead], options: ParquetOptions) -> list[list[FileRead]]:
    """Files whose label, group and split columns have the same types, about ``BATCH_ROWS`` rows
    per batch: one ``read_parquet`` call needs one schema (unifying them by name costs a second
    pass over every footer)."""
    kinds: dict[tuple[str | None, ...], list[FileRead]] = {}
    for fr in files:
        key = tuple(fr.types.get(c) for c in options.columns()[:3] if c is not None)
        kinds.setdefault(key, []).append(fr)
    out: list[list[FileRead]] = []
    for same in kinds.values():
        size = BATCH_ROWS
        for fr in same:
            if size >= BATCH_ROWS:
                out.append([])
                size = 0
            out[-1].append(fr)
            size += fr.n_rows
    return out


def _query(options: ParquetOptions) -> str:
    """SQL of a batch's rows: file, row number, label code, group and split; nothing else.

    The label code is 1 positive, 0 negative, -1 outside the mapping, NULL null.
    """
    sql_type = "BIGINT" if options.numeric_labels() else "VARCHAR"

    def column(name: str | None, to: str) -> str:
        return "CAST(NULL AS VARCHAR)" if name is None else f"CAST({ident(name)} AS {to})"

    return f"""
        SELECT f, row,
               CAST(CASE WHEN lab IS NULL THEN NULL WHEN list_contains($positive, lab) THEN 1
                         WHEN list_contains($negative, lab) THEN 0 ELSE -1 END AS TINYINT)
                   AS code,
               grp, split
        FROM (SELECT CAST($files[CAST(file_index AS BIGINT) + 1] AS INTEGER) AS f,
                     CAST(file_row_number AS INTEGER) AS row,
                     {column(options.label_column, sql_type)} AS lab,
                     {column(options.group_column, "VARCHAR")} AS grp,
                     {column(options.split_column, "VARCHAR")} AS split
              FROM read_parquet($paths, file_row_number = true))
    """


def _load(
    con: duckdb.DuckDBPyConnection, root: str, batch: list[FileRead], options: ParquetOptions
) -> Batch:
    """A batch's label rows and value counts; on failure, file by file, rejecting the bad ones.

    One pass over the files (their count, not their rows, dominates a table of many small files);
    the group and split strings are then counted per (file, value) by DuckDB over the Arrow
    batch and dropped.
    """
    sql = _query(options)
    params: dict[str, Any] = {
        "positive": options.values(LabelClass.POSITIVE),
        "negative": options.values(LabelClass.NEGATIVE),
    }
    paths = [pqs.literal_path(os.path.join(root, fr.found.rel)) for fr in batch]
    try:
        every = {**params, "paths": paths, "files": [fr.index for fr in batch]}
        rows = con.sql(sql, params=every).to_arrow_table()
    except duckdb.Error:
        rows = _load_one_by_one(con, sql, params, batch, paths)
    con.register("_pq_batch", rows)
    try:
        groups, splits = (
            con.sql(f"SELECT f, {c} AS value, count(*) AS rows FROM _pq_batch GROUP BY ALL")
            .to_arrow_table()
            .cast(COUNTS)
            if configured
            else COUNTS.empty_table()
            for c, configured in (("grp", options.group_column), ("split", options.split_column))
        )
    finally:
        con.unregister("_pq_batch")
    return Batch(rows.select(["f", "row", "code"]), groups, splits)


def _load_one_by_one(
    con: duckdb.DuckDBPyConnection,
    sql: str,
    params: dict[str, Any],
    batch: list[FileRead],
    paths: list[str],
) -> pa.Table:
    """The batch's rows file by file: a file whose pages do not decode is rejected alone."""
    tables = [_ROWS.empty_table()]
    for fr, path in zip(batch, paths, strict=True):
        try:
            one = {**params, "paths": [path], "files": [fr.index]}
            tables.append(con.sql(sql, params=one).to_arrow_table())
        except duckdb.Error as exc:
            why = str(exc).strip().splitlines()[0]
            message = f"not a readable Parquet file: its label columns do not decode ({why})"
            fr.problems.append(Problem(pqs.NOT_PARQUET, message))
    return pa.concat_tables(tables)
