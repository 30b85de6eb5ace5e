"""Audits of the real third-party files in ../shared/realdata (skipped when absent)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from preflight.pipelines.audit import audit
from preflight.scanning.discover import SourceFormat
from preflight.scanning.scan import ScanOptions

pytestmark = pytest.mark.realdata


def test_chbmit_summaries_labels_only(realdata: Path, tmp_path: Path) -> None:
    """chb01, chb04, chb12 list 42, 42, 24 files with 7, 4, 40 seizures; chb24 has no times."""
    for summary in sorted((realdata / "chbmit").glob("chb*-summary.txt")):
        patient = summary.name.split("-")[0]
        (tmp_path / patient).mkdir()
        shutil.copy(summary, tmp_path / patient / summary.name)
    report = audit(tmp_path, options=ScanOptions(labels_only=True))
    assert report.totals.recordings == 108
    assert report.totals.events == 51
    assert report.totals.patients == 3
    no_duration = [r for r in report.rejected if r.reason == "no_duration"]
    assert len(no_duration) == 12
    assert {r.path for r in no_duration} == {"chb24/chb24-summary.txt"}
    assert all(r.line is not None for r in no_duration)


def test_siena_list_labels_only(realdata: Path, tmp_path: Path) -> None:
    """Five files listed; PN00-3's seizure end is a published typo, corrected as a note (the
    raw reading: tests/integration/test_errata.py)."""
    (tmp_path / "PN00").mkdir()
    shutil.copy(realdata / "siena" / "Seizures-list-PN00.txt", tmp_path / "PN00")
    report = audit(tmp_path, options=ScanOptions(labels_only=True))
    assert report.totals.recordings == 5
    assert report.totals.events == 5
    assert report.rejected == []
    assert [(n.code, n.line) for n in report.notes] == [("erratum_applied", 58)]


def test_bids_events_labels_only(realdata: Path, tmp_path: Path) -> None:
    eeg = tmp_path / "sub-01" / "ses-01" / "eeg"
    eeg.mkdir(parents=True)
    shutil.copy(
        realdata / "bids" / "sample.tsv", eeg / "sub-01_ses-01_task-szMonitoring_run-00_events.tsv"
    )
    report = audit(tmp_path, options=ScanOptions(labels_only=True))
    assert report.verdict == "pass"
    assert report.totals.events == 3
    assert report.totals.hours == pytest.approx(1.0)
    assert report.totals.patients == 1


def test_edf_samples_with_embedded_annotations(realdata: Path, tmp_path: Path) -> None:
    """EDF+ files with annotations are recordings; plain EDF files without any are rejected."""
    for edf in (realdata / "edf").glob("*.edf"):
        shutil.copy(edf, tmp_path)
    report = audit(tmp_path, options=ScanOptions(fmt=SourceFormat.EDFPLUS))
    assert report.totals.recordings == 4
    assert {r.reason for r in report.rejected} == {"missing_annotations"}
    assert len(report.rejected) == 5
