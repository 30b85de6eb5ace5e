"""The scan end to end on small corpora: statistics, incrementality, nothing lost."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from preflight.config import GateConfig, PreflightConfig
from preflight.manifest.store import Manifest
from preflight.manifest.windows import WindowParams
from preflight.pipelines.audit import audit
from preflight.scanning.scan import ScanOptions

from .conftest import Corpus

# The hand-made corpora are tiny: batches of 8 at 25 % positives need only 2 positive windows.
SMALL = PreflightConfig(gate=GateConfig(batch_size=8))


def _audit(root: Path, **kw: object):
    return audit(root, options=ScanOptions(**kw), config=SMALL)  # type: ignore[arg-type]


def test_statistics_known_by_construction(healthy: Corpus) -> None:
    report = _audit(healthy.root)
    assert report.verdict == "pass"
    train, dev = report.splits["train"], report.splits["dev"]
    assert (train.recordings, train.patients, train.positive_recordings) == (3, 2, 2)
    assert (train.events, train.windows, train.positive_windows) == (2, 28, 4)
    assert train.hours == pytest.approx(280 / 3600, abs=1e-4)
    assert train.positive_hours == pytest.approx(25 / 3600, abs=1e-4)
    assert (dev.recordings, dev.events, dev.windows, dev.positive_windows) == (1, 1, 6, 1)
    assert report.totals.windows == 34
    assert report.totals.rejected == 0


def test_reaudit_of_unchanged_corpus_reads_nothing(healthy: Corpus) -> None:
    first = _audit(healthy.root)
    second = _audit(healthy.root)
    assert first.scan
    assert second.scan
    assert first.scan.read == 8
    assert first.scan.rebuilt
    assert second.scan.read == 0
    assert second.scan.reused == 8
    assert not second.scan.rebuilt
    assert second.manifest.fingerprint == first.manifest.fingerprint
    assert second.model_dump(exclude={"scan"}) == first.model_dump(exclude={"scan"})


def test_touched_file_is_reread_but_same_content_keeps_tables(healthy: Corpus) -> None:
    _audit(healthy.root)
    edf = next(healthy.root.rglob("aaaaaaab_s001_t000.edf"))
    st = edf.stat()
    os.utime(edf, ns=(st.st_atime_ns, st.st_mtime_ns + 10_000_000_000))
    report = _audit(healthy.root)
    assert report.scan
    assert report.scan.read == 1
    assert not report.scan.rebuilt


def test_changed_annotation_updates_statistics(healthy: Corpus) -> None:
    _audit(healthy.root)
    healthy.recording("train", "aaaaaaab", 1, 100, [(40, 45)], edf=False)  # was background
    report = _audit(healthy.root)
    assert report.scan
    assert report.scan.read == 1
    assert report.scan.rebuilt
    assert report.splits["train"].events == 3
    assert report.splits["train"].positive_windows == 5


def test_deleted_recording_leaves_the_manifest(healthy: Corpus) -> None:
    _audit(healthy.root)
    shutil.rmtree(healthy.root / "edf" / "dev")
    report = _audit(healthy.root)
    assert report.scan
    assert report.scan.deleted == 2
    assert list(report.splits) == ["train"]
    with Manifest.open(report.manifest.path, read_only=True) as m:
        assert m.query("SELECT count(*) FROM files WHERE path LIKE 'edf/dev/%'") == [(0,)]


def test_window_parameters_rebuild_without_reading(healthy: Corpus) -> None:
    _audit(healthy.root)
    report = _audit(healthy.root, window=WindowParams(window_s=4, stride_s=2))
    assert report.scan
    assert report.scan.read == 0
    assert report.scan.rebuilt
    assert report.provenance["window_s"] == 4.0
    assert report.provenance["stride_s"] == 2.0
    # 120 s: (120 - 4) / 2 + 1 = 59 windows; seizure 15-35 s touches windows 6..17 (12).
    with Manifest.open(report.manifest.path, read_only=True) as m:
        rows = m.query(
            "SELECT count(*), count(*) FILTER (WHERE positive) FROM windows"
            " JOIN recordings USING (rec_idx) WHERE recording_id LIKE '%aaaaaaab_s001_t000'"
        )
    assert rows == [(59, 12)]


def test_labels_only_audit_matches_the_full_audit(healthy: Corpus, tmp_path: Path) -> None:
    full = _audit(healthy.root)
    for edf in healthy.root.rglob("*.edf"):
        edf.unlink()
    labels = audit(
        healthy.root,
        manifest=tmp_path / "l.duckdb",
        options=ScanOptions(labels_only=True),
        config=SMALL,
    )
    assert labels.verdict == "pass"
    assert labels.splits == full.splits
    assert labels.provenance["labels_only"] is True


def test_every_input_file_is_in_the_manifest_or_rejected(healthy: Corpus) -> None:
    healthy.recording("train", "aaaaaaae", 0, 30, edf=False)  # annotation without EDF
    healthy.recording("dev", "aaaaaaaf", 0, 30, csv_bi=False)  # EDF without annotation
    bad = healthy.recording("dev", "aaaaaaag", 0, 30)
    bad.write_bytes(bad.read_bytes()[:300])  # truncated
    report = _audit(healthy.root)
    inputs = {p.relative_to(healthy.root).as_posix() for p in healthy.root.rglob("*.*")}
    inputs = {p for p in inputs if not p.startswith(".preflight")}
    with Manifest.open(report.manifest.path, read_only=True) as m:
        used = {r[0] for r in m.query("SELECT path FROM recordings")}
        used |= {p for r in m.query("SELECT annotation_paths FROM recordings") for p in r[0]}
    rejected = {r.path for r in report.rejected}
    assert inputs == used | rejected
    assert not used & rejected
    reasons = {(Path(r.path).name, r.reason) for r in report.rejected}
    assert reasons == {
        ("aaaaaaae_s001_t000.csv_bi", "missing_recording"),
        ("aaaaaaaf_s001_t000.edf", "missing_annotations"),
        ("aaaaaaag_s001_t000.edf", "edf_truncated"),
        ("aaaaaaag_s001_t000.csv_bi", "recording_rejected"),
    }
    assert report.verdict == "fail"
    assert report.totals.recordings == 4


def test_bad_annotation_rejects_its_recording_with_the_line(healthy: Corpus) -> None:
    healthy.recording("dev", "aaaaaaah", 0, 60, [(30.5, 12.0)])
    healthy.recording("dev", "aaaaaaai", 0, 60, [(50, 70)])  # past the end
    report = _audit(healthy.root)
    got = {(Path(r.path).name, r.reason, r.line) for r in report.rejected}
    assert ("aaaaaaah_s001_t000.csv_bi", "bad_interval", 7) in got
    assert ("aaaaaaah_s001_t000.edf", "annotation_rejected", None) in got
    assert ("aaaaaaai_s001_t000.csv_bi", "out_of_range", 7) in got
    assert ("aaaaaaai_s001_t000.edf", "annotation_rejected", None) in got
    assert report.totals.recordings == 4
