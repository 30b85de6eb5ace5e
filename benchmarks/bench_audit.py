"""Benchmark the audit of a TUSZ-like corpus against the baselines it replaces.

Prints figures; never asserts. Rerun with::

    .venv/bin/python benchmarks/bench_audit.py            # 7,000 sparse recordings
    .venv/bin/python benchmarks/bench_audit.py --recordings 700

The corpus is synthetic and sparse (header-correct EDF files whose data area is a hole, 33
channels, 250/256 Hz, 10-60 min, with .csv_bi and .csv annotations). Baselines, measured in the
same run on a sample and extrapolated to the corpus:

* ``mne.io.read_raw_edf(preload=False)`` on every EDF (what a team without a manifest calls to
  learn durations), and
* loading every window's samples to find its label (the smoke test that hung): windows are read
  with MNE from a real, non-sparse EDF of the same shape, so decoding costs are real; the page
  cache makes this baseline optimistic.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _table import print_rows  # benchmarks/ is on sys.path when run as a script

from preflight.manifest.windows import WindowParams
from preflight.pipelines.audit import audit
from preflight.scanning.scan import ScanOptions
from preflight.synth.corpus import synthesize
from preflight.synth.spec import SynthSpec

PATIENTS_SHARE = {"train": 0.67, "dev": 0.21, "eval": 0.12}


def corpus_spec(recordings: int, *, sparse: bool, seed: int = 0) -> SynthSpec:
    """A TUSZ-like spec: 10 recordings per patient, shares of patients like TUSZ v2."""
    patients = max(3, recordings // 10)
    train = max(1, round(patients * PATIENTS_SHARE["train"]))
    dev = max(1, round(patients * PATIENTS_SHARE["dev"]))
    return SynthSpec(
        train_patients=train,
        dev_patients=dev,
        eval_patients=max(1, patients - train - dev),
        recordings_per_patient=10,
        min_duration_s=600,
        max_duration_s=3600,
        seizure_rate=0.2,
        sampling_rates=(250, 256),
        n_channels=33,
        seed=seed,
        sparse=sparse,
    )


def timed(fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0


def mne_baseline(edfs: list[Path], sample: int) -> float:
    """Seconds per file for MNE's header read (preload=False), on a sample of files."""
    import mne

    mne.set_log_level("ERROR")
    chosen = edfs[:: max(1, len(edfs) // sample)][:sample]
    t0 = time.perf_counter()
    for path in chosen:
        mne.io.read_raw_edf(path, preload=False)
    return (time.perf_counter() - t0) / len(chosen)


def window_loading_baseline(tmp: Path, window: WindowParams, sample: int) -> float:
    """Seconds per window to load its samples with MNE from a real (non-sparse) EDF."""
    import mne

    mne.set_log_level("ERROR")
    dense = synthesize(tmp / "dense", corpus_spec(3, sparse=False, seed=1))
    edf = next(r for r in dense.recordings if r.edf)
    raw = mne.io.read_raw_edf(dense.root / str(edf.edf), preload=False)
    sfreq = raw.info["sfreq"]
    n = int((raw.n_times / sfreq - window.window_s) // window.stride_s) + 1
    starts = np.random.default_rng(0).integers(0, n, size=sample)
    t0 = time.perf_counter()
    for i in starts:
        a = int(i * window.stride_s * sfreq)
        raw.get_data(start=a, stop=a + int(window.window_s * sfreq))
    return (time.perf_counter() - t0) / sample


def cli_wall(root: Path) -> float:
    """Wall time of `preflight audit -q` in a fresh process (imports included)."""
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "preflight", "audit", str(root), "-q"],
        check=False,
        capture_output=True,
    )
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--recordings", type=int, default=7000)
    parser.add_argument("--mne-sample", type=int, default=200)
    parser.add_argument("--window-sample", type=int, default=300)
    parser.add_argument("--root", type=Path, help="keep the corpus here (default: a temp dir)")
    args = parser.parse_args()
    window = WindowParams()
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        root = args.root or tmp / "corpus"
        spec = corpus_spec(args.recordings, sparse=True)
        corpus, t_synth = timed(synthesize, root, spec, overwrite=True)
        edfs = [root / str(r.edf) for r in corpus.recordings if r.edf]
        full, t_full = timed(audit, root, options=ScanOptions(window=window))
        again, t_again = timed(audit, root, options=ScanOptions(window=window))
        t_cli = cli_wall(root)
        per_file = mne_baseline(edfs, args.mne_sample)
        per_window = window_loading_baseline(tmp, window, args.window_sample)
    t_mne = per_file * len(edfs)
    t_windows = per_window * full.totals.windows
    t_scan = full.scan.seconds if full.scan else float("nan")
    n_ann = len(corpus.recordings) * 2
    rows = [
        ("corpus", f"{len(edfs):,} EDF + {n_ann:,} annotation files, {full.totals.hours:,.0f} h, "
         f"{full.totals.windows:,} windows (synth {t_synth:.1f} s)"),
        ("full scan into the manifest", f"{t_scan:.2f} s  (headers, annotations, window labels)"),
        ("split + gate, first run", f"{t_full - t_scan:.2f} s  (includes importing Great "
         "Expectations, ~3 s)"),
        ("re-audit, unchanged (in-process)",
         f"{t_again:.3f} s  (files read: {again.scan.read if again.scan else '?'}; gate records "
         "reused)"),
        ("re-audit, unchanged (CLI, fresh process)", f"{t_cli:.2f} s  (imports included)"),
        ("MNE read_raw_edf(preload=False), every file",
         f"{t_mne:.1f} s  ({per_file * 1e3:.2f} ms/file, {args.mne_sample} sampled)"
         f" -> the scan is {t_mne / t_scan:.1f}x faster"),
        ("load every window to find its label",
         f"{t_windows:,.0f} s  ({per_window * 1e3:.2f} ms/window, {args.window_sample} sampled)"
         f" -> the scan is {t_windows / t_scan:,.0f}x faster"),
    ]  # fmt: skip
    print_rows(rows)


if __name__ == "__main__":
    main()
