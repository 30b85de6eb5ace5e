"""What the gate reads from the manifest: the schemas' frames and the cross-split queries.

The gate (``validators``) declares its checks and turns what these functions return into result
records; the SQL they run is here. ``schema_frame`` loads the rows a pandera schema validates:
``recordings``, ``events`` and ``seizures`` row by row (events and seizures joined to their
recording's duration, events to the reader of their annotation file); ``windows`` folded by DuckDB
into one row per recording (count, first and last index, distinct indices, and counts of rows
breaking a per-window rule); ``window_counts`` (a Parquet source's per-file counts, with its
``groups`` summed) one row per recording.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from preflight.manifest.store import Manifest

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "group_count",
    "inputs_with_rejections",
    "leaked_groups",
    "patient_count",
    "patients_in_several_splits",
    "recordings_in_several_splits",
    "schema_frame",
    "table_names",
]

_RECORDINGS = """
    SELECT recording_id, rec_idx, path, patient, split, declared_split, label_source,
           sampling_rate, n_channels, duration_s, content_hash,
           row_number() OVER (ORDER BY recording_id) - 1 AS rank
    FROM recordings ORDER BY recording_id
"""

_EVENTS = """
    SELECT e.recording_id, e.event_idx, e.source_path, e.line, e.start_s, e.stop_s, e.label,
           e.positive, f.reader, r.duration_s
    FROM events e LEFT JOIN recordings r USING (recording_id)
    LEFT JOIN files f ON f.path = e.source_path
    ORDER BY e.recording_id, e.source_path, e.event_idx
"""

_SEIZURES = """
    SELECT s.recording_id, s.rec_idx, s.seizure_idx, s.start_s, s.stop_s, r.duration_s,
           r.rec_idx AS recording_rec_idx,
           lag(s.stop_s) OVER win AS previous_stop_s,
           row_number() OVER win - 1 AS rank
    FROM seizures s LEFT JOIN recordings r USING (recording_id)
    WINDOW win AS (PARTITION BY s.recording_id ORDER BY s.start_s, s.seizure_idx)
    ORDER BY s.recording_id, s.seizure_idx
"""

_WINDOWS = """
WITH w AS (
    SELECT rec_idx, count(*) AS windows, min(window_idx) AS first_idx,
           max(window_idx) AS last_idx, count(DISTINCT window_idx) AS distinct_idx,
           count(*) FILTER (WHERE window_idx IS NULL OR overlap_s IS NULL OR positive IS NULL)
               AS null_rows,
           count(*) FILTER (WHERE overlap_s < 0 OR overlap_s > $window + $eps) AS bad_overlap,
           count(*) FILTER (WHERE positive <> (overlap_s > 0 AND overlap_s >= $min_overlap))
               AS bad_label
    FROM windows GROUP BY rec_idx
)
SELECT coalesce(r.recording_id, 'rec_idx ' || CAST(w.rec_idx AS VARCHAR)) AS recording_id,
       r.recording_id IS NOT NULL AS known, coalesce(w.windows, 0) AS windows,
       w.first_idx, w.last_idx, coalesce(w.distinct_idx, 0) AS distinct_idx,
       CASE WHEN r.duration_s + $eps < $window THEN 0
            ELSE CAST(floor((r.duration_s - $window + $eps) / $stride) AS BIGINT) + 1
       END AS expected_windows,
       coalesce(w.null_rows, 0) AS null_rows, coalesce(w.bad_overlap, 0) AS bad_overlap,
       coalesce(w.bad_label, 0) AS bad_label
FROM w FULL OUTER JOIN recordings r USING (rec_idx)
ORDER BY r.rec_idx NULLS LAST, w.rec_idx
"""

_WINDOW_COUNTS = """
WITH g AS (SELECT rec_idx, sum(rows) AS group_rows, sum(positive) AS group_positive
           FROM groups GROUP BY rec_idx),
     c AS (SELECT rec_idx, windows, positive_windows,
                  count(*) OVER (PARTITION BY rec_idx) AS copies
           FROM window_counts)
SELECT coalesce(r.recording_id, 'rec_idx ' || CAST(c.rec_idx AS VARCHAR)) AS recording_id,
       r.recording_id IS NOT NULL AS known, coalesce(c.windows, 0) AS windows,
       coalesce(c.positive_windows, 0) AS positive_windows, coalesce(c.copies, 0) AS copies,
       CAST(r.duration_s AS BIGINT) AS expected_windows,
       g.group_rows, g.group_positive
FROM c FULL OUTER JOIN recordings r USING (rec_idx)
LEFT JOIN g USING (rec_idx)
ORDER BY r.rec_idx NULLS LAST, c.rec_idx
"""

_FRAMES = {
    "recordings": _RECORDINGS,
    "events": _EVENTS,
    "seizures": _SEIZURES,
    "windows": _WINDOWS,
    "window_counts": _WINDOW_COUNTS,
}

_LEAKED_GROUPS = """
SELECT g.group_value, list(DISTINCT r.split) AS splits
FROM groups g JOIN recordings r USING (rec_idx)
GROUP BY g.group_value
HAVING count(DISTINCT r.split) > 1
   AND count(DISTINCT r.split) FILTER (WHERE r.patient = g.group_value) < 2
ORDER BY g.group_value
"""


def schema_frame(m: Manifest, frame: str, params: Mapping[str, float | None]) -> pd.DataFrame:
    """The rows a schema validates, as a pandas frame.

    Args:
        m: an open manifest with derived tables.
        frame: ``recordings``, ``events``, ``seizures``, ``windows`` (a row per recording) or
            ``window_counts`` (a Parquet source's counts, a row per recording).
        params: the windowing parameters (``window``, ``stride``, ``min_overlap``, ``eps``);
            only those the frame's query uses are bound.
    """
    sql = _FRAMES[frame]
    bound = {k: v for k, v in params.items() if f"${k}" in sql}
    return m.con.execute(sql, bound or None).df()


def table_names(m: Manifest) -> set[str]:
    """The names of the manifest's tables (and views)."""
    return {r[0] for r in m.query("SELECT table_name FROM information_schema.tables")}


def patients_in_several_splits(m: Manifest) -> list[tuple[str, list[str]]]:
    """(patient, its splits) of every patient in more than one split, by patient."""
    return m.query(
        "SELECT patient, list(DISTINCT split) FROM recordings GROUP BY patient"
        " HAVING count(DISTINCT split) > 1 ORDER BY patient"
    )


def patient_count(m: Manifest) -> int:
    """The number of distinct patients."""
    return int(m.query("SELECT count(DISTINCT patient) FROM recordings")[0][0])


def recordings_in_several_splits(m: Manifest) -> list[tuple[list[str], list[str]]]:
    """Recordings whose content (hash) lies in more than one split.

    Returns:
        One row per such content hash: (paths, or recording ids without a path; their splits),
        both ordered by split then path.
    """
    return m.query(
        "SELECT list(coalesce(path, recording_id) ORDER BY split, path),"
        " list(split ORDER BY split, path) FROM recordings WHERE content_hash IS NOT NULL"
        " GROUP BY content_hash HAVING count(DISTINCT split) > 1 ORDER BY 1"
    )


def inputs_with_rejections(m: Manifest) -> list[tuple[str, str | None, str | None, bool]]:
    """Every input: (path, rejection reason or None, message, whether it is a file the scan
    read), the files kept and every rejection (files, list entries, walk problems), by path."""
    return m.query(
        "SELECT path, NULL, NULL, true FROM files WHERE path NOT IN (SELECT path FROM rejected)"
        " UNION ALL SELECT r.path, r.reason, r.message, f.path IS NOT NULL FROM rejected r"
        " LEFT JOIN files f USING (path) ORDER BY 1"
    )


def group_count(m: Manifest) -> int:
    """The number of distinct group values of a Parquet source (``groups``)."""
    return int(m.query("SELECT count(DISTINCT group_value) FROM groups")[0][0])


def leaked_groups(m: Manifest) -> list[tuple[str, list[str]]]:
    """(group value, its splits) of groups in several splits that ``patient_disjoint`` misses.

    A group that covers whole files is their recordings' patient: its leak is the patient's.
    """
    return m.query(_LEAKED_GROUPS)
