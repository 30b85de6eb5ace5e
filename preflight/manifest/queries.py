"""Statistics read from the manifest: per split and in total, all in SQL.

Window counts per recording come from ``windows`` (a row per window), or for a Parquet source
from ``window_counts`` (a row per file with its exact row and positive-row counts: see
``scanning.parquet_derive``).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from preflight.manifest.store import Manifest, ManifestKind

SPLIT_ORDER = ("train", "dev", "eval", "test", "all")

_WINDOWS = """
    SELECT rec_idx, count(*) AS n, count(*) FILTER (WHERE positive) AS p
    FROM windows GROUP BY rec_idx
"""
_WINDOW_COUNTS = "SELECT rec_idx, windows AS n, positive_windows AS p FROM window_counts"

_PER_RECORDING = """
WITH sz AS (
    SELECT rec_idx, count(*) AS n, sum(stop_s - start_s) AS pos_s
    FROM seizures GROUP BY rec_idx
), win AS ({windows})
SELECT r.recording_id, r.split, r.patient, r.duration_s,
       coalesce(sz.n, 0) AS events, coalesce(sz.pos_s, 0.0) AS positive_s,
       coalesce(win.n, 0) AS windows, coalesce(win.p, 0) AS positive_windows
FROM recordings r
LEFT JOIN sz USING (rec_idx)
LEFT JOIN win USING (rec_idx)
"""

_AGGREGATE = """
WITH rec AS ({per_recording})
SELECT {group} AS split,
       count(*) AS recordings,
       count(DISTINCT patient) AS patients,
       -- a table's file holds positive rows but no events (a positive window implies an
       -- event in a recording, so the second term changes nothing there)
       count(*) FILTER (WHERE events > 0 OR positive_windows > 0) AS positive_recordings,
       count(DISTINCT patient) FILTER (WHERE events > 0 OR positive_windows > 0)
           AS positive_patients,
       CAST(sum(events) AS BIGINT) AS events,
       CAST(sum(windows) AS BIGINT) AS windows,
       CAST(sum(positive_windows) AS BIGINT) AS positive_windows,
       sum(duration_s) / 3600.0 AS hours,
       sum(positive_s) / 3600.0 AS positive_hours
FROM rec {group_by}
"""

_DURATIONS = """
SELECT r.split, s.stop_s - s.start_s AS duration_s
FROM seizures s JOIN recordings r USING (recording_id)
ORDER BY r.split, duration_s
"""

SPLIT_FIELDS = (
    "recordings", "patients", "positive_recordings", "positive_patients", "events", "windows",
    "positive_windows", "hours", "positive_hours",
)  # fmt: skip


class SplitStats(BaseModel):
    """Statistics of one split."""

    recordings: int
    patients: int
    positive_recordings: int
    positive_patients: int
    events: int
    windows: int
    positive_windows: int
    hours: float
    positive_hours: float


def split_stats(m: Manifest) -> dict[str, dict[str, Any]]:
    """Statistics per split, in the order train, dev, eval, then others by name."""
    rows = m.query(_aggregate(m, group="split", group_by="GROUP BY split"))
    stats = {row[0]: dict(zip(SPLIT_FIELDS, _clean(row[1:]), strict=True)) for row in rows}
    return dict(sorted(stats.items(), key=lambda kv: _split_rank(kv[0])))


def totals(m: Manifest) -> dict[str, Any]:
    """Corpus totals, including the number of inputs rejected for a problem of their own."""
    row = m.query(_aggregate(m, group="NULL", group_by=""))[0]
    out = dict(zip(SPLIT_FIELDS, _clean(row[1:]), strict=True))
    return {
        "recordings": out["recordings"],
        "rejected": rejected_units(m)[0],
        "patients": out["patients"],
        "positive_recordings": out["positive_recordings"],
        "positive_patients": out["positive_patients"],
        "events": out["events"],
        "windows": out["windows"],
        "positive_windows": out["positive_windows"],
        "hours": out["hours"],
        "positive_hours": out["positive_hours"],
    }


# The units an input can be rejected as: a whole file, or one entry (recording) of a CHB-MIT or
# Siena list that was read. A list counts as its entries, so one bad entry is one unit of many;
# a follow-on rejection (cause_path set) is not a unit of its own: its root cause is counted.
_REJECTED_UNITS = """
WITH lists AS (
    SELECT path FROM files
    WHERE kind IN ('chbmit_summary', 'siena_list') AND error_reason IS NULL
), units AS (
    SELECT path, '' AS entry FROM files WHERE path NOT IN (SELECT path FROM lists)
    UNION SELECT path, '' FROM rejected WHERE recording IS NULL
    UNION SELECT source_path, key FROM ann_recordings
        WHERE source_path IN (SELECT path FROM lists)
    UNION SELECT path, recording FROM rejected WHERE recording IS NOT NULL
)
SELECT (SELECT count(*) FROM (SELECT DISTINCT path, coalesce(recording, '') FROM rejected
                              WHERE cause_path IS NULL)),
       (SELECT count(*) FROM units)
"""


def rejected_units(m: Manifest) -> tuple[int, int]:
    """(inputs rejected for a problem of their own, inputs): files, and list entries apart."""
    rejected_n, inputs = m.query(_REJECTED_UNITS)[0]
    return int(rejected_n), int(inputs)


def rejected(m: Manifest) -> list[dict[str, Any]]:
    """Every rejection: root causes first, then follow-ons (each naming its cause), by path
    then line."""
    rows = m.query(
        "SELECT path, reason, message, line, recording, cause_path, cause_recording FROM rejected"
        " ORDER BY cause_path IS NOT NULL, path, line NULLS FIRST, recording NULLS FIRST, reason,"
        " message"
    )
    names = ("path", "reason", "message", "line", "recording", "cause_path", "cause_recording")
    return [dict(zip(names, row, strict=True)) for row in rows]


def notes(m: Manifest) -> list[dict[str, Any]]:
    """Every note on the annotation files read (corrections applied, defaults assumed)."""
    if not m.query("SELECT count(*) FROM information_schema.tables WHERE table_name = 'notes'")[0][
        0
    ]:
        return []  # a manifest derived before notes existed
    rows = m.query(
        "SELECT path, recording, recording_id, line, code, message, origin FROM notes"
        " ORDER BY path, line NULLS FIRST, code"
    )
    names = ("path", "recording", "recording_id", "line", "code", "message", "origin")
    return [dict(zip(names, row, strict=True)) for row in rows]


def per_recording(m: Manifest) -> list[dict[str, Any]]:
    """One row per recording: split, patient, duration, events, windows, positive windows."""
    cur = m.con.execute(_per_recording(m) + " ORDER BY r.recording_id")
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def recording_count(m: Manifest) -> int:
    """The number of recordings (usable inputs)."""
    return int(m.query("SELECT count(*) FROM recordings")[0][0])


def longest_recording_s(m: Manifest) -> float:
    """The duration of the longest recording in seconds (0 without recordings)."""
    return float(m.query("SELECT coalesce(max(duration_s), 0) FROM recordings")[0][0])


def seizure_durations(m: Manifest) -> list[tuple[str, float]]:
    """(split, duration_s) of every seizure, by split then duration."""
    return m.query(_DURATIONS)


def _per_recording(m: Manifest) -> str:
    windows = _WINDOW_COUNTS if m.kind is ManifestKind.TABLES else _WINDOWS
    return _PER_RECORDING.format(windows=windows)


def _aggregate(m: Manifest, *, group: str, group_by: str) -> str:
    return _AGGREGATE.format(per_recording=_per_recording(m), group=group, group_by=group_by)


def _clean(values: tuple[Any, ...]) -> list[Any]:
    # Empty tables give NULL sums; hours are rounded to keep reports readable.
    out: list[Any] = []
    for v in values:
        if v is None:
            out.append(0)
        elif isinstance(v, float):
            out.append(round(v, 4))
        else:
            out.append(int(v))
    return out


def _split_rank(name: str) -> tuple[int, str]:
    return (SPLIT_ORDER.index(name) if name in SPLIT_ORDER else len(SPLIT_ORDER), name)
