"""Benchmark the gate on a 1.5-million-window manifest built directly in DuckDB.

Prints figures; never asserts. Rerun with::

    .venv/bin/python benchmarks/bench_gate.py                  # 7,000 recordings, ~1.5 M windows
    .venv/bin/python benchmarks/bench_gate.py --recordings 700

The manifest is made in SQL (no EDF files): 7,000 recordings of 5 per patient, 10 s windows,
a quarter of the recordings with one or two seizures, TUSZ-like splits by patient (70/15/15).
The Great Expectations import is timed alone (in a fresh process, and in this one), then
``run_gate`` beyond it (the first call creates the ephemeral GX context, later calls reuse it),
then its parts. Baselines measured in the same run: pandera row-wise over the raw windows table
(types, ranges and uniqueness only: no contiguity, no window count per recording) and GX over the
raw windows table for as many expectations as the seizure suite holds, in one batch without
splits, against the whole suite over per-split aggregates.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from _table import print_rows  # benchmarks/ is on sys.path when run as a script

from preflight.config import GateConfig
from preflight.manifest import queries
from preflight.manifest.schema import create_derived_tables
from preflight.manifest.store import Manifest
from preflight.manifest.windows import WindowParams, build_seizures, build_windows
from preflight.validators.gate import aggregate_frame, run_gate
from preflight.validators.schemas import check_schemas
from preflight.validators.suites import load_suite, run_suite

T = TypeVar("T")

_RECORDINGS = """
INSERT INTO recordings (recording_id, rec_idx, path, annotation_paths, label_source, label_reader,
                        patient, session, declared_split, split, n_channels, sampling_rate,
                        duration_s, content_hash)
WITH r AS (
    SELECT i,
           CASE WHEN (i // 5) % 20 < 14 THEN 'train' WHEN (i // 5) % 20 < 17 THEN 'dev'
                ELSE 'eval' END AS split,
           'p' || lpad(CAST(i // 5 AS VARCHAR), 6, '0') AS patient,
           -- 150..278 windows of 10 s, 214 on average: 7,000 recordings give ~1.5 M windows.
           10.0 * (150 + (i * 37) % 129) + 5.0 AS duration_s
    FROM range($n) t(i)
), named AS (
    SELECT *, 'edf/' || split || '/' || patient || '/s001/' || patient || '_t'
              || lpad(CAST(i % 5 AS VARCHAR), 3, '0') AS rid
    FROM r
)
SELECT rid, CAST(row_number() OVER (ORDER BY rid) - 1 AS INTEGER), rid || '.edf',
       [rid || '.csv_bi'], rid || '.csv_bi', 'tusz-csv', patient, 's001', split, split, 33,
       CASE WHEN i % 2 = 0 THEN 256.0 ELSE 250.0 END, duration_s, md5(CAST(i AS VARCHAR))
FROM named
"""

_FILES = """
INSERT INTO files
SELECT path, 'edf', 1000, 0, md5(path), 'edf-header', '1', NULL, NULL, NULL FROM recordings
UNION ALL
SELECT label_source, 'tusz_csv', 100, 0, md5(label_source), 'tusz-csv', '1', NULL, NULL, NULL
FROM recordings
"""

# A background row spanning each recording, and one or two seizures in every fourth recording.
_EVENTS = """
INSERT INTO events
WITH sz AS (
    SELECT recording_id, label_source, duration_s, row_number() OVER () AS k FROM recordings
), rows AS (
    SELECT recording_id, label_source, 0.0 AS start_s, duration_s AS stop_s, 'bckg' AS label,
           false AS positive FROM sz
    UNION ALL
    SELECT recording_id, label_source, 300.0, 300.0 + 20 + k % 40, 'seiz', true FROM sz
    WHERE k % 4 = 0
    UNION ALL
    SELECT recording_id, label_source, 900.0, 950.0, 'seiz', true FROM sz WHERE k % 8 = 0
)
SELECT recording_id,
       CAST(row_number() OVER (PARTITION BY recording_id ORDER BY start_s) - 1 AS INTEGER),
       label_source, start_s, stop_s, label, positive, NULL, 1.0, 6
FROM rows
"""


def build_manifest(path: Path, recordings: int) -> None:
    """Write a TUSZ-like manifest of ``recordings`` recordings (no input files) at ``path``."""
    params = WindowParams()
    with Manifest.open(path) as m:
        create_derived_tables(m.con)
        m.con.execute(_RECORDINGS, {"n": recordings})
        m.con.execute(_FILES)
        m.con.execute(_EVENTS)
        build_seizures(m.con)
        build_windows(m.con, params)
        m.set_meta(
            {
                "window_s": str(params.window_s),
                "stride_s": str(params.stride_s),
                "min_overlap_s": str(params.min_overlap_s),
                "format": "tusz",
            }
        )


def timed(fn: Callable[[], T]) -> tuple[T, float]:
    """``fn()`` and the seconds it took."""
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def gx_import_seconds() -> float:
    """Wall time of ``import great_expectations`` in a fresh process, less bare start-up."""

    def run(code: str) -> float:
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
        return time.perf_counter() - t0

    return run("import great_expectations") - run("pass")


def pandera_windows_baseline(m: Manifest) -> float:
    """Seconds to load the windows table and check it row-wise with pandera."""
    import pandera.pandas as pa

    schema = pa.DataFrameSchema(
        {
            "rec_idx": pa.Column("int32", pa.Check.ge(0)),
            "window_idx": pa.Column("int32", pa.Check.ge(0)),
            "overlap_s": pa.Column(float, pa.Check.in_range(0, 10)),
            "positive": pa.Column(bool),
        },
        unique=["rec_idx", "window_idx"],
    )
    t0 = time.perf_counter()
    schema.validate(m.con.execute("SELECT * FROM windows").df(), lazy=True)
    return time.perf_counter() - t0


def gx_windows_baseline(m: Manifest) -> float:
    """Seconds for GX to run 8 expectations (as many as the seizure suite) over raw windows."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    config = DataContextConfig(
        progress_bars=ProgressBarsConfig(globally=False),
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
    )
    context = gx.get_context(mode="ephemeral", project_config=config)
    asset = context.data_sources.add_pandas("bench").add_dataframe_asset("windows")
    batch_definition = asset.add_batch_definition_whole_dataframe("all")
    e = gx.expectations
    suite = gx.ExpectationSuite(
        name="windows",
        expectations=[
            *(e.ExpectColumnValuesToNotBeNull(column=c) for c in ("rec_idx", "window_idx")),
            e.ExpectColumnValuesToBeBetween(column="overlap_s", min_value=0, max_value=10),
            e.ExpectColumnValuesToBeBetween(column="window_idx", min_value=0),
            e.ExpectColumnDistinctValuesToContainSet(column="positive", value_set=[True, False]),
            e.ExpectColumnMeanToBeBetween(column="positive", min_value=0.0001, max_value=0.9),
            e.ExpectColumnMeanToBeBetween(column="positive", min_value=0.005),
            e.ExpectColumnSumToBeBetween(column="positive", min_value=8),
        ],
    )
    t0 = time.perf_counter()
    frame = m.con.execute("SELECT * FROM windows").df()
    batch_definition.get_batch(batch_parameters={"dataframe": frame}).validate(suite)
    return time.perf_counter() - t0


def gate_parts(m: Manifest) -> dict[str, float]:
    """Seconds of the gate's parts, run one by one (warm)."""
    config = GateConfig()
    suite = load_suite("seizure")
    _, t_stats = timed(lambda: aggregate_frame(queries.split_stats(m), config))
    frame = aggregate_frame(queries.split_stats(m), config)
    _, t_schemas = timed(lambda: check_schemas(m))
    _, t_suite = timed(lambda: run_suite(suite, frame, config))
    return {"split aggregates (SQL)": t_stats, "schemas": t_schemas, "suite (GX)": t_suite}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--recordings", type=int, default=7000)
    parser.add_argument("--repeat", type=int, default=3, help="warm run_gate calls to time")
    args = parser.parse_args()
    t_gx_import = gx_import_seconds()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "manifest.duckdb"
        _, t_build = timed(lambda: build_manifest(path, args.recordings))
        with Manifest.open(path, read_only=True) as m:
            n_windows, n_pos = m.query("SELECT count(*), count(*) FILTER (positive) FROM windows")[
                0
            ]
            _, t_import = timed(lambda: __import__("great_expectations"))
            result, t_first = timed(lambda: run_gate(m, GateConfig()))
            t_warm = min(timed(lambda: run_gate(m, GateConfig()))[1] for _ in range(args.repeat))
            parts = gate_parts(m)
            t_pandera = pandera_windows_baseline(m)
            t_gx_rows = gx_windows_baseline(m)
    failed = [c.name for c in result.checks if not c.passed]
    t_schemas, t_suite = parts["schemas"], parts["suite (GX)"]
    rows = [
        ("manifest", f"{args.recordings:,} recordings, {n_windows:,} windows "
         f"({n_pos:,} positive), built in SQL in {t_build:.1f} s"),
        ("import great_expectations (fresh process)", f"{t_gx_import:.2f} s"),
        ("import great_expectations (in-process)", f"{t_import:.2f} s"),
        ("run_gate, first call (creates GX context)", f"{t_first:.2f} s  (target <= 2 s)"),
        ("run_gate, warm", f"{t_warm:.2f} s  (best of {args.repeat})"),
        *((f"  of which {k}", f"{v:.2f} s") for k, v in parts.items()),
        ("checks", f"{len(result.checks)} ({len(failed)} failed: {', '.join(failed) or '-'})"),
        ("baseline: pandera row-wise over windows", f"{t_pandera:.2f} s  (types, ranges, "
         f"uniqueness only; the gate's four schemas with contiguity and counts: {t_schemas:.2f} s, "
         f"baseline/gate {t_pandera / t_schemas:.1f}x)"),
        ("baseline: GX, 8 expectations over windows", f"{t_gx_rows:.2f} s  (one batch, no split; "
         f"the suite over per-split aggregates, 3 splits: {t_suite:.2f} s, "
         f"baseline/gate {t_gx_rows / t_suite:.1f}x)"),
    ]  # fmt: skip
    print_rows(rows)


if __name__ == "__main__":
    main()
