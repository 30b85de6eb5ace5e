"""Real corpora read exactly: errata as notes, duration cross-checks, SeizeIT, per-entry rejection.

Real third-party files come from ../shared/realdata (skipped when absent); the rest are written
here with edfio (real EDF files) beside hand-written annotation files.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import edfio
import numpy as np
import pytest

from preflight.manifest.store import Manifest
from preflight.pipelines.audit import audit
from preflight.reports.model import AuditReport
from preflight.scanning.discover import SourceFormat
from preflight.scanning.scan import ScanOptions
from preflight.sources.errata import SZCORE
from tests.integration.conftest import CSV_HEADER


def _edf(path: Path, seconds: int, *, record_s: float = 1.0, seed: int = 0) -> Path:
    """A real EDF of ``seconds`` (two 16 Hz channels, data records of ``record_s``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng([seed, seconds, *path.name.encode()])
    signals = [
        edfio.EdfSignal(rng.normal(size=seconds * 16), sampling_frequency=16, label=label)
        for label in ("Fp1", "F3")
    ]
    edfio.Edf(signals, data_record_duration=record_s).write(path)
    return path


def _csv_bi(path: Path, duration: float, seizure: tuple[float, float] = (10.0, 20.0)) -> None:
    header = CSV_HEADER.format(name=path.stem, duration=duration)
    path.write_text(header + f"TERM,{seizure[0]:.4f},{seizure[1]:.4f},seiz,1.0000\n")


def _reasons(report: AuditReport) -> list[tuple[str, str, int | None, str | None]]:
    return [(r.path, r.reason, r.line, r.recording) for r in report.rejected]


# --- the duration cross-check, at its tolerance ------------------------------------------------


@pytest.mark.parametrize(
    ("record_s", "stated", "rejected"),
    [
        (1.0, 101.0, False),  # 1 s apart: the tolerance itself is accepted
        (1.0, 99.0, False),
        (1.0, 101.01, True),  # just beyond max(1 s, one 1 s record)
        (1.0, 98.99, True),
        (2.0, 102.0, False),  # one 2 s data record apart
        (2.0, 102.01, True),
    ],
)
def test_duration_cross_check_at_its_tolerance(
    tmp_path: Path, record_s: float, stated: float, rejected: bool
) -> None:
    _edf(tmp_path / "rec.edf", 100, record_s=record_s)
    _csv_bi(tmp_path / "rec.csv_bi", stated)
    report = audit(tmp_path)
    if not rejected:
        assert report.totals.recordings == 1
        assert report.rejected == []
        return
    assert report.totals.recordings == 0
    root, follow = report.rejected
    assert (root.path, root.reason, root.cause_path) == ("rec.edf", "duration_mismatch", None)
    assert "100 s" in root.message
    assert f"{stated:g} s" in root.message
    assert (follow.path, follow.reason, follow.cause_path) == (
        "rec.csv_bi",
        "recording_rejected",
        "rec.edf",
    )
    assert report.totals.rejected == 1  # the follow-on is linked, not counted again


def test_labels_only_keeps_the_annotation_duration(tmp_path: Path) -> None:
    _edf(tmp_path / "rec.edf", 100)
    _csv_bi(tmp_path / "rec.csv_bi", 300.0)
    report = audit(tmp_path, options=ScanOptions(labels_only=True))
    assert report.totals.recordings == 1
    assert report.totals.hours == pytest.approx(300 / 3600, abs=1e-4)


# --- real files: Siena PN00 and the CHB-MIT summaries ----------------------------------------


@pytest.mark.realdata
@pytest.mark.parametrize("errata", [True, False])
def test_siena_pn00_with_and_without_errata(realdata: Path, tmp_path: Path, errata: bool) -> None:
    """With the errata PN00-3 is kept (seizure 765-825 s) and the correction is a note; the raw
    reading rejects PN00-3 alone, as an entry of the list, and keeps the four others."""
    (tmp_path / "PN00").mkdir()
    shutil.copy(realdata / "siena" / "Seizures-list-PN00.txt", tmp_path / "PN00")
    report = audit(tmp_path, options=ScanOptions(labels_only=True, errata=errata))
    assert report.provenance["errata"] is errata
    if errata:
        assert (report.totals.recordings, report.totals.events, report.totals.rejected) == (5, 5, 0)
        [note] = report.notes
        assert (note.path, note.recording, note.recording_id) == (
            "PN00/Seizures-list-PN00.txt",
            "PN00-3",
            "PN00/PN00-3",
        )
        assert (note.line, note.code, note.origin) == (58, "erratum_applied", SZCORE)
        assert report.totals.positive_recordings == 5
        assert report.totals.positive_patients == 1
        return
    assert (report.totals.recordings, report.totals.events, report.totals.rejected) == (4, 4, 1)
    assert _reasons(report) == [
        ("PN00/Seizures-list-PN00.txt", "out_of_range", 58, "PN00-3"),
    ]
    assert report.notes == []
    fraction = next(c for c in report.checks if c.name == "rejected_fraction")
    assert fraction.observed == pytest.approx(1 / 5)  # one entry of five, not the whole list


@pytest.mark.realdata
def test_toggling_errata_rereads_the_list(realdata: Path, tmp_path: Path) -> None:
    (tmp_path / "PN00").mkdir()
    shutil.copy(realdata / "siena" / "Seizures-list-PN00.txt", tmp_path / "PN00")
    manifest = tmp_path / "m.duckdb"
    assert audit(tmp_path, manifest=manifest, options=ScanOptions(labels_only=True)).notes
    raw = audit(tmp_path, manifest=manifest, options=ScanOptions(labels_only=True, errata=False))
    assert raw.scan is not None
    assert raw.scan.read == 1
    assert raw.totals.recordings == 4
    again = audit(tmp_path, manifest=manifest, options=ScanOptions(labels_only=True))
    assert again.totals.recordings == 5
    assert len(again.notes) == 1


@pytest.mark.realdata
def test_chbmit_end_line_with_the_wrong_number(realdata: Path, tmp_path: Path) -> None:
    """chb12's real summary with one end line renumbered as the published typo has it: every
    recording and seizure is kept (108 files, 51 seizures over chb01/04/12) and one note shows."""
    for summary in sorted((realdata / "chbmit").glob("chb*-summary.txt")):
        patient = summary.name.split("-")[0]
        (tmp_path / patient).mkdir()
        shutil.copy(summary, tmp_path / patient / summary.name)
    chb12 = tmp_path / "chb12" / "chb12-summary.txt"
    text = chb12.read_text()
    typo = text.replace("Seizure 2 End Time", "Seizure 1 End Time", 1)
    assert typo != text
    chb12.write_text(typo)
    report = audit(tmp_path, options=ScanOptions(labels_only=True))
    assert (report.totals.recordings, report.totals.events) == (108, 51)
    [note] = report.notes
    assert (note.path, note.code, note.recording_id) == (
        "chb12/chb12-summary.txt",
        "seizure_number_mismatch",
        f"chb12/{note.recording}",
    )
    assert {r.reason for r in report.rejected} == {"no_duration"}  # chb24 gives no file times


@pytest.mark.realdata
def test_real_edf_headers_that_disagree_with_their_lists(realdata: Path, tmp_path: Path) -> None:
    """The realdata EDF samples hold the real CHB-MIT / Siena headers over 2 s of data: beside
    their summaries (3600 s, 2605 s) they are rejected as duration_mismatch, naming both."""
    (tmp_path / "PN00").mkdir()
    shutil.copy(realdata / "siena" / "Seizures-list-PN00.txt", tmp_path / "PN00")
    shutil.copy(realdata / "edf" / "PN00-1.edf", tmp_path / "PN00" / "PN00-1.edf")
    (tmp_path / "chb01").mkdir()
    shutil.copy(realdata / "chbmit" / "chb01-summary.txt", tmp_path / "chb01")
    shutil.copy(realdata / "edf" / "chb01_01_sample.edf", tmp_path / "chb01" / "chb01_01.edf")
    report = audit(tmp_path)
    roots = {r.path: r for r in report.rejected if r.cause_path is None}
    for path, stated in (("PN00/PN00-1.edf", "2605 s"), ("chb01/chb01_01.edf", "3600 s")):
        assert roots[path].reason == "duration_mismatch"
        assert "gives 2 s" in roots[path].message
        assert stated in roots[path].message
    follow = [r for r in report.rejected if r.cause_path == "PN00/PN00-1.edf"]
    assert [(r.path, r.recording, r.reason) for r in follow] == [
        ("PN00/Seizures-list-PN00.txt", "PN00-1", "recording_rejected")
    ]
    # Root causes come first in the list.
    causes = [r.cause_path is None for r in report.rejected]
    assert causes == sorted(causes, reverse=True)


# --- per-recording rejection in a list -------------------------------------------------------

_SIENA_ENTRY = """Seizure n {n}
File name: PN05-{n}.edf
Registration start time: 10.00.00
Registration end time: 10.05.00
Seizure start time: {start}
Seizure end time: 10.01.40

"""


def test_one_bad_entry_rejects_that_recording_only(tmp_path: Path) -> None:
    folder = tmp_path / "PN05"
    entries = [_SIENA_ENTRY.format(n=n, start="10.01.00") for n in (1, 2, 3)]
    entries[1] = _SIENA_ENTRY.format(n=2, start="10.61.00")  # not a clock time
    folder.mkdir()
    (folder / "Seizures-list-PN05.txt").write_text("PN05\n\n" + "".join(entries))
    for n in (1, 2, 3):
        _edf(folder / f"PN05-{n}.edf", 300, seed=n)
    report = audit(tmp_path)
    assert report.totals.recordings == 2
    assert [(r.path, r.reason, r.recording, r.cause_path, r.cause_recording)
            for r in report.rejected] == [
        ("PN05/Seizures-list-PN05.txt", "bad_format", "PN05-2", None, None),
        ("PN05/PN05-2.edf", "annotation_rejected", None, "PN05/Seizures-list-PN05.txt", "PN05-2"),
    ]  # fmt: skip
    assert report.rejected[0].line == 14
    assert report.totals.rejected == 1
    fraction = next(c for c in report.checks if c.name == "rejected_fraction")
    assert fraction.observed == round(1 / 6, 6)  # 3 EDF files + 3 entries of the list


# --- SeizeIT1 ----------------------------------------------------------------------------------

_SEIZEIT_HEADER = "# Source: SeizeIt1\n# Subject: P_ID10\n# Recording: {r}\n# FIA: focal\n\n\n"


def _seizeit(root: Path) -> None:
    """P_ID10: r1 with two seizures (the second without a stop time), r2 without seizures."""
    folder = root / "P_ID10"
    _edf(folder / "P_ID10_r1.edf", 600, seed=1)
    _edf(folder / "P_ID10_r2.edf", 300, seed=2)
    rows = "100\t130\tFIA\tHem:L, Orig:Temp, bhe: 0\n400\t\tF-BTC\t\n"
    (folder / "P_ID10_r1_a1.tsv").write_text(_SEIZEIT_HEADER.format(r="r1") + rows)
    (folder / "P_ID10_r2_a1.tsv").write_text(_SEIZEIT_HEADER.format(r="r2"))


@pytest.mark.parametrize("fmt", [SourceFormat.AUTO, SourceFormat.SEIZEIT])
def test_seizeit_layout(tmp_path: Path, fmt: SourceFormat) -> None:
    _seizeit(tmp_path)
    report = audit(tmp_path, options=ScanOptions(fmt=fmt))
    assert report.rejected == []
    assert (report.totals.recordings, report.totals.events, report.totals.patients) == (2, 2, 1)
    assert report.totals.positive_recordings == 1
    [note] = report.notes
    assert (note.code, note.line, note.recording_id) == ("default_duration", 8, "P_ID10/P_ID10_r1")
    with Manifest.open(report.manifest.path, read_only=True) as m:
        events = m.query("SELECT label, start_s, stop_s, confidence FROM events ORDER BY start_s")
        readers = m.query("SELECT DISTINCT label_reader, patient FROM recordings")
    assert events == [("FIA", 100.0, 130.0, None), ("F-BTC", 400.0, 430.0, 0.5)]
    assert readers == [("seizeit-tsv", "P_ID10")]


def test_seizeit_labels_only_has_no_duration(tmp_path: Path) -> None:
    _seizeit(tmp_path)
    report = audit(tmp_path, options=ScanOptions(labels_only=True))
    assert report.totals.recordings == 0
    assert {(r.path, r.reason) for r in report.rejected} == {
        ("P_ID10/P_ID10_r1_a1.tsv", "no_duration"),
        ("P_ID10/P_ID10_r2_a1.tsv", "no_duration"),
    }


@pytest.mark.realdata
def test_manifest_of_schema_3_is_rebuilt_with_notes(realdata: Path, tmp_path: Path) -> None:
    """A manifest written before notes existed (schema 3: no ann_notes, no notes, rejected
    without entry and cause) is migrated: the derived tables are rebuilt, notes appear."""
    (tmp_path / "PN00").mkdir()
    shutil.copy(realdata / "siena" / "Seizures-list-PN00.txt", tmp_path / "PN00")
    manifest = tmp_path / "m.duckdb"
    options = ScanOptions(labels_only=True)
    audit(tmp_path, manifest=manifest, options=options)
    with Manifest.open(manifest) as m:
        m.con.execute("DROP TABLE ann_notes; DROP TABLE notes; DROP TABLE rejected")
        m.con.execute("CREATE TABLE rejected (path VARCHAR, reason VARCHAR, message VARCHAR,"
                      " line INTEGER)")  # fmt: skip
        m.set_meta({"schema_version": "3"})
    report = audit(tmp_path, manifest=manifest, options=options)
    assert report.scan is not None
    assert report.scan.rebuilt
    assert [n.code for n in report.notes] == ["erratum_applied"]
    assert report.totals.recordings == 5
