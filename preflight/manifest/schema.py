"""The manifest's tables and their migrations.

Two layers live in one DuckDB file:

* the **parse cache** (``files``, ``edf_headers``, ``ann_recordings``, ``ann_events``): what each
  input file said the last time it was read, keyed by its path relative to the data root, with
  size, mtime and content hash so an unchanged file is never read again;
* the **derived tables** (``recordings``, ``events``, ``seizures``, ``windows``, ``rejected``),
  rebuilt from the cache in SQL whenever an input or a windowing parameter changed.

``meta`` holds the schema version and the provenance of the derived tables (window, stride,
overlap rule, readers). ``audits`` keeps one row per audit run.
"""

from __future__ import annotations

import duckdb

SCHEMA_VERSION = 4

_CACHE = [
    """CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS files (
        path VARCHAR PRIMARY KEY,      -- posix path relative to the data root
        kind VARCHAR NOT NULL,         -- discover.Kind: edf, tusz_csv, bids_events ...
        size BIGINT NOT NULL,
        mtime_ns BIGINT NOT NULL,
        content_hash VARCHAR,          -- NULL when the file could not be read
        reader VARCHAR NOT NULL,
        reader_version VARCHAR NOT NULL,
        error_reason VARCHAR,          -- set when the whole file was rejected
        error_message VARCHAR,
        error_line INTEGER
    )""",
    """CREATE TABLE IF NOT EXISTS edf_headers (
        path VARCHAR PRIMARY KEY,
        file_type VARCHAR, n_records BIGINT, record_duration DOUBLE, duration_s DOUBLE,
        channels VARCHAR[], sampling_rates DOUBLE[], start_time TIMESTAMP,
        patient_field VARCHAR, n_annotation_signals INTEGER, header_bytes BIGINT
    )""",
    """CREATE TABLE IF NOT EXISTS ann_recordings (
        source_path VARCHAR NOT NULL,  -- the annotation file (or the EDF for EDF+ annotations)
        key VARCHAR NOT NULL,          -- recording key: EDF file name without extension
        per_channel BOOLEAN, duration_s DOUBLE, start_time TIMESTAMP, edf_name VARCHAR,
        line INTEGER, lists_all_files BOOLEAN,
        problem_reason VARCHAR, problem_message VARCHAR, problem_line INTEGER
    )""",
    """CREATE TABLE IF NOT EXISTS ann_events (
        source_path VARCHAR NOT NULL, key VARCHAR NOT NULL, idx INTEGER NOT NULL,
        start_s DOUBLE, stop_s DOUBLE, label VARCHAR, positive BOOLEAN,
        channel VARCHAR, confidence DOUBLE, line INTEGER
    )""",
    """CREATE TABLE IF NOT EXISTS audits (
        audit_id INTEGER PRIMARY KEY, started_at TIMESTAMP, finished_at TIMESTAMP,
        root VARCHAR, params VARCHAR, files_read INTEGER, files_reused INTEGER,
        fingerprint VARCHAR, verdict VARCHAR,
        gate_key VARCHAR,              -- hash of everything the gate's records depend on
        checks VARCHAR,                -- the check records (JSON), reused for the same gate_key
        report VARCHAR                 -- the whole audit report (JSON), for `preflight report`
    )""",
]

# Steps from one schema version to the next, applied in order to an older manifest.
MIGRATIONS: dict[int, list[str]] = {
    2: [
        "ALTER TABLE audits ADD COLUMN IF NOT EXISTS gate_key VARCHAR",
        "ALTER TABLE audits ADD COLUMN IF NOT EXISTS checks VARCHAR",
    ],
    3: ["ALTER TABLE audits ADD COLUMN IF NOT EXISTS report VARCHAR"],
    # Runs submitted to a scheduler (`preflight submit`); the runs table exists only once a
    # run was recorded (manifest.runs creates it with these columns).
    4: [
        f"ALTER TABLE IF EXISTS runs ADD COLUMN IF NOT EXISTS {column} VARCHAR"
        for column in ("scheduler", "job_id", "script", "cluster")
    ],
}

_DERIVED = [
    """CREATE OR REPLACE TABLE recordings (
        recording_id VARCHAR PRIMARY KEY,  -- root-relative path without extension
        rec_idx INTEGER NOT NULL,          -- dense 0..n-1 in recording_id order; windows use it
        path VARCHAR,                      -- the EDF (NULL in a labels-only audit)
        annotation_paths VARCHAR[] NOT NULL,  -- every annotation file used for it
        label_source VARCHAR NOT NULL,     -- the annotation file whose events label windows
        label_reader VARCHAR NOT NULL,
        patient VARCHAR NOT NULL, session VARCHAR,
        declared_split VARCHAR NOT NULL,   -- the corpus's own split ('all' when it has none)
        split VARCHAR NOT NULL,            -- the split in use (declared, or built by split.py)
        n_channels INTEGER, channels VARCHAR[], sampling_rate DOUBLE,
        duration_s DOUBLE NOT NULL, start_time TIMESTAMP, content_hash VARCHAR
    )""",
    """CREATE OR REPLACE TABLE events (
        recording_id VARCHAR NOT NULL,
        event_idx INTEGER NOT NULL,        -- position of the event in its annotation source
        source_path VARCHAR NOT NULL,
        start_s DOUBLE NOT NULL, stop_s DOUBLE NOT NULL, label VARCHAR NOT NULL,
        positive BOOLEAN NOT NULL, channel VARCHAR, confidence DOUBLE, line INTEGER
    )""",
    """CREATE OR REPLACE TABLE rejected (
        path VARCHAR NOT NULL, reason VARCHAR NOT NULL, message VARCHAR NOT NULL, line INTEGER
    )""",
]


def create_cache_tables(con: duckdb.DuckDBPyConnection, from_version: int | None = None) -> None:
    """Create the parse-cache tables, migrate an older manifest, record the schema version."""
    for ddl in _CACHE:
        con.execute(ddl)
    for version in range((from_version or SCHEMA_VERSION) + 1, SCHEMA_VERSION + 1):
        for step in MIGRATIONS.get(version, []):
            con.execute(step)
    con.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)])


def create_derived_tables(con: duckdb.DuckDBPyConnection) -> None:
    """(Re)create the empty derived tables; ``seizures`` and ``windows`` come from SQL later."""
    for ddl in _DERIVED:
        con.execute(ddl)
