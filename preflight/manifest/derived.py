"""Writes of the derived tables: from the parse cache to recordings, events and rejected inputs.

The scan decides (in Python, over one row per file and per annotated recording) which files make
a recording and why an input is rejected; the functions here move the rows, in SQL where the bulk
is (events, numbering, EDF facts, Parquet counts). Each runs inside the scan's transaction.
Seizures and windows are built by ``manifest.windows``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from preflight.manifest.schema import create_derived_tables
from preflight.manifest.store import Manifest
from preflight.manifest.windows import END_TOLERANCE_S

__all__ = [
    "copy_events",
    "create_table_derived_tables",
    "drop_recordings",
    "events_past_end",
    "insert_recordings",
    "insert_rejected",
    "number_and_describe_recordings",
    "recording_paths",
    "reject_unreadable_tables",
    "stage_recordings",
    "usable_parquet_files",
    "write_table_counts",
]

# Dense rec_idx in recording_id order, then the EDF facts (channels, rate, start, content hash)
# straight from the parse cache, without a round trip through Python.
_NUMBER_AND_DESCRIBE = """
UPDATE recordings SET rec_idx = n.i
FROM (SELECT recording_id, CAST(row_number() OVER (ORDER BY recording_id) - 1 AS INTEGER) AS i
      FROM recordings) n
WHERE n.recording_id = recordings.recording_id;
UPDATE recordings SET n_channels = len(h.channels), channels = h.channels,
    sampling_rate = list_max(h.sampling_rates), start_time = h.start_time,
    content_hash = f.content_hash
FROM edf_headers h JOIN files f USING (path)
WHERE h.path = recordings.path;
"""

_OUT_OF_RANGE = """
SELECT s.recording_id, e.source_path, arg_min(e.line, e.idx) AS line,
       max(e.stop_s) AS stop_s, any_value(r.duration_s) AS duration_s,
       any_value(s.key) AS key, any_value(f.kind) AS kind
FROM ann_events e
JOIN recordings_sources s ON s.source_path = e.source_path AND s.key = e.key
JOIN recordings r ON r.recording_id = s.recording_id
JOIN files f ON f.path = e.source_path
WHERE e.stop_s > r.duration_s + $tol
GROUP BY s.recording_id, e.source_path
ORDER BY 1, 2
"""

_GROUPS = """
CREATE OR REPLACE TABLE groups AS
SELECT m.rec_idx, g.group_value, g.rows, g.positive
FROM parquet_groups g JOIN _pq_map m USING (file_id)
ORDER BY m.rec_idx, g.group_value
"""

_COUNTS = """
CREATE OR REPLACE TABLE window_counts AS
SELECT m.rec_idx, p.n_rows AS windows, p.n_positive AS positive_windows
FROM parquet_files p JOIN _pq_map m USING (file_id)
ORDER BY m.rec_idx
"""

# --- recordings from EDF headers and annotation files ------------------------------------------


def stage_recordings(
    m: Manifest, recordings: Mapping[str, Sequence[Any]], sources: Mapping[str, Sequence[Any]]
) -> None:
    """Insert the matched recordings, and their annotation sources into a temporary table.

    Args:
        m: a writable manifest whose derived tables were just created.
        recordings: ``recordings`` columns (``rec_idx`` still -1: see
            ``number_and_describe_recordings``); empty when nothing matched.
        sources: ``recordings_sources`` columns (recording_id, source_path, key): which cached
            annotated recording each recording takes its events from.
    """
    m.con.execute(
        "CREATE OR REPLACE TEMP TABLE recordings_sources"
        " (recording_id VARCHAR, source_path VARCHAR, key VARCHAR)"
    )
    if recordings:
        m.insert("recordings", recordings)
        m.insert("recordings_sources", sources)


def events_past_end(m: Manifest) -> list[tuple[str, str, int | None, float, float, str, str]]:
    """Annotation files with an event ending past their recording's end (``END_TOLERANCE_S``).

    Returns:
        Rows (recording_id, source_path, line of the first such event, its latest stop_s, the
        recording's duration_s, the source's key, the source file's kind), by recording then
        source.
    """
    return m.query(_OUT_OF_RANGE, {"tol": END_TOLERANCE_S})


def recording_paths(m: Manifest, recording_ids: list[str]) -> list[tuple[str, str | None]]:
    """(recording_id, EDF path or None) of each of ``recording_ids`` the manifest holds."""
    return m.query(
        "SELECT recording_id, path FROM recordings WHERE list_contains(?, recording_id)",
        [recording_ids],
    )


def sibling_sources(
    m: Manifest, recording_ids: list[str], culprits: list[tuple[str, str]]
) -> list[tuple[str, str, str, str]]:
    """The other annotation sources of recordings about to be dropped for one source's fault.

    Args:
        m: the manifest, with ``recordings_sources`` staged.
        recording_ids: the recordings dropped.
        culprits: (recording_id, source_path) of the sources at fault, left out.

    Returns:
        Rows (recording_id, source_path, key, kind), by recording then source.
    """
    return m.query(
        "SELECT s.recording_id, s.source_path, s.key, f.kind FROM recordings_sources s"
        " JOIN files f ON f.path = s.source_path"
        " WHERE list_contains(?, s.recording_id) AND f.kind <> 'edf'"
        " AND NOT list_contains(?, [s.recording_id, s.source_path]) ORDER BY 1, 2",
        [recording_ids, [list(c) for c in culprits]],
    )


def drop_recordings(m: Manifest, recording_ids: list[str]) -> None:
    """Remove recordings (and their staged annotation sources) from the derived tables."""
    m.con.execute("DELETE FROM recordings WHERE list_contains(?, recording_id)", [recording_ids])
    m.con.execute(
        "DELETE FROM recordings_sources WHERE list_contains(?, recording_id)", [recording_ids]
    )


def number_and_describe_recordings(m: Manifest) -> None:
    """Number recordings densely (``rec_idx``) and copy in their EDF headers' facts."""
    m.con.execute(_NUMBER_AND_DESCRIBE)


def copy_events(m: Manifest) -> None:
    """Copy the cached events of every staged annotation source into ``events``."""
    m.con.execute(
        "INSERT INTO events SELECT s.recording_id, e.idx, e.source_path, e.start_s, e.stop_s,"
        " e.label, e.positive, e.channel, e.confidence, e.line FROM ann_events e"
        " JOIN recordings_sources s ON s.source_path = e.source_path AND s.key = e.key"
    )


# Every note of the annotation files read, with the recording it concerns when that recording
# made it into the manifest.
_NOTES = """
INSERT INTO notes
SELECT n.source_path, n.key, s.recording_id, n.line, n.code, n.message, n.origin
FROM ann_notes n
JOIN files f ON f.path = n.source_path
LEFT JOIN recordings_sources s ON s.source_path = n.source_path AND s.key = n.key
WHERE f.error_reason IS NULL AND list_contains($kinds, f.kind)
ORDER BY n.source_path, n.line NULLS FIRST, n.code
"""


def copy_notes(m: Manifest, kinds: Collection[str]) -> None:
    """Copy the notes (corrections, defaults) of the readable annotation files of ``kinds``
    into ``notes``, each with its recording when that recording is in the manifest."""
    m.con.execute(_NOTES, {"kinds": sorted(kinds)})


def insert_rejected(m: Manifest, columns: Mapping[str, Sequence[Any]]) -> None:
    """Append rejected inputs: ``path``, ``reason``, ``message`` and optionally ``line``,
    ``recording``, ``cause_path`` and ``cause_recording``."""
    m.insert("rejected", columns)


# --- recordings from Parquet files (a file is a recording, a row a window) ---------------------


def create_table_derived_tables(m: Manifest) -> None:
    """(Re)create the empty derived tables of a Parquet source.

    An EEG audit's ``windows`` table and ``window_labels`` view, in the same manifest, are
    dropped: a Parquet source has ``window_counts`` instead.
    """
    create_derived_tables(m.con)
    m.con.execute("DROP VIEW IF EXISTS window_labels")
    m.con.execute("DROP TABLE IF EXISTS windows")


def usable_parquet_files(
    m: Manifest, *, kind: str
) -> list[tuple[str, int, int, str | None, str | None, str]]:
    """Every readable cached Parquet file, by path.

    Args:
        m: an open manifest.
        kind: the ``files.kind`` of Parquet inputs.

    Returns:
        Rows (path, file_id, n_rows, group_value, split_value, content_hash).
    """
    return m.query(
        "SELECT p.path, p.file_id, p.n_rows, p.group_value, p.split_value, f.content_hash"
        " FROM parquet_files p JOIN files f USING (path)"
        " WHERE f.kind = ? AND f.error_reason IS NULL ORDER BY p.path",
        [kind],
    )


def insert_recordings(m: Manifest, recordings: Mapping[str, Sequence[Any]]) -> None:
    """Append ``recordings`` rows, column-wise (``rec_idx`` final)."""
    m.insert("recordings", recordings)


def write_table_counts(m: Manifest, file_ids: Sequence[int]) -> None:
    """Create ``groups`` and ``window_counts`` from the Parquet cache.

    Args:
        m: a writable manifest whose recordings were just written.
        file_ids: the ``file_id`` of each recording, in ``rec_idx`` order (0, 1, ...).
    """
    import pyarrow as pa  # here: an unchanged re-audit derives nothing and never loads it

    mapping = pa.table(
        {
            "rec_idx": pa.array(range(len(file_ids)), pa.int32()),
            "file_id": pa.array(file_ids, pa.int32()),
        }
    )
    m.con.register("_pq_map", mapping)
    try:
        m.con.execute(_GROUPS)
        m.con.execute(_COUNTS)
    finally:
        m.con.unregister("_pq_map")


def reject_unreadable_tables(m: Manifest, *, kind: str) -> None:
    """Copy every Parquet file the reader rejected into ``rejected``, by path."""
    m.con.execute(
        "INSERT INTO rejected (path, reason, message, line)"
        " SELECT path, error_reason, error_message, error_line FROM files"
        " WHERE kind = ? AND error_reason IS NOT NULL ORDER BY path",
        [kind],
    )
