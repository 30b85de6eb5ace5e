"""Recordings and their seizures, as loading, training and scoring look them up.

Every function reads the derived tables (``recordings``, ``seizures``, and for a Parquet source
``parquet_files`` and ``files`` of the parse cache); none writes. ``recs`` arguments are
``rec_idx`` values, ``splits`` split names.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

import numpy as np

from preflight.manifest.store import Manifest

__all__ = [
    "content_hashes",
    "edf_sources",
    "patient_codes",
    "rec_idx_by_id",
    "recording_cache_keys",
    "recording_channels",
    "recordings_of",
    "seizure_arrays",
    "seizures_of",
    "shortest_per_class",
    "split_names",
    "stamp_files",
    "table_files",
]

_RECORDINGS = """
SELECT rec_idx, recording_id, patient, duration_s FROM recordings
WHERE list_contains($recs, rec_idx) ORDER BY rec_idx
"""

_SEIZURES = """
SELECT rec_idx, start_s, stop_s FROM seizures
WHERE list_contains($recs, rec_idx) ORDER BY rec_idx, start_s
"""

_TABLE_FILES = """
SELECT r.rec_idx, r.path, p.n_rows, p.n_positive, p.label_type
FROM recordings r JOIN parquet_files p USING (path)
WHERE list_contains($splits, r.split)
ORDER BY r.rec_idx
"""

_SHORTEST = """
WITH rec AS (
    SELECT r.rec_idx, r.recording_id, r.split, r.patient, r.duration_s,
           EXISTS (SELECT 1 FROM seizures s WHERE s.rec_idx = r.rec_idx) AS positive
    FROM recordings r
    WHERE list_contains($splits, r.split) AND list_contains($usable, r.rec_idx)
), one_per_patient AS (
    SELECT *, row_number() OVER (
        PARTITION BY split, positive, patient ORDER BY duration_s, recording_id) AS nth
    FROM rec
), ranked AS (
    SELECT *, row_number() OVER (
        PARTITION BY split, positive ORDER BY duration_s, recording_id) AS rank
    FROM one_per_patient WHERE nth = 1
)
SELECT rec_idx, split, positive FROM ranked WHERE rank <= $per_class
ORDER BY split, positive DESC, rank
"""


def split_names(m: Manifest) -> set[str]:
    """The splits the recordings are in."""
    return {r[0] for r in m.query("SELECT DISTINCT split FROM recordings")}


def rec_idx_by_id(m: Manifest) -> dict[str, int]:
    """``{recording_id: rec_idx}`` of every recording."""
    return dict(m.query("SELECT recording_id, rec_idx FROM recordings"))


def patient_codes(m: Manifest) -> dict[str, np.ndarray]:
    """Each recording's dense patient code (0, 1, ... in patient order).

    Returns:
        ``rec_idx`` and ``code`` arrays, in ``rec_idx`` order.
    """
    return m.con.execute(
        "SELECT rec_idx, CAST(dense_rank() OVER (ORDER BY patient) - 1 AS INTEGER) AS code"
        " FROM recordings ORDER BY rec_idx"
    ).fetchnumpy()


def recordings_of(m: Manifest, recs: list[int]) -> list[tuple[Any, ...]]:
    """(rec_idx, recording_id, patient, duration_s) of the recordings ``recs``, by rec_idx."""
    return m.query(_RECORDINGS, {"recs": recs})


def seizures_of(m: Manifest, recs: list[int]) -> list[tuple[Any, ...]]:
    """(rec_idx, start_s, stop_s) of the seizures of ``recs``, by recording then start."""
    return m.query(_SEIZURES, {"recs": recs})


def seizure_arrays(m: Manifest, recs: list[int]) -> dict[str, np.ndarray]:
    """As ``seizures_of``, column-wise: ``rec_idx``, ``start_s`` and ``stop_s`` arrays."""
    return m.con.execute(_SEIZURES, {"recs": recs}).fetchnumpy()


def recording_cache_keys(m: Manifest, recs: list[int]) -> list[tuple[Any, ...]]:
    """(rec_idx, content_hash, path or recording_id) of the recordings ``recs`` (any order)."""
    return m.query(
        "SELECT rec_idx, content_hash, coalesce(path, recording_id) FROM recordings"
        " WHERE list_contains($recs, rec_idx)",
        {"recs": recs},
    )


def recording_channels(m: Manifest, splits: Sequence[str] | None) -> list[tuple[Any, ...]]:
    """(rec_idx, path, channels, recording_id) of the recordings of ``splits`` (None: all)."""
    return m.query(
        "SELECT rec_idx, path, channels, recording_id FROM recordings"
        " WHERE $splits IS NULL OR list_contains($splits, split) ORDER BY rec_idx",
        {"splits": None if splits is None else list(splits)},
    )


def edf_sources(m: Manifest) -> list[tuple[Any, ...]]:
    """(rec_idx, path, channels, content_hash, header_bytes) of every recording with an EDF.

    Largest first (duration times channels), then by rec_idx.
    """
    return m.query(
        "SELECT r.rec_idx, r.path, r.channels, r.content_hash, h.header_bytes"
        " FROM recordings r JOIN edf_headers h USING (path)"
        " ORDER BY r.duration_s * len(r.channels) DESC, r.rec_idx"
    )


def content_hashes(m: Manifest) -> set[str]:
    """The content hash of every recording (``'None'`` for a recording without one)."""
    return {str(r[0]) for r in m.query("SELECT DISTINCT content_hash FROM recordings")}


def table_files(m: Manifest, splits: Sequence[str]) -> list[tuple[int, str, int, int, str]]:
    """A Parquet source's files in ``splits``: (rec_idx, path, n_rows, n_positive, label_type)."""
    return m.query(_TABLE_FILES, {"splits": list(splits)})


def stamp_files(m: Manifest, splits: Sequence[str]) -> list[tuple[int, str, int, int, int]]:
    """A Parquet source's files in ``splits``: (rec_idx, path, n_rows, size, mtime_ns)."""
    return m.query(
        "SELECT r.rec_idx, r.path, p.n_rows, f.size, f.mtime_ns"
        " FROM recordings r JOIN parquet_files p USING (path) JOIN files f USING (path)"
        " WHERE list_contains($splits, r.split) ORDER BY r.rec_idx",
        {"splits": list(splits)},
    )


def shortest_per_class(
    m: Manifest, splits: Sequence[str], usable: Collection[int], per_class: int
) -> list[tuple[Any, ...]]:
    """Per split and class, the ``per_class`` shortest recordings, one per patient.

    Args:
        m: an audited manifest.
        splits: the splits to pick from.
        usable: the ``rec_idx`` the picks may come from.
        per_class: recordings per split and class (with seizures, without).

    Returns:
        Rows (rec_idx, split, positive), by split, positive first, then shortest first.
    """
    params = {"splits": list(splits), "usable": sorted(usable), "per_class": per_class}
    return m.query(_SHORTEST, params)
