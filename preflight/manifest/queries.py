"""Statistics read from the manifest: per split and in total, all in SQL.

Window counts per recording come from ``windows`` (a row per window), or for a Parquet source
from ``window_counts`` (a row per file with its exact row and positive-row counts: see
``pipelines.parquet_derive``).
"""

from __future__ import annotations

from typing import Any

from preflight.manifest.store import Manifest

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

SPLIT_FIELDS = (
    "recordings", "patients", "positive_recordings", "positive_patients", "events", "windows",
    "positive_windows", "hours", "positive_hours",
)  # fmt: skip


def split_stats(m: Manifest) -> dict[str, dict[str, Any]]:
    """Statistics per split, in the order train, dev, eval, then others by name."""
    rows = m.query(_aggregate(m, group="split", group_by="GROUP BY split"))
    stats = {row[0]: dict(zip(SPLIT_FIELDS, _clean(row[1:]), strict=True)) for row in rows}
    return dict(sorted(stats.items(), key=lambda kv: _split_rank(kv[0])))


def totals(m: Manifest) -> dict[str, Any]:
    """Corpus totals, including the number of rejected input files."""
    row = m.query(_aggregate(m, group="NULL", group_by=""))[0]
    out = dict(zip(SPLIT_FIELDS, _clean(row[1:]), strict=True))
    rejected = m.query("SELECT count(DISTINCT path) FROM rejected")[0][0]
    return {
        "recordings": out["recordings"],
        "rejected": int(rejected),
        "patients": out["patients"],
        "events": out["events"],
        "windows": out["windows"],
        "positive_windows": out["positive_windows"],
        "hours": out["hours"],
        "positive_hours": out["positive_hours"],
    }


def rejected(m: Manifest) -> list[dict[str, Any]]:
    """Every rejected input, by path then line."""
    rows = m.query(
        "SELECT path, reason, message, line FROM rejected"
        " ORDER BY path, line NULLS FIRST, reason, message"
    )
    return [{"path": p, "reason": r, "message": msg, "line": ln} for p, r, msg, ln in rows]


def per_recording(m: Manifest) -> list[dict[str, Any]]:
    """One row per recording: split, patient, duration, events, windows, positive windows."""
    cur = m.con.execute(_per_recording(m) + " ORDER BY r.recording_id")
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _per_recording(m: Manifest) -> str:
    windows = _WINDOW_COUNTS if m.meta("format") == "parquet" else _WINDOWS
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
