"""Benchmark Parquet label statistics and the stamp training input's memory.

Prints figures; never asserts. Rerun with::

    .venv/bin/python benchmarks/bench_parquet.py                   # 6,000 files / 10 M rows
    .venv/bin/python benchmarks/bench_parquet.py --files 600       # a tenth

1. **Label statistics.** A lens-finder-like table of ``--files`` Parquet files (90 % train, 10 %
   dev) holding 10 million rows in all, with the columns ``is_control`` (int8), ``region`` (one
   per file) and ``stamp_npz``. To keep disk use reasonable the samples are ``--sample-bytes``
   random bytes (default 64, ~0.7 GB for 10 M rows) instead of ~45 KB stamps; preflight never
   reads that column, pandas reads it, so the ratio below *understates* the real one (with 45 KB
   stamps the 6,000 files hold ~450 GB). Measured in the same run:

   * preflight's cold scan (``scan_parquet``: footers, one aggregate query over the label/group
     columns through DuckDB, per-file checks, manifest tables of exact counts per file and per
     group, no row per sample) and per-split statistics;
   * the same scan again, unchanged (nothing read);
   * the DuckDB label query alone (per split: rows, positives, regions) over the files;
   * the baseline: ``pandas.read_parquet(path)`` on every file, as a user would, then the same
     per-split counts (on ``--pandas-files`` files, extrapolated when fewer than all).

   With ``--real-files N`` (default 3), N files of real-size stamps (1,666 synthetic 3 x 64 x 64
   float32 stamps, ~75 MB each, as in the lens finder's train tier) are also timed, per file,
   with pandas and with preflight's scan, and both extrapolated to ``--files`` files.

2. **Training-input memory.** Two synthetic stamp tiers (``synthesize_stamps``), the second 10x
   the first; each is audited, then streamed to the end (``StampStream``, every stamp decoded,
   normalized, augmented) in a fresh subprocess whose peak RSS (``ru_maxrss``) is printed, and
   read the naive way (``pq.read_table`` of the whole tier, then decoded) for contrast.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas  # noqa: F401  imported up front: pyarrow's NumPy conversions import it on first use,
import pyarrow as pa  # and `preflight audit` (pandera) imports it anyway; neither side pays it
import pyarrow.parquet as pq
from _table import print_rows  # benchmarks/ is on sys.path when run as a script

from preflight.manifest import queries
from preflight.manifest.store import Manifest
from preflight.scanning.parquet_read import read_tables
from preflight.scanning.parquet_scan import discover_tables, scan_parquet
from preflight.sources.parquet import ParquetOptions
from preflight.synth.stamps import StampCorpus, StampSpec, synthesize_stamps

TOTAL_ROWS = 10_000_000


def write_table_corpus(root: Path, files: int, sample_bytes: int) -> int:
    """``files`` Parquet files, 10 M rows in all; returns the bytes on disk."""
    rows = TOTAL_ROWS // files
    rng = np.random.default_rng(0)
    for i in range(files):
        tier = root / ("dev" if i % 10 == 0 else "train")
        tier.mkdir(parents=True, exist_ok=True)
        labels = (rng.random(rows) < 0.9).astype(np.int8)  # 10 % lenses
        blob = rng.bytes(rows * sample_bytes)
        samples = pa.FixedSizeBinaryArray.from_buffers(
            pa.binary(sample_bytes), rows, [None, pa.py_buffer(blob)]
        ).cast(pa.binary())
        table = pa.table(
            {"is_control": labels, "region": [f"r{i:05d}"] * rows, "stamp_npz": samples}
        )
        pq.write_table(table, tier / f"part-{i:05d}.parquet")
    return sum(p.stat().st_size for p in root.rglob("*.parquet"))


def pandas_counts(paths: list[Path]) -> dict[str, tuple[int, int]]:
    """Per split (rows, positives) the way a user without preflight gets them."""
    import pandas as pd

    out: dict[str, tuple[int, int]] = {}
    for path in paths:
        frame = pd.read_parquet(path)
        rows, positives = out.get(path.parent.name, (0, 0))
        out[path.parent.name] = (rows + len(frame), positives + int((frame.is_control == 0).sum()))
    return out


def duckdb_counts(paths: list[Path]) -> list[tuple[object, ...]]:
    """Per split (rows, positives, regions) straight from the label and group columns."""
    con = duckdb.connect()
    return con.execute(
        "SELECT split_part(filename, '/', -2) AS split, count(*), count(*) FILTER"
        " (WHERE is_control = 0), count(DISTINCT region) FROM read_parquet($paths,"
        " filename = true) GROUP BY 1 ORDER BY 1",
        {"paths": [str(p) for p in paths]},
    ).fetchall()


def label_statistics(root: Path, pandas_files: int) -> tuple[list[tuple[str, str]], float]:
    """Part 1's figures, and the cold scan's seconds."""
    paths = sorted(root.rglob("*.parquet"))
    options = ParquetOptions(group_column="region", sample_column="stamp_npz")
    manifest = root.parent / "manifest.duckdb"
    manifest.unlink(missing_ok=True)
    with Manifest.open(manifest) as m:
        t0 = time.perf_counter()
        scan_parquet(root, m, options)
        stats = queries.split_stats(m)
        t_scan = time.perf_counter() - t0
        t0 = time.perf_counter()
        again = scan_parquet(root, m, options)
        queries.split_stats(m)
        t_again = time.perf_counter() - t0
    t0 = time.perf_counter()
    duckdb_counts(paths)
    t_query = time.perf_counter() - t0
    sample = paths[:: max(1, len(paths) // pandas_files)][:pandas_files]
    t0 = time.perf_counter()
    pandas_counts(sample)
    t_pandas = (time.perf_counter() - t0) * len(paths) / len(sample)
    extrapolated = "" if len(sample) == len(paths) else f", {len(sample)} files, extrapolated"
    rows = sum(s["windows"] for s in stats.values())
    return [
        ("preflight cold scan + per-split stats",
         f"{t_scan:.2f} s  ({rows:,} rows; -> {t_pandas / t_scan:.1f}x faster than pandas)"),
        ("preflight re-scan, unchanged", f"{t_again:.3f} s  (files read: {again.read})"),
        ("DuckDB label query alone (per split)",
         f"{t_query:.2f} s  (-> {t_pandas / t_query:.1f}x faster than pandas)"),
        ("pandas.read_parquet per file + counts", f"{t_pandas:.1f} s{extrapolated}"),
    ], t_scan  # fmt: skip


def real_size_files(tmp: Path, n_files: int, n_total: int, t_small: float) -> list[tuple[str, str]]:
    """pandas and preflight on real-size stamp files, extrapolated to ``n_total`` files.

    preflight's extra cost of a real-size file over a small one (same rows and row groups,
    64-byte samples) is the difference of reading both (``read_tables``: hashing, footers,
    label columns counted; the best of three), added to the cold scan of the ``n_total`` small
    files (``t_small``).
    """
    import pandas as pd

    rows = TOTAL_ROWS // n_total
    spec = StampSpec(files_per_tier=n_files, rows_per_file=rows, row_group_rows=256)
    corpus = synthesize_stamps(tmp / "real", spec)
    real = corpus.root / "train"
    small = tmp / "small"
    for i, path in enumerate(sorted(real.glob("*.parquet"))):
        table = pq.read_table(path)
        blob = pa.array([b"\0" * 64] * table.num_rows, pa.binary())
        small.mkdir(exist_ok=True)
        pq.write_table(
            table.set_column(0, "stamp_npz", blob), small / f"{i}.parquet", row_group_size=256
        )
    paths = sorted(real.glob("*.parquet"))
    size = sum(p.stat().st_size for p in paths) / len(paths) / 2**20
    t0 = time.perf_counter()
    for path in paths:
        pd.read_parquet(path)
    t_pandas = (time.perf_counter() - t0) / len(paths)
    reads = []
    for folder in (small, real):  # only the file-reading part of the scan: the rest is per file
        found, _, _ = discover_tables(folder, "*.parquet")
        timings = []
        for _ in range(3):
            t0 = time.perf_counter()
            read_tables(str(folder), found, StampCorpus.options())
            timings.append(time.perf_counter() - t0)
        reads.append(min(timings))
    extra = max(0.0, (reads[1] - reads[0]) / len(paths))
    t_scan = t_small + extra * n_total
    shutil.rmtree(corpus.root)
    return [
        (f"real-size stamp files ({size:.0f} MB, {rows:,} stamps each)",
         f"pandas {t_pandas:.2f} s/file; preflight reads {reads[1] / len(paths) * 1e3:.1f} ms/file"
         f" (small, same rows: {reads[0] / len(paths) * 1e3:.1f} ms; {len(paths)} timed)"),
        (f"  extrapolated to {n_total:,} such files ({size * n_total / 1024:,.0f} GB)",
         f"pandas ~{t_pandas * n_total / 60:,.0f} min, preflight cold scan ~{t_scan:,.0f} s -> "
         f"~{t_pandas * n_total / t_scan:,.0f}x"),
    ]  # fmt: skip


_STREAM = """
import resource, sys, time
from preflight.manifest.store import Manifest
from preflight.data.stamps import StampSource, StampStream
with Manifest.open(sys.argv[1], read_only=True) as m:
    source = StampSource.load(m, "train")
t0 = time.perf_counter()
n = sum(1 for _ in StampStream(source))
rate = n / (time.perf_counter() - t0)
print(n, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, rate)
"""

_NAIVE = """
import resource, sys
import pyarrow.parquet as pq
from preflight.data.stamps import decode_stamp, normalize_stamp
table = pq.read_table(sys.argv[1] + "/train", columns=["stamp_npz", "is_control"])
stamps = [normalize_stamp(decode_stamp(b)) for b in table.column("stamp_npz").to_pylist()]
print(len(stamps), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, 0)
"""


def _peak(code: str, arg: str) -> tuple[int, float, float]:
    """(rows, peak RSS in MB, rows/s) of ``code`` run in a fresh interpreter."""
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), arg],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    return int(out[0]), int(out[1]) / 1024, float(out[2])


def training_memory(tmp: Path, files: int, rows: int) -> list[tuple[str, str]]:
    """Part 2's figures."""
    out = []
    for scale in (1, 10):
        spec = StampSpec(files_per_tier=files * scale, rows_per_file=rows, row_group_rows=64)
        corpus = synthesize_stamps(tmp / f"tier{scale}", spec)
        manifest = corpus.root / ".preflight" / "manifest.duckdb"
        with Manifest.open(manifest) as m:
            scan_parquet(corpus.root, m, StampCorpus.options())
        size = sum(p.stat().st_size for p in (corpus.root / "train").glob("*.parquet")) / 2**20
        n, rss, rate = _peak(_STREAM, str(manifest))
        _, naive, _ = _peak(_NAIVE, str(corpus.root))
        out.append(
            (f"train tier x{scale}: {n:,} stamps, {size:,.0f} MB",
             f"StampStream peak RSS {rss:,.0f} MB ({rate:,.0f} stamps/s); "
             f"read_table + decode {naive:,.0f} MB")
        )  # fmt: skip
        shutil.rmtree(corpus.root)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=6000)
    parser.add_argument("--sample-bytes", type=int, default=64)
    parser.add_argument("--pandas-files", type=int, default=6000)
    parser.add_argument("--real-files", type=int, default=3, help="real-size files to time")
    parser.add_argument("--tier-files", type=int, default=2, help="files of the x1 stamp tier")
    parser.add_argument("--tier-rows", type=int, default=256, help="stamps per file")
    parser.add_argument("--root", type=Path, help="keep the tables here (default: a temp dir)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        root = args.root or tmp / "tables"
        if not root.is_dir() or not any(root.rglob("*.parquet")):
            t0 = time.perf_counter()
            disk = write_table_corpus(root, args.files, args.sample_bytes)
            made = f"written in {time.perf_counter() - t0:.0f} s"
        else:
            disk = sum(p.stat().st_size for p in root.rglob("*.parquet"))
            made = "reused"
        figures, t_scan = label_statistics(root, min(args.pandas_files, args.files))
        real = real_size_files(tmp, args.real_files, args.files, t_scan) if args.real_files else []
        rows = [
            ("tables", f"{args.files:,} files, {TOTAL_ROWS:,} rows, {args.sample_bytes}-byte "
             f"samples, {disk / 2**20:,.0f} MB on disk ({made})"),
            *figures,
            *real,
            *training_memory(tmp, args.tier_files, args.tier_rows),
        ]  # fmt: skip
    os.sync()
    print_rows(rows)


if __name__ == "__main__":
    main()
