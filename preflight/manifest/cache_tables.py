"""The parse cache's upkeep: what a scan reads from and writes to the cache tables.

The EEG scan's cache is ``files``, ``edf_headers``, ``ann_recordings`` and ``ann_events``
(``schema``); a Parquet scan adds ``parquet_files`` (per usable file: rows, positive rows, label
type, constant group, split value) and ``parquet_groups`` (per file and group value: rows and
positive rows), created here. Every function runs inside the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from preflight.manifest.store import Manifest

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "annotated_recordings",
    "cached_files",
    "create_parquet_cache",
    "edf_headers",
    "file_states",
    "file_states_of_kind",
    "forget_parquet_files",
    "has_seizure",
    "insert_parquet_groups",
    "load_staged",
    "next_parquet_file_id",
    "unreadable_files",
]

_PARQUET_CACHE = [
    """CREATE TABLE IF NOT EXISTS parquet_files (
        path VARCHAR NOT NULL,           -- root-relative, as in files.path
        file_id INTEGER NOT NULL,        -- keys parquet_groups
        n_rows BIGINT NOT NULL,          -- counted, and equal to the footer's
        n_positive BIGINT NOT NULL,      -- rows whose label maps to positive (the rest: negative)
        label_type VARCHAR NOT NULL,     -- the label column's Arrow type (int8, bool, string ...)
        group_value VARCHAR,             -- the file's group when one value covers it
        split_value VARCHAR              -- the split column's value (NULL: split from folders)
    )""",
    """CREATE TABLE IF NOT EXISTS parquet_groups (
        file_id INTEGER NOT NULL, group_value VARCHAR NOT NULL,
        rows BIGINT NOT NULL, positive BIGINT NOT NULL
    )""",
]
_PARQUET_LAYOUT = {"parquet_files": "label_type", "parquet_groups": "positive"}  # a column of each

_CACHED = "SELECT path, size, mtime_ns, reader_version FROM files"

# Every file's path, content hash and rejection, one line each: what a fingerprint hashes.
_STATES = (
    "SELECT coalesce(string_agg(path || '|' || coalesce(content_hash, '-') || '|'"
    " || coalesce(error_reason, '-'), chr(10) ORDER BY path), '') FROM files"
)


def cached_files(m: Manifest, *, kind: str | None = None) -> dict[str, tuple[int, int, str]]:
    """The files the cache knows, with the size, mtime and reader version they were read at.

    Args:
        m: an open manifest.
        kind: only files of this ``files.kind`` (default: every file).

    Returns:
        ``{path: (size, mtime_ns, reader_version)}``.
    """
    rows = m.query(_CACHED) if kind is None else m.query(_CACHED + " WHERE kind = ?", [kind])
    return {path: (size, mtime, version) for path, size, mtime, version in rows}


def load_staged(m: Manifest, table: str, columns: Sequence[str], files: list[str]) -> None:
    """Bulk-insert the rows of staged Parquet ``files`` into the cache table ``table``.

    Args:
        m: a writable manifest, inside the scan's transaction.
        table: a cache table (a key of ``scanning.parse.TABLES``, never text from a data file).
        columns: the columns the staged files hold, in the table's names.
        files: DuckDB file patterns that each match one staged file only.
    """
    names = ", ".join(columns)
    m.con.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM read_parquet(?)", [files])


def file_states(m: Manifest, kinds: Sequence[str]) -> str:
    """One line per cached file of ``kinds`` (path, content hash, rejection), sorted by path."""
    return str(m.query(_STATES + " WHERE list_contains(?, kind)", [list(kinds)])[0][0])


def file_states_of_kind(m: Manifest, kind: str) -> str:
    """As ``file_states``, for the files of one ``files.kind``."""
    return str(m.query(_STATES + " WHERE kind = ?", [kind])[0][0])


def unreadable_files(m: Manifest) -> list[tuple[str, str, str, str, int | None]]:
    """Files rejected as a whole: (path, kind, reason, message, line), by path."""
    return m.query(
        "SELECT path, kind, error_reason, error_message, error_line FROM files"
        " WHERE error_reason IS NOT NULL ORDER BY path"
    )


def annotated_recordings(m: Manifest) -> list[tuple[Any, ...]]:
    """Every recording an annotation file describes, with its file's kind and reader.

    Returns:
        Rows (source_path, kind, key, reader, duration_s, line, edf_name, problem_reason,
        problem_message, problem_line), by source path then key.
    """
    return m.query(
        "SELECT a.source_path, f.kind, a.key, f.reader, a.duration_s, a.line, a.edf_name,"
        " a.problem_reason, a.problem_message, a.problem_line"
        " FROM ann_recordings a JOIN files f ON f.path = a.source_path ORDER BY 1, 3"
    )


def has_seizure(m: Manifest, source_path: str) -> bool:
    """True when an annotation source holds at least one positive event."""
    row = m.query("SELECT bool_or(positive) FROM ann_events WHERE source_path = ?", [source_path])
    return bool(row and row[0][0])


def edf_headers(m: Manifest) -> list[tuple[str, float, str | None, float | None]]:
    """Every cached EDF header: (path, duration_s, patient_field, record_duration), by path."""
    return m.query(
        "SELECT path, duration_s, patient_field, record_duration FROM edf_headers ORDER BY 1"
    )


def files_rejected_for(m: Manifest, reason: str) -> set[str]:
    """The paths of the files the readers rejected for ``reason`` (e.g. ``too_large``)."""
    return {r[0] for r in m.query("SELECT path FROM files WHERE error_reason = ?", [str(reason)])}


def edf_rates_and_durations(m: Manifest) -> list[tuple[str, list[float], float]]:
    """Every cached EDF header's (path, sampling_rates, duration_s), by path."""
    return m.query("SELECT path, sampling_rates, duration_s FROM edf_headers ORDER BY 1")


def create_parquet_cache(m: Manifest) -> None:
    """Create the Parquet cache tables; drop the earlier layout's (a label bitmap per file)."""
    for table, column in _PARQUET_LAYOUT.items():
        columns = m.query(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ?", [table]
        )
        if columns and (column,) not in columns:
            m.con.execute(f"DROP TABLE {table}")
    for ddl in _PARQUET_CACHE:
        m.con.execute(ddl)


def forget_parquet_files(m: Manifest, paths: list[str], *, kind: str) -> None:
    """Drop the cached rows of ``paths``, and any Parquet cache row whose file left ``files``.

    Args:
        m: a writable manifest, inside the scan's transaction.
        paths: files deleted or about to be read again.
        kind: the ``files.kind`` of Parquet inputs.
    """
    if paths:
        m.con.execute("DELETE FROM files WHERE list_contains(?, path)", [paths])
    m.con.execute(
        "CREATE OR REPLACE TEMP TABLE _pq_gone AS SELECT file_id FROM parquet_files"
        " WHERE path NOT IN (SELECT path FROM files WHERE kind = ?)",
        [kind],
    )
    for table in ("parquet_groups", "parquet_files"):
        m.con.execute(f"DELETE FROM {table} WHERE file_id IN (SELECT file_id FROM _pq_gone)")
    m.con.execute("DROP TABLE _pq_gone")


def next_parquet_file_id(m: Manifest) -> int:
    """The first ``file_id`` no cached Parquet file uses."""
    return int(m.query("SELECT coalesce(max(file_id), -1) + 1 FROM parquet_files")[0][0])


def insert_parquet_groups(m: Manifest, groups: pa.Table, usable: pa.Table, base: int) -> None:
    """Write the group counts of the files just read into ``parquet_groups``.

    Args:
        m: a writable manifest, inside the scan's transaction.
        groups: (f, value, rows, positive): per file index in the read and group value.
        usable: (f,): the file indices of the usable files; the other files' groups are left out.
        base: the ``file_id`` of file index 0.
    """
    m.con.register("_pq_groups", groups)
    m.con.register("_pq_usable", usable)
    try:
        m.con.execute(
            "INSERT INTO parquet_groups SELECT $base + g.f, g.value, g.rows, g.positive"
            " FROM _pq_groups g SEMI JOIN _pq_usable u USING (f)",
            {"base": base},
        )
    finally:
        m.con.unregister("_pq_groups")
        m.con.unregister("_pq_usable")
