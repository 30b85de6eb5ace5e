"""From the Parquet parse cache to the manifest's derived tables.

The mapping, for a source where a file is a recording and a row is a window:

=================  =================================================================================
table              rows
=================  =================================================================================
``recordings``     one per usable file: ``recording_id`` = root-relative path without its
                   extension, ``path`` = the file, ``label_source`` = the file (its label column),
                   ``label_reader`` = ``parquet``, ``patient`` = the group column's value when one
                   value covers the file (else the recording id), ``declared_split`` = the split
                   column's value or the file's first folder (``debug/``, ``train/``; ``all`` at
                   the root), ``duration_s`` = its number of rows, ``content_hash`` = its size,
                   data ends and footer hashed (a file copied into two splits is caught by
                   ``recording_disjoint``)
``window_counts``  one per usable file: ``windows`` = its rows, ``positive_windows`` = its
                   rows whose label maps to positive, both exact (counted by the audit's
                   aggregate query). There is **no** ``windows`` table of a row per sample: the
                   statistics, the gate and the reports read these counts
                   (``manifest.queries``), and training reads each row's label from the files
                   (``parquet_rows``), checked against them
``events``,        empty: a row is a sample, not an interval, so there is no event to merge; a
``seizures``       positive window without a seizure counts as an event of its own for the
                   sampler's ``event`` spread
``groups``         one per (recording, group value) with its rows and positive rows, when a group
                   column is configured: the data of the ``group_disjoint`` check (groups that vary
                   inside a file cannot be a recording's patient)
``rejected``       every file rejected by the reader, and every folder that could not be listed
=================  =================================================================================
"""

from __future__ import annotations

import posixpath

import pyarrow as pa

from preflight.errors import Reason
from preflight.manifest.schema import create_derived_tables
from preflight.manifest.store import Manifest
from preflight.manifest.windows import build_seizures
from preflight.pipelines.layout import UNSPLIT
from preflight.sources import parquet as pqs

__all__ = ["derive_tables"]

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


def derive_tables(m: Manifest, walk_problems: list[tuple[str, Reason, str]]) -> None:
    """Rebuild recordings, events, seizures, window_counts, groups and rejected from the cache."""
    create_derived_tables(m.con)
    m.con.execute("DROP VIEW IF EXISTS window_labels")  # an EEG audit's, in the same manifest
    m.con.execute("DROP TABLE IF EXISTS windows")
    rows = m.query(
        "SELECT p.path, p.file_id, p.n_rows, p.group_value, p.split_value, f.content_hash"
        " FROM parquet_files p JOIN files f USING (path)"
        " WHERE f.kind = ? AND f.error_reason IS NULL ORDER BY p.path",
        [pqs.KIND],
    )
    ids = _recording_ids([r[0] for r in rows])
    order = sorted(range(len(rows)), key=lambda i: ids[i])
    recordings: dict[str, list[object]] = {}
    for rec_idx, i in enumerate(order):
        path, _file_id, n_rows, group, split, content_hash = rows[i]
        folder = path.split("/", 1)[0] if "/" in path else UNSPLIT
        row = {
            "recording_id": ids[i], "rec_idx": rec_idx, "path": path,
            "annotation_paths": [path], "label_source": path, "label_reader": pqs.READER_NAME,
            "patient": group if group is not None else ids[i], "session": None,
            "declared_split": split if split is not None else folder,
            "split": split if split is not None else folder,
            "duration_s": float(n_rows), "content_hash": content_hash,
        }  # fmt: skip
        for col, value in row.items():
            recordings.setdefault(col, []).append(value)
    if recordings:
        m.insert("recordings", recordings)
    order_rows = [rows[i] for i in order]
    mapping = pa.table(
        {
            "rec_idx": pa.array(range(len(order)), pa.int32()),
            "file_id": pa.array([r[1] for r in order_rows], pa.int32()),
        }
    )
    m.con.register("_pq_map", mapping)
    try:
        m.con.execute(_GROUPS)
        m.con.execute(_COUNTS)
    finally:
        m.con.unregister("_pq_map")
    build_seizures(m.con)  # no events: an empty table with the seizures columns
    _reject(m, walk_problems)


def _recording_ids(paths: list[str]) -> list[str]:
    """Each path without its extension; the whole path where that would collide."""
    stems = [posixpath.splitext(p)[0] for p in paths]
    taken: dict[str, int] = {}
    for stem in stems:
        taken[stem] = taken.get(stem, 0) + 1
    return [stem if taken[stem] == 1 else path for stem, path in zip(stems, paths, strict=True)]


def _reject(m: Manifest, walk_problems: list[tuple[str, Reason, str]]) -> None:
    m.con.execute(
        "INSERT INTO rejected (path, reason, message, line)"
        " SELECT path, error_reason, error_message, error_line FROM files"
        " WHERE kind = ? AND error_reason IS NOT NULL ORDER BY path",
        [pqs.KIND],
    )
    if walk_problems:
        m.insert(
            "rejected",
            {
                "path": [p for p, _, _ in walk_problems],
                "reason": [str(r) for _, r, _ in walk_problems],
                "message": [msg for _, _, msg in walk_problems],
            },
        )
